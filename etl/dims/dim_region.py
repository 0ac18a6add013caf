"""One row per sales region (core ``region``), plus the unknown member -1.

``region_key`` numbers the region codes 1..n in code order; codes already in the
previously published dimension keep their key.
"""

from __future__ import annotations

import polars as pl

from etl.dims.surrogate import UNKNOWN_CODE, UNKNOWN_NAME, assign_keys, with_unknown
from etl.extract import CoreFrames
from etl.schema import dim_region


def build(core: CoreFrames, previous: pl.DataFrame | None = None) -> pl.DataFrame:
    """The region dimension; ``previous`` is the last published one, to keep its keys."""
    regions = core["region"].lazy().select(pl.col("code").alias("region_code"), "name")
    keyed = assign_keys(regions, ["region_code"], "region_key", previous)
    unknown = {"region_code": UNKNOWN_CODE, "name": UNKNOWN_NAME}
    return with_unknown(keyed, dim_region, unknown).collect()
