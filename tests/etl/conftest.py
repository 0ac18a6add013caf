"""Fixtures of the ETL tests: mart targets (a SQLite file or a PostgreSQL schema, each with
its Parquet folder)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from etl.publish import MartTarget, mart_target
from tests.conftest import PG_URL, drop_pg_schema

MakeTarget = Callable[[str], MartTarget]


def unique_schema(label: str) -> str:
    """A PostgreSQL schema name no other test run uses (suites of several worktrees share
    the ``test`` database)."""
    return f"t_mart_{label}_{uuid.uuid4().hex[:10]}"


@pytest.fixture
def make_target(dialect: str, tmp_path: Path,
                request: pytest.FixtureRequest) -> Iterator[MakeTarget]:
    """Makes mart targets named ``name`` (dropped after the test)."""
    made: list[tuple[MartTarget, str | None]] = []

    def make(name: str) -> MartTarget:
        if dialect == "sqlite":
            target = mart_target(f"sqlite:///{tmp_path / f'{name}.db'}", tmp_path / name)
            made.append((target, None))
            return target
        schema = unique_schema(name)
        target = mart_target(PG_URL, tmp_path / name, schema=schema)
        made.append((target, schema))
        return target

    yield make
    for target, schema in made:
        target.engine.dispose()
        if schema is not None:
            drop_pg_schema(request.getfixturevalue("pg_admin_engine"), schema)
