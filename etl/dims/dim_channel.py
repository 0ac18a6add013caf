"""One row per sales channel (core ``channel``), plus the unknown member -1.

``channel_key`` numbers the channel codes 1..n in code order; codes already in the
previously published dimension keep their key.
"""

from __future__ import annotations

import polars as pl

from etl.dims.surrogate import code_dimension
from etl.extract import CoreFrames
from etl.schema import dim_channel

# The core columns ``build`` reads (``code_dimension``: code and name).
CORE_COLUMNS: dict[str, tuple[str, ...]] = {"channel": ("code", "name")}


def build(core: CoreFrames, previous: pl.DataFrame | None = None) -> pl.DataFrame:
    """The channel dimension; ``previous`` is the last published one, to keep its keys."""
    return code_dimension(core["channel"], dim_channel, "channel", previous)
