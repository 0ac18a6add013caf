"""Opportunity pipeline (KPIS.md "Pipeline and quotes") from ``fct_opportunity_history``.

Grain of the source: one row per opportunity version, in force from ``valid_from``
(inclusive) to ``valid_to`` (exclusive), naive UTC. An opportunity's state at an instant T is
its version with ``valid_from <= T < valid_to``; "as of day D" is the last instant of D in the
company time zone (``period.end_of_day``). Amounts are integer minor units of the base
currency (each version's amount at the rate of its start date).

The view is applied per version, scope first, then the slice: a version counts when its rep
is in scope (and in the slice's reps) and its customer version is in the slice's regions and
channels. An opportunity handed to a rep outside the view leaves it from that instant.
Ratios are ratios of sums, null when the denominator is zero or negative.
"""

from __future__ import annotations

from datetime import date, datetime

import polars as pl

from dashboard.metrics.mart import Mart
from dashboard.metrics.period import Period, date_of_key, end_of_day
from dashboard.metrics.ratios import ratio_value
from dashboard.metrics.scope import Scope
from dashboard.metrics.selection import EVERYTHING, Slice, attributed

FACT = "fct_opportunity_history"
OPEN, WON, LOST = "open", "won", "lost"
STAGE_ORDER = ("prospecting", "qualification", "proposal", "negotiation")
"""Display order of the open stages (the core's funnel order); other stages sort last."""
GROUPINGS = {
    "stage": "stage",
    "rep": "rep_key",
    "close_month": "expected_close_month_key",
}
"""Allowed ``by`` values → the column they group on (then labelled)."""
MOVEMENT_STEPS = ("new", "reopened", "increased", "decreased", "pulled_in", "pushed_out",
                  "transferred_in", "transferred_out", "won", "lost", "deleted")
"""Pipeline movement steps in KPIS order, between ``opening`` and ``closing``."""
WINDOW_STEPS = frozenset({"pulled_in", "pushed_out"})
TRANSFER_STEPS = frozenset({"transferred_in", "transferred_out"})
BASIS_POINTS = 10_000  # effective_probability has 4 decimals

Instant = date | datetime


def instant(at: Instant, timezone: str = "UTC") -> datetime:
    """``at`` as a naive-UTC instant: a datetime as given (naive UTC), a date as the last
    instant of that day in ``timezone``."""
    if isinstance(at, datetime):
        return at
    return end_of_day(at, timezone)


def _at(versions: pl.LazyFrame, moment: datetime) -> pl.LazyFrame:
    """Each opportunity's version in force at ``moment`` (at most one per opportunity)."""
    return versions.filter((pl.col("valid_from") <= moment) & (pl.col("valid_to") > moment))


def _in_window(window: Period | None) -> pl.Expr:
    if window is None:
        return pl.lit(True)
    return pl.col("expected_close_date_key").is_between(window.start_key, window.end_key)


def _open_at(mart: Mart, scope: Scope, at: Instant, window: Period | None, selection: Slice,
             timezone: str) -> pl.LazyFrame:
    versions = attributed(mart, FACT, scope, selection)
    return _at(versions, instant(at, timezone)).filter(
        (pl.col("state") == OPEN) & _in_window(window))


def open_opportunities(mart: Mart, scope: Scope, at: Instant, *,
                       selection: Slice = EVERYTHING, timezone: str = "UTC") -> pl.LazyFrame:
    """The version of each opportunity open as of ``at`` in scope and slice (the rows the
    pipeline figures sum)."""
    return _open_at(mart, scope, at, None, selection, timezone)


