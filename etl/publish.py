"""Publish a batch atomically (DESIGN D4).

1. Every table of the batch is written as Parquet into ``<mart_dir>/.tmp-<batch_id>/`` and
   the folder is renamed to ``<mart_dir>/<batch_id>/`` (large facts partitioned by month).
2. In ONE database transaction the mart tables are replaced and the single ``etl_publish``
   row is pointed at the batch. A batch is published only when that row says so.

A run that dies before step 2 commits leaves the published batch exactly as it was (an
unpublished folder is swept by the next run). Readers ask ``published_batch`` — one row —
to key their caches.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
from sqlalchemy import Engine, insert, select, text, update
from sqlalchemy.exc import SQLAlchemyError

from core.db import make_engine
from etl.load import replace_rows
from etl.schema import etl_publish, etl_run, mart

MART_SCHEMA = "mart"
PARTITIONED = {"fct_sales_line": "month_key"}
KEEP_BATCHES = 2


@dataclass(frozen=True)
class MartTarget:
    """Where a batch goes: the mart database and the Parquet folder."""

    engine: Engine
    parquet_dir: Path


@dataclass(frozen=True)
class PublishedBatch:
    """The batch the dashboard reads."""

    batch_id: str
    published_at: datetime
    watermark_seq: int


def mart_engine(mart_url: str, *, schema: str = MART_SCHEMA) -> Engine:
    """Engine on the mart: its SQLite file, or PostgreSQL with ``search_path`` = ``schema``."""
    if mart_url.startswith("postgresql"):
        return make_engine(mart_url, schema=schema)
    return make_engine(mart_url)


def mart_target(mart_url: str, parquet_dir: Path, *, schema: str = MART_SCHEMA) -> MartTarget:
    """Target for ``mart_url``, creating the PostgreSQL ``schema`` when missing."""
    if mart_url.startswith("postgresql"):
        admin = make_engine(mart_url)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        admin.dispose()
    return MartTarget(mart_engine(mart_url, schema=schema), parquet_dir)


def new_batch_id() -> str:
    """Sortable, unique: UTC time plus a random suffix."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]


def ensure_mart(target: MartTarget) -> None:
    """Create the mart tables that do not exist yet."""
    mart.create_all(target.engine)


def start_run(target: MartTarget, batch_id: str, mode: str) -> None:
    """Log the run as running (its own transaction, so a crash leaves a trace)."""
    with target.engine.begin() as conn:
        conn.execute(insert(etl_run).values(batch_id=batch_id, mode=mode, status="running",
                                            started_at=_now()))


def fail_run(target: MartTarget, batch_id: str, error: str) -> None:
    """Mark the run failed with its error; the published batch is untouched."""
    with target.engine.begin() as conn:
        conn.execute(update(etl_run).where(etl_run.c.batch_id == batch_id)
                     .values(status="failed", finished_at=_now(), error=error[:4000]))


def write_parquet_batch(parquet_dir: Path, batch_id: str,
                        tables: dict[str, pl.DataFrame]) -> Path:
    """Write the batch to a temporary folder and rename it into place."""
    parquet_dir.mkdir(parents=True, exist_ok=True)
    staging = parquet_dir / f".tmp-{batch_id}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    for name, frame in tables.items():
        if name in PARTITIONED:
            frame.write_parquet(staging / name, partition_by=PARTITIONED[name])
        else:
            frame.write_parquet(staging / f"{name}.parquet")
    final = parquet_dir / batch_id
    staging.rename(final)
    return final


def publish(target: MartTarget, batch_id: str, tables: dict[str, pl.DataFrame],
            watermark_seq: int, progress: Callable[[str], None] | None = None) -> None:
    """Parquet first, then the mart tables and the publish row in one transaction."""
    step = progress or (lambda _stage: None)
    step("parquet")
    write_parquet_batch(target.parquet_dir, batch_id, tables)
    step("mart tables")
    rows = {name: frame.height for name, frame in tables.items()}
    with target.engine.begin() as conn:
        for name, frame in tables.items():
            replace_rows(conn, mart.tables[name], frame)
        values = dict(published_batch_id=batch_id, published_at=_now(),
                      watermark_seq=watermark_seq)
        if conn.execute(select(etl_publish.c.id)).first() is None:
            conn.execute(insert(etl_publish).values(id=1, **values))
        else:
            conn.execute(update(etl_publish).where(etl_publish.c.id == 1).values(**values))
        conn.execute(update(etl_run).where(etl_run.c.batch_id == batch_id).values(
            status="published", finished_at=_now(), watermark_seq=watermark_seq,
            rows=json.dumps(rows)))
    sweep(target.parquet_dir, keep=batch_id)


def published_batch(engine: Engine) -> PublishedBatch | None:
    """The published batch (one indexed row), or None before the first publish."""
    try:
        with engine.connect() as conn:
            row = conn.execute(select(etl_publish.c.published_batch_id,
                                      etl_publish.c.published_at,
                                      etl_publish.c.watermark_seq)).first()
    except SQLAlchemyError:  # no mart yet reads as "nothing published"
        return None
    return PublishedBatch(*row) if row else None


def sweep(parquet_dir: Path, keep: str) -> None:
    """Remove staging leftovers and all but the newest batches (the published one stays)."""
    for leftover in parquet_dir.glob(".tmp-*"):
        shutil.rmtree(leftover, ignore_errors=True)
    batches = sorted((p for p in parquet_dir.iterdir() if p.is_dir()), key=lambda p: p.name)
    for old in batches[:-KEEP_BATCHES]:
        if old.name != keep:
            shutil.rmtree(old, ignore_errors=True)


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)
