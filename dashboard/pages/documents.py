"""Documents: the invoices and credit notes, orders, quotes, open opportunities or pipeline
movements behind a figure, or the shipments and invoices behind the P&L's freight and
financing cost (drill-through target, ``dashboard.drill``, the P&L's row links). The URL holds
the period, the global filters and the drill (kind, customer, category, product, status,
stage, close month, movement step); every value is allowlisted and the user's scope applies,
so the list adds up to the figure it was opened from. A rep filter naming only reps outside
the user's scope lists nothing (and says so) rather than everything in scope."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
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
from dashboard.formatting import money, percent
from dashboard.metrics.documents import (
    KINDS,
    Drill,
    financing_documents,
    freight_documents,
    movement_documents,
    opportunity_documents,
    order_documents,
    quote_documents,
    sales_documents,
)
from dashboard.metrics.mart import Mart
from dashboard.metrics.pipeline import MOVEMENT_STEPS, STAGE_ORDER
from dashboard.metrics.pnl import NO_CATEGORY
from dashboard.metrics.quotes import STATUSES as QUOTE_STATUSES
from dashboard.metrics.scope import ALL_ROLES
from dashboard.pages.customers import customer_href
from dashboard.secure import RequestContext
from dashboard.view import GLOBAL_KEYS, View, query_string, selectable_reps, view_from_query

PATH = DOCUMENTS_PATH
TITLE = "Documents"
ROLES = ALL_ROLES
IN_NAV = False
ORDER_STATUSES = ("confirmed", "closed", "cancelled")
CUSTOMER = Column("customer", "Customer", "link", href_field="href")
WIDE = {"minWidth": 125, "wrapHeaderText": True, "autoHeaderHeight": True}
"""Columns with long headers (figures with the currency): the header wraps rather than
being cut."""
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
    "freight": [Column("shipment_number", "Shipment"), Column("date", "Shipped"),
                Column("order_number", "Order"), CUSTOMER, Column("rep", "Rep"),
                Column("replacement", "Replacement"),
                Column("freight_cost_minor", "Freight cost", "money", options=WIDE)],
    "financing": [Column("document_number", "Invoice"),
                  Column("date", "Invoice date", options=WIDE),
                  Column("due_date", "Due date"), CUSTOMER, Column("rep", "Rep"),
                  Column("financing_cost_minor", "Financing cost", "money", options=WIDE),
                  Column("paid_late_minor", "Paid late in period", "money", options=WIDE),
                  Column("days_late", "Avg days late", "number", options=WIDE),
                  Column("open_minor", "Overdue at period end", "money", options=WIDE),
                  Column("overdue_days", "Days overdue in period", "number", options=WIDE)],
}
KEPT_ON_TAB = (*GLOBAL_KEYS, "customer")
"""What switching the kind of document keeps (a status or stage belongs to one kind)."""
PNL_KINDS = ("sales", "freight", "financing")
"""The kinds behind a P&L row: switching among them keeps its category and product too."""
TABLE = "documents-table"
TOTALS = {"sales": "net_sales_minor", "orders": "net_minor", "quotes": "net_minor",
          "opportunities": "amount_minor", "movement": "change_minor",
          "freight": "freight_cost_minor", "financing": "financing_cost_minor"}
COUNTED = {"freight": ("shipments", "freight cost"), "financing": ("invoices", "financing cost")}
"""How the total line counts and names a kind's rows (default: documents, total)."""
EMPTY = {
    "freight": "No shipments with a freight cost shipped in this period, filter and scope.",
    "financing": "No invoices with a financing cost in this period, filter and scope: none "
                 "was paid after its due date in the period or still overdue at its end.",
}


def _params(mart: Mart | None) -> dict[str, tuple[str, ...] | None]:
    categories = () if mart is None else (
        *mart.frame("dim_product")["category"].unique(), NO_CATEGORY)
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


def refused_reps(context: RequestContext, mart: Mart, query: dict[str, Any]) -> frozenset[int]:
    """Reps the URL's rep filter names that exist but are outside the user's scope (the
    view drops them: a P&L row of another rep, a forged link)."""
    asked = {int(r) for r in str(query.get("rep") or "").split(",") if r.isdigit()}
    known = set(mart.frame("dim_rep").filter(pl.col("rep_key") >= 0)["rep_id"].to_list())
    return frozenset((asked & known) - set(selectable_reps(context)["rep_id"].to_list()))


