"""Surrogate-key lookup shared by the facts: the key of a natural id or code in a
dimension (the customer version valid at a date is ``etl.dims.dim_customer.version_at``).

It is a left join that never drop or duplicate fact rows (given unique natural keys,
which the checks enforce): a null or unknown natural key gets the unknown member ``-1``,
and the unknown member row of a dimension is never matched. Row order is not kept (Polars
joins do not maintain it); callers sort their result.
"""

from __future__ import annotations

import polars as pl

from etl.schema import UNKNOWN_KEY


def without_unknown(dim: pl.DataFrame | pl.LazyFrame, key: str) -> pl.LazyFrame:
    """The dimension's real members (its unknown member -1 is never matched)."""
    return dim.lazy().filter(pl.col(key) != UNKNOWN_KEY)


def key_of(frame: pl.LazyFrame, dim: pl.DataFrame | pl.LazyFrame, *, on: str, natural: str,
           key: str, alias: str | None = None) -> pl.LazyFrame:
    """``frame`` plus column ``alias`` (default ``key``): ``dim[key]`` of the row whose
    ``dim[natural]`` equals ``frame[on]``, ``-1`` when ``frame[on]`` is null or unknown.

    ``natural`` is cast to the dtype of ``on``, so Int32/Int64 ids and codes both work.
    """
    alias = alias or key
    on_dtype = frame.collect_schema()[on]
    right = without_unknown(dim, key).select(
        pl.col(natural).cast(on_dtype).alias(on),
        pl.col(key).cast(pl.Int64).alias(alias),
    )
    return frame.join(right, on=on, how="left").with_columns(
        pl.col(alias).fill_null(UNKNOWN_KEY))
