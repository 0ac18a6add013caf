"""The page result cache: an identical render is served from Redis (or process memory), a
different user, scope, query or batch never gets another's page, and pages that read the
core are rendered afresh every time."""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Callable, Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import dash
import pytest
import redis
from flask.testing import FlaskClient

from core.config import Settings
from dashboard.app import create_app
from dashboard.metrics.mart import Mart
from dashboard.metrics.scope import Scope
from dashboard.pages import customer, home, pipeline
from dashboard.result_cache import KEY_PREFIX, RESULT_CACHE, cached_layout, page_key
from dashboard.secure import RequestContext
from tests.dashboard.conftest import DemoMart
from tests.dashboard.dash_client import login, page_json

Renders = dict[str, int]


@pytest.fixture
def renders(monkeypatch: pytest.MonkeyPatch) -> Renders:
    """How many times each page's own layout ran (a cache hit does not run it)."""
    counts: Renders = {}
    for page in (home, pipeline, customer):
        monkeypatch.setattr(page, "layout", _counting(page.__name__, page.layout, counts))
    return counts


def _counting(name: str, fn: Callable[..., Any], counts: Renders) -> Callable[..., Any]:
    @functools.wraps(fn)
    def layout(context: RequestContext, **query: Any) -> Any:
        counts[name] = counts.get(name, 0) + 1
        return fn(context, **query)

    return layout


@pytest.fixture
def redis_client(redis_url: str, demo_mart: DemoMart) -> Iterator[redis.Redis]:
    """Redis, without entries of this test session's batch before and after the test."""
    client = redis.Redis.from_url(redis_url)
    pattern = f"{KEY_PREFIX}{demo_mart.mart.batch_id}:*"

    def clear() -> None:
        for key in client.scan_iter(pattern):
            client.delete(key)

    clear()
    yield client
    clear()
    client.close()


def _app(demo: DemoMart, **settings: Any) -> dash.Dash:
    return create_app(Settings(var_dir=demo.settings.var_dir, **settings))


@pytest.fixture
def redis_app(redis_client: redis.Redis, redis_url: str, renders: Renders,
              demo_mart: DemoMart) -> Iterator[dash.Dash]:
    app = _app(demo_mart, redis_url=redis_url)
    yield app
    app.server.extensions["salesbi_engine"].dispose()


def _keys(client: redis.Redis, demo: DemoMart) -> int:
    return len(list(client.scan_iter(f"{KEY_PREFIX}{demo.mart.batch_id}:*")))


def _client(app: dash.Dash, username: str) -> FlaskClient:
    client = app.server.test_client()
    login(client, username)
    return client


def _name(page: Any) -> str:
    return str(page.__name__)


def test_a_second_identical_render_is_served_from_redis(
        redis_app: dash.Dash, redis_client: redis.Redis, renders: Renders,
        demo_mart: DemoMart) -> None:
    client = _client(redis_app, "exec")
    first = page_json(client, "/pipeline", "?period=ytd&region=")
    assert renders[_name(pipeline)] == 1
    assert _keys(redis_client, demo_mart) == 1
    assert page_json(client, "/pipeline", "?period=ytd&region=") == first
    assert renders[_name(pipeline)] == 1
    # Another process (a second gunicorn worker, another host) shares it.
    other = _app(demo_mart, redis_url=redis_app.server.extensions[RESULT_CACHE]
                 .config["CACHE_REDIS_URL"])
    assert page_json(_client(other, "exec"), "/pipeline", "?period=ytd&region=") == first
    assert renders[_name(pipeline)] == 1
    other.server.extensions["salesbi_engine"].dispose()


def test_another_user_scope_or_query_never_gets_a_cached_page(
        redis_app: dash.Dash, redis_client: redis.Redis, renders: Renders,
        demo_mart: DemoMart) -> None:
    pages = {user: page_json(_client(redis_app, user), "/pipeline", "?period=ytd")
             for user in ("exec", "finance", "manager", "rep")}
    assert renders[_name(pipeline)] == 4
    assert _keys(redis_client, demo_mart) == 4
    assert pages["rep"] != pages["manager"] != pages["exec"]
    # A rep asking for every rep in the URL gets their own scope, under another key.
    rep = _client(redis_app, "rep")
    widened = page_json(rep, "/pipeline", "?period=ytd&rep=1,2,3,4,5,6,7,8,9,10")
    assert renders[_name(pipeline)] == 5
    assert widened != pages["exec"]
    assert page_json(rep, "/pipeline", "?period=ytd") == pages["rep"]
    assert renders[_name(pipeline)] == 5


