"""Date keys used by every fact: ``date_key`` YYYYMMDD, ``month_key`` YYYYMM, ``week_key``
ISO year × 100 + ISO week. Missing dates map to the unknown key ``-1``."""

from __future__ import annotations

import polars as pl

from etl.schema import UNKNOWN_KEY


def _part(expr: pl.Expr) -> pl.Expr:
    # dt.month()/day()/week() are Int8: widen before multiplying.
    return expr.cast(pl.Int32)


def date_key(column: str) -> pl.Expr:
    """YYYYMMDD of a Date column, ``-1`` when empty."""
    d = pl.col(column).dt
    return (_part(d.year()) * 10_000 + _part(d.month()) * 100 + _part(d.day())).fill_null(
        UNKNOWN_KEY)


def month_key(column: str) -> pl.Expr:
    """YYYYMM of a Date column, ``-1`` when empty."""
    d = pl.col(column).dt
    return (_part(d.year()) * 100 + _part(d.month())).fill_null(UNKNOWN_KEY)


def week_key(column: str) -> pl.Expr:
    """ISO year × 100 + ISO week of a Date column, ``-1`` when empty."""
    d = pl.col(column).dt
    return (_part(d.iso_year()) * 100 + _part(d.week())).fill_null(UNKNOWN_KEY)


def date_of_key(column: str) -> pl.Expr:
    """The Date of a YYYYMMDD key column, null for the unknown key ``-1``."""
    key = pl.when(pl.col(column) != UNKNOWN_KEY).then(pl.col(column))
    return pl.date(key // 10_000, key // 100 % 100, key % 100)


def month_start_of_key(column: str) -> pl.Expr:
    """The first day of the month of a YYYYMM key column, null for the unknown key ``-1``."""
    key = pl.when(pl.col(column) != UNKNOWN_KEY).then(pl.col(column))
    return pl.date(key // 100, key % 100, 1)
