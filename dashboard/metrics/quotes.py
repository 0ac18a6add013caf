"""Quotes (KPIS.md "Pipeline and quotes") from ``fct_quote``.

Grain of the source: one row per quote revision with its current status (draft, sent,
accepted, lost, expired, cancelled, superseded) and its dates as YYYYMMDD keys (``-1``: none);
``net_minor`` is the net amount (excluding tax) in integer minor units of the base currency
at the quote date's rate. Quotes are scoped by their rep and sliced by the region and
channel of their customer version. Ratios are ratios of sums, null when the denominator is 0.

A quote is **open on day D** when it was sent on or before D, is still valid on D (an
expired quote is decided on valid-until + 1 day) and is not decided by D: its status is
still ``sent``, or it was decided (accepted, lost, expired — or superseded or cancelled with
a decided date) after D. A superseded or cancelled quote without a decided date is treated
as closed (the fact does not say when it closed).
"""

from __future__ import annotations

from datetime import date

import polars as pl

from dashboard.metrics.mart import Mart
from dashboard.metrics.period import Period, date_key, date_of_key
from dashboard.metrics.ratios import ratio_value
from dashboard.metrics.scope import Scope
from dashboard.metrics.selection import EVERYTHING, Slice, attributed

FACT = "fct_quote"
STATUSES = ("draft", "sent", "accepted", "lost", "expired", "cancelled", "superseded")
DECIDED = ("accepted", "lost", "expired")
"""The outcomes conversion counts (superseded quotes are excluded)."""
GROUPINGS = {
    "status": ("status",),
    "rep": ("rep_key",),
    "status_rep": ("status", "rep_key"),
}
"""Allowed ``by`` values → the fact columns they group on."""
AGE_BUCKETS = (("0–7", 0), ("8–14", 8), ("15–30", 15), ("> 30", 31))
"""Open quote age buckets: label and first day (days since sent)."""


def quotes_by(mart: Mart, scope: Scope, period: Period, by: str,
              selection: Slice = EVERYTHING) -> pl.DataFrame:
    """Count (``quotes``) and Σ ``net_minor`` of the quotes dated in ``period`` per ``by``
    (a key of ``GROUPINGS``; ``rep`` adds the rep's name as ``rep``), by current status;
    statuses in lifecycle order, then the largest amount first."""
    if by not in GROUPINGS:
        raise ValueError(f"cannot group quotes by {by!r}")
    keys = list(GROUPINGS[by])
    frame = attributed(mart, FACT, scope, selection).filter(
        pl.col("quote_date_key").is_between(period.start_key, period.end_key)
    ).group_by(keys).agg(pl.len().cast(pl.Int64).alias("quotes"),
                         pl.col("net_minor").sum().alias("net_minor"))
    order: list[str | pl.Expr] = []
    if "status" in keys:
        order.append(pl.col("status").replace_strict(
            {s: i for i, s in enumerate(STATUSES)}, default=len(STATUSES),
            return_dtype=pl.Int64))
    if "rep_key" in keys:
        frame = frame.join(mart.lazy("dim_rep").select("rep_key", pl.col("name").alias("rep")),
                           on="rep_key", how="left")
    ordered = frame.sort([*order, "net_minor", *keys],
                         descending=[False] * len(order) + [True] + [False] * len(keys))
    return ordered.collect()


def quote_conversion(mart: Mart, scope: Scope, period: Period,
                     selection: Slice = EVERYTHING) -> dict[str, int | float | None]:
    """Accepted / (accepted + lost + expired) among the quotes decided in ``period``, by
    count (``conversion_count``) and by amount (``conversion_amount``), with the counts and
    the amounts (minor units) per outcome."""
    decided = attributed(mart, FACT, scope, selection).filter(
        pl.col("status").is_in(DECIDED)
        & pl.col("decided_date_key").is_between(period.start_key, period.end_key))
    row = decided.select(
        *((pl.col("status") == s).sum().alias(s) for s in DECIDED),
        *(pl.col("net_minor").filter(pl.col("status") == s).sum().alias(f"{s}_minor")
          for s in DECIDED),
    ).collect().row(0, named=True)
    result: dict[str, int | float | None] = {k: int(v or 0) for k, v in row.items()}
    count = sum(int(row[s] or 0) for s in DECIDED)
    amount = sum(int(row[f"{s}_minor"] or 0) for s in DECIDED)
    result["conversion_count"] = ratio_value(int(row["accepted"] or 0), count)
    result["conversion_amount"] = ratio_value(int(row["accepted_minor"] or 0), amount)
    return result


def _open_on(mart: Mart, scope: Scope, on: date, selection: Slice) -> pl.LazyFrame:
    """The quotes open on ``on`` (module docstring) with ``age_days`` since sent."""
    day = date_key(on)
    decided_later = pl.col("decided_date_key") > day
    return attributed(mart, FACT, scope, selection).filter(
        pl.col("sent_date_key").is_between(0, day) & (pl.col("valid_until_key") >= day)
        & ((pl.col("status") == "sent") | decided_later)
    ).with_columns((pl.lit(on) - date_of_key("sent_date_key")).dt.total_days()
                   .alias("age_days"))


def open_quote_age(mart: Mart, scope: Scope, on: date,
                   selection: Slice = EVERYTHING) -> pl.DataFrame:
    """Open quotes on ``on`` by days since sent: one row per bucket of ``AGE_BUCKETS`` (all
    four, in order, zero when empty) with ``quotes`` and Σ ``net_minor``."""
    starts = [start for _, start in AGE_BUCKETS]
    bucket = pl.lit(0, pl.Int64)
    for index, start in enumerate(starts[1:], start=1):
        bucket = pl.when(pl.col("age_days") >= start).then(index).otherwise(bucket)
    counted = _open_on(mart, scope, on, selection).group_by(bucket.alias("bucket_no")).agg(
        pl.len().cast(pl.Int64).alias("quotes"), pl.col("net_minor").sum().alias("net_minor"))
    buckets = pl.LazyFrame({"bucket_no": list(range(len(AGE_BUCKETS))),
                            "bucket": [label for label, _ in AGE_BUCKETS]},
                           schema={"bucket_no": pl.Int64, "bucket": pl.String})
    return buckets.join(counted, on="bucket_no", how="left").select(
        "bucket", pl.col("quotes").fill_null(0), pl.col("net_minor").fill_null(0)
    ).sort(pl.col("bucket").replace_strict({b: i for i, (b, _) in enumerate(AGE_BUCKETS)},
                                           return_dtype=pl.Int64)).collect()


def quotes_to_follow_up(mart: Mart, scope: Scope, on: date,
                        selection: Slice = EVERYTHING) -> pl.DataFrame:
    """The quotes open on ``on``, oldest sent first: ``quote_id``, ``quote_number``,
    ``customer_id``, ``customer`` (its current name), ``rep``, ``net_minor``, ``sent_date``,
    ``age_days`` and ``valid_until``."""
    customers = mart.lazy("dim_customer").filter(pl.col("is_current")).select(
        "customer_id", pl.col("name").alias("customer"))
    reps = mart.lazy("dim_rep").select("rep_key", pl.col("name").alias("rep"))
    return (
        _open_on(mart, scope, on, selection)
        .join(customers, on="customer_id", how="left")
        .join(reps, on="rep_key", how="left")
        .select("quote_id", "quote_number", "customer_id", "customer", "rep", "net_minor",
                date_of_key("sent_date_key").alias("sent_date"), "age_days",
                date_of_key("valid_until_key").alias("valid_until"))
        .sort(["age_days", "quote_number"], descending=[True, False])
        .collect()
    )
