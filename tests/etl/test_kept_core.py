"""The core's document tables kept between runs (``etl.kept_core``): a full run keeps every
one whole; a run that needs every row of one reads again only the rows the audit log names
and gets the database's rows; a copy it cannot trust is read from the database."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from sqlalchemy import Engine, insert, text

from core.audit import AuditLog
from etl import kept_core
from etl import run as etl_run
from etl.batch_folder import KEPT_CORE_DIR
from etl.changes import watermark
from etl.extract import CoreReader, core_reader
from etl.publish import MartTarget
from etl.spill import Spill
from tests.etl.conftest import MakeTarget
from tests.etl.marts import assert_same_batch
from tests.etl.test_incremental import change_acme, seed


def _database_rows(engine: Engine) -> dict[str, pl.DataFrame]:
    """Every kept table as the database holds it now, rows by id."""
    with core_reader(engine) as reader:
        core = reader.extract(etl_run.KEPT_COLUMNS)
    return {name: core[name].sort("id") for name in etl_run.KEPT_COLUMNS}


def _kept(target: MartTarget, spill: Spill,
          columns: dict[str, tuple[str, ...]] | None = None) -> dict[str, kept_core.KeptTable]:
    return kept_core.load(spill, target.parquet_dir, columns or etl_run.KEPT_COLUMNS)


def _manifest(target: MartTarget) -> dict[str, Any]:
    folder = target.parquet_dir / KEPT_CORE_DIR
    tables: dict[str, Any] = json.loads((folder / kept_core.MANIFEST).read_text())["tables"]
    return tables


def test_a_full_run_keeps_every_document_table_whole(
    isolated_engine: Engine, make_target: MakeTarget, tmp_path: Path
) -> None:
    seed(isolated_engine)
    target = make_target("mart")
    etl_run.run_etl(isolated_engine, target, full=True)

    with Spill(tmp_path, "test") as spill:
        kept = _kept(target, spill)
        assert set(kept) == set(etl_run.KEPT_COLUMNS)
        assert {table.seq for table in kept.values()} == {watermark(isolated_engine)}
        for name, rows in _database_rows(isolated_engine).items():
            assert kept[name].frame.sort("id").equals(rows), name
    assert {"invoice", "invoice_line", "payment", "allocation"} <= set(kept)


def test_a_refresh_puts_the_changed_rows_in_place_of_the_kept_ones(
    isolated_engine: Engine, make_target: MakeTarget, tmp_path: Path
) -> None:
    seeded = seed(isolated_engine)
    target = make_target("mart")
    etl_run.run_etl(isolated_engine, target, full=True)
    change_acme(isolated_engine, seeded)  # rows inserted and updated through the services
    with isolated_engine.begin() as conn:  # and a row deleted (with the row the ORM logs)
        gone = conn.execute(text("SELECT max(id) FROM shipment_line")).scalar_one()
        conn.execute(text("DELETE FROM shipment_line WHERE id = :id"), {"id": gone})
        conn.execute(insert(AuditLog).values(actor="test", entity="shipment_line",
                                             entity_id=gone, action="delete"))
    upto = watermark(isolated_engine)

    with Spill(tmp_path, "test") as spill, core_reader(isolated_engine) as reader:
        kept = _kept(target, spill)
        refresh = kept_core.Refresh(kept, reader, upto, spill)
        now = {name: refresh(name) for name in etl_run.KEPT_COLUMNS}
        assert refresh.refreshed == now
        for name, rows in _database_rows(isolated_engine).items():
            frame = now[name]
            assert frame is not None and frame.sort("id").equals(rows), name
        assert now["quote"] is kept["quote"].frame  # nothing changed: the kept rows as such
        assert now["invoice"] is not kept["invoice"].frame
        lines = now["shipment_line"]
        assert lines is not None and gone not in lines["id"].to_list()


def test_a_broad_run_reads_only_the_changed_rows_of_the_kept_tables(
    isolated_engine: Engine, make_target: MakeTarget, monkeypatch: pytest.MonkeyPatch
) -> None:
    seeded = seed(isolated_engine)
    incremental, full = make_target("incremental"), make_target("full")
    etl_run.run_etl(isolated_engine, incremental, full=True)
    etl_run.run_etl(isolated_engine, full, full=True)  # the same keys in both marts
    before = _manifest(incremental)
    change_acme(isolated_engine, seeded)  # one customer of two: read whole, cut here
    statements: list[str] = []
    real_read = CoreReader._read

    def spied(self, sql, *args, **kwargs):  # type: ignore[no-untyped-def]
        statements.append(sql)
        return real_read(self, sql, *args, **kwargs)

    monkeypatch.setattr(CoreReader, "_read", spied)
    result = etl_run.run_etl(isolated_engine, incremental)
    monkeypatch.undo()
    reference = etl_run.run_etl(isolated_engine, full, full=True)

    assert result.mode == "incremental"
    whole_reads = [sql for sql in statements
                   if 'FROM "invoice"' in sql and "WHERE" not in sql]
    assert whole_reads == []
    assert any('FROM "invoice" WHERE ("id" IN' in sql for sql in statements)
    after = _manifest(incremental)
    assert after["invoice"]["seq"] == result.watermark_seq > before["invoice"]["seq"]
    assert after["invoice"]["files"] != before["invoice"]["files"]
    assert_same_batch(incremental, result.batch_id, full, reference.batch_id)
    assert sorted(p.name for p in (incremental.parquet_dir / KEPT_CORE_DIR).iterdir()) == \
        sorted({kept_core.MANIFEST} | {file for entry in after.values()
                                       for file in entry["files"]})


@pytest.mark.parametrize("damage", ["another boot", "other columns", "a file missing",
                                    "a damaged manifest"])
def test_a_kept_copy_that_cannot_be_trusted_is_not_used(
    isolated_engine: Engine, make_target: MakeTarget, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, damage: str
) -> None:
    seed(isolated_engine)
    target = make_target("mart")
    etl_run.run_etl(isolated_engine, target, full=True)
    folder = target.parquet_dir / KEPT_CORE_DIR
    columns = dict(etl_run.KEPT_COLUMNS)
    if damage == "another boot":
        monkeypatch.setattr(kept_core, "boot", lambda: "another boot")
    elif damage == "other columns":
        columns["invoice"] = (*columns["invoice"], "notes")
    elif damage == "a file missing":
        (folder / _manifest(target)["invoice"]["files"][0]).unlink()
    else:
        (folder / kept_core.MANIFEST).write_text("{not json")

    with Spill(tmp_path, "test") as spill:
        kept = _kept(target, spill, columns)
    whole = damage in ("another boot", "a damaged manifest")
    assert set(kept) == (set() if whole else set(etl_run.KEPT_COLUMNS) - {"invoice"})
