"""Customer statement (``/statement``), printable: the open items as of a date with their
ages and the activity of a period between its opening and closing balances, in the
customer's currency, read live from the core (``core.billing.statements``: a statement is a
document of the system of record, not a figure of the mart). Reached from the AR aging page.

The URL: ``customer`` (id), ``as_of`` (ISO date, not after today; default today), ``to``
(default the as-of date) and ``from`` (default 30 days up to ``to``), ``backdated=1`` to
include entries posted after the day with a date on or before it (as on the AR aging page).
The core services check the role and the row scope: a customer outside the user's scope
reads as not found. The print stylesheet (``assets/print.css``) hides the navigation and
the controls; the Print button calls ``window.print()`` (``assets/print.js``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import dash_bootstrap_components as dbc
from dash import dcc, html

from core.billing.statements import Activity, StatementItem, activity, open_items
from core.company.models import CompanySettings
from core.customers.models import Location, LocationKind
from core.customers.profile import CustomerProfile, customer_profile
from core.errors import NotFound
from core.types import ZERO, to_minor
from dashboard.components.filter_bar import param_date
from dashboard.formatting import money
from dashboard.metrics.aging import Bucket, aging_buckets, bucket_of
from dashboard.metrics.scope import ALL_ROLES
from dashboard.secure import RequestContext, session_factory
from dashboard.view import date_param, id_param, query_string

PATH = "/statement"
TITLE = "Customer statement"
ROLES = ALL_ROLES  # the core services apply each role's row scope
IN_NAV = False
ACTIVITY_DAYS = 30
DOCUMENT_TYPES = {"invoice": "Invoice", "credit_note": "Credit note", "payment": "Payment",
                  "refund": "Refund", "reversal": "Payment reversal"}
PRINT_BUTTON = "statement-print"


def _bill_to(profile: CustomerProfile) -> Location | None:
    bill_to = [loc for loc in profile.locations if loc.kind == LocationKind.BILL_TO]
    return next((loc for loc in bill_to if loc.is_default), bill_to[0] if bill_to else None)


def _address(profile: CustomerProfile) -> html.Address:
    c, location = profile.customer, _bill_to(profile)
    lines: list[Any] = [html.Strong(c.name)]
    if location is not None:
        city = " ".join(part for part in (location.postal_code, location.city) if part)
        lines += [line for line in (location.address, city, location.country) if line]
    return html.Address([item for line in lines for item in (line, html.Br())][:-1],
                        id="statement-address", className="mb-0")


def _amount(amount: Decimal | None, currency: str) -> str:
    return "" if amount is None else money(to_minor(amount, currency), currency)


def _days_overdue(item: StatementItem, as_of: date) -> int | None:
    """Days past due of a debit (a refund or reversal is due on its own date)."""
    if item.amount <= ZERO:
        return None
    return (as_of - (item.due_date or item.doc_date)).days


def _open_items_table(items: list[StatementItem], as_of: date, currency: str) -> html.Table:
    rows = [html.Tr([
        html.Td(i.number), html.Td(DOCUMENT_TYPES.get(i.doc_type, i.doc_type)),
        html.Td(f"{i.doc_date:%d %b %Y}"),
        html.Td("" if i.due_date is None else f"{i.due_date:%d %b %Y}"),
        html.Td("" if (days := _days_overdue(i, as_of)) is None or days <= 0 else days,
                className="text-end"),
        html.Td(_amount(i.amount, currency), className="text-end"),
        html.Td(_amount(i.open_amount, currency), className="text-end"),
    ]) for i in items]
    total = sum((i.open_amount for i in items), ZERO)
    return html.Table([
        html.Thead(html.Tr([html.Th("Document"), html.Th("Type"), html.Th("Date"),
                            html.Th("Due"), html.Th("Days overdue", className="text-end"),
                            html.Th("Amount", className="text-end"),
                            html.Th("Open", className="text-end")])),
        html.Tbody(rows or [html.Tr(html.Td("Nothing open on this date.", colSpan=7,
                                            className="text-muted fst-italic"))]),
        html.Tfoot(html.Tr([html.Th(f"Balance due on {as_of:%d %b %Y}", colSpan=6),
                            html.Th(_amount(total, currency), className="text-end",
                                    id="statement-balance-due")])),
    ], className="table table-sm", id="statement-open-items")


def _aging_summary(items: list[StatementItem], as_of: date, buckets: Sequence[Bucket],
                   currency: str) -> html.Table:
    """Open debits by days past due (the AR aging page's buckets) and the open credits."""
    sums: dict[str, Decimal] = {b.label: ZERO for b in buckets}
    credits = ZERO
    for item in items:
        days = _days_overdue(item, as_of)
        if days is None:
            credits += item.open_amount
        else:
            sums[bucket_of(days, buckets).label] += item.open_amount
    labels = [*sums, "Unapplied credits"]
    values = [*sums.values(), credits]
    return html.Table([
        html.Thead(html.Tr([html.Th(label, className="text-end") for label in labels])),
        html.Tbody(html.Tr([html.Td(_amount(value, currency), className="text-end")
                            for value in values])),
    ], className="table table-sm table-bordered", id="statement-aging")


def _activity_table(act: Activity, start: date, end: date, currency: str) -> html.Table:
    balance = act.opening_balance
    rows = [html.Tr([html.Td(f"{start:%d %b %Y}"), html.Td("Opening balance", colSpan=4),
                     html.Td(_amount(balance, currency), className="text-end",
                             id="statement-opening")], className="fw-semibold")]
    for item in act.items:
        balance += item.amount
        rows.append(html.Tr([
            html.Td(f"{item.doc_date:%d %b %Y}"), html.Td(item.number),
            html.Td(DOCUMENT_TYPES.get(item.doc_type, item.doc_type)),
            html.Td(_amount(item.amount if item.amount > ZERO else None, currency),
                    className="text-end"),
            html.Td(_amount(-item.amount if item.amount < ZERO else None, currency),
                    className="text-end"),
            html.Td(_amount(balance, currency), className="text-end"),
        ]))
    rows.append(html.Tr([html.Td(f"{end:%d %b %Y}"), html.Td("Closing balance", colSpan=4),
                         html.Td(_amount(act.closing_balance, currency), className="text-end",
                                 id="statement-closing")], className="fw-semibold"))
    return html.Table([
        html.Thead(html.Tr([html.Th("Date"), html.Th("Document"), html.Th("Type"),
                            html.Th("Charges", className="text-end"),
                            html.Th("Payments and credits", className="text-end"),
                            html.Th("Balance", className="text-end")])),
        html.Tbody(rows),
    ], className="table table-sm", id="statement-activity")


def _controls(query: Mapping[str, Any], customer_id: int, as_of: date, start: date,
              end: date) -> dbc.Card:
    back = "/ar-aging" + query_string({"as_of": as_of.isoformat(), "customer": customer_id,
                                       "backdated": query.get("backdated")})
    return dbc.Card(dbc.CardBody(dbc.Row([
        param_date("as_of", as_of.isoformat(), "Open items as of"),
        param_date("from", start.isoformat(), "Activity from"),
        param_date("to", end.isoformat(), "to"),
        dbc.Col([html.Button("Print", id=PRINT_BUTTON, className="btn btn-primary btn-sm me-3"),
                 dcc.Link("Back to AR aging", href=back, className="small")],
                xs=12, md="auto"),
    ], className="g-3 align-items-end")), className="salesbi-card salesbi-filter-bar mb-3")


def layout(context: RequestContext, **query: Any) -> html.Div:
    not_found = html.Div([html.H1("Customer not found", className="h3"),
                          html.P("It does not exist or is outside your scope."),
                          dcc.Link("Back to AR aging", href="/ar-aging")], id="statement-404")
    customer_id = id_param(query, "customer")
    if context.actor is None or customer_id is None:
        return not_found
    as_of = date_param(query, "as_of", context.today, latest=context.today)
    end = date_param(query, "to", as_of, latest=context.today)
    start = date_param(query, "from", end - timedelta(days=ACTIVITY_DAYS - 1), latest=end)
    backdated = query.get("backdated") == "1"
    with session_factory()() as session:
        try:
            profile = customer_profile(session, context.actor, customer_id)
            items = open_items(session, context.actor, customer_id, as_of,
                               include_backdated=backdated)
            act = activity(session, context.actor, customer_id, start, end,
                           include_backdated=backdated)
        except NotFound:
            return not_found
        company = session.get_one(CompanySettings, 1).company_name
    customer = profile.customer
    currency = customer.currency
    known = ("including entries posted later with a date in the period" if backdated else
             "as recorded at the end of each day")
    return html.Div([
        _controls(query, customer_id, as_of, start, end),
        html.Div([
            dbc.Row([
                dbc.Col([html.Div(company, className="h4 mb-0", id="statement-company"),
                         html.Div("Statement of account", className="text-muted")]),
                dbc.Col(html.Dl([
                    html.Dt("Date"), html.Dd(f"{as_of:%d %b %Y}"),
                    html.Dt("Customer"), html.Dd(customer.ref),
                    html.Dt("Currency"), html.Dd(currency),
                ], className="salesbi-statement-facts mb-0"), xs="auto"),
            ], className="mb-3"),
            _address(profile),
            html.H2(f"Open items on {as_of:%d %b %Y}", className="h6 mt-4"),
            _aging_summary(items, as_of, aging_buckets(context.aging_boundaries), currency),
            _open_items_table(items, as_of, currency),
            html.H2(f"Activity {start:%d %b %Y} – {end:%d %b %Y}", className="h6 mt-4"),
            _activity_table(act, start, end, currency),
            html.P(f"Amounts in {currency}, {known}.", className="small text-muted mb-0"),
        ], className="salesbi-card salesbi-statement bg-white p-4", id="statement"),
    ])