def _documents(context: RequestContext, mart: Mart, view: View,
               query: dict[str, Any]) -> tuple[str, pl.DataFrame]:
    kind = view.params.get("kind", "sales")
    listers: dict[str, Callable[..., pl.DataFrame]] = {
        "sales": sales_documents, "orders": order_documents, "quotes": quote_documents,
        "freight": freight_documents}
    drill, selection = _drill(view), view.selection
    refused = refused_reps(context, mart, query)
    if refused and not selection.rep_ids:
        # Only reps outside the scope were asked for: filter by them (the scope still
        # applies, so nothing is listed) rather than drop the filter and list everyone's.
        selection = replace(selection, rep_ids=refused)
    if kind in ("opportunities", "movement"):
        lister = opportunity_documents if kind == "opportunities" else movement_documents
        rows = lister(mart, context.scope, view.period, selection, drill,
                      timezone=context.timezone)
    elif kind == "financing":
        rows = financing_documents(mart, context.scope, view.period, selection, drill,
                                   rate=context.financing_rate)
    else:
        rows = listers[kind](mart, context.scope, view.period, selection, drill)
    return kind, rows


def _list(context: RequestContext, mart: Mart, query: dict[str, str]) -> Listed:
    """The documents of the URL query with their customer links, and the kind's columns."""
    view = view_from_query(context, query, _params(mart))
    kind, rows = _documents(context, mart, view, query)
    return rows.with_columns(customer_href(pl.col("customer_id")).alias("href")), [
        replace(column, header=f"{column.header} ({context.base_currency})")
        if column.kind == "money" else column for column in COLUMNS[kind]]


def export_tables(context: RequestContext, query: dict[str, str]) -> dict[str, pl.DataFrame]:
    if context.mart is None:
        return {}
    _, rows = _documents(context, context.mart, view_from_query(
        context, query, _params(context.mart)), query)
    return {"documents": rows}


def _tabs(query: dict[str, Any], kind: str) -> dbc.Nav:
    links = []
    for name, label in KINDS.items():
        kept = (*KEPT_ON_TAB, "category", "product") if {kind, name} <= set(PNL_KINDS) \
            else KEPT_ON_TAB
        search = query_string({**{k: v for k, v in query.items() if k in kept},
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


def _rule(context: RequestContext, view: View, kind: str) -> str:
    """How the P&L figure behind a freight or financing list is made ("" for the other
    kinds)."""
    drill = _drill(view)
    split = drill.category is not None or drill.product_id is not None
    if kind == "freight":
        return ("Freight cost paid to the carrier, dated at shipping"
                + (": each shipment's share on the lines of this product or category (pro "
                   "rata to line value)." if split else "."))
    if kind == "financing":
        return (f"Financing cost = (cash received in the period after the due date × days "
                f"late + the amount still overdue at the period's end × its overdue days in "
                f"the period) × {percent(context.financing_rate)} ÷ 365, rounded per invoice"
                + ("; each invoice's share on the lines of this product or category (by "
                   "net amount). The other amounts are the whole invoice's." if split else "."))
    return ""


def layout(context: RequestContext, **query: Any) -> html.Div:
    if context.mart is None:
        return no_data_page(TITLE)
    mart = context.mart
    view = view_from_query(context, query, _params(mart))
    kind = view.params.get("kind", "sales")
    text_query = {k: v for k, v in query.items() if isinstance(v, str)}
    rows, columns = listed(context, mart, TABLE, text_query, _list)
    total = int(rows[TOTALS[kind]].sum()) if rows.height else 0
    noun, total_name = COUNTED.get(kind, ("documents", "total"))
    empty = EMPTY.get(kind, "No documents in this period, filter and scope.")
    refused = refused_reps(context, mart, text_query)
    if refused and not view.selection.rep_ids:
        names = mart.frame("dim_rep").filter(pl.col("rep_id").is_in(sorted(refused)))["name"]
        empty = (f"Nothing to list: {', '.join(sorted(set(names)))} "
                 f"{'is' if len(set(names)) == 1 else 'are'} outside your scope.")
    rule = _rule(context, view, kind)
    return html.Div([
        page_heading("Documents behind the figure"),
        filter_bar(context, view),
        _tabs(text_query, kind),
        html.P([html.Span(_described(mart, view, kind), id="documents-described"),
                html.Br(),
                html.Span(f"{rows.height:,} {noun}, {total_name} "
                          f"{money(total, context.base_currency)}", id="documents-total"),
                *([html.Br(), html.Span(rule, id="documents-rule")] if rule else [])],
               className="text-muted"),
        dbc.Card(dbc.CardBody(paged_table(
            TABLE, columns, rows.height, export="documents", height=560, empty=empty)),
            className="salesbi-card"),
    ])


def register_callbacks(app: dash.Dash) -> None:
    register_paged_table(app, TABLE, ROLES, _list)
