"""Team targets (sales managers and executives): net sales against the reps' targets for
the period, the rep leaderboard, target vs actual by month and attainment per rep per month
over the last 12 months. Targets are pro-rated by day (``dashboard.metrics.targets``)."""

from __future__ import annotations

from typing import Any

import dash_bootstrap_components as dbc
import polars as pl
from dash import html

from dashboard.components.data_table import Column, data_table
from dashboard.components.filter_bar import filter_bar
from dashboard.components.kpi_card import Comparison, kpi_card
from dashboard.components.panels import graph_card, no_data_page, page_heading
from dashboard.figures import attainment_heatmap, target_vs_actual
from dashboard.formatting import compact_money, percent
from dashboard.metrics.mart import Mart
from dashboard.metrics.period import trailing_months
from dashboard.metrics.scope import EXECUTIVE, SALES_MANAGER, Scope
from dashboard.metrics.targets import attainment_by, attainment_totals, has_target, totals_of
from dashboard.secure import RequestContext
from dashboard.view import View, view_from_query

PATH = "/team"
TITLE = "Team"
HEADING = "Team targets"
ROLES = frozenset({SALES_MANAGER, EXECUTIVE})
IN_NAV = True
TREND_MONTHS = 12
LEADERBOARD_COLUMNS = [
    Column("rank", "#", "number"), Column("label", "Rep"),
    Column("target_minor", "Target", "money"), Column("net_sales_minor", "Net sales", "money"),
    Column("attainment", "Attainment", "percent"), Column("gap_minor", "Over / under", "money"),
]


def leaderboard(mart: Mart, scope: Scope, view: View) -> pl.DataFrame:
    """The reps of the scope ranked by attainment for the view's period (``rank`` 1 =
    best; reps without a target are unranked, after the others)."""
    rows = attainment_by(mart, scope, view.period, "rep", view.selection)
    return rows.with_columns(
        pl.col("attainment").rank("ordinal", descending=True).cast(pl.Int64).alias("rank"))


def export_tables(context: RequestContext, query: dict[str, str]) -> dict[str, pl.DataFrame]:
    if context.mart is None:
        return {}
    view = view_from_query(context, query)
    return {"team-leaderboard": leaderboard(context.mart, context.scope, view).select(
        "rank", pl.col("label").alias("rep"), "target_minor", "net_sales_minor",
        "attainment", "gap_minor")}


def layout(context: RequestContext, **query: Any) -> html.Div:
    view = view_from_query(context, query)
    if context.mart is None:
        return no_data_page(HEADING)
    mart, scope, currency, selection = (context.mart, context.scope, context.base_currency,
                                        view.selection)
    ranked = leaderboard(mart, scope, view)
    now = totals_of(ranked, selection)
    prior = attainment_totals(mart, scope, view.period.prior(), selection)
    last_year = attainment_totals(mart, scope, view.period.last_year(), selection)

    def compare(key: str, is_ratio: bool = False) -> Comparison:
        return Comparison(now[key], prior[key], last_year[key], is_ratio=is_ratio)

    with_target = ranked.filter(pl.col("attainment").is_not_null())
    on_target = with_target.filter(pl.col("attainment") >= 1).height
    cards = [
        kpi_card("team-net-sales", "Team net sales", compact_money(now["net_sales_minor"],
                                                                   currency),
                 PATH, compare("net_sales_minor")),
        kpi_card("team-target", "Team target", compact_money(now["target_minor"], currency),
                 PATH, compare("target_minor"), note="Pro-rated to the days of the period"),
        kpi_card("team-attainment", "Target attainment", percent(now["attainment"]), PATH,
                 compare("attainment", is_ratio=True)),
        kpi_card("team-on-target", "Reps on target", f"{on_target:,} of {with_target.height:,}",
                 PATH),
    ]
    trend_period = trailing_months(context.today, TREND_MONTHS)
    months = attainment_by(mart, scope, trend_period, "month", selection)
    cells = attainment_by(mart, scope, trend_period, "rep_month", selection)
    notice = [] if has_target(selection) else [dbc.Alert(
        "Targets are set per rep, not per channel: clear the channel filter to compare net "
        "sales with targets.", color="info", id="team-no-target")]
    return html.Div([
        page_heading(HEADING),
        filter_bar(context, view),
        *notice,
        dbc.Row(cards, id="team-kpis"),
        dbc.Row(graph_card("team-target-trend", target_vs_actual(
            months, trend_period, currency,
            f"Team net sales vs target, last {TREND_MONTHS} months"), 12)),
        dbc.Row(graph_card("team-heatmap", attainment_heatmap(
            cells, trend_period, f"Attainment by rep and month, last {TREND_MONTHS} months"),
            12)),
        dbc.Card(dbc.CardBody([
            html.H2(f"Rep leaderboard ({view.period.label()})", className="h5"),
            data_table("team-leaderboard", ranked, LEADERBOARD_COLUMNS, currency,
                       export="team-leaderboard",
                       empty="No rep in your scope has a target or sales in this period."),
        ]), className="salesbi-card"),
    ])
