"""The request context's per-process cache (company settings, scopes): a role or rep change
applies on the next request, a reporting-tree change within ``context_cache_seconds``, and a
disabled user is refused on the next request."""

from __future__ import annotations

import time
from collections.abc import Iterator

import dash
import pytest
from flask import jsonify
from flask.testing import FlaskClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core.config import Settings
from core.users.models import SalesRep, User
from dashboard.app import create_app
from dashboard.secure import request_context
from tests.dashboard.conftest import DemoMart
from tests.dashboard.dash_client import login, page_json, render_page

PROBE = "/_probe/scope"


def _app(demo: DemoMart, ttl: int) -> dash.Dash:
    """An app with a route that answers the scope this request was given."""
    settings = Settings(var_dir=demo.settings.var_dir, context_cache_seconds=ttl)
    app = create_app(settings)

    @app.server.get(PROBE)
    def probe():  # type: ignore[no-untyped-def]
        scope = request_context().scope
        return jsonify(role=scope.role, rep_ids=sorted(scope.rep_ids), all_reps=scope.all_reps)

    return app


@pytest.fixture
def long_ttl_app(demo_mart: DemoMart) -> Iterator[dash.Dash]:
    app = _app(demo_mart, ttl=600)
    yield app
    app.server.extensions["salesbi_engine"].dispose()


def _scope(client: FlaskClient) -> dict[str, object]:
    response = client.get(PROBE)
    assert response.status_code == 200, response.status_code
    return response.get_json()  # type: ignore[no-any-return]


def _user(demo: DemoMart, username: str) -> User:
    with Session(demo.core) as session:
        return session.scalars(select(User).where(User.username == username)).one()


def test_a_role_change_applies_on_the_next_request_even_with_the_scope_cached(
        long_ttl_app: dash.Dash, demo_mart: DemoMart) -> None:
    client = long_ttl_app.server.test_client()
    login(client, "manager")
    before = _scope(client)
    assert before["role"] == "sales_manager" and len(before["rep_ids"]) > 1  # type: ignore[arg-type]
    assert "team-leaderboard" in page_json(client, "/team", "?period=ytd")
    manager = _user(demo_mart, "manager")
    with demo_mart.core.begin() as conn:
        conn.execute(update(User).where(User.id == manager.id).values(role="rep"))
    try:
        assert _scope(client) == {"role": "rep", "rep_ids": [manager.rep_id],
                                  "all_reps": False}
        assert "no-access" in page_json(client, "/team", "?period=ytd")
    finally:
        with demo_mart.core.begin() as conn:
            conn.execute(update(User).where(User.id == manager.id).values(role="sales_manager"))
    assert _scope(client) == before


def test_a_reporting_tree_change_applies_once_the_cached_scope_expires(
        demo_mart: DemoMart) -> None:
    app = _app(demo_mart, ttl=1)
    client = app.server.test_client()
    login(client, "manager")
    manager = _user(demo_mart, "manager")
    before = _scope(client)
    moved = next(r for r in before["rep_ids"] if r != manager.rep_id)  # type: ignore[attr-defined]
    with Session(demo_mart.core) as session:
        old_manager = session.get_one(SalesRep, moved).manager_id
        outside = session.scalars(select(SalesRep.id).where(
            SalesRep.id.not_in(before["rep_ids"]))).first()  # type: ignore[arg-type]
    assert outside is not None
    with demo_mart.core.begin() as conn:
        conn.execute(update(SalesRep).where(SalesRep.id == moved).values(manager_id=outside))
    try:
        # Within the TTL the cached tree may still apply; after it, the new one does.
        time.sleep(2.1)
        after = _scope(client)
        assert moved not in after["rep_ids"]  # type: ignore[operator]
        assert set(after["rep_ids"]) < set(before["rep_ids"])  # type: ignore[call-overload]
    finally:
        with demo_mart.core.begin() as conn:
            conn.execute(update(SalesRep).where(SalesRep.id == moved)
                         .values(manager_id=old_manager))
        app.server.extensions["salesbi_engine"].dispose()


def test_the_scope_is_kept_for_the_ttl_so_a_tree_change_waits_for_it(
        long_ttl_app: dash.Dash, demo_mart: DemoMart) -> None:
    """The documented rule, the other way round: with a long TTL the cached tree holds."""
    client = long_ttl_app.server.test_client()
    login(client, "manager")
    manager = _user(demo_mart, "manager")
    before = _scope(client)
    moved = next(r for r in before["rep_ids"] if r != manager.rep_id)  # type: ignore[attr-defined]
    with Session(demo_mart.core) as session:
        old_manager = session.get_one(SalesRep, moved).manager_id
    with demo_mart.core.begin() as conn:
        conn.execute(update(SalesRep).where(SalesRep.id == moved).values(manager_id=None))
    try:
        assert _scope(client) == before
    finally:
        with demo_mart.core.begin() as conn:
            conn.execute(update(SalesRep).where(SalesRep.id == moved)
                         .values(manager_id=old_manager))


def test_a_disabled_user_is_refused_on_the_next_request_with_the_scope_cached(
        long_ttl_app: dash.Dash, demo_mart: DemoMart) -> None:
    client = long_ttl_app.server.test_client()
    login(client, "exec")
    assert _scope(client)["all_reps"] is True
    assert render_page(client, "/pipeline").status_code == 200
    with demo_mart.core.begin() as conn:
        conn.execute(update(User).where(User.username == "exec").values(is_active=False))
    try:
        assert render_page(client, "/pipeline").status_code == 401
        assert client.get(PROBE).status_code == 302  # to /login
    finally:
        with demo_mart.core.begin() as conn:
            conn.execute(update(User).where(User.username == "exec").values(is_active=True))
