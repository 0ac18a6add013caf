"""``make_engine`` on the real PostgreSQL: the app's interactive engine keeps the test schema
on its search path and runs without JIT compilation; other engines keep the server's
default."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text

from core.db import make_engine
from tests.conftest import PG_URL, drop_pg_schema, new_pg_schema


@pytest.mark.pg
def test_an_interactive_engine_turns_jit_off_and_keeps_its_schema(
        pg_admin_engine: Engine) -> None:
    schema = new_pg_schema(pg_admin_engine)
    try:
        settings: dict[bool, tuple[str, str]] = {}
        for interactive in (True, False):
            engine = make_engine(PG_URL, schema=schema, interactive=interactive)
            with engine.connect() as conn:
                settings[interactive] = (conn.execute(text("SHOW jit")).scalar_one(),
                                         conn.execute(text("SELECT current_schema()"))
                                         .scalar_one())
            engine.dispose()
    finally:
        drop_pg_schema(pg_admin_engine, schema)
    with pg_admin_engine.connect() as conn:
        default = conn.execute(text("SHOW jit")).scalar_one()
    assert settings[True] == ("off", schema)
    assert settings[False] == (default, schema)


@pytest.mark.pg
def test_options_given_in_the_url_are_kept(pg_admin_engine: Engine) -> None:
    engine = make_engine(f"{PG_URL}?options=-cstatement_timeout%3D1234", interactive=True)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SHOW statement_timeout")).scalar_one() == "1234ms"
            assert conn.execute(text("SHOW jit")).scalar_one() == "off"
    finally:
        engine.dispose()
