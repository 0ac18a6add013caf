"""Documents: the invoices and credit notes, orders, quotes, open opportunities or pipeline
movements behind a figure (drill-through target, ``dashboard.drill``). The URL holds the
period, the global filters and the drill (kind, customer, category, status, stage, close
month, movement step); every value is allowlisted and the user's scope applies, so the list
adds up to the figure it was opened from."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import dash
import dash_bootstrap_components as dbc
import polars as pl
from dash import html

from dashboard.components.data_table import Column
from dashboard.components.filter_bar import filter_bar
from dashboard.components.paged_table import Listed, listed, paged_table, register_paged_table
from dashboard.components.panels import no_data_page, page_heading
from dashboard.drill import DOCUMENTS_PATH
from dashboard.formatting import money
from dashboard.metrics.documents import (
    KINDS,
    Drill,
    movement_documents,
    opportunity_documents,
    order_documents,
    quote_documents,
    sales_documents,
)
from dashboard.metrics.mart import Mart
from dashboard.metrics.pipeline import MOVEMENT_STEPS, STAGE_ORDER
from dashboard.metrics.quotes import STATUSES as QUOTE_STATUSES
from dashboard.metrics.scope import ALL_ROLES
from dashboard.pages.customers import customer_href
from dashboard.secure import RequestContext
from dashboard.view import GLOBAL_KEYS, View, query_string, view_from_query

PATH = DOCUMENTS_PATH
TITLE = "Documents"
ROLES = ALL_ROLES
IN_NAV = False
ORDER_STATUSES = ("confirmed", "closed", "cancelled")
CUSTOMER = Column("customer", "Customer", "link", href_field="href")
COLUMNS = {
    "sales": [Column("type", "Type"), Column("document_number", "Document"),
              Column("date", "Date"), CUSTOMER, Column("rep", "Rep"),
              Column("net_sales_minor", "Net sales", "money"),
              Column("cost_minor", "Cost", "money"), Column("margin_minor", "Margin", "money")],
    "orders": [Column("order_number", "Order"), Column("date", "Order date"),
               Column("status", "Status"), CUSTOMER, Column("rep", "Rep"),
               Column("net_minor", "Amount", "money")],
    "quotes": [Column("quote_number", "Quote"), Column("revision_no", "Revision", "number"),
               Column("date", "Quote date"), Column("status", "Status"), CUSTOMER,
               Column("rep", "Rep"), Column("net_minor", "Amount", "money"),
               Column("valid_until", "Valid until")],
    "opportunities": [Column("opportunity_id", "Opportunity", "number"),
                      Column("stage", "Stage"), CUSTOMER, Column("rep", "Rep"),
                      Column("amount_minor", "Amount", "money"),
                      Column("probability", "Probability", "percent"),
                      Column("expected_close", "Expected close")],
    "movement": [Column("opportunity_id", "Opportunity", "number"), Column("step", "Step"),
                 Column("stage", "Stage"), CUSTOMER, Column("rep", "Rep"),
                 Column("opening_minor", "At start", "money"),
                 Column("closing_minor", "At end", "money"),
                 Column("change_minor", "Change", "money")],
}
KEPT_ON_TAB = (*GLOBAL_KEYS, "customer")
"""What switching the kind of document keeps (a status or stage belongs to one kind)."""
TABLE = "documents-table"
TOTALS = {"sales": "net_sales_minor", "orders": "net_minor", "quotes": "net_minor",
          "opportunities": "amount_minor", "movement": "change_minor"}


def _params(mart: Mart | None) -> dict[str, tuple[str, ...] | None]:
    categories = () if mart is None else tuple(mart.frame("dim_product")["category"].unique())
    return {"kind": tuple(KINDS), "customer": None, "product": None, "category": categories,
            "status": tuple(QUOTE_STATUSES) + ORDER_STATUSES, "stage": tuple(STAGE_ORDER),
            "close_month": None, "step": MOVEMENT_STEPS}


def _month_key(value: str) -> int | None:
    """``YYYY-MM`` as the month key YYYYMM; None when malformed."""
    year, _, month = value.partition("-")
    if not (len(year) == 4 and year.isdigit() and len(month) == 2 and month.isdigit()
            and 1 <= int(month) <= 12):
        return None
    return int(year) * 100 + int(month)


def _drill(view: View) -> Drill:
    customer, product = view.params.get("customer", ""), view.params.get("product", "")
    return Drill(customer_id=int(customer) if customer.isdigit() else None,
                 category=view.params.get("category"),
                 product_id=int(product) if product.isdigit() else None,
                 status=view.params.get("status"), stage=view.params.get("stage"),
                 close_month_key=_month_key(view.params.get("close_month", "")),
                 step=view.params.get("step"))


def _documents(context: RequestContext, mart: Mart, view: View) -> tuple[str, pl.DataFrame]:
    kind = view.params.get("kind", "sales")
    listers: dict[str, Callable[..., pl.DataFrame]] = {
        "sales": sales_documents, "orders": order_documents, "quotes": quote_documents}
    drill = _drill(view)
    if kind in ("opportunities", "movement"):
        lister = opportunity_documents if kind == "opportunities" else movement_documents
        rows = lister(mart, context.scope, view.period, view.selection, drill,
                      timezone=context.timezone)
    else:
        rows = listers[kind](mart, context.scope, view.period, view.selection, drill)
    return kind, rows


def _list(context: RequestContext, mart: Mart, query: dict[str, str]) -> Listed:
    """The documents of the URL query with their customer links, and the kind's columns."""
    view = view_from_query(context, query, _params(mart))
    kind, rows = _documents(context, mart, view)
    return rows.with_columns(customer_href(pl.col("customer_id")).alias("href")), COLUMNS[kind]


