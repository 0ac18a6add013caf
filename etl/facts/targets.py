"""One row per rep per month with a net-sales target (``fct_target``), from core
``sales_target``.

``target_minor`` is the monthly amount in integer minor units of the base currency (targets
are set in base currency). KPIS "target attainment": a team's or region's target is the sum
of its reps'; the metric layer pro-rates a partial month by days, so the row carries
``days_in_month``. ``rep_key`` is the ``dim_rep`` key of the rep (``-1`` when unknown).
"""

from __future__ import annotations

import polars as pl

from etl.conform import conform
from etl.extract import CoreFrames
from etl.facts.lookups import key_of
from etl.keys import month_key
from etl.money import minor
from etl.schema import fct_target

# The core tables and columns ``build`` reads.
CORE_COLUMNS: dict[str, tuple[str, ...]] = {"sales_target": ("rep_id", "month", "amount")}
CORE_TABLES = tuple(CORE_COLUMNS)
DIMENSIONS = ("dim_rep",)


def build(core: CoreFrames, dims: dict[str, pl.DataFrame], base_currency: str) -> pl.DataFrame:
    """``fct_target`` from core ``sales_target`` and ``dim_rep``, in minor units of
    ``base_currency``; sorted by rep and month."""
    frame = key_of(core["sales_target"].lazy(), dims["dim_rep"], on="rep_id",
                   natural="rep_id", key="rep_key").with_columns(
        month_key("month").alias("month_key"),
        pl.col("month").dt.days_in_month().alias("days_in_month"),
        minor("amount", base_currency).alias("target_minor"),
    )
    return conform(frame, fct_target).sort("rep_key", "month_key").collect()
