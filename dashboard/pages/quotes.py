"""Quotes by status: counts and amounts by status and rep for quotes dated in the period,
conversion over quotes decided in the period, the age of open quotes today and the list of
open quotes to follow up (oldest first)."""

from __future__ import annotations

from typing import Any

import dash
import dash_bootstrap_components as dbc
import polars as pl
from dash import html

from dashboard.components.data_table import Column, data_table
from dashboard.components.filter_bar import filter_bar
from dashboard.components.kpi_card import kpi_card
from dashboard.components.panels import graph_card, no_data_page, page_heading
from dashboard.drill import drill_query, register_drill
from dashboard.figures import PALETTE, money_bars
from dashboard.formatting import compact_money, percent
from dashboard.metrics.quotes import (
    open_quote_age,
    quote_conversion,
    quotes_by,
    quotes_to_follow_up,
)
from dashboard.metrics.scope import ALL_ROLES
from dashboard.pages.customers import customer_href
from dashboard.secure import RequestContext
from dashboard.view import view_from_query

PATH = "/quotes"
TITLE = "Quotes"
ROLES = ALL_ROLES
IN_NAV = True
FOLLOW_UP_COLUMNS = [
    Column("quote_number", "Quote"), Column("customer", "Customer", "link", href_field="href"),
    Column("rep", "Rep"), Column("net_minor", "Amount", "money"),
    Column("sent_date", "Sent"), Column("age_days", "Age (days)", "number"),
    Column("valid_until", "Valid until"),
]


def export_tables(context: RequestContext, query: dict[str, str]) -> dict[str, pl.DataFrame]:
    if context.mart is None:
        return {}
    view = view_from_query(context, query)
    return {
        "quotes-by-status": quotes_by(context.mart, context.scope, view.period, "status",
                                      view.selection),
        "quotes-follow-up": quotes_to_follow_up(context.mart, context.scope, context.today,
                                                view.selection),
    }


def layout(context: RequestContext, **query: Any) -> html.Div:
    view = view_from_query(context, query)
    if context.mart is None:
        return no_data_page(TITLE)
    mart, scope, currency, sel = context.mart, context.scope, context.base_currency, \
        view.selection
    conversion = quote_conversion(mart, scope, view.period, sel)
    by_status = quotes_by(mart, scope, view.period, "status", sel)
    age = open_quote_age(mart, scope, context.today, sel)
    follow_up = quotes_to_follow_up(mart, scope, context.today, sel).with_columns(
        customer_href(pl.col("customer_id")).alias("href"))
    open_total = int(age["net_minor"].sum())
    cards = [
        kpi_card("quotes-conversion", "Conversion (by count)",
                 percent(conversion["conversion_count"]), PATH,
                 note=f"by amount {percent(conversion['conversion_amount'])} · "
                      f"{conversion['accepted']} accepted, {conversion['lost']} lost, "
                      f"{conversion['expired']} expired"),
        kpi_card("quotes-open", "Open quotes today", f"{int(age['quotes'].sum()):,}", PATH,
                 note=compact_money(open_total, currency)),
        kpi_card("quotes-dated", "Quotes in the period", f"{int(by_status['quotes'].sum()):,}",
                 PATH, note=compact_money(int(by_status["net_minor"].sum()), currency)),
    ]
    return html.Div([
        page_heading(TITLE),
        filter_bar(context, view),
        dbc.Row(cards, id="quotes-kpis"),
        dbc.Row([
            graph_card("quotes-by-status", money_bars(
                by_status["status"].to_list(), by_status["net_minor"].to_list(), currency,
                f"Quote amounts by current status ({view.period.label()})",
                empty="No quotes dated in this period",
                drill=[drill_query(kind="quotes", status=status)
                       for status in by_status["status"]]), 6),
            graph_card("quotes-age", money_bars(
                age["bucket"].to_list(), age["net_minor"].to_list(), currency,
                "Open quotes by days since sent", colour=PALETTE[1],
                empty="No open quotes"), 6),
        ]),
        dbc.Card(dbc.CardBody([
            html.H2("Open quotes to follow up", className="h5"),
            data_table("quotes-follow-up", follow_up, FOLLOW_UP_COLUMNS, currency,
                       export="quotes-follow-up", empty="No open quotes: nothing to chase."),
        ]), className="salesbi-card"),
    ])


def register_callbacks(app: dash.Dash) -> None:
    register_drill(app, ("quotes-by-status",))
