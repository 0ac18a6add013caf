"""Snapshots of everything a published batch consists of, for ETL tests."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import polars as pl
from sqlalchemy import Engine, select

from etl.batch_folder import read_batch
from etl.publish import MartTarget, published_batch
from etl.schema import AGGREGATES, DIMENSIONS, FACTS, etl_publish


def mart_url(target: MartTarget) -> str:
    """The target's database URL (for a subprocess)."""
    return target.engine.url.render_as_string(hide_password=False)


def mart_rows(engine: Engine) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every dimension, fact and aggregate table, in a canonical order."""
    with engine.connect() as conn:
        return {table.name: sorted(conn.execute(select(table)).all(), key=repr)
                for table in (*DIMENSIONS, *FACTS, *AGGREGATES)}


def parquet_tables(target: MartTarget, batch_id: str) -> dict[str, pl.DataFrame]:
    """The published batch's Parquet tables."""
    tables = read_batch(target.parquet_dir, batch_id)
    assert tables is not None, f"batch folder {batch_id} is missing or incomplete"
    return tables


def assert_same_batch(ours: MartTarget, our_batch: str, theirs: MartTarget,
                      their_batch: str) -> dict[str, pl.DataFrame]:
    """Assert that two published batches (e.g. an incremental run's and a full run's on the
    same core data) hold the same tables row for row, in Parquet and in their mart
    databases; return ours (Parquet)."""
    mine, other = parquet_tables(ours, our_batch), parquet_tables(theirs, their_batch)
    assert sorted(mine) == sorted(other)
    for name, frame in mine.items():
        assert frame.equals(other[name]), f"Parquet {name} differs from the full run"
    assert mart_rows(ours.engine) == mart_rows(theirs.engine)
    return mine


def folder_digest(folder: Path) -> dict[str, str]:
    """Relative path → SHA-256 of every file under ``folder``."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@dataclass(frozen=True)
class Published:
    """Everything a reader can see of the published batch."""

    publish_row: tuple[object, ...] | None
    rows: dict[str, list[tuple[object, ...]]]
    files: dict[str, str]


def published_state(target: MartTarget) -> Published:
    """The publish row, the mart tables and the published batch's Parquet files."""
    with target.engine.connect() as conn:
        row = conn.execute(select(etl_publish)).first()
    batch = published_batch(target.engine)
    files = folder_digest(target.parquet_dir / batch.batch_id) if batch else {}
    return Published(tuple(row) if row else None, mart_rows(target.engine), files)
