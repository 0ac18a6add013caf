"""The core's document tables kept whole between runs, so that an incremental run of many
customers takes their rows from here instead of reading every row from the database again.

An incremental run that rebuilds more than a quarter of the customers reads the document
tables whole and cuts them (``etl.extract.CustomerRows.broad``): at 10M lines, 1 % of the
invoices disputed touched 35 % of the customers and read invoices, payments, allocations,
credit notes and orders whole, 13 s. A full run has read every one of those tables whole
already, into its spill; ``hand_over`` hard-links them into ``<mart_dir>/.core/`` with a
manifest that says, per table, its columns and ``seq``: the audit watermark up to which
every change is in it. A later run that needs every row of a kept table (``Refresh``)
reads again only the rows the audit log names as inserted, changed or deleted since that
``seq`` (``CoreReader.rows_by_id``, in the run's snapshot) and puts them in place of the
kept ones, then hands the table over with its new ``seq``. Tables a run does not read whole
keep their files and ``seq``; the next run that needs them catches up from there.

The kept rows are the database's as long as every change of a document table is audited:
the services write through the ORM session, which logs every insert, update and delete
(``core.audit``). A change made around them (a data migration, a bulk load) needs
``salesbi etl run --full``, which keeps every table afresh. A table kept with other columns
than the run reads, or kept before the machine last started (its files were never synced,
as ``etl.prior``), is read from the database.

The manifest is written under a temporary name and renamed, so a crash leaves the previous
one whole with its files; files no manifest names are removed after each hand-over.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
from sqlalchemy import select

from core.audit import AuditLog
from etl.batch_folder import KEPT_CORE_DIR, link_file
from etl.extract import CoreReader
from etl.prior import boot
from etl.spill import Spill, mapped

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"


@dataclass(frozen=True)
class KeptTable:
    """A kept table: every row as of audit ``seq`` (and maybe later changes), mapped."""

    seq: int
    frame: pl.DataFrame


def load(spill: Spill, parquet_dir: Path,
         columns: Mapping[str, Sequence[str]]) -> dict[str, KeptTable]:
    """The tables kept in ``parquet_dir`` whose columns are ``columns[name]``, mapped (and
    known to ``spill`` as held by their files); none when the manifest is missing, damaged
    or from before the machine last started."""
    folder = parquet_dir / KEPT_CORE_DIR
    listing = _manifest(folder)
    if listing is None or listing.get("boot") != boot():
        return {}
    kept = {}
    for name, entry in listing["tables"].items():
        try:
            if set(entry["columns"]) != set(columns.get(name, ())):
                continue
            paths = [folder / file for file in entry["files"]]
            frame = pl.concat([mapped(path) for path in paths], rechunk=False)
            seq = int(entry["seq"])
        except (KeyError, TypeError, ValueError, OSError, pa.ArrowInvalid,
                pl.exceptions.PolarsError):
            log.info("kept core table %s is unreadable: it is read from the database", name)
            continue
        if frame.columns != list(entry["columns"]):
            continue
        kept[name] = KeptTable(seq, spill.adopt(frame, paths))
    return kept


class Refresh:
    """``etl.extract.Whole`` of one run: a kept table with the rows changed up to ``upto``
    read again (``refreshed`` holds what it gave, for ``hand_over``)."""

    def __init__(self, kept: Mapping[str, KeptTable], reader: CoreReader, upto: int,
                 spill: Spill) -> None:
        self.kept = kept
        self.reader = reader
        self.upto = upto
        self.spill = spill
        self.refreshed: dict[str, pl.DataFrame] = {}
        self._lock = threading.Lock()

    def __call__(self, name: str) -> pl.DataFrame | None:
        kept = self.kept.get(name)
        if kept is None:
            return None
        ids = changed_ids(self.reader, name, kept.seq, self.upto)
        frame = kept.frame
        if ids:
            fresh = self.reader.rows_by_id(name, frame.columns, ids)
            listed = pl.Series(sorted(ids), dtype=pl.Int64).implode()
            frame = self.spill.keep(f"kept.{name}", pl.concat(
                [frame.filter(~pl.col("id").is_in(listed)), fresh.select(frame.columns)]))
        with self._lock:
            self.refreshed[name] = frame
        return frame


def changed_ids(reader: CoreReader, name: str, after: int, upto: int) -> list[int]:
    """The ids of core table ``name``'s rows the audit log names in (``after``, ``upto``]:
    inserted, changed or deleted."""
    audit = AuditLog.__table__
    rows = reader.query(select(audit.c.entity_id.label("id")).distinct().where(
        audit.c.entity == name, audit.c.seq > after, audit.c.seq <= upto))
    return [int(i) for i in rows["id"]]


def hand_over(spill: Spill, frames: Mapping[str, pl.DataFrame], seq: int,
              parquet_dir: Path) -> None:
    """Keep ``frames`` (every row of each table, changes up to ``seq`` in) for later runs,
    in place of the tables' earlier copies; other kept tables stay as they are. A failure
    is logged and costs a later run a read from the database, never this run."""
    if not frames:
        return
    folder = parquet_dir / KEPT_CORE_DIR
    try:
        folder.mkdir(parents=True, exist_ok=True)
        listing = _manifest(folder)
        tables = dict(listing["tables"]) if listing and listing.get("boot") == boot() else {}
        for name, frame in frames.items():
            files = spill.files_of(frame)
            if files is None:  # on the heap
                target = f"{name}.{seq}.0.arrow"
                frame.write_ipc(folder / target, compression="uncompressed")
                names = [target]
            else:
                names = [f"{name}.{seq}.{number}.arrow" for number in range(len(files))]
                for path, target in zip(files, names, strict=True):
                    if path != folder / target:
                        (folder / target).unlink(missing_ok=True)
                        link_file(path, folder / target)
            tables[name] = {"seq": seq, "columns": frame.columns, "files": names}
        staging = folder / f".{MANIFEST}"
        staging.write_text(json.dumps({"boot": boot(), "tables": tables}))
        staging.rename(folder / MANIFEST)
    except Exception as error:  # noqa: BLE001 - best effort: a later run reads the database
        log.warning("the core tables are not kept for later runs: %s", error)
        return
    listed = {file for entry in tables.values() for file in entry["files"]} | {MANIFEST}
    for path in folder.iterdir():
        if path.name not in listed:
            path.unlink(missing_ok=True)


def _manifest(folder: Path) -> dict[str, Any] | None:
    try:
        listing = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(listing, dict) or not isinstance(listing.get("tables"), dict):
        return None
    return listing
