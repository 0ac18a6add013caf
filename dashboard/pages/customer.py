"""Customer 360 (read-only): profile, account manager, hold and credit, contacts, the
contact log with the next contact date (live from the core), and the 12-month P&L from the
mart. A customer outside the user's scope reads as not found."""

from __future__ import annotations

from typing import Any

import dash_bootstrap_components as dbc
from dash import dcc, html

from core.customers.profile import CustomerProfile, customer_profile
from core.errors import NotFound
from core.types import currency_digits
from dashboard.components.panels import GRAPH_CONFIG
from dashboard.figures import sales_trend
from dashboard.formatting import BLANK, money
from dashboard.metrics.customer import PNL_MONTHS, customer_pnl
from dashboard.metrics.period import trailing_months
from dashboard.metrics.scope import ALL_ROLES
from dashboard.secure import RequestContext, session_factory

PATH = "/customers/<customer_id>"
TITLE = "Customer"
ROLES = ALL_ROLES
IN_NAV = False
PAGE_OPTIONS = {"path_template": PATH}


def _field(label: str, value: object) -> html.Div:
    return html.Div([html.Div(label, className="small text-muted"),
                     html.Div(BLANK if value in (None, "") else str(value))],
                    className="mb-2")


def _profile_card(profile: CustomerProfile) -> dbc.Card:
    c = profile.customer
    hold = "none" if c.hold_state == "none" else f"{c.hold_state} ({c.hold_reason or ''})"
    fields = [
        _field("Reference", c.ref), _field("Account manager", profile.account_manager),
        _field("Segment / channel / region",
               " / ".join(x or BLANK for x in (c.segment_code, c.channel_code, c.region_code))),
        _field("Currency and terms", f"{c.currency}, {c.terms_code}"),
        _field("Credit limit", money(int(c.credit_limit.scaleb(currency_digits(c.currency))),
                                     c.currency)),
        _field("Hold", hold), _field("Rating", c.effective_rating),
        _field("Next contact", profile.next_contact_date),
        _field("Promise to pay", profile.promise_to_pay_date),
    ]
    return dbc.Card(dbc.CardBody([html.H2("Profile", className="h5"), *fields]),
                    className="salesbi-card h-100")


def _contacts(profile: CustomerProfile) -> dbc.Card:
    rows = [html.Li(f"{p.name} — {p.role}" + (f", {p.email}" if p.email else "")
                    + (f", {p.phone}" if p.phone else "")) for p in profile.contacts]
    log = [html.Li([html.Strong(f"{i.occurred_on} {i.kind}"),
                    f": {i.notes}" if i.notes else "",
                    html.Span(f" → next {i.next_contact_date}", className="text-muted")
                    if i.next_contact_date else ""]) for i in profile.interactions]
    return dbc.Card(dbc.CardBody([
        html.H2("Contacts", className="h5"),
        html.Ul(rows) if rows else html.P("No contacts recorded.", className="text-muted"),
        html.H2("Contact log", className="h5 mt-3"),
        html.Ul(log, id="customer-contact-log") if log else html.P(
            "No interactions logged yet.", className="text-muted"),
    ]), className="salesbi-card h-100")


def layout(context: RequestContext, customer_id: str | None = None, **_query: Any) -> html.Div:
    not_found = html.Div([html.H1("Customer not found", className="h3"),
                          html.P("It does not exist or is outside your scope."),
                          dcc.Link("Back to customers", href="/customers")], id="customer-404")
    if context.actor is None or not (customer_id or "").isdigit():
        return not_found
    with session_factory()() as session:
        try:
            profile = customer_profile(session, context.actor, int(customer_id or 0))
        except NotFound:
            return not_found
    customer = profile.customer
    body: list[Any] = [
        html.H1(customer.name, className="h3 mb-3", id="customer-name"),
        dbc.Row([dbc.Col(_profile_card(profile), lg=4), dbc.Col(_contacts(profile), lg=8)],
                className="mb-3"),
    ]
    if context.mart is not None:
        period = trailing_months(context.today, PNL_MONTHS)
        months = customer_pnl(context.mart, context.scope, customer.id, context.today,
                              PNL_MONTHS)
        currency = context.base_currency
        net, margin = int(months["net_sales_minor"].sum()), int(months["margin_minor"].sum())
        body.append(dbc.Card(dbc.CardBody([
            html.P([f"Last {PNL_MONTHS} months: net sales {money(net, currency)}, "
                    f"gross margin {money(margin, currency)}"],
                   id="customer-pnl-summary", className="mb-0"),
            dcc.Graph(id="customer-pnl", config=GRAPH_CONFIG,
                      figure=sales_trend(months, period, currency,
                                         f"Net sales and margin by month, last {PNL_MONTHS}"
                                         " months")),
        ]), className="salesbi-card"))
    return html.Div(body)
