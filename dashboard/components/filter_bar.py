"""The global filter bar: period preset (custom dates when chosen), region, channel and rep.

Each control's id is ``{"type": VIEW_PARAM | VIEW_DATE, "name": <query key>}``; one shell
callback turns their values into the URL query, and the page re-renders from the URL.
"""

from __future__ import annotations

import dash_bootstrap_components as dbc
import polars as pl
from dash import dcc, html

from dashboard.ids import VIEW_DATE, VIEW_PARAM
from dashboard.metrics.period import PRESETS
from dashboard.secure import RequestContext
from dashboard.view import View, selectable_reps


def param_dropdown(name: str, options: list[dict[str, object]], value: object,
                   label: str, *, multi: bool = False, clearable: bool = True) -> dbc.Col:
    """A labelled dropdown bound to query key ``name``."""
    return dbc.Col([
        dbc.Label(label, html_for=f"filter-{name}", className="small text-muted mb-0"),
        dcc.Dropdown(id={"type": VIEW_PARAM, "name": name}, options=options, value=value,
                     multi=multi, clearable=clearable, placeholder="All",
                     className="salesbi-filter"),
    ], xs=12, md=True)


def param_date(name: str, value: str | None, label: str) -> dbc.Col:
    """A labelled date picker bound to query key ``name``."""
    return dbc.Col([
        dbc.Label(label, className="small text-muted mb-0"),
        dcc.DatePickerSingle(id={"type": VIEW_DATE, "name": name}, date=value,
                             display_format="YYYY-MM-DD", first_day_of_week=1,
                             className="d-block"),
    ], xs=6, md="auto")


def filter_bar(ctx: RequestContext, view: View, *, period: bool = True,
               extra: list[dbc.Col] | None = None) -> dbc.Card:
    """The filter bar for ``view``; reps get no rep filter (their scope is themselves)."""
    cols: list[dbc.Col] = []
    if period:
        cols.append(param_dropdown(
            "period", [{"label": label, "value": key} for key, label in PRESETS.items()],
            view.preset, "Period", clearable=False))
        if view.preset == "custom":
            cols += [param_date("start", view.period.start.isoformat(), "From"),
                     param_date("end", view.period.end.isoformat(), "To")]
    if ctx.mart is not None:
        regions = ctx.mart.frame("dim_region").filter(pl.col("region_key") >= 0)
        channels = ctx.mart.frame("dim_channel").filter(pl.col("channel_key") >= 0)
        cols.append(param_dropdown(
            "region", [{"label": r["name"], "value": r["region_code"]}
                       for r in regions.sort("name").iter_rows(named=True)],
            sorted(view.selection.region_codes), "Region", multi=True))
        cols.append(param_dropdown(
            "channel", [{"label": c["name"], "value": c["channel_code"]}
                        for c in channels.sort("name").iter_rows(named=True)],
            sorted(view.selection.channel_codes), "Channel", multi=True))
        reps = selectable_reps(ctx)
        if reps.height > 1:
            cols.append(param_dropdown(
                "rep", [{"label": r["name"], "value": str(r["rep_id"])}
                        for r in reps.iter_rows(named=True)],
                [str(r) for r in sorted(view.selection.rep_ids)], "Rep", multi=True))
    cols += extra or []
    caption = html.Div(view.period.label(), className="small text-muted mt-1",
                       id="filter-period-label")
    return dbc.Card(dbc.CardBody([dbc.Row(cols, className="g-2 align-items-end"), caption]),
                    className="salesbi-card salesbi-filter-bar mb-3")

