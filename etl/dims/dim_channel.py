"""One row per sales channel (core ``channel``), plus the unknown member -1.

``channel_key`` numbers the channel codes 1..n in code order; codes already in the
previously published dimension keep their key.
"""

from __future__ import annotations

import polars as pl

from etl.dims.surrogate import UNKNOWN_CODE, UNKNOWN_NAME, assign_keys, with_unknown
from etl.extract import CoreFrames
from etl.schema import dim_channel


def build(core: CoreFrames, previous: pl.DataFrame | None = None) -> pl.DataFrame:
    """The channel dimension; ``previous`` is the last published one, to keep its keys."""
    channels = core["channel"].lazy().select(pl.col("code").alias("channel_code"), "name")
    keyed = assign_keys(channels, ["channel_code"], "channel_key", previous)
    unknown = {"channel_code": UNKNOWN_CODE, "name": UNKNOWN_NAME}
    return with_unknown(keyed, dim_channel, unknown).collect()
