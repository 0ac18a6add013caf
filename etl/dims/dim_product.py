"""One row per product (core ``product``, current state), plus the unknown member -1 for
lines without a product (milestone, settlement-discount and bad-debt lines).

``product_key`` is the product's core id: stable across full and incremental runs.
"""

from __future__ import annotations

import polars as pl

from etl.dims.surrogate import UNKNOWN_CODE, UNKNOWN_NAME, with_unknown
from etl.extract import CoreFrames
from etl.schema import UNKNOWN_KEY, dim_product

# The core columns ``build`` reads.
CORE_COLUMNS: dict[str, tuple[str, ...]] = {
    "product": ("id", "sku", "name", "category", "product_line", "is_active"),
}


def build(core: CoreFrames) -> pl.DataFrame:
    """The product dimension keyed by product id."""
    products = core["product"].lazy().select(
        pl.col("id").alias("product_key"), pl.col("id").alias("product_id"),
        "sku", "name", "category", "product_line", "is_active")
    unknown = {"product_id": UNKNOWN_KEY, "sku": UNKNOWN_CODE, "name": UNKNOWN_NAME,
               "category": UNKNOWN_NAME, "product_line": UNKNOWN_NAME, "is_active": False}
    return with_unknown(products, dim_product, unknown).collect()
