"""Every role renders every page it may open, over HTTP, with figures from its own scope."""

from __future__ import annotations

import json

import dash
import pytest

from dashboard.formatting import compact_money
from dashboard.metrics.pipeline import pipeline_totals
from dashboard.metrics.scope import Scope
from dashboard.pages import PAGES
from tests.dashboard.conftest import DemoMart
from tests.dashboard.dash_client import find_component, login, page_json

NAV_PATHS = [page.PATH for page in PAGES if page.IN_NAV]



@pytest.mark.parametrize("username", ["rep", "manager", "finance", "exec", "admin"])
@pytest.mark.parametrize("path", NAV_PATHS)
def test_each_role_renders_each_page(demo_app: dash.Dash, username: str, path: str) -> None:
    client = demo_app.server.test_client()
    login(client, username)
    page = page_json(client, path, "?period=last_90")
    assert "no-access" not in page
    assert '"type": "Graph"' in page or '"namespace": "dash_ag_grid"' in page


def test_the_pipeline_page_shows_the_open_pipeline_of_the_users_scope(
        demo_app: dash.Dash, demo_mart: DemoMart) -> None:
    client = demo_app.server.test_client()
    login(client, "exec")
    tree = json.loads(page_json(client, "/pipeline", "?period=ytd"))
    card = find_component(tree, "pipeline-open")
    everyone = Scope("executive", 1, all_reps=True)
    today = demo_mart.mart.published_at.date()
    expected = pipeline_totals(demo_mart.mart, everyone, today)["pipeline_minor"]
    assert card["props"]["children"] == compact_money(expected, "USD")
