"""Date keys and minor units, on hand-made values with known answers."""

from __future__ import annotations

from datetime import date

import polars as pl

from etl.keys import date_key, month_key, week_key
from etl.money import minor, minor_rounded


def test_date_keys_including_iso_week_across_the_year_end() -> None:
    frame = pl.DataFrame({"d": [date(2024, 12, 30), date(2021, 1, 3), None]})
    out = frame.select(date_key("d").alias("day"), month_key("d").alias("month"),
                       week_key("d").alias("week"))
    assert out.rows() == [(20241230, 202412, 202501), (20210103, 202101, 202053),
                          (-1, -1, -1)]


def test_minor_units_are_exact_and_round_half_away_from_zero() -> None:
    frame = pl.DataFrame({"amount": [12_340, -5_670, 0], "raw": [15, -15, 14]})
    out = frame.select(minor("amount", "USD").alias("usd"), minor("amount", "JPY").alias("jpy"),
                       minor_rounded(pl.col("raw"), 1, "JPY").alias("rounded"))
    assert out.rows() == [(1_234, 12, 2), (-567, -6, -2), (0, 0, 1)]
