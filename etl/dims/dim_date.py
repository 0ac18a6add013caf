"""One row per calendar day from ``start`` to ``end`` inclusive, plus the unknown member -1.

Fiscal periods: the fiscal year starts on the first day of ``fiscal_year_start_month`` and
is named by the calendar year in which it ends (start month 4: 2025-04-01 … 2026-03-31 is
fiscal 2026; start month 1: the fiscal year is the calendar year). Fiscal month 1 is the
start month; fiscal quarters are three fiscal months each. ISO fields: ``day_of_week``
Monday 1 … Sunday 7, ``iso_year``/``iso_week`` of ISO 8601, ``week_key`` and ``month_key``
as in ``etl.keys``. The unknown member (for facts without a date, whose keys are -1) has
every calendar number -1 and the placeholder date 1900-01-01.
"""

from __future__ import annotations

from datetime import date

import polars as pl

from etl.dims.surrogate import with_unknown
from etl.keys import date_key, month_key, week_key
from etl.schema import UNKNOWN_KEY, dim_date

UNKNOWN_DATE = date(1900, 1, 1)


def build(start: date, end: date, fiscal_year_start_month: int) -> pl.DataFrame:
    """Every day in [start, end] with calendar, ISO and fiscal attributes; see the module."""
    if not 1 <= fiscal_year_start_month <= 12:
        raise ValueError(f"fiscal year start month must be 1–12, not {fiscal_year_start_month}")
    if end < start:
        raise ValueError(f"empty date range: {start} > {end}")
    if start <= UNKNOWN_DATE:
        raise ValueError(f"dates from {UNKNOWN_DATE} on only (it marks the unknown member)")
    first = fiscal_year_start_month
    d = pl.col("date").dt
    year, month = d.year().cast(pl.Int32), d.month().cast(pl.Int32)
    fiscal_month = (month - first + 12) % 12 + 1
    # Months from the start month on belong to the fiscal year ending next calendar year.
    fiscal_year = year + ((month >= first) & (first > 1)).cast(pl.Int32)
    days = pl.LazyFrame({"date": pl.date_range(start, end, eager=True)})
    frame = days.with_columns(
        date_key("date").alias("date_key"),
        year.alias("year"),
        d.quarter().cast(pl.Int32).alias("quarter"),
        month.alias("month"),
        month_key("date").alias("month_key"),
        d.weekday().cast(pl.Int32).alias("day_of_week"),
        d.iso_year().cast(pl.Int32).alias("iso_year"),
        d.week().cast(pl.Int32).alias("iso_week"),
        week_key("date").alias("week_key"),
        fiscal_year.alias("fiscal_year"),
        ((fiscal_month - 1) // 3 + 1).alias("fiscal_quarter"),
        fiscal_month.alias("fiscal_month"),
        (d.weekday() >= 6).alias("is_weekend"),
    )
    unknown = {c.name: UNKNOWN_KEY for c in dim_date.columns} | {
        "date": UNKNOWN_DATE, "is_weekend": False}
    return with_unknown(frame, dim_date, unknown).collect()
