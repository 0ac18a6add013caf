"""One row per sales region (core ``region``), plus the unknown member -1.

``region_key`` numbers the region codes 1..n in code order; codes already in the
previously published dimension keep their key.
"""

from __future__ import annotations

import polars as pl

from etl.dims.surrogate import code_dimension
from etl.extract import CoreFrames
from etl.schema import dim_region

# The core columns ``build`` reads (``code_dimension``: code and name).
CORE_COLUMNS: dict[str, tuple[str, ...]] = {"region": ("code", "name")}


def build(core: CoreFrames, previous: pl.DataFrame | None = None) -> pl.DataFrame:
    """The region dimension; ``previous`` is the last published one, to keep its keys."""
    return code_dimension(core["region"], dim_region, "region", previous)
