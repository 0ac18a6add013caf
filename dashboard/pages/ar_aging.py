"""AR aging: open receivables of the customers in the user's scope as of a date (KPIS.md
"Aging buckets"): total AR, overdue, % overdue and DSO; open invoices by age; the table by
customer (buckets, unapplied cash, open credits, total AR, disputed) with a totals row; and
the open items of one customer (``?customer=<id>``, ignored when outside the scope).

The URL holds the view: ``as_of`` (ISO date, not after today; default today), ``basis``
(``due`` | ``invoice``), ``backdated=1`` (include entries posted after the as-of day with a
date on or before it) and ``disputed=exclude``. Bucket boundaries are the company's setting.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import dash_bootstrap_components as dbc
import polars as pl
from dash import dcc, html

from dashboard.components.data_table import Column, data_table
from dashboard.components.filter_bar import param_date, param_dropdown
from dashboard.components.kpi_card import kpi_card
from dashboard.components.panels import graph_card, no_data_page, page_heading
from dashboard.figures import aging_bars, aging_by_customer_bars
from dashboard.formatting import BLANK, compact_money, money, percent
from dashboard.ids import VIEW_PARAM
from dashboard.metrics.aging import (
    DUE,
    INVOICE_DATE,
    aging_buckets,
    aging_by_customer,
    aging_totals,
    open_items_of,
)
from dashboard.metrics.customer import in_scope
from dashboard.metrics.labels import with_label
from dashboard.metrics.mart import Mart
from dashboard.metrics.ratios import ratio_value
from dashboard.metrics.receivables import DSO_DAYS, ar_summary, dso
from dashboard.metrics.scope import ALL_ROLES
from dashboard.pages.customers import customer_href
from dashboard.secure import RequestContext
from dashboard.view import date_param, id_param, query_string, view_from_query

PATH = "/ar-aging"
TITLE = "AR aging"
ROLES = ALL_ROLES  # DESIGN D6: every role sees the AR of the customers in its scope
IN_NAV = True
PAGE_PARAMS = {"basis": (DUE, INVOICE_DATE), "backdated": ("1",), "disputed": ("exclude",)}
BASIS_LABELS = {DUE: "Due date", INVOICE_DATE: "Invoice date"}
ITEM_TYPES = {"invoice": "Invoice", "refund": "Refund", "reversal": "Payment reversal",
              "payment": "Unapplied receipt", "credit_note": "Open credit note"}
SIDE_HEADERS = {"open_invoices_minor": "Open invoices", "unapplied_cash_minor": "Unapplied cash",
                "open_credits_minor": "Open credits", "total_ar_minor": "Total AR"}
ITEM_COLUMNS = [
    Column("document_number", "Document"), Column("type", "Type"),
    Column("document_date", "Date"), Column("due_date", "Due date"),
    Column("days_past_due", "Days overdue", "number"), Column("bucket", "Bucket"),
    Column("disputed", "Disputed"), Column("promise_to_pay_date", "Promise to pay"),
    Column("open_minor", "Open amount", "money"),
]


@dataclass(frozen=True)
class AgingView:
    """The validated URL parameters of the page."""

    as_of: date
    basis: str
    include_backdated: bool
    exclude_disputed: bool
    customer_id: int | None  # in the user's scope, or None

    def query(self, **extra: object) -> str:
        """The page's query string for this view (plus ``extra``)."""
        return query_string({"as_of": self.as_of.isoformat(), "basis": self.basis,
                             "backdated": "1" if self.include_backdated else None,
                             "disputed": "exclude" if self.exclude_disputed else None,
                             **extra})


def aging_view(context: RequestContext, query: Mapping[str, str]) -> AgingView:
    """Parse ``query``: bad values fall back to today, the due-date basis, off; a customer
    outside the scope is dropped."""
    params = view_from_query(context, query, PAGE_PARAMS).params
    customer_id = id_param(query, "customer")
    if customer_id is not None and (context.mart is None
                                    or not in_scope(context.mart, context.scope, customer_id)):
        customer_id = None
    return AgingView(date_param(query, "as_of", context.today, latest=context.today),
                     params.get("basis", DUE), params.get("backdated") == "1",
                     params.get("disputed") == "exclude", customer_id)


