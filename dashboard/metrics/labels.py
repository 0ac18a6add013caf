"""Display labels for grouped metric frames: the dimension name behind a grouping key.

A metric groups on fact keys (``rep_key``, ``channel_key``, ``region_key``, ``product_key``,
``customer_id``, ``month_key``) and hands pages a ``label`` column to show; the dimension
lookups live here once.
"""

from __future__ import annotations

import polars as pl

from dashboard.metrics.mart import Mart

_DIMENSIONS = {
    "rep": ("dim_rep", "rep_key", "name"),
    "channel": ("dim_channel", "channel_key", "name"),
    "region": ("dim_region", "region_key", "name"),
    "product": ("dim_product", "product_key", "name"),
}


def with_label(mart: Mart, frame: pl.LazyFrame, by: str) -> pl.LazyFrame:
    """``frame`` (grouped by the key column of ``by``) plus ``label``: the dimension's name
    for rep/channel/region/product, the current customer name for ``customer``, the
    category (``(no product)`` when null) for ``category``, and YYYYMM for ``month``."""
    if by in _DIMENSIONS:
        dim, key, column = _DIMENSIONS[by]
        return frame.join(mart.lazy(dim).select(key, pl.col(column).alias("label")),
                          on=key, how="left")
    if by == "customer":
        names = mart.lazy("dim_customer").filter(pl.col("is_current")).select(
            "customer_id", pl.col("name").alias("label"))
        return frame.join(names, on="customer_id", how="left")
    if by == "category":
        return frame.with_columns(pl.col("category").fill_null("(no product)").alias("label"))
    if by == "month":
        return frame.with_columns(pl.col("month_key").cast(pl.String).alias("label"))
    raise ValueError(f"no label for grouping {by!r}")
