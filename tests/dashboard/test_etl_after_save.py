"""The ETL run a form save starts (``dashboard.etl_trigger``): with ``etl_after_save`` on, a
collection call saved through the form starts ``python -m salesbi etl run --queue`` and a
new batch holding the saved promise is published without anyone running the CLI; with it
off nothing starts and the message says so; the run gets the app's settings whatever the
environment says, and a failed run is reaped and logged."""

from __future__ import annotations

import fcntl
import json
import logging
import os
import threading
import time
from pathlib import Path

import dash
import polars as pl
import pytest
from flask.testing import FlaskClient

from core.config import Settings
from dashboard.app import create_app
from dashboard.etl_trigger import request_etl_run, run_environment
from dashboard.mart_reader import load_batch
from etl.lock import QUEUE_FILE
from etl.publish import mart_engine, published_batch
from tests.dashboard.conftest import DemoMart, Writable, writable_copy
from tests.dashboard.dash_client import save_collection_call
from tests.dashboard.test_collections_page import _call, _page, _rows, _signed_in

RUN_TIMEOUT = 180  # seconds: interpreter start, imports and an incremental run of the demo
STARTED = "after-save ETL run started"


def _batch_id(client: FlaskClient) -> str | None:
    return client.get("/healthz").get_json()["published_batch_id"]  # type: ignore[no-any-return]


def _reap_runs() -> None:
    """Wait until every after-save run of this process has been reaped."""
    for thread in threading.enumerate():
        if thread.name.startswith("etl-run-"):
            thread.join(RUN_TIMEOUT)
            assert not thread.is_alive(), f"{thread.name} still running"


def _save_first_row(copy: Writable, client: FlaskClient) -> tuple[int, str]:
    """Save a call with a promise about the first worklist row; (invoice id, message)."""
    row = _rows(_page(client))[0]
    response = save_collection_call(copy.app, client, {"invoice_id": row["invoice_id"],
                                        "label": row["label"]}, _call(copy.today))
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    saved = response.get_json()["response"]
    assert saved["collections-form"]["is_open"] is False
    return row["invoice_id"], json.dumps(saved["collections-status"])


def test_a_save_starts_a_run_that_publishes_the_saved_promise(
        demo_mart: DemoMart, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="dashboard.etl_trigger")
    with writable_copy(demo_mart, tmp_path / "var", etl_after_save=True) as copy:
        client = _signed_in(copy.app, "finance")
        before = _batch_id(client)
        t0 = time.monotonic()
        invoice_id, message = _save_first_row(copy, client)
        assert "figures include it in a minute or two" in message
        assert [r for r in caplog.records if r.getMessage().startswith(STARTED)]
        while (batch := _batch_id(client)) == before:
            assert time.monotonic() - t0 < RUN_TIMEOUT, "no batch published after the save"
            time.sleep(0.5)
        _reap_runs()
        settings: Settings = copy.app.server.extensions["salesbi_settings"]
        mart = mart_engine(settings.resolved_mart_url)
        published = published_batch(mart)
        mart.dispose()
    assert published is not None and published.batch_id == batch
    items = load_batch(settings.resolved_mart_dir, published).frame("fct_ar_item")
    (promise,) = items.filter((pl.col("item_type") == "invoice")
                              & (pl.col("document_id") == invoice_id))["promise_to_pay_date_key"]
    promised = _call(copy.today)["promise_to_pay_date"]
    assert promise == int(promised.replace("-", ""))
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_with_the_setting_off_a_save_starts_nothing(
        writable: Writable, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="dashboard.etl_trigger")
    client = _signed_in(writable.app, "finance")
    before = _batch_id(client)
    _, message = _save_first_row(writable, client)
    assert "figures include it after the next scheduled update" in message
    assert not [r for r in caplog.records if r.getMessage().startswith(STARTED)]
    assert not [t for t in threading.enumerate() if t.name.startswith("etl-run-")]
    settings: Settings = writable.app.server.extensions["salesbi_settings"]
    assert not (settings.resolved_mart_dir / QUEUE_FILE).exists()
    assert _batch_id(client) == before


def test_the_run_gets_the_apps_settings_not_stale_environment(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(var_dir=tmp_path / "var", mart_schema="mart_x", result_cache=False)
    monkeypatch.setenv("SALESBI_MART_DIR", "/elsewhere")
    monkeypatch.setenv("SALESBI_DATABASE_URL", "postgresql+psycopg://stale@nowhere/none")
    env = run_environment(settings)
    assert env["PATH"] == os.environ["PATH"]
    for name in [n for n in os.environ if n.startswith("SALESBI_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    child = Settings()
    assert child.resolved_database_url == settings.resolved_database_url
    assert child.resolved_mart_dir == settings.resolved_mart_dir
    assert child.model_dump() == settings.model_dump() | {
        "mart_dir": settings.resolved_mart_dir}


def test_a_failed_run_is_reaped_and_logged(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="dashboard.etl_trigger")
    app: dash.Dash = create_app(Settings(
        var_dir=tmp_path / "var", etl_after_save=True,
        database_url="postgresql+psycopg://nobody@127.0.0.1:1/none"))
    with app.server.app_context():
        process = request_etl_run()
    assert process is not None
    _reap_runs()
    assert process.returncode == 1
    (failed,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert f"(pid {process.pid}) failed with exit code 1" in failed.getMessage()
    assert "database unreachable" in failed.getMessage()


def test_no_run_is_started_while_one_already_waits_in_the_queue(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="dashboard.etl_trigger")
    app: dash.Dash = create_app(Settings(var_dir=tmp_path / "var", etl_after_save=True,
                                         result_cache=False))
    settings: Settings = app.server.extensions["salesbi_settings"]
    settings.resolved_mart_dir.mkdir(parents=True, exist_ok=True)
    with open(settings.resolved_mart_dir / QUEUE_FILE, "a") as slot:  # a waiting run
        fcntl.flock(slot, fcntl.LOCK_EX)
        with app.server.app_context():
            assert request_etl_run() is None
        fcntl.flock(slot, fcntl.LOCK_UN)
    assert "a queued run will publish this save" in caplog.text
    assert not [t for t in threading.enumerate() if t.name.startswith("etl-run-")]
