"""Every role renders every page it may open, over HTTP, with figures from its own scope."""

from __future__ import annotations

import json
from collections.abc import Iterator

import dash
import pytest

from dashboard.app import create_app
from dashboard.formatting import compact_money
from dashboard.metrics.pipeline import pipeline_totals
from dashboard.metrics.scope import Scope
from dashboard.pages import PAGES
from tests.dashboard.conftest import DemoMart
from tests.dashboard.dash_client import find_component, login, page_json

NAV_PATHS = [page.PATH for page in PAGES if page.IN_NAV]


@pytest.fixture(scope="module")
def app(demo_mart: DemoMart) -> Iterator[dash.Dash]:
    made = create_app(demo_mart.settings)
    yield made
    made.server.extensions["salesbi_engine"].dispose()


@pytest.mark.parametrize("username", ["rep", "manager", "finance", "exec", "admin"])
@pytest.mark.parametrize("path", NAV_PATHS)
def test_each_role_renders_each_page(app: dash.Dash, username: str, path: str) -> None:
    client = app.server.test_client()
    login(client, username)
    page = page_json(client, path, "?period=last_90")
    assert "no-access" not in page
    assert '"type": "Graph"' in page or '"namespace": "dash_ag_grid"' in page


def test_the_pipeline_page_shows_the_open_pipeline_of_the_users_scope(
        app: dash.Dash, demo_mart: DemoMart) -> None:
    client = app.server.test_client()
    login(client, "exec")
    tree = json.loads(page_json(client, "/pipeline", "?period=ytd"))
    card = find_component(tree, "pipeline-open")
    everyone = Scope("executive", 1, all_reps=True)
    today = demo_mart.mart.published_at.date()
    expected = pipeline_totals(demo_mart.mart, everyone, today)["pipeline_minor"]
    assert card["props"]["children"] == compact_money(expected, "USD")
