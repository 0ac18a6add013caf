"""Keeps the published mart batch in memory and swaps it when a new batch is published.

"Which batch is published" is one indexed row (``etl.publish.published_batch``), asked at
most every ``check_seconds``. The first load happens in the request that needs it; later
batches load in a background thread while requests keep reading the previous one, then the
reference is swapped in one assignment (DESIGN D3: requests never wait on a reload).
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import polars as pl
from sqlalchemy import Engine

from dashboard.metrics.mart import Mart
from etl.conform import polars_schema
from etl.publish import PublishedBatch, published_batch
from etl.schema import mart

log = logging.getLogger(__name__)

CHECK_SECONDS = 5.0


def load_batch(parquet_dir: Path, batch: PublishedBatch) -> Mart:
    """Read every table of ``batch`` from its Parquet folder (partitioned tables are
    folders, the others ``<table>.parquet``; a partitioned table without rows is an empty
    folder, ``etl.batch_folder``)."""
    folder = parquet_dir / batch.batch_id
    tables: dict[str, pl.DataFrame] = {}
    for path in sorted(folder.iterdir()):
        name = path.name.removesuffix(".parquet")
        if path.is_dir() and not any(path.iterdir()):
            tables[name] = pl.DataFrame(schema=polars_schema(mart.tables[name]))
        else:
            tables[name] = pl.read_parquet(path, hive_partitioning=path.is_dir())
    return Mart(batch.batch_id, batch.published_at, tables)


class MartReader:
    """The in-memory copy of the published batch for one app process."""

    def __init__(self, engine: Engine, parquet_dir: Path,
                 check_seconds: float = CHECK_SECONDS) -> None:
        self._engine = engine
        self._parquet_dir = parquet_dir
        self._check_seconds = check_seconds
        self._mart: Mart | None = None
        self._checked_at = float("-inf")
        self._loading: str | None = None
        self._lock = threading.Lock()

    def current(self) -> Mart | None:
        """The batch to read now; None before the first publish."""
        now = time.monotonic()
        if now - self._checked_at >= self._check_seconds:
            self._checked_at = now
            self._refresh()
        return self._mart

    def _refresh(self) -> None:
        batch = published_batch(self._engine)
        if batch is None or (self._mart and self._mart.batch_id == batch.batch_id):
            return
        with self._lock:
            if self._loading == batch.batch_id:
                return
            self._loading = batch.batch_id
        if self._mart is None:
            self._load(batch)
        else:
            threading.Thread(target=self._load, args=(batch,), daemon=True,
                             name=f"mart-load-{batch.batch_id}").start()

    def _load(self, batch: PublishedBatch) -> None:
        started = time.perf_counter()
        try:
            self._mart = load_batch(self._parquet_dir, batch)
        except OSError:
            log.exception("could not load mart batch %s", batch.batch_id)
        else:
            log.info("mart batch %s loaded in %.2f s", batch.batch_id,
                     time.perf_counter() - started)
        finally:
            with self._lock:
                self._loading = None
