"""Targets and attainment (KPIS.md "Target attainment": net sales / target).

Grain of the source: ``fct_target``, one row per rep per month with a net-sales target in
minor units of the base currency and the month's ``days_in_month``. Rules:

- a period's target for one rep-month is target × (days of the month inside the period) /
  days in the month, half-up to whole minor units; a rep's, a team's or a region's target is
  the sum of those rep-month targets — so every total adds up to its rows;
- targets belong to the reps in scope; a rep filter keeps the chosen reps and a region
  filter the reps of that region (``dim_rep.region_code``). Targets are not set per channel:
  with a channel filter there is no target (null) and so no attainment;
- net sales as ``dashboard.metrics.sales`` (attributed to the order's rep, dated at
  posting, in the same scope and slice); attainment = net sales / target, null when the
  target is zero or missing.
"""

from __future__ import annotations

import polars as pl

from dashboard.metrics.labels import with_label
from dashboard.metrics.mart import Mart
from dashboard.metrics.period import Period
from dashboard.metrics.ratios import average_minor, ratio, ratio_value
from dashboard.metrics.sales import sales_sums
from dashboard.metrics.scope import Scope, restrict
from dashboard.metrics.selection import EVERYTHING, Slice

GROUPINGS = {"rep": ("rep_key",), "month": ("month_key",), "rep_month": ("rep_key", "month_key")}
"""Allowed ``by`` values → the keys they group on (rep rows get the rep's name as ``label``)."""
MEASURES = ("target_minor", "net_sales_minor", "attainment", "gap_minor")


def has_target(selection: Slice) -> bool:
    """Whether targets apply to the slice (they are not set per channel)."""
    return not selection.channel_codes


def _reps(mart: Mart, scope: Scope, selection: Slice) -> pl.Series | None:
    """Rep keys whose targets count; None when every rep's do."""
    reps = mart.frame("dim_rep")
    keys = scope.rep_keys(reps)
    if selection.rep_ids:
        reps = reps.filter(pl.col("rep_id").is_in(list(selection.rep_ids)))
    if selection.region_codes:
        reps = reps.filter(pl.col("region_code").is_in(list(selection.region_codes)))
    if keys is None and not (selection.rep_ids or selection.region_codes):
        return None
    chosen = reps["rep_key"]
    return chosen if keys is None else chosen.filter(chosen.is_in(keys.implode()))


def prorated_targets(mart: Mart, scope: Scope, period: Period,
                     selection: Slice = EVERYTHING) -> pl.LazyFrame:
    """One row per rep in scope and slice per month overlapping ``period``: ``rep_key``,
    ``month_key`` and ``target_minor`` pro-rated to the days of the month in the period."""
    start = pl.date(pl.col("month_key") // 100, pl.col("month_key") % 100, 1)
    end = start + pl.duration(days=pl.col("days_in_month") - 1)
    first = pl.max_horizontal(start, pl.lit(period.start))
    last = pl.min_horizontal(end, pl.lit(period.end))
    days = (last - first).dt.total_days() + 1
    month_from, month_to = period.start_key // 100, period.end_key // 100
    return (
        restrict(mart.lazy("fct_target"), "rep_key", _reps(mart, scope, selection))
        .filter(pl.col("month_key").is_between(month_from, month_to))
        .select("rep_key", "month_key",
                average_minor(pl.col("target_minor").cast(pl.Int128) * days,
                              pl.col("days_in_month")).alias("target_minor"))
    )


def attainment_by(mart: Mart, scope: Scope, period: Period, by: str,
                  selection: Slice = EVERYTHING) -> pl.DataFrame:
    """Target, net sales, attainment and ``gap_minor`` (net sales − target) per ``by`` (a
    key of ``GROUPINGS``) for rows with a target or sales; rep rows carry the rep's name as
    ``label``. Reps by attainment, best first (no target last; ties by net sales, then
    rep key); months in order."""
    if by not in GROUPINGS:
        raise ValueError(f"cannot group attainment by {by!r}")
    keys = list(GROUPINGS[by])
    sales = sales_sums(mart, scope, period, keys, selection).drop("cost_minor")
    if has_target(selection):
        targets = prorated_targets(mart, scope, period, selection).group_by(keys).agg(
            pl.col("target_minor").sum())
    else:
        targets = sales.select(keys).with_columns(pl.lit(None, pl.Int64).alias("target_minor"))
    frame = targets.join(sales, on=keys, how="full", coalesce=True).with_columns(
        pl.col("net_sales_minor").fill_null(0).cast(pl.Int64),
        pl.col("target_minor").cast(pl.Int64),
    ).with_columns(
        ratio(pl.col("net_sales_minor"), pl.col("target_minor")).alias("attainment"),
        (pl.col("net_sales_minor") - pl.col("target_minor")).alias("gap_minor"),
    )
    if "rep_key" in keys:
        frame = with_label(mart, frame, "rep")
    order = ["attainment", "net_sales_minor", *keys] if by == "rep" else keys
    descending = [True, True, False] if by == "rep" else [False] * len(keys)
    return frame.sort(order, descending=descending, nulls_last=True).collect()


def attainment_totals(mart: Mart, scope: Scope, period: Period,
                      selection: Slice = EVERYTHING) -> dict[str, int | float | None]:
    """Target, net sales, attainment and gap over the whole scope and slice."""
    return totals_of(attainment_by(mart, scope, period, "rep", selection), selection)


def totals_of(rows: pl.DataFrame, selection: Slice = EVERYTHING,
              ) -> dict[str, int | float | None]:
    """``attainment_totals`` of rows already split by ``attainment_by`` (any ``by``)."""
    target = int(rows["target_minor"].sum()) if has_target(selection) else None
    sales = int(rows["net_sales_minor"].sum())
    return {"target_minor": target, "net_sales_minor": sales,
            "attainment": None if target is None else ratio_value(sales, target),
            "gap_minor": None if target is None else sales - target}
