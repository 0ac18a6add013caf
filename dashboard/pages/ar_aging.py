"""AR aging: open receivables of the customers in the user's scope as of a date (KPIS.md
"Aging buckets"): total AR, overdue, % overdue, DSO and the CEI of the period; open invoices
by age; the customers with the most overdue AR; the table by customer (buckets, unapplied
cash, open credits, total AR, disputed, credit limit, exposure, utilisation and hold state)
with a totals row; and the open items of one customer (``?customer=<id>``, ignored when
outside the scope) with the allocations behind them (or behind one of them,
``&item=<type>-<id>``), each customer with a link to its printable statement
(``/statement``).

The URL holds the view: the global filters (period — the CEI's —, region, channel, rep;
receivables follow the customer as it is now: its current region, channel and account
manager, ``metrics.receivables``), ``as_of`` (ISO date, not after today; default today),
``basis`` (``due`` | ``invoice``), ``backdated=1`` (include entries posted after the as-of
day with a date on or before it), ``disputed=exclude`` and ``currency`` (``base`` |
``document``). Bucket boundaries are the company's setting.

Amounts are in the base currency at each document's rate, or with ``currency=document`` in
each customer's own currency: the grid then has a row per customer and currency and a
totals row per currency, the charts a panel per currency, the open items and exports their
document amounts with a ``currency`` column. The cards and the most overdue list stay in
the base currency (ranking and adding up across currencies needs one unit) and say so.

Credit columns are as of today whatever the as-of date: the limit and hold state are read
live from the core (``core.customers.profile.credit_standings``, in the user's scope),
exposure is today's total AR plus the batch's backlog (``metrics.credit``), in the
customer's currency. Everything else comes from the mart, the aging, the cards and the
credit exposure from one pass over the open items (``metrics.aging.aging_with_ar``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import dash
import dash_bootstrap_components as dbc
import polars as pl
from dash import dcc, html
from sqlalchemy import select

from core.customers.profile import credit_standings
from core.db import read_frame
from core.types import AMOUNT_SCALE, currency_digits, scaled_integer
from dashboard.components.data_table import Column, data_table
from dashboard.components.filter_bar import filter_bar, param_date, param_dropdown
from dashboard.components.kpi_card import Comparison, kpi_card
from dashboard.components.paged_table import Listed, keep, paged_table, register_paged_table
from dashboard.components.panels import graph_card, no_data_page, page_heading
from dashboard.export import in_row_currency
from dashboard.figures import (
    aging_bars,
    aging_bars_by_currency,
    aging_by_customer_bars,
    aging_by_customer_bars_by_currency,
)
from dashboard.formatting import BLANK, compact_money, money, percent
from dashboard.ids import VIEW_PARAM
from dashboard.metrics.aging import (
    DUE,
    INVOICE_DATE,
    Bucket,
    aging_buckets,
    aging_totals,
    aging_with_ar,
    allocations_of,
    doc_column,
    open_items_of,
    top_overdue,
    totals_by_currency,
)
from dashboard.metrics.credit import backlog_by_customer, credit_exposure, credit_utilisation
from dashboard.metrics.customer import in_scope
from dashboard.metrics.labels import with_label
from dashboard.metrics.mart import Mart
from dashboard.metrics.ratios import ratio_value
from dashboard.metrics.receivables import (
    DSO_DAYS,
    ar_totals,
    ar_totals_at,
    cei,
    cei_moments,
    dso,
    moment,
)
from dashboard.metrics.scope import ALL_ROLES
from dashboard.pages.customers import customer_href
from dashboard.secure import RequestContext, session_factory
from dashboard.view import (
    View,
    date_param,
    global_params,
    id_param,
    query_string,
    view_from_query,
)
from etl.facts.open_ar import Moment

PATH = "/ar-aging"
TABLE = "ar-aging-table"
CHOOSER_CUSTOMERS = 1000
"""Customers the open-items chooser offers: the largest balances (a list of every one of
45,000 customers made 2 MB of the page at 10M lines)."""
TITLE = "AR aging"
ROLES = ALL_ROLES  # DESIGN D6: every role sees the AR of the customers in its scope
IN_NAV = True
BASE, DOCUMENT = "base", "document"
PAGE_PARAMS = {"basis": (DUE, INVOICE_DATE), "backdated": ("1",), "disputed": ("exclude",),
               "currency": (BASE, DOCUMENT)}
BASIS_LABELS = {DUE: "Due date", INVOICE_DATE: "Invoice date"}
ITEM_TYPES = {"invoice": "Invoice", "refund": "Refund", "reversal": "Payment reversal",
              "payment": "Unapplied receipt", "credit_note": "Open credit note"}
SIDE_HEADERS = {"open_invoices_minor": "Open invoices", "unapplied_cash_minor": "Unapplied cash",
                "open_credits_minor": "Open credits", "total_ar_minor": "Total AR"}
ITEM_COLUMNS = [
    Column("document_number", "Document", "link", href_field="item_href",
           options={"flex": 1, "minWidth": 130}),
    Column("type", "Type"), Column("document_date", "Date"), Column("due_date", "Due date"),
    Column("days_past_due", "Days overdue", "number"), Column("bucket", "Bucket"),
    Column("disputed", "Disputed"), Column("promise_to_pay_date", "Promise to pay"),
]
OWN = "currency"
"""The ``Column.currency_field`` of amounts in each row's (the customer's) currency."""
ALLOCATION_KINDS = {"payment": "Receipt", "credit_note": "Credit note"}
CURRENCY_COLUMN = Column("currency", "Currency", options={"minWidth": 95, "maxWidth": 105})
TOP_OVERDUE = 10
HOLD_LABELS = {"on_hold": "On hold"}
OVER_LIMIT_LABEL = "Over limit"
OVER_LIMIT = ("params.data && params.data.credit_status && "
              f"params.data.credit_status.includes('{OVER_LIMIT_LABEL}')")
"""AG Grid class rule: the row's customer is over its credit limit."""


