"""Exchange rates for facts whose core rows carry no rate of their own (quotes,
opportunities): the core ``fx_rate`` table (units of base currency per unit of
``currency``, scale 10) looked up as of a date.

The rate of a date is the latest ``rate_date`` on or before it, as
``core.company.services.fx_rate`` finds it; the base currency is exactly 1. A date before
a currency's first rate takes that first rate (quotes and opportunities are not posted
documents, so the core lets them exist without a rate; the demo's rates do the same). A
currency with no rate at all gets null, which the facts report as an error.
"""

from __future__ import annotations

import polars as pl

from core.types import AMOUNT_SCALE, RATE_SCALE
from etl.money import minor_rounded, wide

ONE = 10 ** RATE_SCALE


def rate_at(frame: pl.LazyFrame, fx_rate: pl.DataFrame | pl.LazyFrame, *, currency: str,
            on: str, base_currency: str, alias: str = "fx_rate") -> pl.LazyFrame:
    """``frame`` plus column ``alias``: the scaled rate (value × 10^10) of
    ``frame[currency]`` as of date ``frame[on]``, by the rules of the module docstring.

    The as-of join runs on the distinct (currency, date) pairs of ``frame``, then joins back.
    """
    rates = fx_rate.lazy().select(
        pl.col("currency").alias(currency), pl.col("rate_date").alias("_rate_date"),
        pl.col("rate").alias("_rate"))
    first = rates.group_by(currency).agg(
        pl.col("_rate").sort_by("_rate_date").first().alias("_first_rate"))
    matched = (
        frame.select(currency, on).unique().drop_nulls().sort(on)
        .join_asof(rates.sort("_rate_date"), left_on=on, right_on="_rate_date",
                   by=currency, strategy="backward",
                   # Both sides are sorted on the whole column, so within every group too.
                   check_sortedness=False)
        .join(first, on=currency, how="left")
        .select(currency, on, pl.coalesce("_rate", "_first_rate").alias(alias))
    )
    return frame.join(matched, on=[currency, on], how="left").with_columns(
        pl.when(pl.col(currency) == base_currency).then(pl.lit(ONE, pl.Int64))
        .otherwise(pl.col(alias)).alias(alias))


def base_minor(amount: str, rate: str, base_currency: str) -> pl.Expr:
    """A document amount (value × 10^3) × a rate (value × 10^10) in minor units of the
    base currency, rounded half-up."""
    return minor_rounded(wide(amount) * pl.col(rate), AMOUNT_SCALE + RATE_SCALE, base_currency)
