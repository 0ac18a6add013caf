"""Home: the KPIs of the user's role for the selected period, each against the prior period
and the same period last year, with the monthly trend and the breakdown that matters to the
role (reps: their customers; managers: their reps; finance and executives: channels)."""

from __future__ import annotations

from typing import Any

import dash_bootstrap_components as dbc
import polars as pl
from dash import html

from dashboard.components.data_table import Column, data_table
from dashboard.components.filter_bar import filter_bar
from dashboard.components.kpi_card import Comparison, kpi_card
from dashboard.components.panels import graph_card, no_data_page, page_heading
from dashboard.figures import ranked_bars, sales_trend
from dashboard.formatting import compact_money, money, percent
from dashboard.metrics.period import trailing_months
from dashboard.metrics.sales import sales_by, sales_totals
from dashboard.metrics.scope import ALL_ROLES, REP, SALES_MANAGER
from dashboard.secure import RequestContext
from dashboard.view import view_from_query

PATH = "/"
TITLE = "Home"
ROLES = ALL_ROLES
IN_NAV = True
TREND_MONTHS = 12


def _breakdown(role: str) -> tuple[str, str]:
    """What the role's main table breaks sales down by, and its heading."""
    if role == REP:
        return "customer", "Net sales by customer"
    if role == SALES_MANAGER:
        return "rep", "Net sales by rep"
    return "channel", "Net sales by channel"


def export_tables(context: RequestContext, query: dict[str, str]) -> dict[str, pl.DataFrame]:
    """The tables this page shows, for export (same metric calls as the page)."""
    view = view_from_query(context, query)
    if context.mart is None:
        return {}
    by, _ = _breakdown(context.scope.role)
    frame = sales_by(context.mart, context.scope, view.period, by, view.selection)
    return {"home-breakdown": frame.select(
        pl.col("label").alias(by), "net_sales_minor", "cost_minor", "margin_minor",
        "margin_pct")}


def layout(context: RequestContext, **query: Any) -> html.Div:
    view = view_from_query(context, query)
    if context.mart is None:
        return no_data_page(f"Welcome, {context.full_name}")
    mart, scope, currency = context.mart, context.scope, context.base_currency
    now = sales_totals(mart, scope, view.period, view.selection)
    prior = sales_totals(mart, scope, view.period.prior(), view.selection)
    last_year = sales_totals(mart, scope, view.period.last_year(), view.selection)

    def compare(key: str, is_ratio: bool = False) -> Comparison:
        return Comparison(now[key], prior[key], last_year[key], is_ratio=is_ratio)

    cards = [
        kpi_card("home-net-sales", "Net sales", compact_money(now["net_sales_minor"], currency),
                 "/", compare("net_sales_minor"), note=money(now["net_sales_minor"], currency)),
        kpi_card("home-gross-margin", "Gross margin",
                 compact_money(now["margin_minor"], currency), "/", compare("margin_minor")),
        kpi_card("home-margin-pct", "Gross margin %", percent(now["margin_pct"]), "/",
                 compare("margin_pct", is_ratio=True)),
        kpi_card("home-average-order", "Average order value",
                 compact_money(now["average_order_minor"], currency), "/",
                 compare("average_order_minor"),
                 note=f"{now['orders_invoiced']:,} orders invoiced"),
    ]
    trend_period = trailing_months(context.today, TREND_MONTHS)
    trend = sales_by(mart, scope, trend_period, "month", view.selection)
    by, title = _breakdown(scope.role)
    breakdown = sales_by(mart, scope, view.period, by, view.selection)
    columns = [Column("label", by.capitalize()), Column("net_sales_minor", "Net sales", "money"),
               Column("cost_minor", "Cost", "money"), Column("margin_minor", "Margin", "money"),
               Column("margin_pct", "Margin %", "percent")]
    return html.Div([
        page_heading(f"Welcome, {context.full_name}"),
        filter_bar(context, view),
        dbc.Row(cards, id="home-kpis"),
        dbc.Row([
            graph_card("home-trend", sales_trend(
                trend, trend_period, currency,
                f"Net sales and margin, last {TREND_MONTHS} months"), 7),
            graph_card("home-breakdown-chart", ranked_bars(
                breakdown, "net_sales_minor", currency, f"{title} ({view.period.label()})"), 5),
        ]),
        dbc.Card(dbc.CardBody([
            html.H2(title, className="h5"),
            data_table("home-breakdown-table", breakdown, columns, currency,
                       export="home-breakdown"),
        ]), className="salesbi-card"),
    ])