@dataclass(frozen=True)
class AgingView:
    """The validated URL parameters of the page."""

    as_of: date
    basis: str
    include_backdated: bool
    exclude_disputed: bool
    customer_id: int | None  # in the user's scope, or None
    filters: View  # the global filters: period (for the CEI), region, channel, rep
    currency: str = BASE  # BASE | DOCUMENT: the amounts of the grid, charts and items
    item: tuple[str, int] | None = None  # (item_type, document_id): one open item's

    @property
    def in_document_currency(self) -> bool:
        return self.currency == DOCUMENT

    def query(self, **extra: object) -> str:
        """The page's query string for this view (plus ``extra``)."""
        return query_string({**global_params(self.filters), "as_of": self.as_of.isoformat(),
                             "basis": self.basis,
                             "backdated": "1" if self.include_backdated else None,
                             "disputed": "exclude" if self.exclude_disputed else None,
                             "currency": self.currency, **extra})

    def statement_href(self, customer: pl.Expr) -> pl.Expr:
        """The ``/statement`` link of each ``customer`` id as of this view's date (its
        activity: the statement page's default, the 30 days up to that date)."""
        query = query_string({"as_of": self.as_of.isoformat(),
                              "backdated": "1" if self.include_backdated else None})
        return pl.format("/statement?customer={}&" + query.lstrip("?"), customer)

    def statement_of(self, customer_id: int) -> str:
        """``statement_href`` of one customer."""
        return str(pl.select(self.statement_href(pl.lit(customer_id))).item())


def aging_view(context: RequestContext, query: Mapping[str, str]) -> AgingView:
    """Parse ``query``: bad values fall back to today, the due-date basis, off; a customer
    outside the scope is dropped."""
    filters = view_from_query(context, query, PAGE_PARAMS)
    params = filters.params
    customer_id = id_param(query, "customer")
    if customer_id is not None and (context.mart is None
                                    or not in_scope(context.mart, context.scope, customer_id)):
        customer_id = None
    kind, _, number = (query.get("item") or "").partition("-")
    item_id = id_param({"item": number}, "item")
    item = (kind, item_id) if kind in ITEM_TYPES and item_id and customer_id else None
    return AgingView(date_param(query, "as_of", context.today, latest=context.today),
                     params.get("basis", DUE), params.get("backdated") == "1",
                     params.get("disputed") == "exclude", customer_id, filters,
                     params.get("currency", BASE), item)


@dataclass(frozen=True)
class AgingFigures:
    """What one render computes: the aging by customer and ``receivables.ar_by_customer``
    at the as-of date and today (one pass over the open items), and the AR totals there and
    at the CEI's moments, the beginning and end of the period and of the prior period
    (totals only: a second pass when they differ)."""

    aging: pl.DataFrame
    ar: Mapping[Moment, pl.DataFrame]
    totals: Mapping[Moment, Mapping[str, int]]
    as_of: Moment
    today: Moment


