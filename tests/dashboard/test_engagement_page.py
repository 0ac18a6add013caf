"""The engagement page lists the customers behind a status card or a point of the trend, in
the user's scope; bad list parameters fall back to the default list."""

from __future__ import annotations

import json
import re
from typing import Any

import dash
import polars as pl

from dashboard.metrics.engagement import status_trend
from dashboard.metrics.scope import Scope
from tests.dashboard.conftest import DemoMart, managed_customers
from tests.dashboard.dash_client import find_component, grid_block, login, page_json

EVERYONE = Scope("executive", 1, all_reps=True)


def _listed(app: dash.Dash, client: Any, search: str) -> tuple[str, list[dict[str, Any]]]:
    """The list's heading and its rows, asked block by block as the browser does."""
    tree = json.loads(page_json(client, "/engagement", search))
    heading = find_component(tree, "engagement-list-heading")
    assert heading is not None
    if find_component(tree, "engagement-at-risk-empty") is not None:
        return str(heading["props"]["children"]), []
    grid = find_component(tree, "engagement-at-risk")
    assert grid is not None and grid["props"]["rowModelType"] == "infinite"
    rows, count = grid_block(app, client, "engagement-at-risk", search, endRow=100_000)
    assert len(rows) == count
    return str(heading["props"]["children"]), rows


def test_a_trend_point_lists_the_customers_behind_it(demo_app: dash.Dash,
                                                     demo_mart: DemoMart) -> None:
    client = demo_app.server.test_client()
    login(client, "exec")
    today = demo_mart.mart.published_at.date()
    trend = status_trend(demo_mart.mart, EVERYONE, today)
    tree = json.loads(page_json(client, "/engagement", ""))
    figure = find_component(tree, "engagement-trend")["props"]["figure"]  # type: ignore[index]
    active = next(t for t in figure["data"] if t["name"] == "Active")
    query = active["customdata"][0]  # the oldest month end
    as_of = trend["as_of"].min()
    assert query == f"status=active&as_of={as_of}"
    heading, rows = _listed(demo_app, client, "?" + query)
    expected = trend.filter((pl.col("as_of") == as_of) & (pl.col("status") == "active"))
    assert heading == f"Active customers on {as_of:%d %b %Y}"
    assert len(rows) == expected["customers"].item() > 0
    assert {row["status_label"] for row in rows} == {"Active"}


def test_bad_list_parameters_fall_back_to_at_risk_and_lapsed_today(
        demo_app: dash.Dash, demo_mart: DemoMart) -> None:
    client = demo_app.server.test_client()
    login(client, "exec")
    today = demo_mart.mart.published_at.date()
    default = _listed(demo_app, client, "")
    assert default[0] == f"At-risk and lapsed customers on {today:%d %b %Y}"
    assert _listed(demo_app, client, "?status=everything&as_of=2999-01-01") == default
    assert {row["status_label"] for row in default[1]} <= {"At risk", "Lapsed"}


def test_a_rep_lists_only_the_customers_they_manage(demo_app: dash.Dash,
                                                    demo_mart: DemoMart) -> None:
    managed = managed_customers(demo_mart.core, "rep")
    client = demo_app.server.test_client()
    login(client, "rep")
    _, rows = _listed(demo_app, client, "?status=active")
    listed = {int(re.search(r"/customers/(\d+)", row["name"])[1]) for row in rows}
    assert listed and listed <= managed
