"""The ``salesbi`` command line: idempotent init-db, user admin, one-line failures; ``etl
run --queue`` waits behind a run in progress (a real process), ends at once when another run
already waits, and refuses ``--full``."""

from __future__ import annotations

import fcntl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from core.db import make_engine, make_session_factory
from core.users.models import User
from core.users.passwords import verify_password
from etl.lock import LOCK_FILE, QUEUE_FILE, run_queued
from salesbi.cli import app

runner = CliRunner()


@pytest.fixture
def db_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("SALESBI_DATABASE_URL", url)
    return url


def test_help_lists_the_commands() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("init-db", "demo", "serve", "users"):
        assert command in result.output


def test_init_db_is_idempotent(db_url: str) -> None:
    assert runner.invoke(app, ["init-db"]).exit_code == 0
    second = runner.invoke(app, ["init-db"])
    assert second.exit_code == 0, second.output


def test_user_admin_round_trip(db_url: str) -> None:
    runner.invoke(app, ["init-db"])
    added = runner.invoke(app, ["users", "add", "Fiona", "--role", "finance", "--name", "Fiona F"],
                          input="s3cret-pass\ns3cret-pass\n")
    assert added.exit_code == 0, added.output
    assert runner.invoke(app, ["users", "set-role", "fiona", "executive"]).exit_code == 0
    assert runner.invoke(app, ["users", "disable", "fiona"]).exit_code == 0
    with make_session_factory(make_engine(db_url))() as session:
        user = session.scalars(select(User).where(User.username == "fiona")).one()
        assert (user.role.value, user.is_active) == ("executive", False)
        assert user.password_hash != "s3cret-pass"
        assert verify_password(user.password_hash, "s3cret-pass")


def test_rep_role_without_a_rep_fails_with_one_line(db_url: str) -> None:
    runner.invoke(app, ["init-db"])
    result = runner.invoke(app, ["users", "add", "rita", "--role", "rep", "--name", "Rita"],
                           input="password1\npassword1\n")
    assert result.exit_code == 1
    assert "error: role rep needs an existing sales rep" in result.output


def test_unreachable_database_fails_with_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SALESBI_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    result = runner.invoke(app, ["init-db"])
    assert result.exit_code == 1
    assert "error: database unreachable" in result.output


def test_malformed_date_fails_with_one_line_before_touching_the_database(db_url: str) -> None:
    result = runner.invoke(app, ["demo", "--end-date", "2025-13-01"])
    assert result.exit_code == 1
    assert "error: --end-date must be a date as YYYY-MM-DD, not '2025-13-01'" in result.output
    assert not Path(db_url.removeprefix("sqlite:///")).exists()


def test_production_with_the_default_secret_refuses_to_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SALESBI_ENV", "production")
    monkeypatch.delenv("SALESBI_SECRET_KEY", raising=False)
    result = runner.invoke(app, ["serve", "--prod"])
    assert result.exit_code == 1
    assert "error: invalid configuration: SALESBI_SECRET_KEY must be a random value" in \
        result.output


def test_demo_then_etl_run_publishes_a_batch_and_a_second_run_nothing(
        db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SALESBI_VAR_DIR", str(tmp_path / "var"))
    demo = runner.invoke(app, ["demo", "--customers", "40", "--lines", "2000", "--seed", "3"])
    assert demo.exit_code == 0, demo.output
    run = runner.invoke(app, ["etl", "run"])
    assert run.exit_code == 0, run.output
    assert "published batch" in run.output and "fct_sales_line" in run.output
    assert "(full)" in run.output and "stage: extract" in run.output
    assert (tmp_path / "var" / "mart.db").exists()
    again = runner.invoke(app, ["etl", "run"])
    assert again.exit_code == 0, again.output
    assert "no changes since watermark" in again.output and "nothing published" in again.output


@contextmanager
def flocked(path: Path) -> Iterator[None]:
    """Hold an exclusive flock on ``path`` as another process's run would."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def test_etl_run_queue_with_full_is_refused_with_one_line(db_url: str) -> None:
    result = runner.invoke(app, ["etl", "run", "--queue", "--full"])
    assert result.exit_code == 1
    assert "error: --queue runs incrementally: it cannot be combined with --full" in (
        result.output)


def test_etl_run_queue_does_nothing_when_another_run_already_waits(
        db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SALESBI_VAR_DIR", str(tmp_path / "var"))
    with flocked(tmp_path / "var" / "mart" / QUEUE_FILE):
        result = runner.invoke(app, ["etl", "run", "--queue"])
    assert result.exit_code == 0, result.output
    assert "nothing to do: another ETL run already waits" in result.output
    assert "published batch" not in result.output


def test_a_queued_run_waits_for_the_run_in_progress_then_publishes(
        db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    var = tmp_path / "var"
    monkeypatch.setenv("SALESBI_VAR_DIR", str(var))
    demo = runner.invoke(app, ["demo", "--customers", "20", "--lines", "500", "--seed", "3"])
    assert demo.exit_code == 0, demo.output
    with flocked(var / "mart" / LOCK_FILE):
        run = subprocess.Popen([sys.executable, "-m", "salesbi", "etl", "run", "--queue"],  # noqa: S603
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            deadline = time.monotonic() + 60
            while not run_queued(var / "mart") and run.poll() is None:
                assert time.monotonic() < deadline, "the run never queued"
                time.sleep(0.1)
            time.sleep(0.5)
            assert run.poll() is None, run.communicate()[0]  # waits behind the holder
        except BaseException:
            run.kill()
            raise
    output, _ = run.communicate(timeout=300)
    assert run.returncode == 0, output
    assert "published batch" in output and "(full)" in output
    assert not run_queued(var / "mart")
