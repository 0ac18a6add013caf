"""Engagement: customers by engagement status today (KPIS definition) with the month-end
trend, and the at-risk and lapsed customers with their last order, expected interval and
account manager. Customers are those managed now by the user's scope.

A status card, or a point of the trend, lists the customers behind it: the URL's ``status``
(one of ``STATUS_LABELS``) and ``as_of`` (a day up to today) choose the list."""

from __future__ import annotations

from datetime import date
from typing import Any

import dash
import dash_bootstrap_components as dbc
import polars as pl
from dash import html

from dashboard.components.data_table import Column
from dashboard.components.kpi_card import kpi_card
from dashboard.components.paged_table import Listed, keep, paged_table, register_paged_table
from dashboard.components.panels import graph_card, no_data_page, page_heading
from dashboard.drill import drill_query, register_drill
from dashboard.figures import PALETTE, status_lines
from dashboard.metrics.engagement import (
    at_risk_and_lapsed_of,
    counts_by_status,
    engagement,
    status_trend,
)
from dashboard.metrics.mart import Mart
from dashboard.metrics.scope import ALL_ROLES
from dashboard.pages.customers import customer_href
from dashboard.secure import RequestContext
from dashboard.view import date_param

PATH = "/engagement"
TABLE = "engagement-at-risk"
TITLE = "Engagement"
ROLES = ALL_ROLES
IN_NAV = True
STATUS_LABELS = {"never": "Never ordered", "new": "New", "active": "Active",
                 "at_risk": "At risk", "lapsed": "Lapsed"}
STATUS_COLOURS = {"new": PALETTE[0], "active": PALETTE[2], "at_risk": PALETTE[6],
                  "lapsed": PALETTE[4], "never": PALETTE[5]}
LIST_COLUMNS = [
    Column("name", "Customer", "link", href_field="href"), Column("status_label", "Status"),
    Column("last_order_date", "Last order"),
    Column("days_since_last_order", "Days since", "number"),
    Column("expected_interval_days", "Expected interval (days)", "number",
           options={"wrapHeaderText": True, "autoHeaderHeight": True, "minWidth": 150}),
    Column("account_manager", "Account manager"),
]


def _listed(rows: pl.DataFrame, status: str | None) -> pl.DataFrame:
    """The customers of ``engagement`` rows in ``status`` (None: at risk and lapsed), with
    labels and links."""
    chosen = at_risk_and_lapsed_of(rows) if status is None else rows.filter(
        pl.col("status") == status)
    return chosen.with_columns(
        pl.col("status").replace_strict(STATUS_LABELS).alias("status_label"),
        customer_href(pl.col("customer_id")).alias("href"))


def _list_choice(context: RequestContext, query: dict[str, Any]) -> tuple[str | None, date]:
    """The listed status (None: at risk and lapsed) and the day it is as of."""
    status = query.get("status")
    return (status if status in STATUS_LABELS else None,
            date_param(query, "as_of", context.today, latest=context.today))


def _point_query(status: str, as_of: date) -> str:
    return drill_query(status=status, as_of=as_of.isoformat())


def export_tables(context: RequestContext, query: dict[str, str]) -> dict[str, pl.DataFrame]:
    if context.mart is None:
        return {}
    status, as_of = _list_choice(context, query)
    rows = engagement(context.mart, context.scope, as_of)
    return {TABLE: _listed(rows, status).select(
        "customer_id", "name", "status", "last_order_date", "days_since_last_order",
        "expected_interval_days", "account_manager")}


def layout(context: RequestContext, **query: Any) -> html.Div:
    if context.mart is None:
        return no_data_page("Customer engagement")
    status, as_of = _list_choice(context, query)
    # One classification of today's statuses serves the cards, the trend's last point
    # and (unless another day is asked for) the list.
    rows = engagement(context.mart, context.scope, context.today)
    counts = counts_by_status(rows)
    trend = status_trend(context.mart, context.scope, context.today, current=counts)
    if as_of != context.today:
        rows = engagement(context.mart, context.scope, as_of)
    cards = [kpi_card(f"engagement-{code}", label, f"{counts[code]:,}",
                      f"{PATH}?{_point_query(code, context.today)}")
             for code, label in STATUS_LABELS.items() if code != "never"]
    heading = ("At-risk and lapsed customers" if status is None
               else f"{STATUS_LABELS[status]} customers")
    return html.Div([
        page_heading("Customer engagement"),
        html.P(f"Status today ({context.today:%d %b %Y}) of the customers in your scope; "
               f"{counts['never']:,} have never ordered.", className="text-muted"),
        dbc.Row(cards, id="engagement-kpis"),
        dbc.Row(graph_card("engagement-trend", status_lines(
            trend, "Customers by engagement status at each month end", STATUS_COLOURS,
            STATUS_LABELS, drill=_point_query), 12)),
        dbc.Card(dbc.CardBody([
            html.H2(f"{heading} on {as_of:%d %b %Y}", className="h5",
                    id="engagement-list-heading"),
            html.A("Back to at-risk and lapsed today", href=PATH, className="small")
            if status is not None or as_of != context.today else None,
            _list_table(context, query, _listed(rows, status),
                        f"No {heading.lower()} in your scope on {as_of:%d %b %Y}."),
        ]), className="salesbi-card"),
    ])


def _list_table(context: RequestContext, query: dict[str, Any], listed: pl.DataFrame,
                empty: str) -> html.Div:
    """The list, paged on the server (at 10M lines an executive's at-risk and lapsed
    customers made a 0.9 MB page); the render keeps its rows for the blocks that follow."""
    keep(context, TABLE, _text_query(query), (listed, LIST_COLUMNS))
    return paged_table(TABLE, LIST_COLUMNS, listed.height, export=TABLE, height=420,
                       empty=empty)


def _text_query(query: dict[str, Any]) -> dict[str, str]:
    return {k: v for k, v in query.items() if isinstance(v, str)}


def _list_rows(context: RequestContext, mart: Mart, query: dict[str, str]) -> Listed:
    """The list of a URL query (the grid's blocks when no render kept it)."""
    status, as_of = _list_choice(context, query)
    return _listed(engagement(mart, context.scope, as_of), status), LIST_COLUMNS


def register_callbacks(app: dash.Dash) -> None:
    register_drill(app, ("engagement-trend",), path=PATH)
    register_paged_table(app, TABLE, ROLES, _list_rows)
