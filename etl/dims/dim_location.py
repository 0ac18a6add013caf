"""One row per customer location (core ``customer_location``: bill-to or ship-to, current
state), plus the unknown member -1 (orders without a ship-to).

``location_key`` is the location's core id: stable across full and incremental runs.
"""

from __future__ import annotations

import polars as pl

from etl.dims.surrogate import UNKNOWN_NAME, with_unknown
from etl.extract import CoreFrames
from etl.schema import UNKNOWN_KEY, dim_location

# The core columns ``build`` reads.
CORE_COLUMNS: dict[str, tuple[str, ...]] = {
    "customer_location": ("id", "customer_id", "kind", "name", "city", "country",
                          "region_code", "rep_override_id"),
}


def build(core: CoreFrames) -> pl.DataFrame:
    """The location dimension keyed by location id."""
    locations = core["customer_location"].lazy().select(
        pl.col("id").alias("location_key"), pl.col("id").alias("location_id"),
        "customer_id", "kind", "name", "city", "country", "region_code", "rep_override_id")
    unknown = {"location_id": UNKNOWN_KEY, "customer_id": UNKNOWN_KEY, "kind": "unknown",
               "name": UNKNOWN_NAME}
    return with_unknown(locations, dim_location, unknown).collect()