def _aging(context: RequestContext, mart: Mart, view: AgingView) -> pl.DataFrame:
    return aging_by_customer(mart, context.scope, view.as_of, timezone=context.timezone,
                             boundaries=context.aging_boundaries, basis=view.basis,
                             include_backdated=view.include_backdated,
                             exclude_disputed=view.exclude_disputed)


def _items(context: RequestContext, mart: Mart, view: AgingView,
           customer_id: int) -> pl.DataFrame:
    return open_items_of(mart, context.scope, customer_id, view.as_of,
                         timezone=context.timezone, boundaries=context.aging_boundaries,
                         basis=view.basis, include_backdated=view.include_backdated,
                         exclude_disputed=view.exclude_disputed)


def export_tables(context: RequestContext, query: dict[str, str]) -> dict[str, pl.DataFrame]:
    if context.mart is None:
        return {}
    view = aging_view(context, query)
    tables = {"ar-aging": _aging(context, context.mart, view)}
    if view.customer_id is not None:
        tables["ar-open-items"] = _items(context, context.mart, view, view.customer_id).select(
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
        ], className="g-3 align-items-end"),
        html.Div(f"Open items dated on or before {view.as_of:%d %b %Y}, {known}.",
                 className="small text-muted mt-1", id="ar-aging-as-of-label"),
    ]), className="salesbi-card salesbi-filter-bar mb-3")


def _cards(context: RequestContext, mart: Mart, view: AgingView) -> list[dbc.Col]:
    scope, currency, tz = context.scope, context.base_currency, context.timezone
    summary = ar_summary(mart, scope, view.as_of, timezone=tz,
                         include_backdated=view.include_backdated)
    days = dso(mart, scope, view.as_of, timezone=tz, include_backdated=view.include_backdated,
               total_ar_minor=summary["total_ar_minor"])
    share = ratio_value(summary["overdue_minor"], summary["open_invoices_minor"])
    here = PATH + view.query()  # a card links to this same view
    return [
        kpi_card("ar-aging-total", f"Total AR on {view.as_of:%d %b %Y}",
                 compact_money(summary["total_ar_minor"], currency), here,
                 note=money(summary["total_ar_minor"], currency)),
        kpi_card("ar-aging-overdue", "Overdue", compact_money(summary["overdue_minor"],
                                                              currency), here,
                 note=f"of {compact_money(summary['open_invoices_minor'], currency)} "
                      "open invoices"),
        kpi_card("ar-aging-overdue-pct", "% overdue", percent(share), here,
                 note="past their due date, by amount"),
        kpi_card("ar-aging-dso", "DSO",
                 BLANK if days["dso"] is None else f"{days['dso']:.0f} days", here,
                 note=f"credit sales of the last {DSO_DAYS} days "
                      f"{compact_money(int(days['credit_sales_minor'] or 0), currency)}"),
    ]


def _customer_table(context: RequestContext, view: AgingView, frame: pl.DataFrame,
                    bucket_columns: list[tuple[str, str]]) -> html.Div:
    currency = context.base_currency
    # Whole currency units keep sixteen columns readable; the export has the cents.
    whole = {"valueFormatter": {"function": "d3.format(',.0f')(params.value)"},
             "filter": False, "wrapHeaderText": True, "autoHeaderHeight": True}
    columns = [
        Column("name", "Customer", "link", href_field="href",
               options={"pinned": "left", "minWidth": 170}),
        Column("items", "Open items", "link", href_field="items_href",
               options={"pinned": "left", "minWidth": 80, "maxWidth": 90, "sortable": False,
                        "filter": False, "wrapHeaderText": True, "autoHeaderHeight": True}),
        *(Column(column, label, "money", options=whole | {"minWidth": 84})
          for column, label in bucket_columns),
        *(Column(column, header, "money", options=whole | {"minWidth": 100})
          for column, header in SIDE_HEADERS.items()),
        Column("disputed_items", "Disputed", "number",
               options={"minWidth": 80, "filter": False}),
    ]
    rows = frame.with_columns(
        customer_href(pl.col("customer_id")).alias("href"),
        pl.lit("List").alias("items"),
        pl.format(PATH + view.query() + "&customer={}",
                  pl.col("customer_id")).alias("items_href"))
    totals: dict[str, Any] = {"name": "Total", "items": ""} | aging_totals(frame)
    return data_table("ar-aging-table", rows, columns, currency, export="ar-aging",
                      height=460, totals=totals,
                      empty=f"No customer in your scope has open items on "
                            f"{view.as_of:%d %b %Y}.")


