"""Keeps the published mart batch mapped into the process and swaps it when a new batch is
published.

"Which batch is published" is one indexed row (``etl.publish.published_batch``), asked at
most every ``check_seconds``. The first load happens in the request that needs it; later
batches load in a background thread while requests keep reading the previous one, then the
reference is swapped in one assignment (DESIGN D3: requests never wait on a reload).

A batch is read from its serving copy: the columns and rows the dashboard reads, as
uncompressed Arrow IPC files (``<mart_dir>/.serving/<batch_id>/<layout>/<table>.arrow``),
written once per batch from its Parquet folder by the first process that needs it, table by
table (streamed, so writing it holds no table in memory; synced before the folder is
renamed into place); a table the batch did not change (the same files as an earlier
batch's) is a hard link to that batch's copy of it. ``<layout>`` fingerprints what decides
the copy's content (the mart's columns, ``NOT_READ``, ``ROWS_READ``, the Polars version),
so an app deployed with other rules writes a copy of its own instead of reading a stale
one. The frames are memory-mapped from those files without a copy: their pages are the
operating system's file cache, shared by every worker process and reclaimable, instead of
each process's own copy of the batch.
A copy that cannot be read (a table missing or damaged) is written again once.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path

import polars as pl
from sqlalchemy import Engine

from dashboard.metrics.mart import Mart
from etl.batch_folder import SERVING_DIR, STAGING_PREFIX, link_file
from etl.conform import polars_schema
from etl.publish import PublishedBatch, published_batch
from etl.schema import mart
from etl.spill import mapped

log = logging.getLogger(__name__)

CHECK_SECONDS = 5.0
NOT_READ: dict[str, frozenset[str]] = {
    "fct_booking": frozenset({"event_type", "event_seq", "order_id", "order_line_id",
                              "customer_key", "customer_id", "product_key", "week_key",
                              "quantity_delta"}),
    "fct_customer_month": frozenset({
        "order_count", "gross_margin_minor", "cash_applied_minor", "cash_days_late_minor",
        "cash_days_to_pay_minor", "net_sales_12m_minor", "gross_margin_12m_minor",
        "cash_applied_12m_minor", "cash_days_late_12m_minor", "last_order_date_key"}),
    "fct_order": frozenset({"confirmed_date_key", "line_count", "cancelled_date_key",
                            "first_shipped_date_key", "last_shipped_date_key",
                            "is_shipped_complete", "is_on_time"}),
    "fct_order_line": frozenset({"order_line_id", "order_status", "quantity",
                                 "cancelled_quantity", "shipped_quantity",
                                 "invoiced_quantity", "invoiced_minor",
                                 "last_shipped_date_key"}),
    "fct_sales_line": frozenset({"week_key", "quantity"}),
    "fct_ar_allocation": frozenset({"allocation_id", "reversal_of_id", "days_to_pay"}),
    "fct_ar_item": frozenset({"fx_rate"}),
    "fct_freight_cost": frozenset({"shipment_line_id", "shipment_id"}),
}
"""Mart columns the dashboard never reads, left on disk: 1.8 GiB of the 4.8 GiB the whole
standard batch (10M lines) takes in memory, mostly Decimal quantities (16 bytes a value).
A metric that starts to read one removes it here."""
ROWS_READ: dict[str, pl.Expr] = {
    "fct_order_line": (pl.col("backlog_minor") != 0) | (pl.col("backlog_doc_minor") != 0),
}
"""Facts the dashboard reads only some rows of: order lines only for their backlog (40,227
of 9.8M lines of the standard batch)."""


def _read_columns(name: str) -> list[str]:
    skipped = NOT_READ.get(name, frozenset())
    return [column.name for column in mart.tables[name].columns if column.name not in skipped]


def _served(path: Path) -> pl.LazyFrame:
    """The columns and rows the dashboard reads of the table at ``path`` in a batch folder
    (a partitioned table is a folder, empty when it has no rows)."""
    name = path.name.removesuffix(".parquet")
    columns = _read_columns(name)
    if path.is_dir() and not any(path.iterdir()):
        return pl.LazyFrame(schema=polars_schema(mart.tables[name])).select(columns)
    frame = pl.scan_parquet(path, hive_partitioning=path.is_dir()).select(columns)
    return frame.filter(ROWS_READ[name]) if name in ROWS_READ else frame


def _layout() -> str:
    """The fingerprint of what decides a serving copy's content."""
    rules = [pl.__version__,
             *(f"{table.name}:{','.join(_read_columns(table.name))}"
               for table in sorted(mart.tables.values(), key=lambda t: t.name)),
             *(f"{name}:{rows}" for name, rows in sorted(ROWS_READ.items()))]
    return hashlib.sha256("\n".join(rules).encode()).hexdigest()[:16]


