"""What the URL says a page shows: period, region, channel and rep filters (global) plus a
page's own parameters. The URL is the only state, so a link reproduces the view.

Every value is validated on the server against allowlists taken from the published mart
(unknown codes are dropped); the row scope is applied separately and cannot be widened by a
filter.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from urllib.parse import urlencode

import polars as pl

from dashboard.metrics.period import DEFAULT_PRESET, PRESETS, Period, preset_period
from dashboard.metrics.selection import Slice
from dashboard.secure import RequestContext

GLOBAL_KEYS = ("period", "start", "end", "region", "channel", "rep")


@dataclass(frozen=True)
class View:
    """The validated view of one page request."""

    preset: str
    period: Period
    selection: Slice
    params: Mapping[str, str] = field(default_factory=dict)


def _parse_date(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def _codes(text: str | None, allowed: set[str]) -> frozenset[str]:
    return frozenset(c for c in (text or "").split(",") if c in allowed)


def view_from_query(ctx: RequestContext, query: Mapping[str, str],
                    page_params: Mapping[str, tuple[str, ...] | None] | None = None) -> View:
    """Parse ``query`` (URL parameters). ``page_params`` lists the page's own parameters
    with their allowed values (None: any short text)."""
    preset = query.get("period", DEFAULT_PRESET)
    if preset not in PRESETS:
        preset = DEFAULT_PRESET
    start, end = _parse_date(query.get("start")), _parse_date(query.get("end"))
    if preset == "custom" and not (start and end and start <= end):
        preset = DEFAULT_PRESET
    period = preset_period(preset, ctx.today, fiscal_year_start_month=ctx.fiscal_year_start_month,
                           start=start, end=end)
    regions: set[str] = set()
    channels: set[str] = set()
    reps: set[int] = set()
    if ctx.mart is not None:
        regions = set(ctx.mart.frame("dim_region")["region_code"].to_list())
        channels = set(ctx.mart.frame("dim_channel")["channel_code"].to_list())
        reps = set(selectable_reps(ctx)["rep_id"].to_list())
    rep_ids = frozenset(int(r) for r in (query.get("rep") or "").split(",")
                        if r.isdigit() and int(r) in reps)
    selection = Slice(_codes(query.get("region"), regions),
                      _codes(query.get("channel"), channels), rep_ids)
    params = {}
    for name, allowed in (page_params or {}).items():
        value = query.get(name)
        if value is not None and (allowed is None and len(value) <= 100
                                  or allowed is not None and value in allowed):
            params[name] = value
    return View(preset, period, selection, params)


def global_params(view: View) -> dict[str, object]:
    """The global filters of ``view`` as query values (for links that keep them; the
    default period is left out)."""
    custom = view.preset == "custom"
    return {"period": None if view.preset == DEFAULT_PRESET else view.preset,
            "start": view.period.start.isoformat() if custom else None,
            "end": view.period.end.isoformat() if custom else None,
            "region": sorted(view.selection.region_codes),
            "channel": sorted(view.selection.channel_codes),
            "rep": sorted(view.selection.rep_ids)}


def date_param(query: Mapping[str, str], name: str, default: date, *,
               latest: date | None = None) -> date:
    """Query key ``name`` as an ISO date; ``default`` when it is missing, malformed or after
    ``latest``."""
    day = _parse_date(query.get(name))
    if day is None or latest is not None and day > latest:
        return default
    return day


def id_param(query: Mapping[str, str], name: str) -> int | None:
    """Query key ``name`` as a positive integer id, None otherwise. Whether the user may
    see that record is for the scope to decide, not the URL."""
    value = query.get(name) or ""
    if not (value.isascii() and value.isdigit() and len(value) <= 18) or int(value) == 0:
        return None
    return int(value)


def selectable_reps(ctx: RequestContext) -> pl.DataFrame:
    """The reps the user may pick in the rep filter (their scope), by name."""
    if ctx.mart is None:
        return pl.DataFrame(schema={"rep_id": pl.Int64, "name": pl.String})
    reps = ctx.mart.frame("dim_rep").filter(pl.col("rep_key") >= 0)
    if not ctx.scope.all_reps:
        reps = reps.filter(pl.col("rep_id").is_in(list(ctx.scope.rep_ids)))
    return reps.select("rep_id", "name").sort("name")


def query_string(values: Mapping[str, object]) -> str:
    """``?a=1&b=x,y`` from control values; empty values are left out."""
    pairs = []
    for name, value in values.items():
        if isinstance(value, list | tuple):
            value = ",".join(str(v) for v in value)
        if value not in (None, ""):
            pairs.append((name, str(value)))
    return "?" + urlencode(pairs) if pairs else ""
