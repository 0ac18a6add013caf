"""Crash safety: ``salesbi etl run`` killed with SIGKILL at several points leaves the
published batch exactly as it was (publish row, mart tables, Parquet folder), and the next
run succeeds, marks the killed runs failed and sweeps their folders.

The kill points are found from the stage lines the CLI prints (``stage: <name>``); where a
point must be held still, the test holds a database lock the run will wait on:

- ``extract``: killed as extraction starts;
- ``renamed``: the new Parquet folder is renamed into place, the database transaction has
  not committed (the test holds the mart's write lock on SQLite, the ``etl_publish`` row
  on PostgreSQL, so the run waits before it can commit);
- ``loading``: killed during the mart load (on PostgreSQL the test holds a SHARE lock on a
  late fact table, so the run waits with part of the mart already loaded).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, select, text

from core.audit import set_actor
from core.billing.invoicing import set_dispute
from core.billing.models import Invoice
from core.db import make_session_factory, transaction
from core.demo import generate_demo
from etl import run as etl_run
from etl.batch_folder import KEPT_CORE_DIR, PRIOR_DIR
from etl.publish import ABANDONED, MartTarget, mart_target
from etl.schema import etl_run as run_log
from tests.conftest import drop_pg_schema
from tests.core.world import FINANCE
from tests.etl.conftest import unique_schema
from tests.etl.marts import published_state

SALESBI = str(Path(sys.executable).parent / "salesbi")
WATCHDOG_SECONDS = 300  # a stuck run is killed rather than hanging the suite


def cli_env(core: Engine, tmp_path: Path, schema: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SALESBI_")}
    env.update(SALESBI_DATABASE_URL=core.url.render_as_string(hide_password=False),
               SALESBI_VAR_DIR=str(tmp_path / "var"), PYTHONUNBUFFERED="1",
               SALESBI_MART_DIR=str(tmp_path / "var" / "mart"))
    if schema is not None:
        env["SALESBI_MART_SCHEMA"] = schema
    return env


@pytest.fixture
def cli_mart(isolated_engine: Engine, dialect: str, tmp_path: Path,
             request: pytest.FixtureRequest) -> Iterator[tuple[MartTarget, dict[str, str]]]:
    """The mart the CLI writes to (as a target for the test) and the CLI's environment."""
    parquet = tmp_path / "var" / "mart"
    if dialect == "sqlite":
        target = mart_target(f"sqlite:///{tmp_path / 'var' / 'mart.db'}", parquet)
        yield target, cli_env(isolated_engine, tmp_path, None)
        target.engine.dispose()
        return
    schema = unique_schema("crash")
    url = isolated_engine.url.render_as_string(hide_password=False)
    target = mart_target(url, parquet, schema=schema)
    yield target, cli_env(isolated_engine, tmp_path, schema)
    target.engine.dispose()
    drop_pg_schema(request.getfixturevalue("pg_admin_engine"), schema)


