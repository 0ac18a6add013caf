"""A small demo company built through the ETL: the core database and its published mart.

``demo_mart`` is session-scoped (built once, read-only): metric tests compare the mart's
figures with independent computations from the core records.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import dash
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from core.access import customers_in_scope, reporting_tree
from core.company.services import company_today
from core.config import Settings
from core.customers.models import Customer
from core.db import make_engine
from core.demo import generate_demo
from core.users.models import User
from core.users.services import actor_for
from dashboard.app import create_app
from dashboard.mart_reader import load_batch
from dashboard.metrics.mart import Mart
from dashboard.metrics.period import Period
from dashboard.metrics.scope import Scope
from etl.publish import mart_target, published_batch
from etl.run import run_etl
from tests.conftest import seed_company


@dataclass(frozen=True)
class DemoMart:
    """The core engine, the settings that point at it, and the published batch as the app
    loads it."""

    core: Engine
    settings: Settings
    mart: Mart


@pytest.fixture(scope="session")
def demo_mart(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoMart]:
    var = tmp_path_factory.mktemp("demo-var")
    settings = Settings(var_dir=var, etl_after_save=False)
    core = make_engine(settings.resolved_database_url)
    seed_company(core)
    generate_demo(core, customers=60, lines=3000, seed=7)
    target = mart_target(settings.resolved_mart_url, settings.resolved_mart_dir)
    run_etl(core, target, full=True)
    # ADBC links its own SQLite: closing its connection removed the WAL files under the
    # pooled pysqlite connections of this process, so start those afresh.
    core.dispose()
    batch = published_batch(target.engine)
    assert batch is not None
    yield DemoMart(core, settings, load_batch(Path(settings.resolved_mart_dir), batch))
    target.engine.dispose()
    core.dispose()


@pytest.fixture
def demo_app(demo_mart: DemoMart) -> Iterator[dash.Dash]:
    """A fresh app (own login throttle, own mart reader) on the demo company."""
    app = create_app(demo_mart.settings)
    yield app
    app.server.extensions["salesbi_engine"].dispose()


def last_full_year(demo: DemoMart) -> Period:
    """The calendar year before the published batch's: full of demo activity."""
    year = demo.mart.published_at.year - 1
    return Period(date(year, 1, 1), date(year, 12, 31))


def manager_scope(demo: DemoMart) -> Scope:
    """The demo ``manager`` login's scope: its reporting tree, as the app derives it."""
    with Session(demo.core) as session:
        manager = session.scalars(select(User).where(User.username == "manager")).one()
        assert manager.rep_id is not None
        team = reporting_tree(session, manager.rep_id)
    return Scope("sales_manager", manager.id, rep_ids=frozenset(team))


def managed_customers(core: Engine, username: str) -> set[int]:
    """The customers the user may see, by the core's own scope rule."""
    with Session(core) as session:
        user_id = session.scalar(select(User.id).where(User.username == username))
        condition = customers_in_scope(session, actor_for(session, user_id))
        query = select(Customer.id)
        return set(session.scalars(query if condition is None else query.where(condition)))


@dataclass(frozen=True)
class Writable:
    """A copy of the demo company (core and mart) that a test may write to, and its app."""

    app: dash.Dash
    core: Engine
    today: date


@contextmanager
def writable_copy(demo: DemoMart, var: Path, **settings: Any) -> Iterator[Writable]:
    """An app with ``settings`` on a copy of the demo company's core and mart in ``var``."""
    source = demo.settings.var_dir
    shutil.copytree(source, var, ignore=shutil.ignore_patterns("salesbi.db*"))
    with closing(sqlite3.connect(source / "salesbi.db")) as live, \
            closing(sqlite3.connect(var / "salesbi.db")) as copy:
        live.backup(copy)  # a consistent copy of the core, whatever its WAL holds
    app = create_app(Settings(var_dir=var, **settings))
    engine = app.server.extensions["salesbi_engine"]
    with Session(engine) as session:
        today = company_today(session)
    yield Writable(app, engine, today)
    engine.dispose()


@pytest.fixture
def writable(demo_mart: DemoMart, tmp_path: Path) -> Iterator[Writable]:
    """An app on a copy of the demo company's core and mart, for tests that write; a save
    starts no ETL run (``tests/dashboard/test_etl_after_save.py`` tests that)."""
    with writable_copy(demo_mart, tmp_path / "var", etl_after_save=False) as copy:
        yield copy
