"""The mart contract for frames: a mart table's columns, in order, with their Polars dtypes.

Type mapping: ``Integer`` → Int32 (as the date keys of ``etl.keys``), ``BigInteger`` → Int64,
``String`` → String, ``Date`` → Date, ``DateTime`` → Datetime("us"), ``Boolean`` → Boolean,
``Numeric(p, s)`` → Decimal(p, s).
"""

from __future__ import annotations

import polars as pl
from sqlalchemy import BigInteger, Boolean, Column, Date, DateTime, Integer, Numeric, String, Table


def polars_dtype(column: Column[object]) -> pl.DataType:
    """The Polars dtype a frame column must have to be published into ``column``."""
    kind = column.type
    # Order matters: BigInteger is an Integer, DateTime is not a Date.
    if isinstance(kind, BigInteger):
        return pl.Int64()
    if isinstance(kind, Integer):
        return pl.Int32()
    if isinstance(kind, Boolean):
        return pl.Boolean()
    if isinstance(kind, DateTime):
        return pl.Datetime("us")
    if isinstance(kind, Date):
        return pl.Date()
    if isinstance(kind, String):
        return pl.String()
    if isinstance(kind, Numeric):
        return pl.Decimal(kind.precision, kind.scale or 0)
    raise TypeError(f"no Polars dtype for {column.table.name}.{column.name}: {kind!r}")


def polars_schema(table: Table) -> pl.Schema:
    """Column name → Polars dtype of a mart table, in the table's column order."""
    return pl.Schema({c.name: polars_dtype(c) for c in table.columns})


def conform(frame: pl.LazyFrame, table: Table) -> pl.LazyFrame:
    """``frame`` reduced to ``table``'s columns, in order, cast to their dtypes (strictly:
    a value that does not fit fails rather than turning into null)."""
    return frame.select(
        pl.col(name).cast(dtype, strict=True) for name, dtype in polars_schema(table).items())