def test_the_key_holds_the_server_scope_batch_and_date(demo_mart: DemoMart) -> None:
    mart = demo_mart.mart
    base = RequestContext(Scope("rep", 5, frozenset({3})), None, "Rep", mart,
                          date(2025, 6, 30), "USD", 1, "UTC")
    keys = {page_key(ctx, "pipeline", {"period": "ytd"}) for ctx in (
        base,
        dataclasses.replace(base, scope=Scope("rep", 5, frozenset({3, 4}))),
        dataclasses.replace(base, scope=Scope("sales_manager", 5, frozenset({3}))),
        dataclasses.replace(base, scope=Scope("rep", 6, frozenset({3}))),
        dataclasses.replace(base, today=date(2025, 7, 1)),
        dataclasses.replace(base, mart=dataclasses.replace(mart, batch_id="another")),
        dataclasses.replace(base, financing_rate=Decimal("0.1")),
    )}
    assert len(keys) == 7 and None not in keys
    assert page_key(base, "pipeline", {"period": "ytd"}) != page_key(base, "quotes",
                                                                     {"period": "ytd"})
    assert page_key(base, "pipeline", {"b": "1", "a": "2"}) == page_key(
        base, "pipeline", {"a": "2", "b": "1"})
    assert page_key(dataclasses.replace(base, mart=None), "pipeline", {}) is None
    assert page_key(base, "pipeline", {"q": "x" * 5000}) is None


class _Reader:
    def __init__(self, mart: Mart) -> None:
        self.mart = mart

    def current(self) -> Mart:
        return self.mart


def test_a_new_batch_misses_the_cache(redis_app: dash.Dash, redis_client: redis.Redis,
                                      renders: Renders, demo_mart: DemoMart) -> None:
    client = _client(redis_app, "exec")
    page_json(client, "/pipeline", "?period=ytd")
    page_json(client, "/pipeline", "?period=ytd")
    assert renders[_name(pipeline)] == 1
    new = dataclasses.replace(demo_mart.mart, batch_id=demo_mart.mart.batch_id + "-next")
    redis_app.server.extensions["salesbi_mart_reader"] = _Reader(new)
    try:
        page_json(client, "/pipeline", "?period=ytd")
        assert renders[_name(pipeline)] == 2
    finally:
        for key in redis_client.scan_iter(f"{KEY_PREFIX}{new.batch_id}:*"):
            redis_client.delete(key)


def test_pages_that_read_the_core_are_rendered_afresh(
        redis_app: dash.Dash, redis_client: redis.Redis, renders: Renders,
        demo_mart: DemoMart) -> None:
    rep = _client(redis_app, "rep")  # a rep's home reads their contacts due from the core
    for _ in range(2):
        assert "home-contacts-due" in page_json(rep, "/", "?period=ytd")
    assert renders[_name(home)] == 2
    customer_id = demo_mart.mart.frame("dim_customer")["customer_id"].max()
    finance = _client(redis_app, "finance")
    for _ in range(2):
        page_json(finance, f"/customers/{customer_id}")
    assert renders[_name(customer)] == 2
    assert _keys(redis_client, demo_mart) == 0
    page_json(finance, "/", "?period=ytd")  # finance's home reads the mart only
    page_json(finance, "/", "?period=ytd")
    assert renders[_name(home)] == 3
    assert _keys(redis_client, demo_mart) == 1


def test_without_redis_the_process_keeps_the_pages(renders: Renders,
                                                   demo_mart: DemoMart) -> None:
    app = _app(demo_mart)
    client = _client(app, "exec")
    assert json.loads(page_json(client, "/pipeline")) == json.loads(page_json(client,
                                                                              "/pipeline"))
    assert renders[_name(pipeline)] == 1
    assert app.server.extensions[RESULT_CACHE].config["CACHE_TYPE"] == "SimpleCache"
    app.server.extensions["salesbi_engine"].dispose()


def test_the_cache_can_be_turned_off(renders: Renders, demo_mart: DemoMart) -> None:
    app = _app(demo_mart, result_cache=False)
    client = _client(app, "exec")
    page_json(client, "/pipeline")
    page_json(client, "/pipeline")
    assert renders[_name(pipeline)] == 2
    assert RESULT_CACHE not in app.server.extensions
    app.server.extensions["salesbi_engine"].dispose()


def test_an_unreachable_redis_costs_a_render_not_an_error(demo_mart: DemoMart) -> None:
    app = _app(demo_mart, redis_url="redis://127.0.0.1:1/0")
    context = RequestContext(Scope("executive", 1, all_reps=True), None, "Exec",
                             demo_mart.mart, date(2025, 6, 30), "USD", 1, "UTC")
    calls: list[str] = []

    def layout(_context: RequestContext, **_query: Any) -> str:
        calls.append("render")
        return "page"

    cached = cached_layout("p")(layout)
    with app.server.test_request_context():
        assert cached(context) == cached(context) == "page"
    assert calls == ["render", "render"]
    app.server.extensions["salesbi_engine"].dispose()
