"""Pipeline: open and weighted pipeline as of the period end by stage, rep and expected
close month; win rate, average deal size and sales cycle over the period; the movement
waterfall from the period start to its end."""

from __future__ import annotations

from datetime import date
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
from dashboard.figures import money_bars, waterfall
from dashboard.formatting import BLANK, compact_money, percent
from dashboard.metrics.pipeline import (
    average_deal_size,
    pipeline_by,
    pipeline_movement,
    pipeline_totals,
    sales_cycle_days,
    win_rate,
)
from dashboard.metrics.scope import ALL_ROLES
from dashboard.secure import RequestContext
from dashboard.view import view_from_query

PATH = "/pipeline"
TITLE = "Pipeline"
ROLES = ALL_ROLES
IN_NAV = True
STEP_LABELS = {"opening": "Opening", "new": "New", "reopened": "Reopened",
               "increased": "Increased", "decreased": "Decreased", "pulled_in": "Pulled in",
               "pushed_out": "Pushed out", "transferred_in": "Transferred in",
               "transferred_out": "Transferred out", "won": "Won", "lost": "Lost",
               "deleted": "Deleted", "closing": "Closing"}
REP_COLUMNS = [Column("label", "Rep"), Column("opportunities", "Open", "number"),
               Column("pipeline_minor", "Open pipeline", "money"),
               Column("weighted_minor", "Weighted", "money")]


def export_tables(context: RequestContext, query: dict[str, str]) -> dict[str, pl.DataFrame]:
    if context.mart is None:
        return {}
    view = view_from_query(context, query)
    by_rep = pipeline_by(context.mart, context.scope, view.period.end, "rep",
                         selection=view.selection, timezone=context.timezone)
    movement = pipeline_movement(context.mart, context.scope, view.period.start,
                                 view.period.end, selection=view.selection,
                                 timezone=context.timezone)
    return {"pipeline-by-rep": by_rep.select(pl.col("label").alias("rep"), "opportunities",
                                             "pipeline_minor", "weighted_minor"),
            "pipeline-movement": movement}


def _movement_drill(steps: pl.Series, start: date, end: date) -> list[str]:
    """Each waterfall bar's drill query: the open opportunities at the start (opening) or
    the end (closing), else the opportunities that took that step in between."""
    period = {"period": "custom", "start": start.isoformat(), "end": end.isoformat()}
    opening = {**period, "end": start.isoformat()}
    return [drill_query(kind="opportunities", **(opening if step == "opening" else period))
            if step in ("opening", "closing") else drill_query(kind="movement", step=step,
                                                              **period)
            for step in steps]


def layout(context: RequestContext, **query: Any) -> html.Div:
    view = view_from_query(context, query)
    if context.mart is None:
        return no_data_page(TITLE)
    mart, scope, currency, tz = context.mart, context.scope, context.base_currency, \
        context.timezone
    at, sel = view.period.end, view.selection
    totals = pipeline_totals(mart, scope, at, selection=sel, timezone=tz)
    wins = win_rate(mart, scope, view.period, sel)
    deal = average_deal_size(mart, scope, view.period, sel)
    cycle = sales_cycle_days(mart, scope, view.period, sel)
    cards = [
        kpi_card("pipeline-open", f"Open pipeline on {at:%d %b %Y}",
                 compact_money(totals["pipeline_minor"], currency), PATH,
                 note=f"{totals['opportunities']:,} open opportunities"),
        kpi_card("pipeline-weighted", "Weighted pipeline",
                 compact_money(totals["weighted_minor"], currency), PATH),
        kpi_card("pipeline-win-rate", "Win rate (by count)", percent(wins["win_rate_count"]),
                 PATH, note=f"by amount {percent(wins['win_rate_amount'])} · "
                            f"{wins['won']} won, {wins['lost']} lost"),
        kpi_card("pipeline-deal-size", "Average deal won", compact_money(deal, currency), PATH,
                 note=f"sales cycle {BLANK if cycle is None else f'{cycle:.0f} days'}"),
    ]
    stages = pipeline_by(mart, scope, at, "stage", selection=sel, timezone=tz)
    months = pipeline_by(mart, scope, at, "close_month", selection=sel, timezone=tz)
    reps = pipeline_by(mart, scope, at, "rep", selection=sel, timezone=tz)
    movement = pipeline_movement(mart, scope, view.period.start, at, selection=sel,
                                 timezone=tz)
    return html.Div([
        page_heading(TITLE),
        filter_bar(context, view),
        dbc.Row(cards, id="pipeline-kpis"),
        dbc.Row([
            graph_card("pipeline-by-stage", money_bars(
                stages["label"].to_list(), stages["pipeline_minor"].to_list(), currency,
                f"Open pipeline by stage on {at:%d %b %Y}", empty="No open opportunities",
                drill=[drill_query(kind="opportunities", stage=stage)
                       for stage in stages["label"]]), 6),
            graph_card("pipeline-by-close-month", money_bars(
                months["label"].to_list(), months["weighted_minor"].to_list(), currency,
                "Weighted pipeline by expected close month", empty="No open opportunities",
                drill=[drill_query(kind="opportunities", close_month=month)
                       for month in months["label"]]), 6),
        ]),
        dbc.Row([
            graph_card("pipeline-movement", waterfall(
                movement, currency, f"Pipeline movement {view.period.label()}", STEP_LABELS,
                drill=_movement_drill(movement["step"], view.period.start, at)), 7),
            dbc.Col(dbc.Card(dbc.CardBody([
                html.H2("Open pipeline by rep", className="h5"),
                data_table("pipeline-rep-table", reps, REP_COLUMNS, currency,
                           export="pipeline-by-rep", empty="No open opportunities in scope."),
            ]), className="salesbi-card"), lg=5, className="mb-3"),
        ]),
    ])


def register_callbacks(app: dash.Dash) -> None:
    register_drill(app, ("pipeline-by-stage", "pipeline-by-close-month",
                         "pipeline-movement"))
