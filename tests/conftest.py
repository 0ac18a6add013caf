"""Shared fixtures: the core schema on SQLite and on the real PostgreSQL; a real Redis.

``db_url`` is parametrised over both dialects. PostgreSQL runs in a schema of its own per
test run, dropped at the end. When PostgreSQL is unreachable its tests are skipped with one
line saying why, unless ``SALESBI_REQUIRE_PG=1`` (CI), where they fail. Likewise Redis
(``redis_url``, 127.0.0.1:6379) with ``SALESBI_REQUIRE_REDIS=1``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from redis.exceptions import RedisError
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from core.actor import SYSTEM
from core.audit import set_actor
from core.company.services import initialise_company
from core.db import make_engine, make_session_factory
from core.models import Base

PG_REASON = pytest.StashKey[str | None]()
PG_URL = os.environ.get("SALESBI_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("SALESBI_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def pg_required() -> bool:
    return os.environ.get("SALESBI_REQUIRE_PG") == "1"


def _pg_unreachable_reason() -> str | None:
    """Why PostgreSQL cannot be used, or None when it answers."""
    engine = make_engine(PG_URL, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except OperationalError as exc:
        return f"PostgreSQL unreachable at {PG_URL}: {str(exc.orig).splitlines()[0]}"
    finally:
        engine.dispose()
    return None


def pytest_configure(config: pytest.Config) -> None:
    config.stash[PG_REASON] = _pg_unreachable_reason()


def pytest_report_header(config: pytest.Config) -> str:
    reason = config.stash[PG_REASON]
    if reason is None:
        return f"postgresql: {PG_URL} (reachable)"
    if pg_required():
        return f"postgresql: {reason} — SALESBI_REQUIRE_PG=1, so its tests fail"
    return f"postgresql: {reason} — its tests are skipped"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter,
                            config: pytest.Config) -> None:
    """The one line that says why PostgreSQL tests were skipped (also under ``-q``)."""
    reason = config.stash[PG_REASON]
    if reason is not None and not pg_required():
        terminalreporter.write_line(f"{reason} — its tests were skipped", yellow=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Browser tests share one pytest-xdist worker (each serves the app on dash's port,
    one at a time). Outside CI an unreachable PostgreSQL skips its tests (one line in the
    header says why); with SALESBI_REQUIRE_PG=1 they run and fail."""
    for item in items:
        if item.get_closest_marker("browser"):
            item.add_marker(pytest.mark.xdist_group("browser"))
    reason = config.stash[PG_REASON]
    if reason is None or pg_required():
        return
    skip = pytest.mark.skip(reason="PostgreSQL unreachable (see the last line)")
    for item in items:
        if "pg" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def pg_admin_engine() -> Iterator[Engine]:
    """Engine on the PostgreSQL test database; skips (or fails in CI) when unreachable."""
    engine = make_engine(PG_URL, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except OperationalError as exc:
        engine.dispose()
        reason = f"PostgreSQL unreachable at {PG_URL}: {exc.orig}".splitlines()[0]
        if pg_required():
            pytest.fail(f"{reason} (SALESBI_REQUIRE_PG=1)")
        pytest.skip(reason)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def redis_url() -> str:
    """URL of a Redis that answers; skips when unreachable, fails with
    ``SALESBI_REQUIRE_REDIS=1`` (CI)."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
    try:
        client.ping()
    except RedisError as exc:
        reason = f"Redis unreachable at {REDIS_URL}: {exc}"
        if os.environ.get("SALESBI_REQUIRE_REDIS") == "1":
            pytest.fail(f"{reason} (SALESBI_REQUIRE_REDIS=1)")
        pytest.skip(reason)
    finally:
        client.close()
    return REDIS_URL


def new_pg_schema(admin: Engine) -> str:
    """Create an empty schema with a unique name and return its name."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{name}"'))
    return name


def drop_pg_schema(admin: Engine, name: str) -> None:
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))


def seed_company(engine: Engine) -> None:
    """Core schema plus company settings and reference data, committed."""
    Base.metadata.create_all(engine)
    factory = make_session_factory(engine)
    with factory() as session, session.begin():
        set_actor(session, SYSTEM.label)
        initialise_company(session, company_name="Test Co", base_currency="USD", timezone="UTC")


@pytest.fixture(scope="session", params=["sqlite", pytest.param("pg", marks=pytest.mark.pg)])
def dialect(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def engine(dialect: str, tmp_path_factory: pytest.TempPathFactory,
           request: pytest.FixtureRequest) -> Iterator[Engine]:
    """A seeded core database shared by the session; tests roll back their changes."""
    if dialect == "sqlite":
        path: Path = tmp_path_factory.mktemp("core") / "core.db"
        eng = make_engine(f"sqlite:///{path}")
        seed_company(eng)
        yield eng
        eng.dispose()
        return
    admin = request.getfixturevalue("pg_admin_engine")
    schema = new_pg_schema(admin)
    eng = make_engine(PG_URL, schema=schema)
    seed_company(eng)
    yield eng
    eng.dispose()
    drop_pg_schema(admin, schema)


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session inside a transaction that is rolled back after the test.

    Service calls that commit release a SAVEPOINT only, so nothing reaches other tests.
    """
    connection = engine.connect()
    outer = connection.begin()
    factory: sessionmaker[Session] = make_session_factory(engine)
    sess = factory(bind=connection, join_transaction_mode="create_savepoint")
    set_actor(sess, SYSTEM.label)
    try:
        yield sess
    finally:
        sess.close()
        outer.rollback()
        connection.close()


@pytest.fixture
def isolated_engine(
    dialect: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Engine]:
    """A fresh seeded database of its own (concurrency and bulk-load tests commit for real)."""
    if dialect == "sqlite":
        eng = make_engine(f"sqlite:///{tmp_path / 'isolated.db'}")
        seed_company(eng)
        yield eng
        eng.dispose()
        return
    admin = request.getfixturevalue("pg_admin_engine")
    schema = new_pg_schema(admin)
    eng = make_engine(PG_URL, schema=schema)
    seed_company(eng)
    yield eng
    eng.dispose()
    drop_pg_schema(admin, schema)


@pytest.fixture
def world(session: Session):  # type: ignore[no-untyped-def]
    """The hand-made world of tests/core/world.py inside the rolled-back session."""
    from tests.core.world import build_world

    return build_world(session)
