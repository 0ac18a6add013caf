"""The manager-only Team targets page: the manager's team figures, nothing for a rep."""

from __future__ import annotations

import json

import dash
import polars as pl

from dashboard.formatting import compact_money
from dashboard.metrics.period import preset_period
from dashboard.metrics.targets import attainment_totals
from tests.dashboard.conftest import DemoMart, manager_scope
from tests.dashboard.dash_client import export, find_component, login, page_json


def test_a_manager_sees_the_team_net_sales_target_and_only_their_reps(
        demo_app: dash.Dash, demo_mart: DemoMart) -> None:
    client = demo_app.server.test_client()
    login(client, "manager")
    tree = json.loads(page_json(client, "/team", "?period=ytd"))
    scope = manager_scope(demo_mart)
    period = preset_period("ytd", demo_mart.mart.published_at.date())
    expected = attainment_totals(demo_mart.mart, scope, period)
    assert expected["target_minor"] and expected["target_minor"] > 0
    for card, key in (("team-net-sales", "net_sales_minor"), ("team-target", "target_minor")):
        component = find_component(tree, card)
        assert component is not None
        assert component["props"]["children"] == compact_money(expected[key], "USD")
    grid = find_component(tree, "team-leaderboard")
    assert grid is not None
    shown = {row["label"] for row in grid["props"]["rowData"]}
    reps = demo_mart.mart.frame("dim_rep")
    team = set(reps.filter(pl.col("rep_id").is_in(list(scope.rep_ids)))["name"])
    assert shown and shown <= team
    assert shown != set(reps.filter(pl.col("rep_key") >= 0)["name"])


def test_a_rep_cannot_open_the_team_page_by_url_or_export_it(demo_app: dash.Dash) -> None:
    client = demo_app.server.test_client()
    login(client, "rep")
    page = page_json(client, "/team", "?period=ytd")
    assert "no-access" in page and "team-leaderboard" not in page
    assert export(client, "team-leaderboard", "/team").status_code == 403