def run_cli(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([SALESBI, "etl", "run", *args], env=env, cwd=cwd, text=True,  # noqa: S603
                          capture_output=True, timeout=WATCHDOG_SECONDS, check=False)


def kill_at(env: dict[str, str], cwd: Path, stage: str,
            on: Callable[[str], None] = lambda _stage: None) -> list[str]:
    """Start ``salesbi etl run --full``, call ``on(stage)`` for every stage line, SIGKILL
    the process at ``stage: <stage>``; the stage lines it printed, in order."""
    proc = subprocess.Popen([SALESBI, "etl", "run", "--full"], env=env, cwd=cwd, text=True,  # noqa: S603
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    watchdog = threading.Timer(WATCHDOG_SECONDS, proc.kill)
    watchdog.start()
    stages = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if not line.startswith("stage: "):
                continue
            stages.append(line.removeprefix("stage: ").strip())
            on(stages[-1])
            if stages[-1] == stage:
                os.kill(proc.pid, signal.SIGKILL)
                break
        stages += [line.removeprefix("stage: ").strip() for line in proc.stdout
                   if line.startswith("stage: ")]
    finally:
        proc.kill()
        proc.wait()
        watchdog.cancel()
    assert proc.returncode == -signal.SIGKILL, f"the run ended by itself: {stages}"
    return stages


@contextmanager
def held(target: MartTarget, dialect: str, what: str) -> Iterator[Callable[[str], None]]:
    """``on(stage)`` for ``kill_at`` that takes a lock at stage ``parquet`` the run will
    wait on: the mart's write lock (SQLite) or ``what`` (PostgreSQL: ``publish row`` or a
    late fact table); released on exit. (SQLite has no lock that stops a write
    transaction half way, so its ``loading`` kill is not held: the test asserts it came
    before the switch.)"""
    conn: Connection | None = None

    def on(stage: str) -> None:
        nonlocal conn
        if stage != "parquet":
            return
        conn = target.engine.connect()
        if dialect == "sqlite":
            conn.begin()  # BEGIN IMMEDIATE: the write lock
        elif what == "publish row":
            conn.begin()
            conn.execute(text("SELECT id FROM etl_publish FOR UPDATE"))
        else:
            conn.begin()
            conn.execute(text("LOCK TABLE fct_ar_allocation IN SHARE MODE"))

    try:
        yield on
    finally:
        if conn is not None:
            conn.rollback()
            conn.close()


def folders(target: MartTarget) -> set[str]:
    """The batch, staging and spill folders (not the tables kept for the next run, nor the
    core's)."""
    return {p.name for p in target.parquet_dir.iterdir()
            if p.is_dir() and p.name not in (PRIOR_DIR, KEPT_CORE_DIR)}


def test_a_killed_run_leaves_the_published_batch_exactly_as_it_was(
    isolated_engine: Engine, dialect: str, tmp_path: Path,
    cli_mart: tuple[MartTarget, dict[str, str]],
) -> None:
    target, env = cli_mart
    generate_demo(isolated_engine, customers=80, lines=4000, seed=11)
    first = etl_run.run_etl(isolated_engine, target, full=True)
    with transaction(make_session_factory(isolated_engine)) as session:
        set_actor(session, "test")
        invoice = session.scalars(select(Invoice.id).where(Invoice.status == "posted")).first()
        assert invoice is not None
        set_dispute(session, FINANCE, invoice, True)
    before = published_state(target)

    stages = kill_at(env, tmp_path, "extract")
    assert "extract" in stages and "parquet" not in stages
    assert published_state(target) == before
    # The killed run leaves only its spill folder, which the next run sweeps (below).
    leftovers = folders(target) - {first.batch_id}
    assert first.batch_id in folders(target)
    assert all(name.startswith(".tmp-") and name.endswith(".spill") for name in leftovers)

    with held(target, dialect, "publish row") as on:
        stages = kill_at(env, tmp_path, "mart tables" if dialect == "sqlite" else "switch", on)
    renamed = {name for name in folders(target) - {first.batch_id}
               if not name.endswith(".spill")}
    assert len(renamed) == 1 and not next(iter(renamed)).startswith(".tmp-")
    assert published_state(target) == before

    with held(target, dialect, "late fact table") as on:
        stages = kill_at(env, tmp_path, "mart tables", on if dialect != "sqlite" else
                         (lambda _stage: None))
    assert "switch" not in stages
    assert published_state(target) == before

    again = run_cli(env, tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "(incremental, 1 customer rebuilt)" in again.stdout
    with target.engine.connect() as conn:
        runs = conn.execute(select(run_log.c.batch_id, run_log.c.status, run_log.c.error)
                            .order_by(run_log.c.started_at)).all()
    assert [(status, error) for _, status, error in runs] == [
        ("published", None), ("failed", ABANDONED), ("failed", ABANDONED),
        ("failed", ABANDONED), ("published", None)]
    assert folders(target) == {first.batch_id, runs[-1].batch_id}
    assert [p.name for p in (target.parquet_dir / PRIOR_DIR).iterdir()] == [runs[-1].batch_id]
    assert published_state(target) != before
