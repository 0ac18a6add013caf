"""Home: the KPIs of the user's role for the selected period, each against the prior period
and the same period last year, with the monthly trend and the breakdown that matters to the
role (reps: their customers; managers: their reps; finance and executives: channels).
Under the KPIs (``dashboard.home_kpis``) a rep sees the contacts due this week, a sales
manager the top of the rep leaderboard."""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from typing import Any

import dash
import dash_bootstrap_components as dbc
import polars as pl
from dash import dcc, html

from core.customers.profile import contacts_due
from dashboard.components.data_table import Column, data_table
from dashboard.components.filter_bar import filter_bar
from dashboard.components.paged_table import Listed, listed, paged_table, register_paged_table
from dashboard.components.panels import graph_card, no_data_page, page_heading
from dashboard.drill import drill_query, register_drill
from dashboard.figures import ranked_bars, sales_trend
from dashboard.home_kpis import CARDS_BY_ROLE
from dashboard.metrics.mart import Mart
from dashboard.metrics.period import trailing_months
from dashboard.metrics.sales import sales_by
from dashboard.metrics.scope import ALL_ROLES, REP, SALES_MANAGER
from dashboard.metrics.selection import managed_customers
from dashboard.pages import team
from dashboard.pages.customers import customer_href
from dashboard.secure import RequestContext, session_factory
from dashboard.view import View, view_from_query

PATH = "/"
TITLE = "Home"
ROLES = ALL_ROLES
IN_NAV = True
TREND_MONTHS = 12
CONTACT_DAYS_AHEAD = 7
LEADERBOARD_SIZE = 5
BREAKDOWN_TABLE = "home-breakdown-table"
CONTACT_COLUMNS = [Column("name", "Customer", "link", href_field="href"),
                   Column("next_contact_date", "Next contact"),
                   Column("overdue_days", "Days overdue", "number")]


def _breakdown(role: str) -> tuple[str, str]:
    """What the role's main table breaks sales down by, and its heading."""
    if role == REP:
        return "customer", "Net sales by customer"
    if role == SALES_MANAGER:
        return "rep", "Net sales by rep"
    return "channel", "Net sales by channel"


DRILL_FIELDS = {"customer": ("customer", "customer_id"), "rep": ("rep", "rep_id"),
                "channel": ("channel", "channel_code")}
"""Breakdown → the drill query key and the column that holds its value."""


def _with_drill(mart: Mart, frame: pl.DataFrame, by: str) -> pl.DataFrame:
    """``frame`` (``sales_by`` rows) plus ``drill``: each row's Documents query."""
    if by == "rep":
        frame = frame.join(mart.frame("dim_rep").select("rep_key", "rep_id"), on="rep_key",
                           how="left")
    elif by == "channel":
        frame = frame.join(mart.frame("dim_channel").select("channel_key", "channel_code"),
                           on="channel_key", how="left")
    key, column = DRILL_FIELDS[by]
    return frame.with_columns(pl.format("kind=sales&{}={}", pl.lit(key), pl.col(column))
                              .alias("drill"))


