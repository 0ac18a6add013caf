"""The core's document tables kept between runs (``etl.kept_core``): a full run keeps every
one whole; a run that needs every row of one reads again only the rows the audit log names
and gets the database's rows; a copy it cannot trust is read from the database."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from sqlalchemy import Engine, insert, text

from core.audit import AuditLog, set_actor
from core.billing.models import PaymentMethod
from core.billing.payments import record_payment
from core.db import make_session_factory, transaction
from etl import kept_core
from etl import run as etl_run
from etl.batch_folder import KEPT_CORE_DIR, sweep
from etl.changes import watermark
from etl.extract import CoreReader, CustomerRows, core_reader
from etl.publish import MartTarget
from etl.spill import Spill
from tests.core.world import FINANCE
from tests.etl.conftest import MakeTarget
from tests.etl.marts import assert_same_batch
from tests.etl.test_incremental import Seeded, change_acme, seed


def _database_rows(engine: Engine) -> dict[str, pl.DataFrame]:
    """Every kept table as the database holds it now, rows by id."""
    with core_reader(engine) as reader:
        core = reader.extract(etl_run.KEPT_COLUMNS)
    return {name: core[name].sort("id") for name in etl_run.KEPT_COLUMNS}


def _kept(engine: Engine, target: MartTarget, spill: Spill,
          columns: dict[str, tuple[str, ...]] | None = None,
          made_under: dict[str, str] | None = None,
          upto: int | None = None) -> dict[str, kept_core.KeptTable]:
    return kept_core.load(spill, target.parquet_dir, columns or etl_run.KEPT_COLUMNS,
                          made_under or kept_core.stamp(engine),
                          watermark(engine) if upto is None else upto)


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

    sweep(target.parquet_dir, keep=set())  # (not a batch folder)
    with Spill(tmp_path, "test") as spill:
        kept = _kept(isolated_engine, target, spill)
        assert set(kept) == set(etl_run.KEPT_COLUMNS)
        assert {table.seq for table in kept.values()} == {watermark(isolated_engine)}
        for name, rows in _database_rows(isolated_engine).items():
            frame = kept[name].frame
            assert frame is not None and frame.sort("id").equals(rows), name
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

    with Spill(tmp_path, "test") as spill, core_reader(isolated_engine) as reader:
        kept = _kept(isolated_engine, target, spill)
        refresh = kept_core.Refresh(kept, reader, spill)
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
    seeded, incremental, full = _seeded_twins(isolated_engine, make_target)
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


def test_a_change_committed_after_the_watermark_is_in_the_kept_rows_too(
    isolated_engine: Engine, make_target: MakeTarget, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The run's snapshot may see changes past its watermark: the kept tables are read up
    to the snapshot, as every other table is (else the totals would not match)."""
    seeded = seed(isolated_engine)
    target = make_target("mart")
    etl_run.run_etl(isolated_engine, target, full=True)
    change_acme(isolated_engine, seeded)
    real_watermark = etl_run.watermark

    def then_a_payment(engine: Engine) -> int:  # posted between watermark and snapshot
        upto = real_watermark(engine)
        _pay(engine, seeded, "7")
        return upto

    monkeypatch.setattr(etl_run, "watermark", then_a_payment)
    result = etl_run.run_etl(isolated_engine, target)

    assert result.mode == "incremental"
    assert _manifest(target)["payment"]["seq"] == result.watermark_seq


def test_a_broad_run_after_a_narrow_one_catches_the_kept_tables_up(
    isolated_engine: Engine, make_target: MakeTarget, monkeypatch: pytest.MonkeyPatch
) -> None:
    seeded, incremental, full = _seeded_twins(isolated_engine, make_target)
    kept_seq = _manifest(incremental)["invoice"]["seq"]
    change_acme(isolated_engine, seeded)
    mapped: list[Path] = []
    real_adopt = Spill.adopt

    def adopt(self: Spill, files: list[Path]) -> pl.DataFrame:
        mapped.extend(files)
        return real_adopt(self, files)

    with monkeypatch.context() as narrow:  # the database filters: nothing kept
        narrow.setattr(CustomerRows, "broad", lambda self, count: False)
        narrow.setattr(Spill, "adopt", adopt)
        etl_run.run_etl(isolated_engine, incremental)
    assert _manifest(incremental)["invoice"]["seq"] == kept_seq
    assert mapped  # the previous batch's tables were
    assert [path for path in mapped if path.parent.name == KEPT_CORE_DIR] == []  # not even
    _pay(isolated_engine, seeded, "3")

    result = etl_run.run_etl(isolated_engine, incremental)  # both changes from the kept seq
    reference = etl_run.run_etl(isolated_engine, full, full=True)

    assert _manifest(incremental)["invoice"]["seq"] == result.watermark_seq
    assert_same_batch(incremental, result.batch_id, full, reference.batch_id)


def _seeded_twins(engine: Engine,
                  make_target: MakeTarget) -> tuple[Seeded, MartTarget, MartTarget]:
    """The seed, and two marts after a full run each (the same keys in both): one for
    incremental runs, one for the full runs they are compared with."""
    seeded = seed(engine)
    incremental, full = make_target("incremental"), make_target("full")
    etl_run.run_etl(engine, incremental, full=True)
    etl_run.run_etl(engine, full, full=True)
    return seeded, incremental, full


def _pay(engine: Engine, seeded: Seeded, amount: str) -> None:
    with transaction(make_session_factory(engine)) as session:
        set_actor(session, "user")
        record_payment(session, FINANCE, seeded.world.customer.id, amount=Decimal(amount),
                       currency="USD", received_date=date(2025, 3, 5),
                       method=PaymentMethod.BANK_TRANSFER)


@pytest.mark.parametrize("damage", [
    "another boot", "no boot named", "another core revision", "a seq past the watermark",
    "other columns", "a file missing", "a damaged file", "a damaged manifest"])
def test_a_kept_copy_that_cannot_be_trusted_is_not_used(
    isolated_engine: Engine, make_target: MakeTarget, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, damage: str
) -> None:
    seed(isolated_engine)
    target = make_target("mart")
    etl_run.run_etl(isolated_engine, target, full=True)
    folder = target.parquet_dir / KEPT_CORE_DIR
    columns = dict(etl_run.KEPT_COLUMNS)
    made_under = kept_core.stamp(isolated_engine)
    upto = watermark(isolated_engine)
    if damage == "another boot":
        made_under["boot"] = "another boot"
    elif damage == "no boot named":
        monkeypatch.setattr(kept_core, "boot", lambda: "")
        etl_run.run_etl(isolated_engine, target, full=True)  # kept where no boot is named
        made_under = kept_core.stamp(isolated_engine)
    elif damage == "another core revision":
        made_under["revision"] = "0004_after_a_migration"
    elif damage == "a seq past the watermark":
        upto -= 1  # the core database was replaced by an older one
    elif damage == "other columns":
        columns["invoice"] = (*columns["invoice"], "notes")
    elif damage == "a file missing":
        (folder / _manifest(target)["invoice"]["files"][0]).unlink()
    elif damage == "a damaged file":
        with (folder / _manifest(target)["invoice"]["files"][0]).open("r+b") as file:
            file.truncate(64)
    else:
        (folder / kept_core.MANIFEST).write_text("{not json")

    with Spill(tmp_path, "test") as spill:
        kept = _kept(isolated_engine, target, spill, columns, made_under, upto)
        usable = {name for name, table in kept.items() if table.frame is not None}
    some = damage in ("other columns", "a file missing", "a damaged file")
    assert usable == (set(etl_run.KEPT_COLUMNS) - {"invoice"} if some else set())
