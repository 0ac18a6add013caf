"""Ratios of sums (KPIS.md): blank — null — when the denominator is zero or negative.

``ratio`` is for percentages and day counts (a Float64); ``average_minor`` for money per
unit (orders, days), kept in integer minor units so no float ever touches an amount.
"""

from __future__ import annotations

import polars as pl


def ratio(numerator: pl.Expr, denominator: pl.Expr) -> pl.Expr:
    """numerator / denominator as Float64; null when the denominator ≤ 0 or null."""
    return pl.when(denominator > 0).then(numerator / denominator)


def ratio_value(numerator: int, denominator: int) -> float | None:
    """``ratio`` for two already-summed figures: None when the denominator ≤ 0."""
    return numerator / denominator if denominator > 0 else None


def average_minor(total_minor: pl.Expr, count: pl.Expr) -> pl.Expr:
    """total / count rounded half away from zero to whole minor units (exact integer
    arithmetic, Int64); null when the count ≤ 0 or null."""
    total = total_minor.cast(pl.Int128)
    units = count.cast(pl.Int128)
    magnitude = (total.abs() * 2 + units) // (units * 2)
    return pl.when(count > 0).then((magnitude * total.sign()).cast(pl.Int64))