def _pipeline_sums() -> list[pl.Expr]:
    """Count, Σ amount and Σ amount × probability, the latter rounded half-up once per
    group (an exact Int128 sum of amount × basis points, then ÷ 10,000)."""
    basis_points = (pl.col("effective_probability") * BASIS_POINTS).cast(pl.Int64)
    weighted = (pl.col("amount_minor").cast(pl.Int128) * basis_points).sum()
    return [
        pl.len().cast(pl.Int64).alias("opportunities"),
        pl.col("amount_minor").sum().cast(pl.Int64).alias("pipeline_minor"),
        ((weighted + BASIS_POINTS // 2) // BASIS_POINTS).cast(pl.Int64).alias("weighted_minor"),
    ]


def pipeline_totals(mart: Mart, scope: Scope, at: Instant, *, close_window: Period | None = None,
                    selection: Slice = EVERYTHING, timezone: str = "UTC") -> dict[str, int]:
    """Open pipeline as of ``at``: the number of open opportunities, Σ their amounts
    (``pipeline_minor``) and the weighted pipeline (``weighted_minor``: Σ amount × the
    opportunity's own probability, else its stage's default), optionally only those expected
    to close within ``close_window``."""
    row = _open_at(mart, scope, at, close_window, selection, timezone).select(
        _pipeline_sums()).collect().row(0, named=True)
    return {name: int(value or 0) for name, value in row.items()}


def pipeline_by(mart: Mart, scope: Scope, at: Instant, by: str, *,
                close_window: Period | None = None, selection: Slice = EVERYTHING,
                timezone: str = "UTC") -> pl.DataFrame:
    """``pipeline_totals`` per ``by`` (a key of ``GROUPINGS``) with a ``label``: stages in
    funnel order, reps largest pipeline first, expected-close months in order."""
    if by not in GROUPINGS:
        raise ValueError(f"cannot group the pipeline by {by!r}")
    key = GROUPINGS[by]
    frame = _open_at(mart, scope, at, close_window, selection, timezone).with_columns(
        (pl.col("expected_close_date_key") // 100).alias("expected_close_month_key"))
    grouped = frame.group_by(key).agg(_pipeline_sums())
    if by == "rep":
        labelled = grouped.join(mart.lazy("dim_rep").select("rep_key", pl.col("name")
                                                            .alias("label")),
                                on="rep_key", how="left")
        return labelled.sort("pipeline_minor", "rep_key", descending=[True, False]).collect()
    if by == "stage":
        rank = pl.col("stage").replace_strict(
            {stage: i for i, stage in enumerate(STAGE_ORDER)}, default=len(STAGE_ORDER),
            return_dtype=pl.Int64)
        return grouped.with_columns(pl.col("stage").alias("label")).sort(
            rank, "stage").collect()
    month = pl.col(key)
    label = (month // 100).cast(pl.String) + "-" + (month % 100).cast(pl.String).str.zfill(2)
    return grouped.with_columns(label.alias("label")).sort(key).collect()


def _closed_in(mart: Mart, scope: Scope, period: Period, selection: Slice) -> pl.LazyFrame:
    """Current versions of opportunities won or lost with a closed date in ``period`` (a
    reopened opportunity counts only once it is closed again)."""
    return attributed(mart, FACT, scope, selection).filter(
        pl.col("is_current") & pl.col("state").is_in([WON, LOST])
        & pl.col("closed_date_key").is_between(period.start_key, period.end_key))


def win_rate(mart: Mart, scope: Scope, period: Period,
             selection: Slice = EVERYTHING) -> dict[str, int | float | None]:
    """Won / (won + lost) among opportunities closed in ``period``, by count
    (``win_rate_count``) and by amount (``win_rate_amount``), with the counts and amounts
    (minor units) behind them."""
    won = pl.col("state") == WON
    row = _closed_in(mart, scope, period, selection).select(
        won.sum().alias("won"), (~won).sum().alias("lost"),
        pl.col("amount_minor").filter(won).sum().alias("won_minor"),
        pl.col("amount_minor").filter(~won).sum().alias("lost_minor"),
    ).collect().row(0, named=True)
    result: dict[str, int | float | None] = {k: int(v or 0) for k, v in row.items()}
    won_count, lost_count = int(row["won"] or 0), int(row["lost"] or 0)
    won_minor, lost_minor = int(row["won_minor"] or 0), int(row["lost_minor"] or 0)
    result["win_rate_count"] = ratio_value(won_count, won_count + lost_count)
    result["win_rate_amount"] = ratio_value(won_minor, won_minor + lost_minor)
    return result


def average_deal_size(mart: Mart, scope: Scope, period: Period,
                      selection: Slice = EVERYTHING) -> int | None:
    """Mean amount (minor units, rounded half-up) of the opportunities won in ``period``;
    None when none was won."""
    row = _closed_in(mart, scope, period, selection).filter(pl.col("state") == WON).select(
        pl.col("amount_minor").sum().alias("total"), pl.len().alias("deals"),
    ).collect().row(0)
    total, deals = int(row[0] or 0), int(row[1])
    return (2 * total + deals) // (2 * deals) if deals else None


def sales_cycle_days(mart: Mart, scope: Scope, period: Period,
                     selection: Slice = EVERYTHING) -> float | None:
    """Mean days from created date to closed date over the opportunities won in
    ``period``; None when none was won."""
    days = (date_of_key("closed_date_key") - date_of_key("created_date_key")).dt.total_days()
    return _closed_in(mart, scope, period, selection).filter(pl.col("state") == WON).select(
        days.mean()).collect().item()


def pipeline_coverage(mart: Mart, scope: Scope, period: Period, at: Instant, *,
                      target_minor: int, net_sales_minor: int, selection: Slice = EVERYTHING,
                      timezone: str = "UTC") -> dict[str, int | float | None]:
    """Open pipeline as of ``at`` expected to close in ``period`` / (``target_minor`` −
    ``net_sales_minor``, the net sales to date in the period): ``coverage`` is null when
    the target is already met (remaining ≤ 0)."""
    pipeline = pipeline_totals(mart, scope, at, close_window=period, selection=selection,
                               timezone=timezone)["pipeline_minor"]
    remaining = target_minor - net_sales_minor
    return {"pipeline_minor": pipeline, "remaining_minor": remaining,
            "coverage": ratio_value(pipeline, remaining)}


def _movement(mart: Mart, scope: Scope, start: Instant, end: Instant,
              close_window: Period | None, selection: Slice, timezone: str) -> pl.LazyFrame:
    """One row per opportunity in the view at A or at B: ``opening_minor`` (its amount in the
    view at A, else 0), ``closing_minor`` (likewise at B), ``in_view_a``/``in_view_b`` and
    its ``step``; null when it stayed in the view with the same amount."""
    moment_a, moment_b = instant(start, timezone), instant(end, timezone)
    if moment_a >= moment_b:
        raise ValueError(f"pipeline movement needs A before B, got {start} and {end}")
    visible = attributed(mart, FACT, scope, selection).select(
        "opportunity_id", "version_no", pl.lit(True).alias("in_scope"))
    # Every version (out of view too), to tell a transfer from a new or closed opportunity.
    versions = mart.lazy(FACT).join(visible, on=["opportunity_id", "version_no"],
                                    how="left").with_columns(pl.col("in_scope").fill_null(False))

    def side(moment: datetime, suffix: str) -> pl.LazyFrame:
        is_open = pl.col("state") == OPEN
        return _at(versions, moment).select(
            "opportunity_id",
            pl.lit(True).alias(f"exists{suffix}"),
            pl.col("state").alias(f"state{suffix}"),
            pl.col("in_scope").alias(f"in_scope{suffix}"),
            (is_open & _in_window(close_window)).alias(f"open_in_window{suffix}"),
            (is_open & ~_in_window(close_window)).alias(f"open_outside_window{suffix}"),
            (is_open & _in_window(close_window) & pl.col("in_scope")).alias(f"in_view{suffix}"),
            pl.col("amount_minor").alias(f"amount{suffix}"),
        )

    both = side(moment_a, "_a").join(side(moment_b, "_b"), on="opportunity_id", how="full",
                                     coalesce=True)
    flags = [f"{name}{suffix}" for name in ("exists", "in_scope", "open_in_window",
                                            "open_outside_window", "in_view")
             for suffix in ("_a", "_b")]
    both = both.with_columns(pl.col(flags).fill_null(False)).filter(
        pl.col("in_view_a") | pl.col("in_view_b"))
    opening = pl.when(pl.col("in_view_a")).then(pl.col("amount_a")).otherwise(0)
    closing = pl.when(pl.col("in_view_b")).then(pl.col("amount_b")).otherwise(0)
    both = both.with_columns(opening.cast(pl.Int64).alias("opening_minor"),
                             closing.cast(pl.Int64).alias("closing_minor"))
    # The first step in KPIS order that its history between A and B matches.
    stayed = (pl.when(pl.col("closing_minor") > pl.col("opening_minor")).then(pl.lit("increased"))
              .when(pl.col("closing_minor") < pl.col("opening_minor")).then(pl.lit("decreased")))
    entered = (pl.when(~pl.col("exists_a")).then(pl.lit("new"))
               .when(pl.col("state_a") != OPEN).then(pl.lit("reopened"))
               .when(pl.col("open_outside_window_a")).then(pl.lit("pulled_in"))
               .otherwise(pl.lit("transferred_in")))
    left = (pl.when(pl.col("open_outside_window_b")).then(pl.lit("pushed_out"))
            .when(pl.col("exists_b") & ~pl.col("in_scope_b")).then(pl.lit("transferred_out"))
            .when(pl.col("state_b") == WON).then(pl.lit("won"))
            .when(pl.col("state_b") == LOST).then(pl.lit("lost"))
            .otherwise(pl.lit("deleted")))
    step = (pl.when(pl.col("in_view_a") & pl.col("in_view_b")).then(stayed)
            .when(pl.col("in_view_b")).then(entered)
            .otherwise(left))
    return both.select("opportunity_id", step.alias("step"), "opening_minor", "closing_minor",
                       (pl.col("closing_minor") - pl.col("opening_minor")).alias("change_minor"),
                       "in_view_a", "in_view_b")


def movement_by_opportunity(mart: Mart, scope: Scope, start: Instant, end: Instant, *,
                            close_window: Period | None = None, selection: Slice = EVERYTHING,
                            timezone: str = "UTC") -> pl.DataFrame:
    """The opportunities behind ``pipeline_movement`` (drill-through): one row per
    opportunity that entered, left or changed amount in the view between ``start`` (A) and
    ``end`` (B), with its ``step``, ``opening_minor``, ``closing_minor`` and
    ``change_minor`` (closing − opening); sorted by step (KPIS order), then opportunity."""
    rank = pl.col("step").replace_strict({s: i for i, s in enumerate(MOVEMENT_STEPS)},
                                         return_dtype=pl.Int64)
    return _movement(mart, scope, start, end, close_window, selection, timezone).filter(
        pl.col("step").is_not_null()).sort(rank, "opportunity_id").select(
        "opportunity_id", "step", "opening_minor", "closing_minor", "change_minor").collect()


def pipeline_movement(mart: Mart, scope: Scope, start: Instant, end: Instant, *,
                      close_window: Period | None = None, selection: Slice = EVERYTHING,
                      timezone: str = "UTC") -> pl.DataFrame:
    """Pipeline movement between A (``start``) and B (``end``), a waterfall: rows ``step``,
    ``amount_minor`` (signed: what the step adds to the pipeline), ``opportunities``; first
    ``opening`` (open pipeline as of A), then the steps of ``MOVEMENT_STEPS`` in KPIS order,
    last ``closing`` (as of B); opening + Σ steps = closing exactly.

    Each opportunity in the view at A or at B takes the first step its history matches:
    entering the view — ``new`` (no version at A), ``reopened`` (closed at A),
    ``pulled_in`` (expected close outside the window at A), ``transferred_in`` (outside the
    scope/slice at A) — with its amount at B; staying — ``increased``/``decreased`` by the
    difference; leaving — ``pushed_out`` (expected close now outside the window),
    ``transferred_out`` (now outside the scope/slice), ``won``, ``lost``, ``deleted`` (no
    version at B) — with its amount at A. Pulled in / pushed out are listed only with a
    ``close_window``; transfers only when the scope or the slice narrows the reps (or the
    slice the regions or channels)."""
    steps = [s for s in MOVEMENT_STEPS
             if (close_window is not None or s not in WINDOW_STEPS)
             and (not scope.all_reps or selection != EVERYTHING or s not in TRANSFER_STEPS)]
    is_step = {s: pl.col("step") == s for s in steps}
    row = _movement(mart, scope, start, end, close_window, selection, timezone).select(
        pl.col("opening_minor").sum().alias("opening"),
        pl.col("in_view_a").sum().alias("opening_n"),
        *(pl.col("change_minor").filter(match).sum().alias(s) for s, match in is_step.items()),
        *(match.sum().alias(f"{s}_n") for s, match in is_step.items()),
        pl.col("closing_minor").sum().alias("closing"),
        pl.col("in_view_b").sum().alias("closing_n"),
    ).collect().row(0, named=True)
    names = ["opening", *steps, "closing"]
    return pl.DataFrame({
        "step": names,
        "amount_minor": [int(row[n] or 0) for n in names],
        "opportunities": [int(row[f"{n}_n"] or 0) for n in names],
    }, schema={"step": pl.String, "amount_minor": pl.Int64, "opportunities": pl.Int64})
