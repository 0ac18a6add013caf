"""The conformed dimensions of the mart, one module per table (DESIGN D5).

Each module's ``build`` returns the table as a Polars frame with exactly the columns of
its ``etl.schema`` table, in order and with the dtypes of ``etl.conform``, including
the unknown member ``-1``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

import polars as pl

from etl.dims import (
    dim_channel,
    dim_customer,
    dim_date,
    dim_location,
    dim_product,
    dim_region,
    dim_rep,
)
from etl.extract import CoreFrames, merge_columns

# The core tables and columns the dimensions read: extract these before build_dimensions
# (with ``ROW_FILTERS``, only the audit rows they use).
CORE_COLUMNS = merge_columns(dim_region.CORE_COLUMNS, dim_channel.CORE_COLUMNS,
                             dim_rep.CORE_COLUMNS, dim_product.CORE_COLUMNS,
                             dim_location.CORE_COLUMNS, dim_customer.CORE_COLUMNS)
CORE_TABLES = tuple(CORE_COLUMNS)
ROW_FILTERS = dict(dim_customer.ROW_FILTERS)


def build_dimensions(core: CoreFrames, *, start: date, end: date,
                     fiscal_year_start_month: int, timezone: str = "UTC",
                     previous: Mapping[str, pl.DataFrame] | None = None,
                     ) -> dict[str, pl.DataFrame]:
    """All seven dimensions keyed by mart table name. ``dim_date`` covers [start, end];
    ``timezone`` (the company's) dates the type-2 customer history; ``previous`` (the last
    published dimensions by table name) keeps the keys of regions, channels and customer
    versions it already holds."""
    before = previous or {}
    return {
        "dim_date": dim_date.build(start, end, fiscal_year_start_month),
        "dim_region": dim_region.build(core, before.get("dim_region")),
        "dim_channel": dim_channel.build(core, before.get("dim_channel")),
        "dim_rep": dim_rep.build(core),
        "dim_product": dim_product.build(core),
        "dim_location": dim_location.build(core),
        "dim_customer": dim_customer.build(core, before.get("dim_customer"), timezone),
    }
