"""One row per sales channel (core ``channel``), plus the unknown member -1.

``channel_key`` numbers the channel codes 1..n in code order; codes already in the
previously published dimension keep their key.
"""

from __future__ import annotations

import polars as pl

from etl.dims.surrogate import code_dimension
from etl.extract import CoreFrames
from etl.schema import dim_channel


def build(core: CoreFrames, previous: pl.DataFrame | None = None) -> pl.DataFrame:
    """The channel dimension; ``previous`` is the last published one, to keep its keys."""
    return code_dimension(core["channel"], dim_channel, "channel", previous)
