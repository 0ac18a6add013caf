"""The Alembic migrations build exactly the schema the models declare, on both dialects."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine

from core.db import make_engine
from core.migrate import downgrade, upgrade
from core.models import Base
from tests.conftest import PG_URL, drop_pg_schema, new_pg_schema


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
