"""The published batch's tables kept as its run left them, so that the next run maps them
instead of reading the Parquet batch back.

An incremental run needs the previous batch's tables whole (its facts are merged into them,
every check reads them). Read from Parquet and spilled, that was 57M rows decoded and
written again at 10M lines: 8.7 s of a 33 s one-invoice save. A run's tables are already
uncompressed Arrow files in its spill (``etl.spill``), so once its batch is published
``hand_over`` hard-links them into ``<mart_dir>/.prior/<batch_id>/`` (writing only the
tables held on the heap: the dimensions) with a manifest written last; ``load`` maps them
back in the next run. A batch without a complete manifest, kept before the machine last
started (its files were never synced: the page cache they were in is gone), or with a table
whose columns no longer match the mart, is read from its Parquet as before. Only the
newest batch's tables are kept (6.3 GB at 10M lines, on the mart's disk).
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path

import polars as pl
import pyarrow as pa

from etl.batch_folder import PRIOR_DIR, STAGING_PREFIX, link_file
from etl.conform import polars_schema
from etl.schema import mart
from etl.spill import Spill

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


def boot() -> str:
    """This boot of the machine (Linux); "" where the kernel does not say."""
    try:
        return BOOT_ID.read_text().strip()
    except OSError:
        return ""


def hand_over(spill: Spill, tables: Mapping[str, pl.DataFrame], parquet_dir: Path,
              batch_id: str) -> None:
    """Keep ``tables`` (batch ``batch_id``, just published) for the next run and drop the
    tables kept for earlier batches. A failure here costs the next run a Parquet read,
    never the published batch: it is logged, and what was half written is removed."""
    root = parquet_dir / PRIOR_DIR
    staging = root / f"{STAGING_PREFIX}{batch_id}"
    try:
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        listing: dict[str, list[str]] = {}
        for name, frame in tables.items():
            files = spill.files_of(frame)
            if files is None:  # on the heap
                frame.write_ipc(staging / f"{name}.0.arrow", compression="uncompressed")
                listing[name] = [f"{name}.0.arrow"]
                continue
            listing[name] = []
            for number, path in enumerate(files):
                link_file(path, staging / f"{name}.{number}.arrow")
                listing[name].append(f"{name}.{number}.arrow")
        (staging / MANIFEST).write_text(json.dumps(
            {"batch_id": batch_id, "boot": boot(), "tables": listing}))
        staging.rename(root / batch_id)
    except Exception as error:  # noqa: BLE001 - best effort: the batch is published already
        log.warning("the tables of batch %s are not kept for the next run: %s", batch_id, error)
        shutil.rmtree(staging, ignore_errors=True)
        return
    for entry in root.iterdir():
        if entry.name != batch_id:
            shutil.rmtree(entry, ignore_errors=True)


def load(spill: Spill, parquet_dir: Path, batch_id: str,
         names: Iterable[str]) -> dict[str, pl.DataFrame] | None:
    """The tables ``names`` of batch ``batch_id`` as its run handed them over, mapped (and
    known to ``spill`` as held by their files); None when they were not all kept whole or
    one's columns differ from the mart's (the caller reads the Parquet batch)."""
    folder = parquet_dir / PRIOR_DIR / batch_id
    try:
        listing = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(listing, dict) or listing.get("batch_id") != batch_id \
            or not listing.get("boot") or listing["boot"] != boot():
        return None
    kept = listing.get("tables")
    if not isinstance(kept, dict):
        return None
    tables = {}
    for name in names:
        if not kept.get(name) or name not in mart.tables:
            return None
        paths = [folder / file for file in kept[name]]
        try:
            frame = spill.adopt(paths)
        except (OSError, pa.ArrowInvalid, pl.exceptions.PolarsError):
            return None
        if frame.schema != pl.Schema(polars_schema(mart.tables[name])):
            log.info("kept %s of batch %s has other columns than the mart's", name, batch_id)
            return None
        tables[name] = frame
    return tables
