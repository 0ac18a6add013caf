"""Date keys used by every fact: ``date_key`` YYYYMMDD, ``month_key`` YYYYMM, ``week_key``
ISO year × 100 + ISO week. Missing dates map to the unknown key ``-1``."""

from __future__ import annotations

import polars as pl

from etl.schema import UNKNOWN_KEY


def date_key(column: str) -> pl.Expr:
    """YYYYMMDD of a Date column, ``-1`` when empty."""
    d = pl.col(column)
    return (d.dt.year() * 10_000 + d.dt.month() * 100 + d.dt.day()).fill_null(
        UNKNOWN_KEY).cast(pl.Int32)


def month_key(column: str) -> pl.Expr:
    """YYYYMM of a Date column, ``-1`` when empty."""
    d = pl.col(column)
    return (d.dt.year() * 100 + d.dt.month()).fill_null(UNKNOWN_KEY).cast(pl.Int32)


def week_key(column: str) -> pl.Expr:
    """ISO year × 100 + ISO week of a Date column, ``-1`` when empty."""
    d = pl.col(column)
    return (d.dt.iso_year() * 100 + d.dt.week()).fill_null(UNKNOWN_KEY).cast(pl.Int32)
