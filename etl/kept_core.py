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
``seq`` — every such row its snapshot sees, so the table is the snapshot's, as the tables
it reads from the database are (``CoreReader.rows_by_id``) — and puts them in place of the
kept ones, then hands the table over with the run's watermark as its ``seq``. Tables a run
does not read whole keep their files and ``seq``; the next run that needs them catches up
from there.

The kept rows are the database's as long as every change of a document table is audited:
the services write through the ORM session, which logs every insert, update and delete
(``core.audit``). A change made around them (a bulk load, a fix by hand in SQL) needs
``salesbi etl run --full``, which keeps every table afresh; a kept copy is not used after
a migration (the core's Alembic revision is in the manifest), after the machine restarted
(its files were never synced, as ``etl.prior``; a machine that does not name its boot
keeps nothing), with other columns than the run reads, or with a ``seq`` past the
watermark (the core database was replaced). Until the next full run keeps them again, a
run reads those tables from the database.

The manifest is written under a temporary name and renamed, so a crash leaves the previous
one whole with its files; new files get names no manifest holds yet, and files no manifest
names are removed after each hand-over.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Collection, Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
from sqlalchemy import Engine, inspect, select, text

from core.audit import AuditLog
from etl.batch_folder import KEPT_CORE_DIR, link_file
from etl.extract import CoreReader
from etl.prior import boot
from etl.spill import Spill

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"


class KeptTable:
    """A kept table: every row as of audit ``seq`` (and maybe later changes) in ``files``,
    mapped when a run first asks for its ``frame`` — a run that reads no table whole (a
    form's save) maps none: at 10M lines with a cold page cache 0.8 s of a save."""

    def __init__(self, seq: int, columns: Sequence[str], files: Sequence[Path],
                 spill: Spill) -> None:
        self.seq = seq
        self.columns = tuple(columns)
        self.files = tuple(files)
        self._spill = spill

    @cached_property
    def frame(self) -> pl.DataFrame | None:
        """The rows, mapped (and known to the run's spill as held by their files); None
        when a file is unreadable or holds other columns (the run reads the database)."""
        try:
            frame = self._spill.adopt(self.files)
        except (OSError, pa.ArrowInvalid, pl.exceptions.PolarsError):
            log.info("kept core table %s is unreadable: it is read from the database",
                     self.files[0].name.split(".", 1)[0])  # <table>.<token>.<n>.arrow
            return None
        return frame if frame.columns == list(self.columns) else None


def stamp(core_engine: Engine) -> dict[str, str]:
    """What a kept copy must have been made under to be used: this boot of the machine and
    the core database's Alembic revision (a migration may rewrite rows unaudited)."""
    revision = ""
    if inspect(core_engine).has_table("alembic_version"):
        with core_engine.connect() as conn:
            revision = ",".join(sorted(conn.scalars(text(
                "SELECT version_num FROM alembic_version"))))
    return {"boot": boot(), "revision": revision}


def load(spill: Spill, parquet_dir: Path, columns: Mapping[str, Collection[str]],
         made_under: Mapping[str, str], upto: int) -> dict[str, KeptTable]:
    """The tables kept in ``parquet_dir`` with the columns ``columns[name]``, every file
    in place and a ``seq`` not past ``upto`` (else the core database was replaced), to be
    mapped into ``spill`` when used; none when the manifest is missing or damaged, or was
    not made under ``made_under`` (``stamp``)."""
    folder = parquet_dir / KEPT_CORE_DIR
    kept = {}
    for name, entry in _trusted(folder, columns, made_under).items():
        files = [folder / file for file in entry["files"]]
        if entry["seq"] <= upto and all(path.is_file() for path in files):
            kept[name] = KeptTable(entry["seq"], entry["columns"], files, spill)
        else:
            log.info("kept core table %s is not used: it is read from the database", name)
    return kept


class Refresh:
    """``etl.extract.Whole`` of one run: a kept table with every row the audit log names
    past its ``seq`` read again — all the run's snapshot sees, so the table is the
    snapshot's, as the tables read from the database are (``refreshed`` holds what it
    gave, for ``hand_over``)."""

    def __init__(self, kept: Mapping[str, KeptTable], reader: CoreReader,
                 spill: Spill) -> None:
        self.kept = kept
        self.reader = reader
        self.spill = spill
        self.refreshed: dict[str, pl.DataFrame] = {}
        self._lock = threading.Lock()

    def __call__(self, name: str) -> pl.DataFrame | None:
        kept = self.kept.get(name)
        frame = None if kept is None else kept.frame
        if kept is None or frame is None:
            return None
        ids = changed_ids(self.reader, name, kept.seq)
        if ids:
            fresh = self.reader.rows_by_id(name, frame.columns, ids)
            listed = pl.Series(sorted(ids), dtype=pl.Int64).implode()
            frame = self.spill.keep(f"kept.{name}", pl.concat(
                [frame.filter(~pl.col("id").is_in(listed)), fresh.select(frame.columns)]))
        with self._lock:
            self.refreshed[name] = frame
        return frame


def changed_ids(reader: CoreReader, name: str, after: int) -> list[int]:
    """The ids of core table ``name``'s rows the audit log names past ``after`` (as
    ``reader``'s snapshot sees it): inserted, changed or deleted."""
    audit = AuditLog.__table__
    rows = reader.query(select(audit.c.entity_id.label("id")).distinct().where(
        audit.c.entity == name, audit.c.seq > after))
    return [int(i) for i in rows["id"]]


def hand_over(spill: Spill, frames: Mapping[str, pl.DataFrame], seq: int, parquet_dir: Path,
              columns: Mapping[str, Collection[str]], made_under: Mapping[str, str]) -> None:
    """Keep ``frames`` (every row of each table, every change up to ``seq`` in) for later
    runs, in place of the tables' earlier copies; the other kept tables stay as they are
    while they have ``columns`` and were made under ``made_under``. A failure is logged
    and costs a later run a read from the database, never this run. A machine that does
    not name its boot keeps nothing (no later run could trust it)."""
    if not frames or not made_under.get("boot"):
        return
    folder = parquet_dir / KEPT_CORE_DIR
    token = uuid.uuid4().hex[:12]  # new files never overwrite ones a manifest names
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tables = _trusted(folder, columns, made_under)
        for name, frame in frames.items():
            files = spill.files_of(frame)
            if files is None:  # on the heap
                names = [f"{name}.{token}.0.arrow"]
                frame.write_ipc(folder / names[0], compression="uncompressed")
            else:
                names = [f"{name}.{token}.{number}.arrow" for number in range(len(files))]
                for path, target in zip(files, names, strict=True):
                    link_file(path, folder / target)
            tables[name] = {"seq": seq, "columns": frame.columns, "files": names}
        staging = folder / f".{MANIFEST}"
        staging.write_text(json.dumps({**made_under, "tables": tables}))
        staging.rename(folder / MANIFEST)
    except Exception as error:  # noqa: BLE001 - best effort: a later run reads the database
        log.warning("the core tables are not kept for later runs: %s", error)
        return
    listed = {file for entry in tables.values() for file in entry["files"]} | {MANIFEST}
    for path in folder.iterdir():
        if path.name not in listed:
            path.unlink(missing_ok=True)


def _trusted(folder: Path, columns: Mapping[str, Collection[str]],
             made_under: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """The manifest's entries of tables with ``columns``, if it was made under
    ``made_under`` on a machine that names its boot; none otherwise."""
    listing = _manifest(folder)
    if listing is None or not made_under.get("boot") or any(
            listing.get(key) != value for key, value in made_under.items()):
        return {}
    trusted = {}
    for name, entry in listing["tables"].items():
        try:
            fits = set(entry["columns"]) == set(columns.get(name, ())) and isinstance(
                entry["seq"], int) and all(isinstance(f, str) for f in entry["files"])
        except (KeyError, TypeError):
            fits = False
        if fits:
            trusted[name] = entry
    return trusted


def _manifest(folder: Path) -> dict[str, Any] | None:
    try:
        listing = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(listing, dict) or not isinstance(listing.get("tables"), dict):
        return None
    return listing
