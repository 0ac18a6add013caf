"""A batch as a folder of Parquet files: ``<mart_dir>/<batch_id>/``, complete on its own.

One file ``<table>.parquet`` per table, except the large facts of ``PARTITIONED``: a folder
``<table>/`` with one Hive partition per month (``month_key=YYYYMM/…``). A batch is written
into ``.tmp-<batch_id>/`` and renamed into place, so a folder under its batch id is whole.

An incremental batch writes only what changed: tables and month partitions identical to the
previous batch are hard links to its files (copies where the file system cannot link), so
every folder stays complete and the previous one is never modified.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from etl.conform import conform, polars_schema
from etl.schema import mart


@dataclass(frozen=True)
class Partitioning:
    """A large fact's Hive partitions: one per month (YYYYMM) in its ``column``; where the
    table has no such column, one of that name made of its date key ``month_of``
    (YYYYMMDD), which readers drop again (``conform`` keeps the mart's columns). The month
    is of the first column of the builder's row order, so the partitions read in order
    hold the rows in that order."""

    column: str
    month_of: str | None = None

    def months(self) -> pl.Expr:
        """The month of each row."""
        if self.month_of is None:
            return pl.col(self.column)
        return (pl.col(self.month_of) // 100).alias(self.column)


PARTITIONED = {
    "fct_sales_line": Partitioning("month_key"),
    "fct_freight_cost": Partitioning("month_key"),
    "fct_booking": Partitioning("month_key"),
    "fct_ar_item": Partitioning("document_month_key", month_of="document_date_key"),
}
"""The facts written a month at a time, so that an incremental batch writes only the
months whose rows changed and links the others (at 10M lines one disputed invoice wrote all
5.5M AR items again, ~1 s)."""
STAGING_PREFIX = ".tmp-"
SPILL_SUFFIX = ".spill"
"""``<mart_dir>/.tmp-<batch_id>.spill/``: a run's spill folder (``etl.spill``)."""
SERVING_DIR = ".serving"
"""``<mart_dir>/.serving/<batch_id>/``: the app's memory-mapped copy of a batch
(``dashboard.mart_reader``), swept with the batch."""
KEPT_CORE_DIR = ".core"
"""``<mart_dir>/.core/``: the core's document tables kept between runs (``etl.kept_core``),
never swept."""
PRIOR_DIR = ".prior"
"""``<mart_dir>/.prior/<batch_id>/``: the published batch's tables as its run left them, for
the next run (``etl.prior``), swept with the batch."""


def write_batch(parquet_dir: Path, batch_id: str, tables: Mapping[str, pl.DataFrame], *,
                previous: Path | None = None, unchanged: Collection[str] = (),
                months: Mapping[str, Collection[int]] | None = None) -> Path:
    """Write ``tables`` as batch ``batch_id`` and rename it into place.

    With ``previous`` (a batch folder): the ``unchanged`` tables are linked from it, and of
    a partitioned table listed in ``months`` only those months are written from the frame,
    the other partitions linked. Without it every table is written whole.
    """
    parquet_dir.mkdir(parents=True, exist_ok=True)
    staging = parquet_dir / f"{STAGING_PREFIX}{batch_id}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    changed_months = months or {}
    for name, frame in tables.items():
        partitioning = PARTITIONED.get(name)
        reuse = previous is not None and name in unchanged
        if partitioning is None and reuse:
            link_file(previous / f"{name}.parquet", staging / f"{name}.parquet")  # type: ignore[operator]
        elif partitioning is None:
            frame.write_parquet(staging / f"{name}.parquet")
        elif reuse:
            _link_tree(previous / name, staging / name)  # type: ignore[operator]
        elif previous is not None and name in changed_months:
            _write_months(frame, staging / name, partitioning, changed_months[name],
                          keep_from=previous / name)
        else:
            _write_partitioned(frame, staging / name, partitioning)
    final = parquet_dir / batch_id
    staging.rename(final)
    return final


def _write_partitioned(frame: pl.DataFrame, folder: Path, partitioning: Partitioning) -> None:
    if frame.is_empty():
        folder.mkdir()
        return
    frame.with_columns(partitioning.months()).write_parquet(
        folder, partition_by=partitioning.column)


def _write_months(frame: pl.DataFrame, folder: Path, partitioning: Partitioning,
                  months: Collection[int], keep_from: Path) -> None:
    """The partitions of ``months`` from ``frame``; every other one linked from
    ``keep_from`` (a month emptied by the change is simply not there any more)."""
    wanted = set(months)
    _write_partitioned(frame.filter(partitioning.months().is_in(sorted(wanted))), folder,
                       partitioning)
    for partition in keep_from.iterdir():
        if int(partition.name.split("=", 1)[1]) not in wanted:
            _link_tree(partition, folder / partition.name)


def link_file(source: Path, target: Path) -> None:
    """``target`` as a hard link to ``source`` (a copy where the file system cannot link)."""
    try:
        os.link(source, target)
    except OSError:  # another file system, or links not supported
        shutil.copy2(source, target)


def _link_tree(source: Path, target: Path) -> None:
    shutil.copytree(source, target, copy_function=_link_or_copy)


def _link_or_copy(source: str, target: str) -> None:
    link_file(Path(source), Path(target))


def _table_path(folder: Path, name: str) -> Path:
    """Where table ``name`` is in a batch folder: a folder of partitions or one file."""
    return folder / name if name in PARTITIONED else folder / f"{name}.parquet"


def has_tables(parquet_dir: Path, batch_id: str, names: Iterable[str]) -> bool:
    """Whether batch ``batch_id``'s folder holds every table of ``names`` (mart tables)."""
    folder = parquet_dir / batch_id
    return all(name in mart.tables and _table_path(folder, name).exists() for name in names)


def read_batch(parquet_dir: Path, batch_id: str,
               names: Iterable[str] | None = None,
               keep: Callable[[str, pl.LazyFrame], pl.DataFrame] | None = None,
               ) -> dict[str, pl.DataFrame] | None:
    """The tables ``names`` (default: all in the folder) of a published batch, conformed to
    the mart's columns and dtypes; ``None`` when the folder or one of them is missing.
    ``keep`` (e.g. ``etl.spill.Spill.keep``) is given each table's query and returns the
    frame to hold (without it each table is read into memory)."""
    folder = parquet_dir / batch_id
    if not folder.is_dir():
        return None
    if names is None:
        names = sorted({p.name.removesuffix(".parquet") for p in folder.iterdir()})
    if not has_tables(parquet_dir, batch_id, names):
        return None
    tables = {}
    for name in names:
        path = _table_path(folder, name)
        if name in PARTITIONED and not any(path.iterdir()):
            scan = pl.LazyFrame(schema=polars_schema(mart.tables[name]))
        else:
            scan = pl.scan_parquet(path, hive_partitioning=name in PARTITIONED)
        query = conform(scan, mart.tables[name])
        tables[name] = keep(name, query) if keep else query.collect()
    return tables


def sweep(parquet_dir: Path, keep: Collection[str], live: str | None = None) -> None:
    """Remove every batch folder but ``keep``, staging leftovers but those of ``keep`` (none
    here: a batch is published after its staging folder is renamed) and every spill folder
    but the ``live`` run's (a run that just published still links its files:
    ``etl.prior``), and the same in the serving copies and the previous runs' tables."""
    if not parquet_dir.is_dir():
        return
    for path in parquet_dir.iterdir():
        if path.name in (SERVING_DIR, PRIOR_DIR):
            sweep(path, keep)
        elif path.name == KEPT_CORE_DIR:
            continue
        elif path.name.endswith(SPILL_SUFFIX):
            if live is None or path.name != f"{STAGING_PREFIX}{live}{SPILL_SUFFIX}":
                shutil.rmtree(path, ignore_errors=True)
        elif path.is_dir() and path.name.removeprefix(STAGING_PREFIX) not in keep:
            shutil.rmtree(path, ignore_errors=True)
