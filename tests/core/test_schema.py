"""The Alembic migrations build exactly the schema the models declare, on both dialects."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, insert

from core.actor import SYSTEM
from core.audit import set_actor
from core.company.services import initialise_company
from core.customers.models import Interaction
from core.db import make_engine, make_session_factory
from core.migrate import downgrade, upgrade
from core.models import Base
from tests.conftest import PG_URL, drop_pg_schema, new_pg_schema
from tests.core.contact_log import derived_states, kept_states
from tests.core.world import build_world


@pytest.fixture
def empty_engine(dialect: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Engine]:
    if dialect == "sqlite":
        eng = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
        yield eng
        eng.dispose()
        return
    admin = request.getfixturevalue("pg_admin_engine")
    schema = new_pg_schema(admin)
    eng = make_engine(PG_URL, schema=schema)
    yield eng
    eng.dispose()
    drop_pg_schema(admin, schema)


def test_migrations_match_models_and_downgrade_cleanly(empty_engine: Engine) -> None:
    upgrade(empty_engine)
    with empty_engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []
    downgrade(empty_engine, "base")
    with empty_engine.connect() as conn:
        tables = set(empty_engine.dialect.get_table_names(conn))
    assert tables <= {"alembic_version"}


def test_migration_0003_keeps_the_contact_state_of_every_customer_already_logged(
        empty_engine: Engine) -> None:
    """Entries logged before the contact state had a row of its own get their rows."""
    upgrade(empty_engine, "0002")
    factory = make_session_factory(empty_engine)
    with factory() as session, session.begin():
        set_actor(session, SYSTEM.label)
        initialise_company(session, company_name="Test Co", base_currency="USD",
                           timezone="UTC")
        world = build_world(session)
        rng = random.Random(3)
        start = date(2026, 2, 1)
        entries = []
        for n in range(40):
            on = start + timedelta(days=rng.randrange(0, 10))
            entries.append({
                "customer_id": rng.choice([world.customer.id, world.eur_customer.id]),
                "kind": rng.choice(["call", "email", "visit"]), "notes": f"entry {n}",
                "occurred_on": on, "created_at": datetime(2026, 3, 1),
                "next_contact_date": on + timedelta(days=7) if rng.random() < 0.5 else None,
                "promise_to_pay_date": on + timedelta(days=3) if rng.random() < 0.3 else None})
        # Core inserts: the ORM would write the state table, which 0002 does not have yet.
        session.execute(insert(Interaction.__table__), entries)
    upgrade(empty_engine)
    with empty_engine.connect() as conn:
        kept = kept_states(conn)
        assert kept == derived_states(conn)
    assert set(kept) == {world.customer.id, world.eur_customer.id}
