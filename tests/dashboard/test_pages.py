"""Every role renders every page it may open, over HTTP, with figures from its own scope."""

from __future__ import annotations

import json
from types import ModuleType

import dash
import pytest

from dashboard.formatting import compact_money
from dashboard.metrics.pipeline import pipeline_totals
from dashboard.metrics.scope import Scope
from dashboard.pages import PAGES
from tests.dashboard.conftest import DemoMart
from tests.dashboard.dash_client import find_component, login, page_json

NAV_PAGES = [page for page in PAGES if page.IN_NAV]
DEMO_ROLES = {"rep": "rep", "manager": "sales_manager", "finance": "finance",
              "exec": "executive", "admin": "admin"}


@pytest.mark.parametrize("username", sorted(DEMO_ROLES))
@pytest.mark.parametrize("page", NAV_PAGES, ids=[page.PATH for page in NAV_PAGES])
def test_each_role_renders_each_page_it_may_open_and_no_other(
        demo_app: dash.Dash, username: str, page: ModuleType) -> None:
    client = demo_app.server.test_client()
    login(client, username)
    rendered = page_json(client, page.PATH, "?period=last_90")
    if DEMO_ROLES[username] in page.ROLES:
        assert "no-access" not in rendered
        assert '"type": "Graph"' in rendered or '"namespace": "dash_ag_grid"' in rendered
    else:
        assert "no-access" in rendered
        assert '"type": "Graph"' not in rendered


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