def aging_figures(context: RequestContext, mart: Mart, view: AgingView, *,
                  with_cei: bool = True) -> AgingFigures:
    """The figures of ``view``; ``with_cei=False`` leaves out the CEI's moments (the export
    has no cards)."""
    tz, period = context.timezone, view.filters.period
    own = moment(view.as_of, timezone=tz, include_backdated=view.include_backdated)
    today = moment(context.today, timezone=tz)
    aging, ar = aging_with_ar(mart, context.scope, view.as_of, [today], timezone=tz,
                              boundaries=context.aging_boundaries, basis=view.basis,
                              include_backdated=view.include_backdated,
                              exclude_disputed=view.exclude_disputed,
                              selection=view.filters.selection)
    totals = {at: ar_totals(frame) for at, frame in ar.items()}
    cei_at = list(dict.fromkeys(
        at for p in (period, period.prior()) if with_cei
        for at in cei_moments(p, context.today, timezone=tz,
                              include_backdated=view.include_backdated) or ()
        if at not in totals))
    if cei_at:
        totals |= zip(cei_at, ar_totals_at(mart, context.scope, cei_at,
                                           view.filters.selection), strict=True)
    return AgingFigures(aging, ar, totals, own, today)


def _items(context: RequestContext, mart: Mart, view: AgingView,
           customer_id: int) -> pl.DataFrame:
    return open_items_of(mart, context.scope, customer_id, view.as_of,
                         timezone=context.timezone, boundaries=context.aging_boundaries,
                         basis=view.basis, include_backdated=view.include_backdated,
                         exclude_disputed=view.exclude_disputed)


def _allocations(context: RequestContext, mart: Mart, view: AgingView, customer_id: int,
                 items: pl.DataFrame) -> pl.DataFrame:
    """The allocations of the view's item when it is one of ``items``, else of them all."""
    listed = view.item in set(items.select("item_type", "document_id").iter_rows())
    return allocations_of(mart, context.scope, customer_id, view.as_of,
                          timezone=context.timezone, include_backdated=view.include_backdated,
                          exclude_disputed=view.exclude_disputed,
                          document=view.item if listed else None)


def _in_view_currency(frame: pl.DataFrame, view: AgingView) -> pl.DataFrame:
    """``frame`` with the amounts of the view's currency only: of the ``*_minor`` /
    ``*_doc_minor`` twins, the base ones or the document ones."""
    twins = [c for c in frame.columns if c.endswith("_minor")
             and not c.endswith("_doc_minor") and doc_column(c) in frame.columns]
    return frame.drop(twins if view.in_document_currency else map(doc_column, twins))


def export_tables(context: RequestContext, query: dict[str, str]) -> dict[str, pl.DataFrame]:
    if context.mart is None:
        return {}
    view = aging_view(context, query)
    figures = aging_figures(context, context.mart, view, with_cei=False)
    credit = _credit(context, context.mart, view, figures)
    credit = credit.with_columns(in_row_currency(credit, "credit_limit_minor"))
    tables = {"ar-aging": _in_view_currency(figures.aging, view).join(
        credit.select("customer_id", "credit_limit", "exposure_doc_minor", "utilisation",
                      "is_over_limit", "hold_state"), on="customer_id", how="left")}
    if view.customer_id is not None:
        items = _items(context, context.mart, view, view.customer_id)
        tables["ar-open-items"] = _in_view_currency(items, view).select(
            pl.lit(view.customer_id).alias("customer_id"), pl.all().exclude("document_id"))
        tables["ar-allocations"] = _in_view_currency(_allocations(
            context, context.mart, view, view.customer_id, items), view).select(
            pl.lit(view.customer_id).alias("customer_id"), pl.all())
    return tables


