"""After-save ETL benchmark on a copy of the 1M-line SQLite demo of ``bench_callbacks``
(``var/bench-1m``, built on first use): finance saves collection calls through the form
(the Dash callback over Flask's test client, result cache off) and the app starts the
``salesbi etl run --queue`` process (``dashboard.etl_trigger``).

Figures: how long the save request waits with the run turned off and on (the cost of
starting the process); seconds from the save to the new batch being published (``/healthz``
polled every 0.2 s) and to the run process ending; then a save and, 5 s later while its run
goes, two more (one run queued behind it, one that finds the queue taken and ends): the
time from the last save until the batch holding it is published (about two runs: the worst
case); peak RSS of the largest run process and of the app (which holds the batch).

``python -m bench.bench_etl_after_save [--var DIR]``; it copies the demo into a temporary
folder (the demo stays unchanged) and measures in a fresh process.
"""

from __future__ import annotations

import json
import logging
import resource
import shutil
import sqlite3
import statistics
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from contextlib import closing
from datetime import date, timedelta
from multiprocessing import get_context
from pathlib import Path
from typing import Any

log = logging.getLogger("bench.etl_after_save")

POLL_SECONDS = 0.2
TIMEOUT_SECONDS = 1800
BURST = 3
BURST_GAP_SECONDS = 5


def _copy(source: Path, var: Path) -> None:
    shutil.copytree(source / "mart", var / "mart")
    for name in ("salesbi.db", "mart.db"):
        with closing(sqlite3.connect(source / name)) as live, \
                closing(sqlite3.connect(var / name)) as copy:
            live.backup(copy)


def _app(var: Path, after_save: bool) -> tuple[Any, Any]:
    """An app on ``var`` and a client logged in as finance."""
    from core.config import Settings
    from dashboard.app import create_app
    from tests.dashboard.dash_client import login

    app = create_app(Settings(var_dir=var, result_cache=False, etl_after_save=after_save))
    client = app.server.test_client()
    login(client, "finance")
    return app, client


def _worklist(client: Any) -> list[dict[str, Any]]:
    from dashboard.pages.collections import GRID, PATH
    from tests.dashboard.dash_client import find_component, page_json

    grid = find_component(json.loads(page_json(client, PATH)), GRID)
    if grid is None:
        raise RuntimeError("no worklist on /collections")
    return grid["props"]["rowData"]  # type: ignore[no-any-return]


def _save(app: Any, client: Any, row: dict[str, Any], today: date) -> float:
    """Save a call with a promise about ``row``; seconds the request took."""
    from tests.dashboard.dash_client import save_collection_call

    values = {"kind": "call", "occurred_on": today.isoformat(), "notes": "bench: promised",
              "next_contact_date": (today + timedelta(days=7)).isoformat(),
              "promise_to_pay_date": (today + timedelta(days=4)).isoformat()}
    t0 = time.perf_counter()
    response = save_collection_call(app, client, {"invoice_id": row["invoice_id"],
                                                  "label": row["label"]}, values)
    seconds = time.perf_counter() - t0
    if response.status_code != 200 or response.get_json()["response"][
            "collections-form"]["is_open"]:
        raise RuntimeError(f"save refused: {response.get_data(as_text=True)[:300]}")
    return seconds


def _batch(client: Any) -> str | None:
    return client.get("/healthz").get_json()["published_batch_id"]  # type: ignore[no-any-return]


def _published_after(client: Any, before: str | None, t0: float) -> float:
    """Seconds from ``t0`` until the published batch is no longer ``before``."""
    while _batch(client) == before:
        if time.perf_counter() - t0 > TIMEOUT_SECONDS:
            raise RuntimeError("no batch published")
        time.sleep(POLL_SECONDS)
    return time.perf_counter() - t0


def _runs_ended(t0: float) -> float:
    """Seconds from ``t0`` until every after-save run process has been reaped."""
    for thread in threading.enumerate():
        if thread.name.startswith("etl-run-"):
            thread.join(TIMEOUT_SECONDS)
    return time.perf_counter() - t0


def _promise_published(var: Path, invoice_id: int) -> bool:
    """Whether the published batch holds a promise to pay on ``invoice_id``."""
    with closing(sqlite3.connect(var / "mart.db", timeout=60)) as mart:
        row = mart.execute("SELECT promise_to_pay_date_key FROM fct_ar_item WHERE "
                           "item_type = 'invoice' AND document_id = ?", (invoice_id,)).fetchone()
    return row is not None and row[0] != -1


def _measure(source: Path) -> dict[str, Any]:
    from sqlalchemy.orm import Session

    from core.company.services import company_today
    from core.db import make_engine

    with tempfile.TemporaryDirectory() as tmp:
        var = Path(tmp) / "var"
        _copy(source, var)
        engine = make_engine(f"sqlite:///{var / 'salesbi.db'}")
        with Session(engine) as session:
            today = company_today(session)
        engine.dispose()

        app, client = _app(var, after_save=False)
        rows = iter(_worklist(client))
        off = [_save(app, client, next(rows), today) for _ in range(3)]
        app.server.extensions["salesbi_engine"].dispose()

        app, client = _app(var, after_save=True)
        _worklist(client)  # loads the batch, as the page did before the saves above
        before = _batch(client)
        log.info("one save …")
        t0 = time.perf_counter()
        one = _save(app, client, next(rows), today)
        published = _published_after(client, before, t0)
        ended = _runs_ended(t0)

        log.info("a save, then %s more while its run goes …", BURST - 1)
        burst = [next(rows) for _ in range(BURST)]
        waits = [_save(app, client, burst[0], today)]
        time.sleep(BURST_GAP_SECONDS)
        waits += [_save(app, client, row, today) for row in burst[1:]]
        t_last = time.perf_counter()
        while not _promise_published(var, burst[-1]["invoice_id"]):
            if time.perf_counter() - t_last > TIMEOUT_SECONDS:
                raise RuntimeError("the last save was never published")
            time.sleep(POLL_SECONDS)
        last_published = time.perf_counter() - t_last
        burst_ended = _runs_ended(t_last)
        app.server.extensions["salesbi_engine"].dispose()
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {
        "save_request_ms_setting_off": [round(s * 1000) for s in off],
        "save_request_ms_setting_on": round(one * 1000),
        "seconds_save_to_batch_published": round(published, 1),
        "seconds_save_to_run_process_ended": round(ended, 1),
        "burst": {
            "saves": BURST,
            "seconds_between_first_and_others": BURST_GAP_SECONDS,
            "save_request_ms": [round(s * 1000) for s in waits],
            "seconds_last_save_to_batch_with_it": round(last_published, 1),
            "seconds_last_save_to_every_run_ended": round(burst_ended, 1),
        },
        "median_save_request_ms_off_vs_on": [round(statistics.median(off) * 1000),
                                             round(statistics.median([one, *waits]) * 1000)],
        "peak_rss_mib_run_process": round(children / 1024),
        "peak_rss_mib_app_process": round(
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def measure(var: Path) -> dict[str, Any]:
    """The benchmark in a fresh process (its own peak RSS, its children only)."""
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        return pool.submit(_measure, var).result()


def run(var: Path | None = None) -> dict[str, Any]:
    """``make bench`` entry point: the 1M-line SQLite demo."""
    if var is None:
        from bench.bench_callbacks import small_dataset

        var = small_dataset()[2]
    return {"dataset": "1M invoice lines, 5,000 customers, seed 42, SQLite", **measure(var)}


if __name__ == "__main__":
    from bench import main_with_var

    main_with_var(run, __doc__ or "")
