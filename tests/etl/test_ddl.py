"""The committed DDL in sql/ is exactly what the mart metadata renders, and it runs."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from etl.ddl import DIALECTS, ddl_path, render
from etl.schema import mart


@pytest.mark.parametrize("dialect", sorted(DIALECTS))
def test_committed_ddl_matches_the_metadata(dialect: str) -> None:
    assert ddl_path(dialect).read_text(encoding="utf-8") == render(dialect), (
        f"sql/mart_{dialect}.sql is stale: run `python -m etl.ddl`")


def test_sqlite_ddl_creates_every_mart_table(tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "mart.db") as conn:
        conn.executescript(ddl_path("sqlite").read_text(encoding="utf-8"))
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert tables == set(mart.tables)