def _items_card(context: RequestContext, mart: Mart, view: AgingView,
                frame: pl.DataFrame) -> dbc.Card:
    names = frame.select("customer_id", "name")
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
        body.append(html.P("Choose a customer, or “List” in a row above, to list its "
                           "open invoices, unapplied receipts and open credits.",
                           className="text-muted fst-italic", id="ar-aging-items"))
    else:
        items = _items(context, mart, view, view.customer_id).with_columns(
            pl.col("item_type").replace_strict(ITEM_TYPES, default=pl.col("item_type"))
            .alias("type"),
            pl.when(pl.col("is_disputed")).then(pl.lit("Yes")).otherwise(pl.lit(""))
            .alias("disputed"))
        body += [
            dcc.Link("Customer 360", href=f"/customers/{view.customer_id}",
                     className="small d-block mb-2"),
            data_table("ar-aging-items", items, ITEM_COLUMNS, context.base_currency,
                       export="ar-open-items", height=min(400, 130 + 42 * items.height),
                       totals={"document_number": "Total",
                               "open_minor": int(items["open_minor"].sum())},
                       empty=f"This customer has no open items on {view.as_of:%d %b %Y}."),
        ]
    return dbc.Card(dbc.CardBody(body), className="salesbi-card", id="ar-aging-items-card")


def layout(context: RequestContext, **query: Any) -> html.Div:
    if context.mart is None:
        return no_data_page(TITLE)
    view = aging_view(context, query)
    currency = context.base_currency
    frame = _aging(context, context.mart, view)
    buckets = aging_buckets(context.aging_boundaries, view.basis)
    bucket_columns = [(b.column, b.label) for b in buckets]
    totals = aging_totals(frame)
    on = f"{view.as_of:%d %b %Y}"
    axis = "Days past due" if view.basis == DUE else "Days since invoice date"
    empty = f"No open invoices in your scope on {on}"
    note = (f"Amounts in {currency}, each at its own document's rate. "
            f"{frame.height:,} customers with open items.")
    if totals.get("disputed_items"):
        note += (f" {totals['disputed_items']:,} disputed invoices open "
                 f"({money(totals['disputed_minor'], currency)}).")
    if view.exclude_disputed:
        note += " Disputed invoices are left out of this table and the charts."
    return html.Div([
        page_heading(TITLE),
        _controls(context, view),
        dbc.Row(_cards(context, context.mart, view), id="ar-aging-kpis"),
        dbc.Row([
            graph_card("ar-aging-buckets", aging_bars(
                [b.label for b in buckets], [totals.get(b.column, 0) for b in buckets],
                currency, f"Open invoices by age on {on}", axis, empty=empty), 5),
            graph_card("ar-aging-customers", aging_by_customer_bars(
                frame, bucket_columns, currency,
                f"Largest open invoice balances by age ({axis.lower()})", empty=empty), 7),
        ]),
        dbc.Card(dbc.CardBody([
            html.H2("By customer", className="h5"),
            html.P(note, className="text-muted small", id="ar-aging-note"),
            _customer_table(context, view, frame, bucket_columns),
        ]), className="salesbi-card mb-3"),
        _items_card(context, context.mart, view, frame),
    ])

