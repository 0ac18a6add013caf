"""Engagement: customers by engagement status today (KPIS definition) with the month-end
trend, and the at-risk and lapsed customers with their last order, expected interval and
account manager. Customers are those managed now by the user's scope."""

from __future__ import annotations

from typing import Any

import dash_bootstrap_components as dbc
import polars as pl
from dash import html

from dashboard.components.data_table import Column, data_table
from dashboard.components.kpi_card import kpi_card
from dashboard.components.panels import graph_card, no_data_page, page_heading
from dashboard.figures import PALETTE, status_lines
from dashboard.metrics.engagement import (
    at_risk_and_lapsed_of,
    counts_by_status,
    engagement,
    status_trend,
)
from dashboard.metrics.scope import ALL_ROLES
from dashboard.pages.customers import customer_href
from dashboard.secure import RequestContext

PATH = "/engagement"
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
    Column("expected_interval_days", "Expected interval (days)", "number"),
    Column("account_manager", "Account manager"),
]


def _at_risk(rows: pl.DataFrame) -> pl.DataFrame:
    """The at-risk and lapsed of ``engagement`` rows, with labels and links."""
    return at_risk_and_lapsed_of(rows).with_columns(
        pl.col("status").replace_strict(STATUS_LABELS).alias("status_label"),
        customer_href(pl.col("customer_id")).alias("href"))


def export_tables(context: RequestContext, query: dict[str, str]) -> dict[str, pl.DataFrame]:
    if context.mart is None:
        return {}
    rows = engagement(context.mart, context.scope, context.today)
    return {"engagement-at-risk": _at_risk(rows).select(
        "customer_id", "name", "status", "last_order_date", "days_since_last_order",
        "expected_interval_days", "account_manager")}


def layout(context: RequestContext, **_query: Any) -> html.Div:
    if context.mart is None:
        return no_data_page("Customer engagement")
    # One classification of today's statuses serves the cards, the trend's last point
    # and the list.
    rows = engagement(context.mart, context.scope, context.today)
    counts = counts_by_status(rows)
    trend = status_trend(context.mart, context.scope, context.today, current=counts)
    cards = [kpi_card(f"engagement-{status}", label, f"{counts[status]:,}", PATH)
             for status, label in STATUS_LABELS.items() if status != "never"]
    return html.Div([
        page_heading("Customer engagement"),
        html.P(f"Status today ({context.today:%d %b %Y}) of the customers in your scope; "
               f"{counts['never']:,} have never ordered.", className="text-muted"),
        dbc.Row(cards, id="engagement-kpis"),
        dbc.Row(graph_card("engagement-trend", status_lines(
            trend, "Customers by engagement status at each month end", STATUS_COLOURS,
            STATUS_LABELS), 12)),
        dbc.Card(dbc.CardBody([
            html.H2("At-risk and lapsed customers", className="h5"),
            data_table("engagement-at-risk", _at_risk(rows), LIST_COLUMNS,
                       context.base_currency, export="engagement-at-risk", height=420,
                       empty="No at-risk or lapsed customers in your scope."),
        ]), className="salesbi-card"),
    ])