LAYOUT = _layout()


def serving_copy(parquet_dir: Path, batch_id: str, *, rewrite: bool = False) -> Path:
    """The folder of ``batch_id``'s serving copy, written first when it is missing (or
    ``rewrite``): by one process at a time (the others wait on the lock, then find it),
    into a staging folder synced and renamed into place, so a folder under the layout is
    whole; the batch's copies of other layouts are removed then (a process still mapping
    one keeps its pages until it unmaps them)."""
    root = parquet_dir / SERVING_DIR
    final = root / batch_id / LAYOUT
    if final.is_dir() and not rewrite:
        return final
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if rewrite:
            shutil.rmtree(final, ignore_errors=True)
        if not final.is_dir():
            staging = root / batch_id / f"{STAGING_PREFIX}{LAYOUT}"
            shutil.rmtree(staging, ignore_errors=True)
            staging.mkdir(parents=True)
            earlier = {} if rewrite else _earlier_copies(parquet_dir, batch_id)
            for path in sorted((parquet_dir / batch_id).iterdir()):
                name = path.name.removesuffix(".parquet")
                same = earlier.get((path.name, _files_of(path)))
                if same is not None:
                    try:
                        link_file(same / f"{name}.arrow", staging / f"{name}.arrow")
                        continue
                    except OSError:  # swept meanwhile (the ETL's sweep takes no lock)
                        log.info("serving copy %s: %s written, not linked", batch_id, name)
                _served(path).sink_ipc(staging / f"{name}.arrow", compression="uncompressed",
                                       sync_on_close="all")
            staging.rename(final)
            for other in (root / batch_id).iterdir():  # copies of other layouts: stale
                if other.name not in (LAYOUT, staging.name):
                    shutil.rmtree(other, ignore_errors=True)
    return final


Files = tuple[tuple[str, int, int], ...]
"""A batch table's files on disk: (path inside the table, device, inode) of each."""


def _files_of(path: Path) -> Files:
    """The files of the table at ``path`` in a batch folder (a partitioned table is a
    folder of them). A batch is never written to after it is renamed into place, and an
    incremental batch's unchanged tables are hard links to the previous batch's files
    (``etl.batch_folder.write_batch``): two tables with the same files hold the same rows."""
    files = sorted(path.rglob("*")) if path.is_dir() else [path]
    return tuple((str(file.relative_to(path)), stat.st_dev, stat.st_ino)
                 for file in files if file.is_file() for stat in (file.stat(),))


def _earlier_copies(parquet_dir: Path, batch_id: str) -> dict[tuple[str, Files], Path]:
    """The serving copies of this layout of the other batches still on disk, by each of
    their tables (its name in the batch folder and its files): a table whose files are the
    same is linked from there instead of written (a save changes few of the 26 tables: at
    10M lines writing every one took 8.2 s)."""
    found = {}
    # The latest batch last: its copy is the one kept longest (``etl.batch_folder.sweep``).
    for copy in sorted((parquet_dir / SERVING_DIR).glob(f"*/{LAYOUT}")):
        batch = parquet_dir / copy.parent.name
        if copy.parent.name == batch_id or not batch.is_dir():
            continue
        for path in batch.iterdir():
            if (copy / f"{path.name.removesuffix('.parquet')}.arrow").is_file():
                found[(path.name, _files_of(path))] = copy
    return found


