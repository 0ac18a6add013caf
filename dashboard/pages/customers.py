"""Customers: the customers the user manages (or all, for finance and executives) with their
sales in the period; every name links to its Customer 360 page."""

from __future__ import annotations

from typing import Any

import dash
import dash_bootstrap_components as dbc
import polars as pl
from dash import html

from dashboard.components.data_table import Column
from dashboard.components.filter_bar import filter_bar
from dashboard.components.paged_table import Listed, listed, paged_table, register_paged_table
from dashboard.components.panels import no_data_page, page_heading
from dashboard.metrics.customers import customer_list
from dashboard.metrics.mart import Mart
from dashboard.metrics.scope import ALL_ROLES
from dashboard.secure import RequestContext
from dashboard.view import view_from_query

PATH = "/customers"
TITLE = "Customers"
ROLES = ALL_ROLES
IN_NAV = True
TABLE = "customers-table"
COLUMNS = [
    Column("name", "Customer", "link", href_field="href"), Column("ref", "Ref"),
    Column("account_manager", "Account manager"), Column("segment_code", "Segment"),
    Column("region_code", "Region"), Column("channel_code", "Channel"),
    Column("net_sales_minor", "Net sales", "money"), Column("margin_minor", "Margin", "money"),
    Column("margin_pct", "Margin %", "percent"),
]


def customer_href(customer_id: pl.Expr) -> pl.Expr:
    """The Customer 360 link of each row."""
    return pl.format("/customers/{}", customer_id)


def _rows(context: RequestContext, mart: Mart, query: dict[str, str]) -> pl.DataFrame:
    view = view_from_query(context, query)
    return customer_list(mart, context.scope, view.period, view.selection)


def _list(context: RequestContext, mart: Mart, query: dict[str, str]) -> Listed:
    """The customers of the URL query with their Customer 360 links."""
    rows = _rows(context, mart, query)
    return rows.with_columns(customer_href(pl.col("customer_id")).alias("href")), COLUMNS


def export_tables(context: RequestContext, query: dict[str, str]) -> dict[str, pl.DataFrame]:
    if context.mart is None:
        return {}
    return {"customers": _rows(context, context.mart, query).drop("account_manager_id")}


def layout(context: RequestContext, **query: Any) -> html.Div:
    view = view_from_query(context, query)
    if context.mart is None:
        return no_data_page(TITLE)
    rows, _ = listed(context, context.mart, TABLE,
                     {k: v for k, v in query.items() if isinstance(v, str)}, _list)
    return html.Div([
        page_heading(TITLE),
        filter_bar(context, view),
        dbc.Card(dbc.CardBody([
            html.P(f"{rows.height:,} customers · net sales {view.period.label()}",
                   className="text-muted small"),
            paged_table(TABLE, COLUMNS, rows.height, export="customers", height=560,
                        empty="No customers in your scope match these filters."),
        ]), className="salesbi-card"),
    ])


def register_callbacks(app: dash.Dash) -> None:
    register_paged_table(app, TABLE, ROLES, _list)
