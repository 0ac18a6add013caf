"""Surrogate keys of the dimensions and their unknown member (key ``-1``).

Keys are deterministic: rows are numbered 1..n in the order of their natural key. Given the
previously published dimension, rows whose natural key it already holds keep their key and
new rows are numbered after its largest key, so facts of untouched partitions stay valid.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import polars as pl
from sqlalchemy import Table

from etl.conform import conform, polars_schema
from etl.schema import UNKNOWN_KEY

UNKNOWN_CODE = "?"  # code of the unknown member: no real code is a lone question mark
UNKNOWN_NAME = "Unknown"


def assign_keys(frame: pl.LazyFrame, natural: Sequence[str], key: str,
                previous: pl.DataFrame | None = None) -> pl.LazyFrame:
    """``frame`` with an Int32 ``key`` column: the previous key of the same natural key,
    else the next number after the largest previous key, in natural-key order."""
    natural = list(natural)
    ordered = frame.sort(natural)
    if previous is None or previous.is_empty():
        return ordered.with_row_index(key, offset=1).with_columns(pl.col(key).cast(pl.Int32))
    known = previous.lazy().filter(pl.col(key) != UNKNOWN_KEY).select(
        [pl.col(c).cast(dtype) for c, dtype in ordered.collect_schema().items()
         if c in natural] + [pl.col(key).cast(pl.Int32)])
    start = previous.select(pl.col(key).max()).item() or 0
    start = max(int(start), 0)
    keyed = ordered.join(known, on=natural, how="left", maintain_order="left")
    new_rank = pl.col(key).is_null().cum_sum().cast(pl.Int32)
    return keyed.with_columns(
        pl.when(pl.col(key).is_null()).then(start + new_rank).otherwise(pl.col(key))
        .cast(pl.Int32).alias(key))


def with_unknown(frame: pl.LazyFrame, table: Table, values: Mapping[str, object]) -> pl.LazyFrame:
    """``frame`` conformed to ``table`` with the unknown member first (``values`` name its
    columns; the key is ``-1``, unnamed columns are empty), the rest in key order."""
    schema = polars_schema(table)
    key = next(iter(schema))
    row = {name: [values.get(name)] for name in schema} | {key: [UNKNOWN_KEY]}
    unknown = pl.LazyFrame(row, schema=schema)
    return pl.concat([unknown, conform(frame, table).sort(key)], how="vertical")


def code_dimension(codes: pl.DataFrame, table: Table, name: str,
                   previous: pl.DataFrame | None) -> pl.DataFrame:
    """A dimension of a core code list (``code``, ``name``): ``<name>_key`` numbers the codes
    1..n in code order, keeping the keys of ``previous``; plus the unknown member."""
    code, key = f"{name}_code", f"{name}_key"
    rows = codes.lazy().select(pl.col("code").alias(code), "name")
    keyed = assign_keys(rows, [code], key, previous)
    return with_unknown(keyed, table, {code: UNKNOWN_CODE, "name": UNKNOWN_NAME}).collect()