def _controls(context: RequestContext, view: AgingView) -> dbc.Card:
    def switch(name: str, label: str, on: bool, value: str) -> dbc.Col:
        return dbc.Col(dbc.Checklist(
            id={"type": VIEW_PARAM, "name": name}, options=[{"label": label, "value": value}],
            value=[value] if on else [], switch=True), xs=12, md="auto")

    known = ("including entries posted later with a date on or before it"
             if view.include_backdated else
             f"as known at the end of that day ({context.timezone})")
    return dbc.Card(dbc.CardBody([
        dbc.Row([
            param_date("as_of", view.as_of.isoformat(), "As of"),
            dbc.Col([dbc.Label("Age by", className="small text-muted mb-0 d-block"),
                     dbc.RadioItems(id={"type": VIEW_PARAM, "name": "basis"},
                                    options=[{"label": v, "value": k}
                                             for k, v in BASIS_LABELS.items()],
                                    value=view.basis, inline=True)], xs=12, md="auto"),
            switch("backdated", "Include later back-dated entries", view.include_backdated,
                   "1"),
            switch("disputed", "Leave out disputed invoices", view.exclude_disputed,
                   "exclude"),
            dbc.Col([dbc.Label("Amounts in", className="small text-muted mb-0 d-block"),
                     dbc.RadioItems(id={"type": VIEW_PARAM, "name": "currency"},
                                    options=[{"label": f"Base ({context.base_currency})",
                                              "value": BASE},
                                             {"label": "Document currency",
                                              "value": DOCUMENT}],
                                    value=view.currency, inline=True)], xs=12, md="auto"),
        ], className="g-3 align-items-end"),
        html.Div(f"Open items dated on or before {view.as_of:%d %b %Y}, {known}.",
                 className="small text-muted mt-1", id="ar-aging-as-of-label"),
    ]), className="salesbi-card salesbi-filter-bar mb-3")


