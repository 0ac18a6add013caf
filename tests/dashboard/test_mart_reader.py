"""The mart reader reads every table of a batch folder, a partitioned one without rows
(an empty folder) included, without the columns and rows the dashboard never reads."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import polars as pl

from dashboard.mart_reader import NOT_READ, load_batch
from etl.batch_folder import write_batch
from etl.conform import polars_schema
from etl.publish import PublishedBatch
from etl.schema import dim_region, fct_sales_line, mart
from tests.dashboard.conftest import DemoMart


def test_a_batch_without_sales_lines_loads(tmp_path: Path) -> None:
    regions = pl.DataFrame({"region_key": [-1], "region_code": ["?"], "name": ["Unknown"]})
    write_batch(tmp_path, "b1", {
        "dim_region": regions.cast(dict(polars_schema(dim_region))),  # type: ignore[arg-type]
        "fct_sales_line": pl.DataFrame(schema=polars_schema(fct_sales_line)),
    })

    loaded = load_batch(tmp_path, PublishedBatch("b1", datetime(2026, 1, 1), 0))

    assert loaded.frame("fct_sales_line").is_empty()
    assert loaded.frame("fct_sales_line").columns == [
        c for c in polars_schema(fct_sales_line) if c not in NOT_READ["fct_sales_line"]]
    assert loaded.frame("dim_region")["region_code"].to_list() == ["?"]


def test_the_columns_left_unread_are_columns_of_the_mart() -> None:
    for table, columns in NOT_READ.items():
        assert columns <= set(mart.tables[table].columns.keys()), table


def test_the_demo_batch_loads_without_the_unread_columns_and_rows(demo_mart: DemoMart) -> None:
    frames = demo_mart.mart.tables
    for table, columns in NOT_READ.items():
        assert not columns & set(frames[table].columns), table
        assert frames[table].height > 0, table
    lines = frames["fct_order_line"]
    assert lines.height > 0
    assert ((lines["backlog_minor"] != 0) | (lines["backlog_doc_minor"] != 0)).all()
