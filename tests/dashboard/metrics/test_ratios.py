"""Ratios of sums: blank when the denominator is not positive; money averages stay integer."""

from __future__ import annotations

import polars as pl

from dashboard.metrics.ratios import average_minor, ratio


def test_average_in_minor_units_rounds_half_away_from_zero_and_is_blank_without_units() -> None:
    frame = pl.DataFrame({"total": [5, 7, -5, 10**17, 4, 4],
                          "count": [2, 2, 2, 3, 0, -1]})
    result = frame.select(average_minor(pl.col("total"), pl.col("count")).alias("avg"))
    assert result.schema["avg"] == pl.Int64
    assert result["avg"].to_list() == [3, 4, -3, 33333333333333333, None, None]


def test_ratio_is_blank_for_zero_or_negative_denominators() -> None:
    frame = pl.DataFrame({"n": [1, 1, 1], "d": [4, 0, -2]})
    assert frame.select(ratio(pl.col("n"), pl.col("d")))["n"].to_list() == [0.25, None, None]