def _standings(context: RequestContext) -> pl.DataFrame:
    """Credit limit (minor units of the customer's currency) and hold state of every
    customer in the user's scope, read live from the core straight into a frame (the
    limit as an integer of ``AMOUNT_SCALE`` decimals: no Decimal per row)."""
    schema = {"customer_id": pl.Int64, "currency": pl.String, "credit_limit_scaled": pl.Int64,
              "hold_state": pl.String}
    frame = pl.DataFrame(schema=schema)
    if context.actor is not None:
        with session_factory()() as session:
            standings = credit_standings(session, context.actor).subquery()
            limit = scaled_integer(standings.c.credit_limit, session.get_bind().dialect.name)
            query = select(standings.c.customer_id, standings.c.currency,
                           limit.label("credit_limit_scaled"), standings.c.hold_state)
            frame = read_frame(session.connection(), query, schema)
    # Limits are stored rounded to their currency: exact minor units by integer division.
    factor = pl.col("currency").replace_strict(
        {c: 10 ** (AMOUNT_SCALE - currency_digits(c)) for c in frame["currency"].unique()},
        return_dtype=pl.Int64)
    return frame.select("customer_id",
                        (pl.col("credit_limit_scaled") // factor).alias("credit_limit_minor"),
                        "hold_state")


def _credit(context: RequestContext, mart: Mart, view: AgingView,
            figures: AgingFigures) -> pl.DataFrame:
    """Per aging row: ``credit_limit_minor``, ``exposure_doc_minor``, ``utilisation``,
    ``is_over_limit`` and ``hold_state`` (today's; amounts in the customer's currency)."""
    standings = _standings(context)
    exposure = credit_utilisation(
        credit_exposure(figures.ar[figures.today],
                        backlog_by_customer(mart, context.scope, view.filters.selection)),
        standings)
    return figures.aging.select("customer_id", "currency").join(
        standings, on="customer_id", how="left").join(
        exposure.select("customer_id", "exposure_doc_minor", "utilisation", "is_over_limit"),
        on="customer_id", how="left").with_columns(pl.col("is_over_limit").fill_null(False))


def _cei_card(context: RequestContext, mart: Mart, view: AgingView, figures: AgingFigures,
              href: str) -> dbc.Col:
    period = view.filters.period
    results = [cei(mart, context.scope, p, context.today, timezone=context.timezone,
                   include_backdated=view.include_backdated,
                   selection=view.filters.selection, ar_at=figures.totals)
               for p in (period, period.prior())]
    now, prior = (None if r is None or r.cei is None else float(r.cei) / 100
                  for r in results)
    currency, result = context.base_currency, results[0]
    if result is None:
        note = "The period has not started yet."
    elif result.cei is None:
        note = (f"Nothing to collect from {period.start:%d %b} to {result.end:%d %b %Y}: "
                "AR at the start + credit sales − current AR at the end ≤ 0.")
    else:
        note = (f"{compact_money(result.collected_minor, currency)} collected of "
                f"{compact_money(result.collectible_minor, currency)} collectible, "
                f"{period.start:%d %b} – {result.end:%d %b %Y}")
    return kpi_card("ar-aging-cei", "CEI", percent(now), href,
                    Comparison(now, prior, None, is_ratio=True, with_last_year=False),
                    note=note, xl=True)


def _cards(context: RequestContext, mart: Mart, view: AgingView,
           figures: AgingFigures) -> list[dbc.Col]:
    scope, currency, tz = context.scope, context.base_currency, context.timezone
    summary = figures.totals[figures.as_of]
    days = dso(mart, scope, view.as_of, timezone=tz, include_backdated=view.include_backdated,
               total_ar_minor=summary["total_ar_minor"], selection=view.filters.selection)
    share = ratio_value(summary["overdue_minor"], summary["open_invoices_minor"])
    here = PATH + view.query()  # a card links to this same view
    return [
        kpi_card("ar-aging-total", f"Total AR on {view.as_of:%d %b %Y} ({currency})",
                 compact_money(summary["total_ar_minor"], currency), here,
                 note=money(summary["total_ar_minor"], currency), xl=True),
        kpi_card("ar-aging-overdue", f"Overdue ({currency})",
                 compact_money(summary["overdue_minor"], currency), here,
                 note=f"of {compact_money(summary['open_invoices_minor'], currency)} "
                      "open invoices", xl=True),
        kpi_card("ar-aging-overdue-pct", "% overdue", percent(share), here,
                 note=f"past their due date, by amount in {currency}", xl=True),
        kpi_card("ar-aging-dso", "DSO",
                 BLANK if days["dso"] is None else f"{days['dso']:.0f} days", here,
                 note=f"credit sales of the last {DSO_DAYS} days "
                      f"{compact_money(int(days['credit_sales_minor'] or 0), currency)}",
                 xl=True),
        _cei_card(context, mart, view, figures, here),
    ]


def _top_overdue_card(context: RequestContext, view: AgingView,
                      frame: pl.DataFrame) -> dbc.Col:
    """The customers with the most overdue AR, each with its share of the largest as a
    bar, linked to Customer 360, its open items and its statement."""
    top = top_overdue(frame, TOP_OVERDUE)
    title = html.H2(f"Most overdue on {view.as_of:%d %b %Y}", className="h6")
    if top.is_empty():
        body: Any = html.P("No customer in this view has overdue invoices.",
                           className="text-muted fst-italic", id="ar-aging-top-overdue")
    else:
        largest = int(top["overdue_minor"].max())  # type: ignore[arg-type]
        rows = []
        for rank, row in enumerate(top.iter_rows(named=True), start=1):
            customer = row["customer_id"]
            width = f"{100 * row['overdue_minor'] / largest:.0f}%"
            bar = html.Div(html.Div(className="salesbi-bar-fill", style={"width": width}),
                           className="salesbi-bar")
            rows.append(html.Tr([
                html.Td(rank, className="text-muted"),
                html.Td(dcc.Link(row["name"] or "(unnamed)", href=f"/customers/{customer}")),
                html.Td([money(row["overdue_minor"], context.base_currency, whole=True), bar],
                        className="text-end"),
                html.Td(percent(row["overdue_share"], 0), className="text-end text-muted"),
                html.Td([dcc.Link("Open items", href=PATH + view.query(customer=customer)),
                         " · ",
                         dcc.Link("Statement", href=view.statement_of(customer))],
                        className="small text-nowrap"),
            ]))
        body = html.Table([
            html.Thead(html.Tr([html.Th("#"), html.Th("Customer"),
                                html.Th(f"Overdue ({context.base_currency})",
                                        className="text-end"),
                                html.Th("of open", className="text-end"), html.Th("")])),
            html.Tbody(rows),
        ], className="table table-sm align-middle mb-0", id="ar-aging-top-overdue")
    return dbc.Col(dbc.Card(dbc.CardBody([title, body]), className="salesbi-card h-100"),
                   lg=7, className="mb-3")


def _amount(view: AgingView, field: str, header: str) -> list[Column]:
    """The money column of base ``field`` in the view's currency: itself, or its document
    twin with the currency beside it."""
    if view.in_document_currency:
        return [Column(doc_column(field), header, "money", currency_field=OWN),
                CURRENCY_COLUMN]
    return [Column(field, header, "money")]


def _totals(view: AgingView, frame: pl.DataFrame, label: str,
            **blank: str) -> list[dict[str, Any]]:
    """The totals rows of a grid of ``frame`` in the view's currency, named in field
    ``label`` (``blank``: fields to leave empty): one in base currency, or one per currency
    (``metrics.aging``'s sums)."""
    if view.in_document_currency:
        return [{label: f"Total {row['currency']}"} | blank | row
                for row in totals_by_currency(frame)]
    return [{label: "Total"} | blank | aging_totals(frame)]


def _table_columns(view: AgingView, buckets: Sequence[Bucket]) -> list[Column]:
    """The by-customer grid's columns in the view's currency."""
    # Whole currency units keep the columns readable; the export has the cents.
    # Blank, not "NaN", while a block of rows is loading (or where a value is missing).
    whole = {"valueFormatter": {"function": "params.value == null ? '' : "
                                            "d3.format(',.0f')(params.value)"},
             "wrapHeaderText": True, "autoHeaderHeight": True}
    own = {**whole, "minWidth": 100}
    flagged = {"cellClassRules": {"salesbi-over-limit": OVER_LIMIT}}
    narrow = {"wrapHeaderText": True, "autoHeaderHeight": True}
    doc = view.in_document_currency
    own_currency = OWN if doc else None
    sides = [(doc_column(c) if doc else c, header) for c, header in SIDE_HEADERS.items()]
    return [
        Column("name", "Customer", "link", href_field="href",
               options={"pinned": "left", "minWidth": 170}),
        Column("items", "Open items", "link", href_field="items_href",
               options={"pinned": "left", "minWidth": 80, "maxWidth": 90, "sortable": False,
                        "filter": False, "wrapHeaderText": True, "autoHeaderHeight": True}),
        *(Column(b.doc_column if doc else b.column, b.label, "money",
                 options=whole | {"minWidth": 84}, currency_field=own_currency)
          for b in buckets),
        *(Column(column, header, "money", options=whole | {"minWidth": 100},
                 currency_field=own_currency) for column, header in sides),
        Column("disputed_items", "Disputed", "number", options=narrow | {"minWidth": 115}),
        Column("currency", "Currency", options=narrow | {"minWidth": 120, "maxWidth": 130}),
        Column("credit_limit_minor", "Credit limit", "money", options=own,
               currency_field=OWN),
        Column("exposure_doc_minor", "Exposure", "money",
               options=own | flagged | {"minWidth": 120},
               currency_field=OWN),
        Column("utilisation", "Utilisation", "percent",
               options=narrow | {"minWidth": 125} | flagged),
        Column("credit_status", "Credit", options={"minWidth": 120} | flagged),
        Column("statement", "Statement", "link", href_field="statement_href",
               options=narrow | {"minWidth": 105, "maxWidth": 115, "sortable": False,
                                 "filter": False}),
    ]


def _table_rows(view: AgingView, frame: pl.DataFrame, credit: pl.DataFrame) -> pl.DataFrame:
    """The by-customer grid's rows: the aging with its credit columns and links."""
    status = pl.concat_str(
        [pl.col("hold_state").replace_strict(HOLD_LABELS, default=None),
         pl.when(pl.col("is_over_limit")).then(pl.lit(OVER_LIMIT_LABEL))],
        separator=" · ", ignore_nulls=True)
    return frame.join(credit.drop("currency"), on="customer_id", how="left").with_columns(
        customer_href(pl.col("customer_id")).alias("href"),
        pl.lit("List").alias("items"),
        pl.format(PATH + view.query() + "&customer={}",
                  pl.col("customer_id")).alias("items_href"),
        pl.col("utilisation").round(4),  # display: 0.1 % is the grid's precision
        status.alias("credit_status"),
        pl.lit("Print").alias("statement"),
        view.statement_href(pl.col("customer_id")).alias("statement_href"))


def _listed_customers(context: RequestContext, mart: Mart, query: dict[str, str]) -> Listed:
    """The by-customer grid's rows and columns for a URL query (the grid's blocks)."""
    view = aging_view(context, query)
    figures = aging_figures(context, mart, view, with_cei=False)
    return (_table_rows(view, figures.aging, _credit(context, mart, view, figures)),
            _table_columns(view, aging_buckets(context.aging_boundaries, view.basis)))


def _customer_table(context: RequestContext, view: AgingView, query: dict[str, str],
                    frame: pl.DataFrame, credit: pl.DataFrame) -> html.Div:
    """The grid by customer, in the view's currency, paged on the server (at 10M lines a
    finance user's 45,000 customers made a 29 MB page): a totals row, or one per currency
    in document currency. Every render keeps its rows for the blocks that follow, so their
    live credit columns are the render's (``paged_table.keep``)."""
    columns = _table_columns(view, aging_buckets(context.aging_boundaries, view.basis))
    rows = _table_rows(view, frame, credit)
    keep(context, TABLE, query, (rows, columns))
    totals = _totals(view, frame, "name", items="", statement="")
    return paged_table(TABLE, columns, rows.height, export="ar-aging",
                       height=418 + 42 * len(totals), currency=context.base_currency,
                       totals=totals,
                       empty=f"No customer in your scope has open items on "
                             f"{view.as_of:%d %b %Y}.")


def _items_card(context: RequestContext, mart: Mart, view: AgingView,
                frame: pl.DataFrame) -> dbc.Card:
    # The chooser offers the largest balances (the frame's order); any other customer is a
    # "List" link away in the grid, which filters by name on the server.
    names = frame.head(CHOOSER_CUSTOMERS).select("customer_id", "name").unique(
        "customer_id", keep="first", maintain_order=True)
    if view.customer_id is not None and view.customer_id not in names["customer_id"]:
        # Selected but nothing open on this date: keep it in the list (and in the URL).
        selected = pl.LazyFrame({"customer_id": [view.customer_id]},
                                schema={"customer_id": names.schema["customer_id"]})
        names = pl.concat([names, with_label(mart, selected, "customer")
                           .rename({"label": "name"}).collect()])
    options = [{"label": row["name"] or "(unnamed)", "value": str(row["customer_id"])}
               for row in names.sort("name").iter_rows(named=True)]
    body: list[Any] = [
        html.H2("Open items", className="h5"),
        dbc.Row([param_dropdown("customer", options, None if view.customer_id is None
                                else str(view.customer_id), "Customer"), dbc.Col(md=6)],
                className="mb-2"),
    ]
    if view.customer_id is None:
        more = (f" (the chooser holds the {CHOOSER_CUSTOMERS:,} largest balances)"
                if frame.height > CHOOSER_CUSTOMERS else "")
        body.append(html.P(f"Choose a customer, or “List” in a row above{more}, to list its "
                           "open invoices, unapplied receipts and open credits.",
                           className="text-muted fst-italic", id="ar-aging-items"))
    else:
        items = _items(context, mart, view, view.customer_id)
        body += [
            html.Div([dcc.Link("Customer 360", href=f"/customers/{view.customer_id}"),
                      " · ",
                      dcc.Link("Print statement",
                               href=view.statement_of(view.customer_id),
                               id="ar-aging-items-statement")],
                     className="small mb-2"),
            _items_table(context, view, items),
            _allocations_table(context, mart, view, items),
        ]
    return dbc.Card(dbc.CardBody(body), className="salesbi-card", id="ar-aging-items-card")


def _items_table(context: RequestContext, view: AgingView, items: pl.DataFrame) -> html.Div:
    """The customer's open items, each document linked to its allocations."""
    rows = items.with_columns(
        pl.col("item_type").replace_strict(ITEM_TYPES, default=pl.col("item_type"))
        .alias("type"),
        pl.when(pl.col("is_disputed")).then(pl.lit("Yes")).otherwise(pl.lit(""))
        .alias("disputed"),
        pl.format(PATH + view.query(customer=view.customer_id) + "&item={}-{}",
                  "item_type", "document_id").alias("item_href"))
    return data_table("ar-aging-items", rows,
                      ITEM_COLUMNS + _amount(view, "open_minor", "Open amount"),
                      context.base_currency, export="ar-open-items",
                      height=min(400, 130 + 42 * items.height),
                      totals=_totals(view, items, "document_number"),
                      empty=f"This customer has no open items on {view.as_of:%d %b %Y}.")


def _allocations_table(context: RequestContext, mart: Mart, view: AgingView,
                       items: pl.DataFrame) -> html.Div:
    """The allocations behind the open items (of the chosen one, when there is one)."""
    if items.is_empty():
        return html.Div()
    allocations = _allocations(context, mart, view, view.customer_id or 0, items)
    kind, number = view.item or ("", 0)
    chosen = items.filter(pl.col("item_type") == kind, pl.col("document_id") == number)
    which = ("of " + chosen["document_number"].item() if chosen.height
             else "behind these open items")
    rows = allocations.with_columns(
        (pl.col("from_type").replace_strict(ALLOCATION_KINDS, default=pl.col("from_type"))
         + pl.when(pl.col("is_reversal")).then(pl.lit(" (reversal)")).otherwise(pl.lit("")))
        .alias("kind"))
    columns = [Column("allocation_date", "Date"), Column("kind", "Applied from"),
               Column("from_document", "From"), Column("to_document", "To"),
               *_amount(view, "amount_minor", "Amount")]
    return html.Div([
        html.H3(f"Allocations {which} (dated on or before {view.as_of:%d %b %Y})",
                className="h6 mt-3", id="ar-aging-allocations-title"),
        data_table("ar-aging-allocations", rows, columns, context.base_currency,
                   export="ar-allocations", height=min(360, 130 + 42 * rows.height),
                   totals=_totals(view, allocations, "allocation_date"),
                   empty="Nothing has been applied to or from these items yet."),
    ])


def layout(context: RequestContext, **query: Any) -> html.Div:
    if context.mart is None:
        return no_data_page(TITLE)
    view = aging_view(context, query)
    currency = context.base_currency
    figures = aging_figures(context, context.mart, view)
    frame = figures.aging
    credit = _credit(context, context.mart, view, figures)
    buckets = aging_buckets(context.aging_boundaries, view.basis)
    doc = view.in_document_currency
    bucket_columns = [(b.doc_column if doc else b.column, b.label) for b in buckets]
    totals = aging_totals(frame)
    on = f"{view.as_of:%d %b %Y}"
    axis = "Days past due" if view.basis == DUE else "Days since invoice date"
    empty = f"No open invoices in your scope on {on}"
    note = (("Amounts in each customer's own (document) currency, totals per currency; "
             f"the cards and the most overdue list in {currency}. ") if doc
            else f"Amounts in {currency}, each at its own document's rate. ")
    note += f"{frame.height:,} customers with open items."
    if totals.get("disputed_items"):
        note += (f" {totals['disputed_items']:,} disputed invoices open "
                 f"({money(totals['disputed_minor'], currency)}).")
    if view.exclude_disputed:
        note += " Disputed invoices are left out of this table and the charts."
    over = int(credit["is_over_limit"].sum())
    note += (f" Credit columns are today's, in each customer's own currency (limit and hold "
             f"live; exposure = total AR today + backlog of credit orders): {over:,} over "
             "their limit.")
    title = f"Open invoices by age on {on}"
    largest = f"Largest open invoice balances by age ({axis.lower()})"
    if doc:
        by_age = aging_bars_by_currency(
            [b.label for b in buckets],
            {row["currency"]: [row[b.doc_column] for b in buckets]
             for row in totals_by_currency(frame)},
            f"{title}, by currency", axis, empty=empty)
        by_customer = aging_by_customer_bars_by_currency(
            frame, bucket_columns, f"{largest}, by currency", empty=empty)
    else:
        by_age = aging_bars([b.label for b in buckets],
                            [totals.get(b.column, 0) for b in buckets], currency, title,
                            axis, empty=empty)
        by_customer = aging_by_customer_bars(frame, bucket_columns, currency, largest,
                                             empty=empty)
    return html.Div([
        page_heading(TITLE),
        filter_bar(context, view.filters),
        _controls(context, view),
        dbc.Row(_cards(context, context.mart, view, figures), id="ar-aging-kpis"),
        dbc.Row([
            graph_card("ar-aging-buckets", by_age, 5),
            _top_overdue_card(context, view, frame),
        ]),
        dbc.Row(graph_card("ar-aging-customers", by_customer, 12)),
        dbc.Card(dbc.CardBody([
            html.H2("By customer", className="h5"),
            html.P(note, className="text-muted small", id="ar-aging-note"),
            _customer_table(context, view, {k: v for k, v in query.items()
                                            if isinstance(v, str)}, frame, credit),
        ]), className="salesbi-card mb-3"),
        _items_card(context, context.mart, view, frame),
    ])


def register_callbacks(app: dash.Dash) -> None:
    register_paged_table(app, TABLE, ROLES, _listed_customers)
