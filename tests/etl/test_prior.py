"""A published run hands its tables over to the next run (``etl.prior``): what is kept
equals the Parquet batch table by table, the next run maps it instead of reading the
Parquet, and anything missing, damaged or of other columns sends the run back to the
Parquet. Handing over can fail without failing the published run."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import Engine, select

from core.actor import Actor, Role
from core.audit import set_actor
from core.billing.invoicing import set_dispute
from core.billing.models import Invoice
from core.db import make_session_factory, transaction
from core.demo import generate_demo
from etl import chunks, prior
from etl import run as etl_run
from etl.batch_folder import PRIOR_DIR, read_batch
from etl.publish import MartTarget, kept_batches, published_batch
from etl.spill import Spill
from tests.etl.conftest import MakeTarget

FINANCE = Actor(user_id=None, role=Role.FINANCE, name="test")


def _dispute_every(engine: Engine, step: int) -> None:
    with transaction(make_session_factory(engine)) as session:
        set_actor(session, "test")
        for invoice_id in session.scalars(select(Invoice.id).where(
                Invoice.status == "posted").order_by(Invoice.id)).all()[::step]:
            set_dispute(session, FINANCE, invoice_id, True)


def _assert_kept_as_published(target: MartTarget, batch_id: str, tmp_path: Path) -> None:
    published = read_batch(target.parquet_dir, batch_id)
    assert published is not None
    with Spill(tmp_path, "check") as spill:
        kept = prior.load(spill, target.parquet_dir, batch_id, published)
        assert kept is not None and set(kept) == set(published)
        for name, frame in published.items():
            assert kept[name].schema == frame.schema, name
            assert kept[name].equals(frame), name
            assert spill.files_of(kept[name]), name  # held by the kept files


def _refuse_parquet(*_args: object, **_kwargs: object) -> None:
    raise AssertionError("the previous batch was read from its Parquet")


def test_the_next_run_maps_the_tables_the_published_run_kept(
        isolated_engine: Engine, make_target: MakeTarget, monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    generate_demo(isolated_engine, customers=60, lines=3000, seed=5)
    monkeypatch.setattr(chunks, "CHUNK_ORDERS", 90)  # facts in chunks and
    monkeypatch.setattr(chunks, "SLICE_ROWS", 700)  # each kept in several files
    target = make_target("kept")
    full = etl_run.run_etl(isolated_engine, target, full=True)
    _assert_kept_as_published(target, full.batch_id, tmp_path)
    _dispute_every(isolated_engine, 4)
    monkeypatch.setattr(etl_run, "read_batch", _refuse_parquet)
    incremental = etl_run.run_etl(isolated_engine, target)
    assert incremental.mode == "incremental" and incremental.customers
    _assert_kept_as_published(target, incremental.batch_id, tmp_path)
    # Only the newest batch's tables are kept.
    assert [p.name for p in (target.parquet_dir / PRIOR_DIR).iterdir()] == [
        incremental.batch_id]


def test_a_damaged_or_outdated_hand_over_is_read_from_the_parquet(
        isolated_engine: Engine, make_target: MakeTarget, tmp_path: Path) -> None:
    generate_demo(isolated_engine, customers=30, lines=1500, seed=3)
    target = make_target("damaged")
    full = etl_run.run_etl(isolated_engine, target, full=True)
    folder = target.parquet_dir / PRIOR_DIR / full.batch_id
    names = ["dim_customer", "fct_ar_item"]
    with Spill(tmp_path, "check") as spill:
        assert prior.load(spill, target.parquet_dir, full.batch_id, names) is not None
        assert prior.load(spill, target.parquet_dir, "another-batch", names) is None
        listing = json.loads((folder / prior.MANIFEST).read_text())
        (folder / listing["tables"]["fct_ar_item"][0]).unlink()
        pl.DataFrame({"other": [1]}).write_ipc(folder / listing["tables"]["dim_customer"][0])
        assert prior.load(spill, target.parquet_dir, full.batch_id, ["dim_customer"]) is None
        assert prior.load(spill, target.parquet_dir, full.batch_id, ["fct_ar_item"]) is None
        (folder / prior.MANIFEST).write_text("{not json")
        assert prior.load(spill, target.parquet_dir, full.batch_id, names) is None
        (folder / prior.MANIFEST).write_text("[1, 2]")
        assert prior.load(spill, target.parquet_dir, full.batch_id, names) is None
    _dispute_every(isolated_engine, 3)
    incremental = etl_run.run_etl(isolated_engine, target)  # from the Parquet batch
    assert incremental.mode == "incremental"
    _assert_kept_as_published(target, incremental.batch_id, tmp_path)


def test_tables_kept_before_the_machine_restarted_are_not_trusted(
        isolated_engine: Engine, make_target: MakeTarget, monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    """Their files were never synced to disk: after a restart they may be torn."""
    generate_demo(isolated_engine, customers=30, lines=1500, seed=3)
    target = make_target("rebooted")
    full = etl_run.run_etl(isolated_engine, target, full=True)
    with Spill(tmp_path, "check") as spill:
        assert prior.load(spill, target.parquet_dir, full.batch_id, ["fct_ar_item"])
        monkeypatch.setattr(prior, "boot", lambda: "another boot")
        assert prior.load(spill, target.parquet_dir, full.batch_id, ["fct_ar_item"]) is None


def test_without_the_previous_batch_folder_the_run_is_full(
        isolated_engine: Engine, make_target: MakeTarget) -> None:
    """An incremental batch links its unchanged tables to the previous folder: with that
    folder gone, the kept tables alone are not enough."""
    generate_demo(isolated_engine, customers=30, lines=1500, seed=3)
    target = make_target("lost")
    full = etl_run.run_etl(isolated_engine, target, full=True)
    (target.parquet_dir / full.batch_id / "fct_order.parquet").unlink()
    _dispute_every(isolated_engine, 3)
    assert etl_run.run_etl(isolated_engine, target).mode == "full"


@pytest.mark.parametrize("error", [OSError(28, "No space left on device"),
                                   ValueError("a write that went wrong")])
def test_a_failed_hand_over_leaves_the_run_published(
        isolated_engine: Engine, make_target: MakeTarget, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture, error: Exception) -> None:
    generate_demo(isolated_engine, customers=30, lines=1500, seed=3)
    target = make_target("no-room")

    def failing(_source: Path, _target: Path) -> None:
        raise error

    monkeypatch.setattr(prior, "link_file", failing)
    with caplog.at_level(logging.WARNING, logger="etl.prior"):
        result = etl_run.run_etl(isolated_engine, target, full=True)
    assert published_batch(target.engine).batch_id == result.batch_id  # type: ignore[union-attr]
    assert result.batch_id in kept_batches(target.engine)  # logged published, not failed
    assert (target.parquet_dir / result.batch_id).is_dir()
    assert not any((target.parquet_dir / PRIOR_DIR).iterdir())  # nothing half kept
    assert "not kept for the next run" in caplog.text