def export_tables(context: RequestContext, query: dict[str, str]) -> dict[str, pl.DataFrame]:
    if context.mart is None:
        return {}
    _, rows = _documents(context, context.mart, view_from_query(
        context, query, _params(context.mart)))
    return {"documents": rows}


def _tabs(query: dict[str, Any], kind: str) -> dbc.Nav:
    links = []
    for name, label in KINDS.items():
        search = query_string({**{k: v for k, v in query.items() if k in KEPT_ON_TAB},
                               "kind": name})
        links.append(dbc.NavItem(dbc.NavLink(label, href=PATH + search, active=name == kind,
                                             id=f"documents-tab-{name}")))
    return dbc.Nav(links, pills=True, className="mb-3")


def _described(mart: Mart, view: View, kind: str) -> str:
    """What the list is narrowed to, in words."""
    parts = [f"{KINDS[kind]} — " + (f"open on {view.period.end:%d %b %Y}"
                                      if kind == "opportunities" else view.period.label())]
    drill = _drill(view)
    if drill.customer_id is not None:
        names = mart.frame("dim_customer").filter(
            pl.col("is_current") & (pl.col("customer_id") == drill.customer_id))["name"]
        parts.append(f"customer {names[0] if len(names) else drill.customer_id}")
    for label, value in (("category", drill.category), ("product", drill.product_id),
                         ("status", drill.status), ("stage", drill.stage),
                         ("step", drill.step),
                         ("expected to close in", view.params.get("close_month")
                          if drill.close_month_key else None)):
        if value is not None:
            parts.append(f"{label} {value}")
    return " · ".join(parts)


def layout(context: RequestContext, **query: Any) -> html.Div:
    if context.mart is None:
        return no_data_page(TITLE)
    mart = context.mart
    view = view_from_query(context, query, _params(mart))
    kind = view.params.get("kind", "sales")
    rows, columns = listed(context, mart, TABLE, {k: v for k, v in query.items()
                                            if isinstance(v, str)}, _list)
    total = int(rows[TOTALS[kind]].sum()) if rows.height else 0
    return html.Div([
        page_heading("Documents behind the figure"),
        filter_bar(context, view),
        _tabs({k: v for k, v in query.items() if isinstance(v, str)}, kind),
        html.P([html.Span(_described(mart, view, kind), id="documents-described"),
                html.Br(),
                html.Span(f"{rows.height:,} documents, total {money(total, context.base_currency)}",
                          id="documents-total")], className="text-muted"),
        dbc.Card(dbc.CardBody(paged_table(
            TABLE, columns, rows.height, export="documents", height=560,
            empty="No documents in this period, filter and scope.")),
            className="salesbi-card"),
    ])


def register_callbacks(app: dash.Dash) -> None:
    register_paged_table(app, TABLE, ROLES, _list)
