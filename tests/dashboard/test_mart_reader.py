"""The mart reader reads every table of a batch folder, a partitioned one without rows
(an empty folder) included."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import polars as pl

from dashboard.mart_reader import load_batch
from etl.batch_folder import write_batch
from etl.conform import polars_schema
from etl.publish import PublishedBatch
from etl.schema import dim_region, fct_sales_line


def test_a_batch_without_sales_lines_loads(tmp_path: Path) -> None:
    regions = pl.DataFrame({"region_key": [-1], "region_code": ["?"], "name": ["Unknown"]})
    write_batch(tmp_path, "b1", {
        "dim_region": regions.cast(dict(polars_schema(dim_region))),  # type: ignore[arg-type]
        "fct_sales_line": pl.DataFrame(schema=polars_schema(fct_sales_line)),
    })

    mart = load_batch(tmp_path, PublishedBatch("b1", datetime(2026, 1, 1), 0))

    assert mart.frame("fct_sales_line").is_empty()
    assert mart.frame("fct_sales_line").columns == list(polars_schema(fct_sales_line))
    assert mart.frame("dim_region")["region_code"].to_list() == ["?"]