def _mapped(path: Path) -> pl.DataFrame:
    """The frame of an Arrow IPC file, its buffers memory-mapped from the file, with its
    date keys that are in order flagged so (``_flag_sorted``)."""
    return _flag_sorted(mapped(path))


def _flag_sorted(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with each ``*date_key`` / ``month_key`` column that is in ascending order
    flagged as sorted (the ETL writes the facts in date order): Polars then finds a
    period's rows by binary search instead of a scan (10M sales lines: 2.9 → 0.9 ms a date
    filter). A column out of order, or with nulls, is left as it is; the flag copies
    nothing."""
    in_order = [name for name in frame.columns
                if name.endswith(("date_key", "month_key"))
                and frame[name].null_count() == 0 and frame[name].is_sorted()]
    if not in_order:
        return frame
    return frame.with_columns(pl.col(name).set_sorted() for name in in_order)


def _map_copy(folder: Path, names: set[str]) -> dict[str, pl.DataFrame]:
    """The tables ``names`` mapped from a serving copy; ``ValueError`` when one is missing
    or cannot be read (``pyarrow.ArrowInvalid`` is one)."""
    found = {path.stem for path in folder.glob("*.arrow")}
    if found != names:
        raise ValueError(f"serving copy {folder} holds {sorted(found)}, not {sorted(names)}")
    return {name: _mapped(folder / f"{name}.arrow") for name in sorted(names)}


def load_batch(parquet_dir: Path, batch: PublishedBatch) -> Mart:
    """Every table of ``batch``, mapped from its serving copy: without the ``NOT_READ``
    columns and only the ``ROWS_READ`` rows. A copy that cannot be read is written again
    once."""
    names = {path.name.removesuffix(".parquet")
             for path in (parquet_dir / batch.batch_id).iterdir()}
    try:
        tables = _map_copy(serving_copy(parquet_dir, batch.batch_id), names)
    except (ValueError, OSError):
        log.warning("serving copy of batch %s unreadable: writing it again", batch.batch_id,
                    exc_info=True)
        tables = _map_copy(serving_copy(parquet_dir, batch.batch_id, rewrite=True), names)
    return Mart(batch.batch_id, batch.published_at, tables)


class MartReader:
    """The published batch as one app process reads it."""

    def __init__(self, engine: Engine, parquet_dir: Path,
                 check_seconds: float = CHECK_SECONDS,
                 prepare: Callable[[Mart], None] | None = None) -> None:
        """``prepare`` builds a loaded batch's per-batch frames (``dashboard.batch_warmup``):
        before a later batch is swapped in, so requests find them ready; in the background
        after the first load, which a request waits for."""
        self._engine = engine
        self._parquet_dir = parquet_dir
        self._check_seconds = check_seconds
        self._prepare = prepare
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
            mart = load_batch(self._parquet_dir, batch)
            first = self._mart is None
            if not first:
                self._prepared(mart)
            self._mart = mart
            if first and self._prepare is not None:
                threading.Thread(target=self._prepared, args=(mart,), daemon=True,
                                 name=f"mart-prepare-{batch.batch_id}").start()
        except Exception:  # a request keeps the batch it has; the next check tries again
            log.exception("could not load mart batch %s", batch.batch_id)
        else:
            log.info("mart batch %s loaded in %.2f s", batch.batch_id,
                     time.perf_counter() - started)
        finally:
            with self._lock:
                self._loading = None

    def _prepared(self, mart: Mart) -> None:
        """Run ``prepare`` on ``mart``; a failure is logged (requests then build what they
        need themselves), never raised."""
        if self._prepare is None:
            return
        started = time.perf_counter()
        try:
            self._prepare(mart)
        except Exception:
            log.exception("could not prepare mart batch %s", mart.batch_id)
        else:
            log.info("mart batch %s prepared in %.2f s", mart.batch_id,
                     time.perf_counter() - started)
