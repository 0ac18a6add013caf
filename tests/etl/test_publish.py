"""Publishing is atomic: the publish row and the mart tables switch together, a failed
publish leaves the previous batch exactly as it was, and re-publishing is idempotent."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import Engine, func, inspect, select, text
from sqlalchemy.schema import CreateTable

from etl.publish import (
    MartTarget,
    ensure_mart,
    fail_run,
    mart_target,
    publish,
    published_batch,
    start_run,
)
from etl.schema import dim_customer, dim_region, etl_run
from tests.conftest import PG_URL, drop_pg_schema
from tests.etl.conftest import unique_schema


@pytest.fixture
def target(dialect: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[MartTarget]:
    if dialect == "sqlite":
        made = mart_target(f"sqlite:///{tmp_path / 'mart.db'}", tmp_path / "parquet")
        ensure_mart(made)
        yield made
        made.engine.dispose()
        return
    admin: Engine = request.getfixturevalue("pg_admin_engine")
    schema = unique_schema("publish")
    made = mart_target(PG_URL, tmp_path / "parquet", schema=schema)
    ensure_mart(made)
    yield made
    made.engine.dispose()
    drop_pg_schema(admin, schema)


def regions(*codes: str) -> dict[str, pl.DataFrame]:
    return {"dim_region": pl.DataFrame({
        "region_key": list(range(-1, len(codes))),
        "region_code": ["?", *codes],
        "name": ["Unknown", *codes],
    })}


def mart_regions(target: MartTarget) -> list[str]:
    with target.engine.connect() as conn:
        return sorted(conn.scalars(select(dim_region.c.region_code)))


def run(target: MartTarget, batch_id: str, tables: dict[str, pl.DataFrame]) -> None:
    start_run(target, batch_id, "full")
    before = published_batch(target.engine)
    try:
        publish(target, batch_id, tables, watermark_seq=7,
                based_on=before.batch_id if before else None)
    except Exception as exc:
        fail_run(target, batch_id, str(exc))
        raise


def test_publish_switches_tables_and_batch_together(target: MartTarget) -> None:
    assert published_batch(target.engine) is None
    run(target, "b1", regions("NORTH"))
    run(target, "b2", regions("NORTH", "SOUTH"))
    batch = published_batch(target.engine)
    assert batch is not None and (batch.batch_id, batch.watermark_seq) == ("b2", 7)
    assert mart_regions(target) == ["?", "NORTH", "SOUTH"]
    read = pl.read_parquet(target.parquet_dir / "b2" / "dim_region.parquet")
    assert read["region_code"].to_list() == ["?", "NORTH", "SOUTH"]


def test_a_failed_publish_leaves_the_published_batch_untouched(target: MartTarget) -> None:
    run(target, "good", regions("NORTH"))
    broken = regions("EAST", "WEST")
    broken["dim_region"] = broken["dim_region"].with_columns(
        pl.when(pl.col("region_key") == 1).then(None).otherwise(pl.col("name")).alias("name"))
    with pytest.raises(Exception):  # noqa: B017 - the database refuses the NULL name
        run(target, "bad", broken)
    batch = published_batch(target.engine)
    assert batch is not None and batch.batch_id == "good"
    assert mart_regions(target) == ["?", "NORTH"]
    with target.engine.connect() as conn:
        statuses = {b: s for b, s in conn.execute(select(etl_run.c.batch_id, etl_run.c.status))}
    assert statuses == {"good": "published", "bad": "failed"}


def test_publishing_the_same_data_twice_changes_nothing(target: MartTarget) -> None:
    run(target, "b1", regions("NORTH", "SOUTH"))
    first = mart_regions(target)
    run(target, "b2", regions("NORTH", "SOUTH"))
    assert mart_regions(target) == first
    with target.engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(dim_region)) == 3




def test_a_full_publish_builds_tables_fresh_keyed_indexed_and_commented(
        target: MartTarget) -> None:
    with target.engine.begin() as conn:  # a stale shape: the rebuild restores the metadata's
        conn.execute(text('ALTER TABLE dim_region DROP COLUMN "name"'))
        conn.execute(text("DROP INDEX ix_dim_customer_natural"))
    no_customers = pl.DataFrame(schema=[c.name for c in dim_customer.columns])
    run(target, "b1", regions("NORTH") | {"dim_customer": no_customers})
    run(target, "b2", regions("NORTH", "SOUTH"))
    assert mart_regions(target) == ["?", "NORTH", "SOUTH"]
    with target.engine.connect() as conn:
        found = inspect(conn)
        assert [c["name"] for c in found.get_columns("dim_region")] == [
            c.name for c in dim_region.columns]
        assert found.get_pk_constraint("dim_region")["constrained_columns"] == ["region_key"]
        assert {i["name"] for i in found.get_indexes("dim_customer")} == {
            i.name for i in dim_customer.indexes}
        if conn.dialect.name == "postgresql":
            assert found.get_table_comment("dim_customer")["text"] == dim_customer.comment
            live = conn.execute(text("SELECT current_schema()")).scalar_one()
            assert conn.scalar(text("SELECT count(*) FROM pg_namespace WHERE nspname = :n"),
                               {"n": live + "_load"}) == 0, "the staging schema is left behind"
    ddl = str(CreateTable(dim_region).compile(dialect=target.engine.dialect))
    assert "PRIMARY KEY" in ddl, "the rebuild changed the shared metadata"