def month_drill(month_key: int) -> str:
    """The Documents query of one month's sales (a custom period over the month)."""
    start = date(month_key // 100, month_key % 100, 1)
    end = start.replace(day=calendar.monthrange(start.year, start.month)[1])
    return drill_query(kind="sales", period="custom", start=start.isoformat(),
                       end=end.isoformat())


def _contacts_due(context: RequestContext) -> dbc.Card:
    """The rep's customers whose next contact date falls within the coming week (read live
    from the core: a contact logged a minute ago counts)."""
    until = context.today + timedelta(days=CONTACT_DAYS_AHEAD)
    with session_factory()() as session:
        due = contacts_due(session, context.actor, until) if context.actor else []
    rows = pl.DataFrame(
        {"customer_id": [d.customer_id for d in due], "name": [d.customer_name for d in due],
         "next_contact_date": [d.next_contact_date for d in due],
         "overdue_days": [max((context.today - d.next_contact_date).days, 0) for d in due]},
        schema={"customer_id": pl.Int64, "name": pl.String, "next_contact_date": pl.Date,
                "overdue_days": pl.Int64},
    ).with_columns(customer_href(pl.col("customer_id")).alias("href"))
    return dbc.Card(dbc.CardBody([
        html.H2("Next contacts due", className="h5"),
        data_table("home-contacts-due", rows, CONTACT_COLUMNS, context.base_currency,
                   height=260, empty=f"No contact due in the next {CONTACT_DAYS_AHEAD} days."),
    ]), className="salesbi-card mb-3")


def _leaderboard(context: RequestContext, mart: Mart, view: View) -> dbc.Card:
    ranked = team.leaderboard(mart, context.scope, view).head(LEADERBOARD_SIZE)
    return dbc.Card(dbc.CardBody([
        html.H2(["Rep leaderboard ", dcc.Link("(all reps and months)", href=team.PATH,
                                               className="small")], className="h5"),
        data_table("home-leaderboard", ranked, team.LEADERBOARD_COLUMNS,
                   context.base_currency, height=330,
                   empty="No rep in your team has a target or sales in this period."),
    ]), className="salesbi-card mb-3")


def _role_panels(context: RequestContext, mart: Mart, view: View) -> list[dbc.Card]:
    """What the role sees right under its KPIs: a rep's contacts due, a manager's
    leaderboard."""
    if context.scope.role == REP:
        return [_contacts_due(context)]
    if context.scope.role == SALES_MANAGER:
        return [_leaderboard(context, mart, view)]
    return []


def _breakdown_columns(by: str) -> list[Column]:
    """The breakdown grid's columns: a customer's name links to its Customer 360."""
    label = (Column("label", "Customer", "link", href_field="href") if by == "customer"
             else Column("label", by.capitalize()))
    return [label, Column("net_sales_minor", "Net sales", "money"),
            Column("cost_minor", "Cost", "money"), Column("margin_minor", "Margin", "money"),
            Column("margin_pct", "Margin %", "percent")]


def _breakdown_rows(context: RequestContext, mart: Mart, query: dict[str, str]) -> Listed:
    """Net sales by the role's breakdown for the URL query, with each row's drill query
    (and the Customer 360 link of a customer the user manages now), and the grid's columns:
    a rep's customers can run to thousands, so the grid is paged on the server."""
    view = view_from_query(context, query)
    by, _ = _breakdown(context.scope.role)
    rows = _with_drill(mart, sales_by(mart, context.scope, view.period, by, view.selection), by)
    if by == "customer":  # a customer reassigned since has no link: the rep cannot open it
        managed = managed_customers(mart, context.scope)
        opens = (pl.lit(True) if managed is None
                 else pl.col("customer_id").is_in(managed.implode()))
        rows = rows.with_columns(pl.when(opens).then(customer_href(pl.col("customer_id")))
                                 .alias("href"))
    return rows, _breakdown_columns(by)


def export_tables(context: RequestContext, query: dict[str, str]) -> dict[str, pl.DataFrame]:
    """The tables this page shows, for export: the breakdown grid's list, as kept for its
    blocks (every row)."""
    if context.mart is None:
        return {}
    by, _ = _breakdown(context.scope.role)
    frame, _ = listed(context, context.mart, BREAKDOWN_TABLE, query, _breakdown_rows)
    return {"home-breakdown": frame.select(
        pl.col("label").alias(by), "net_sales_minor", "cost_minor", "margin_minor",
        "margin_pct")}


def layout(context: RequestContext, **query: Any) -> html.Div:
    view = view_from_query(context, query)
    if context.mart is None:
        return no_data_page(f"Welcome, {context.full_name}")
    mart, scope, currency = context.mart, context.scope, context.base_currency
    cards = CARDS_BY_ROLE[scope.role](context, view)
    trend_period = trailing_months(context.today, TREND_MONTHS)
    trend = sales_by(mart, scope, trend_period, "month", view.selection)
    _, title = _breakdown(scope.role)
    breakdown, columns = listed(context, mart, BREAKDOWN_TABLE,
                                {k: v for k, v in query.items() if isinstance(v, str)},
                                _breakdown_rows)
    return html.Div([
        page_heading(f"Welcome, {context.full_name}"),
        filter_bar(context, view),
        dbc.Row(cards, id="home-kpis"),
        *_role_panels(context, mart, view),
        dbc.Row([
            graph_card("home-trend", sales_trend(
                trend, trend_period, currency,
                f"Net sales and margin, last {TREND_MONTHS} months", drill=month_drill), 7),
            graph_card("home-breakdown-chart", ranked_bars(
                breakdown, "net_sales_minor", currency, f"{title} ({view.period.label()})",
                drill="drill"), 5),
        ]),
        dbc.Card(dbc.CardBody([
            html.H2(title, className="h5"),
            paged_table(BREAKDOWN_TABLE, columns, breakdown.height, export="home-breakdown",
                        empty="No sales in this period and scope.",
                        height=min(400, 110 + 42 * breakdown.height)),
        ]), className="salesbi-card"),
    ])


def register_callbacks(app: dash.Dash) -> None:
    register_drill(app, ("home-trend", "home-breakdown-chart"))
    register_paged_table(app, BREAKDOWN_TABLE, ROLES, _breakdown_rows)
