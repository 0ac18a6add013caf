"""The P&L page: figures of the user's scope at every drill level, the path and members in
the URL validated on the server, a tile click drilling one level down."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import dash
import polars as pl
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.users.models import User
from dashboard.figures import contribution_bridge
from dashboard.formatting import compact_money, money
from dashboard.metrics.period import preset_period
from dashboard.metrics.pnl import pnl_by, pnl_totals
from dashboard.metrics.scope import Scope
from dashboard.pages.pnl import CONTRIBUTION_STEPS, contribution_steps
from tests.dashboard.conftest import DemoMart, manager_scope
from tests.dashboard.dash_client import export, exported_rows, find_component, login, page_json
from tests.dashboard.metrics.test_pnl import company_rate

EVERYONE = Scope("executive", 1, all_reps=True)


def _page(demo_app: dash.Dash, username: str, search: str) -> Any:
    client = demo_app.server.test_client()
    login(client, username)
    return json.loads(page_json(client, "/pnl", search))


def _text(tree: Any, component_id: str) -> str:
    found = find_component(tree, component_id)
    assert found is not None, component_id
    return json.dumps(found["props"].get("children", found["props"].get("items")))


def test_an_executive_drills_from_all_to_a_rep_and_sees_its_channels(
        demo_app: dash.Dash, demo_mart: DemoMart) -> None:
    mart = demo_mart.mart
    period, rate = preset_period("ytd", mart.published_at.date()), company_rate(demo_mart)
    top = pnl_by(mart, EVERYONE, period, "rep", rate=rate).row(0, named=True)
    tree = _page(demo_app, "exec", f"?period=ytd&path=rep,channel&at={top['value']}")
    assert _text(tree, "pnl-net-sales") == json.dumps(compact_money(top["net_sales_minor"],
                                                                    "USD"))
    assert top["label"] in _text(tree, "pnl-breadcrumbs")
    grid = find_component(tree, "pnl-table")
    assert grid is not None
    channels = pnl_by(mart, EVERYONE, period, "channel", node=(("rep", top["value"]),),
                      rate=rate)
    assert len(grid["props"]["rowData"]) == channels.height
    assert all(f"at={top['value']}%7C" in row["label"] for row in grid["props"]["rowData"])


def test_the_page_shows_every_contribution_term_and_the_bridge_adds_up(
        demo_app: dash.Dash, demo_mart: DemoMart) -> None:
    mart = demo_mart.mart
    period, rate = preset_period("fiscal_year", mart.published_at.date()), company_rate(demo_mart)
    totals = pnl_totals(mart, EVERYONE, period, rate=rate)
    tree = _page(demo_app, "exec", "?period=fiscal_year&path=customer")
    assert _text(tree, "pnl-contribution") == json.dumps(
        compact_money(totals["contribution_minor"], "USD"))
    assert "Before freight" not in json.dumps(tree)
    assert "8.0%" in _text(tree, "pnl-contribution-note")
    bridge = find_component(tree, "pnl-contribution-bridge")
    assert bridge is not None
    steps = bridge["props"]["figure"]["data"][0]  # horizontal: labels on y, USD on x
    assert steps["y"][-1] == "Contribution" and "− Financing cost" in steps["y"]
    assert sum(steps["x"][:-1]) == pytest.approx(steps["x"][-1])
    assert steps["x"][-1] == pytest.approx(totals["contribution_minor"] / 100)
    grid = find_component(tree, "pnl-table")
    assert grid is not None
    fields = [column["field"] for column in grid["props"]["columnDefs"]]
    assert {"freight_cost_minor", "financing_cost_minor", "contribution_minor"} <= set(fields)
    rows = grid["props"]["rowData"]
    (total,) = grid["props"]["dashGridOptions"]["pinnedBottomRowData"]
    for key in ("net_sales_minor", "freight_cost_minor", "financing_cost_minor",
                "contribution_minor"):
        assert total[key] == pytest.approx(totals[key] / 100), key  # major units
        assert sum(row[key] for row in rows) == pytest.approx(total[key]), key
    assert totals["freight_cost_minor"] > 0 and totals["financing_cost_minor"] > 0


def test_unknown_path_and_members_fall_back_to_the_top(demo_app: dash.Dash,
                                                      demo_mart: DemoMart) -> None:
    period = preset_period("ytd", demo_mart.mart.published_at.date())
    tree = _page(demo_app, "exec", "?period=ytd&path=evil,channel&at=%27%3Bdrop")
    total = pnl_totals(demo_mart.mart, EVERYONE, period,
                       rate=company_rate(demo_mart))["net_sales_minor"]
    assert _text(tree, "pnl-net-sales") == json.dumps(compact_money(total, "USD"))
    assert "Channel" in json.dumps(find_component(tree, "pnl-table"))


def test_a_rep_drilling_into_another_rep_sees_nothing_of_theirs(
        demo_app: dash.Dash, demo_mart: DemoMart) -> None:
    with Session(demo_mart.core) as session:
        rep_id = session.scalars(select(User.rep_id).where(User.username == "rep")).one()
    reps = demo_mart.mart.frame("dim_rep").filter(pl.col("rep_key") >= 0)
    other = reps.filter(pl.col("rep_id") != rep_id)["rep_id"][0]
    tree = _page(demo_app, "rep", f"?period=fiscal_year&path=rep,channel&at={other}")
    assert _text(tree, "pnl-net-sales") == json.dumps(compact_money(0, "USD"))


def test_a_tile_click_drills_one_level_down(demo_app: dash.Dash) -> None:
    client = demo_app.server.test_client()
    login(client, "exec")
    output = next(key for key, callback in demo_app.callback_map.items()
                  if any(i["id"] == "pnl-treemap" for i in callback["inputs"]))
    body = {
        "output": output,
        "outputs": {"id": "_pages_location", "property": output.split(".")[-1]},
        "inputs": [{"id": "pnl-treemap", "property": "clickData",
                    "value": {"points": [{"customdata": "WEB"}]}}],
        "changedPropIds": ["pnl-treemap.clickData"],
        "state": [{"id": "_pages_location", "property": "search",
                   "value": "?period=ytd&path=rep,channel&at=3"}],
    }
    response = client.post("/_dash-update-component", json=body)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    search = response.get_json()["response"]["_pages_location"]["search"]
    assert dict(parse_qsl(search.lstrip("?"))) == {"period": "ytd", "path": "rep,channel",
                                                   "at": "3|WEB"}


def test_the_bridge_signs_each_term_and_zooms_on_the_running_totals() -> None:
    totals = {"margin_minor": 100_000, "freight_charged_minor": 2_000,
              "freight_cost_minor": 3_000, "settlement_discount_minor": 0,
              "bad_debt_minor": 500, "financing_cost_minor": 1_200,
              "contribution_minor": 97_300}
    steps = contribution_steps(totals)
    assert steps["amount_minor"].to_list() == [100_000, 2_000, -3_000, 0, -500, -1_200, 97_300]
    figure = contribution_bridge(steps, "USD", "Bridge", CONTRIBUTION_STEPS)
    bars = figure.data[0]
    assert list(bars.text) == ["$1.0K", "+$20", "−$30", "$0", "−$5", "−$12", "$973"]
    assert list(bars.y) == list(CONTRIBUTION_STEPS.values())
    low, high = figure.layout.xaxis.range
    assert 0 < low < 973 and high > 1_020  # running totals 973 … 1,020 USD, not from zero


def test_a_managers_export_holds_every_term_of_the_teams_reps_only(
        demo_app: dash.Dash, demo_mart: DemoMart) -> None:
    mart, rate = demo_mart.mart, company_rate(demo_mart)
    period = preset_period("fiscal_year", mart.published_at.date())
    team = manager_scope(demo_mart)
    client = demo_app.server.test_client()
    login(client, "manager")
    exported = {row["rep"]: row for row in exported_rows(
        export(client, "pnl", "/pnl", "?period=fiscal_year&path=rep"))}
    team_names = set(mart.frame("dim_rep").filter(
        pl.col("rep_id").is_in(sorted(team.rep_ids)))["name"])
    assert exported and set(exported) <= team_names
    everyone = pnl_by(mart, EVERYONE, period, "rep", rate=rate)
    for rep in everyone.filter(pl.col("label").is_in(sorted(exported))).iter_rows(named=True):
        for key in ("freight_cost_minor", "financing_cost_minor", "contribution_minor"):
            assert Decimal(exported[rep["label"]][key.removesuffix("_minor")]) * 100 == rep[key]
    assert sum(Decimal(row["financing_cost"]) for row in exported.values()) > 0


def _link(markdown: str) -> tuple[str, str]:
    """The path and query of a grid cell's markdown link ``[text](href)``."""
    found = re.fullmatch(r"\[.+\]\((.+)\)", markdown)
    assert found is not None, markdown
    href = urlsplit(found[1])
    return href.path, "?" + href.query


def _documents_total(client: Any, search: str) -> str:
    found = find_component(json.loads(page_json(client, "/documents", search)),
                           "documents-total")
    assert found is not None
    return str(found["props"]["children"])


def test_each_rows_links_open_the_shipments_and_invoices_adding_up_to_its_costs(
        demo_app: dash.Dash, demo_mart: DemoMart) -> None:
    mart, rate = demo_mart.mart, company_rate(demo_mart)
    period = preset_period("fiscal_year", mart.published_at.date())
    top = pnl_by(mart, EVERYONE, period, "rep", rate=rate)["value"][0]
    expected = {row["label"]: row for row in pnl_by(
        mart, EVERYONE, period, "category", node=(("rep", top),), rate=rate).iter_rows(
        named=True)}
    client = demo_app.server.test_client()
    login(client, "exec")
    tree = _page(demo_app, "exec", f"?period=fiscal_year&path=rep,category&at={top}")
    grid = find_component(tree, "pnl-table")
    assert grid is not None and len(grid["props"]["rowData"]) == len(expected) > 1
    costly = 0
    for row in grid["props"]["rowData"]:
        cells = expected[re.fullmatch(r"\[(.+)\]\(.+\)", row["label"])[1]]  # type: ignore[index]
        for kind, noun, name, key in (
                ("freight", "shipments", "freight cost", "freight_cost_minor"),
                ("financing", "invoices", "financing cost", "financing_cost_minor")):
            path, search = _link(row[f"{kind}_link"])
            assert path == "/documents" and dict(parse_qsl(search[1:]))["kind"] == kind
            assert _documents_total(client, search).endswith(
                f" {noun}, {name} {money(cells[key], 'USD')}"), (cells["label"], kind)
        costly += cells["freight_cost_minor"] > 0 and cells["financing_cost_minor"] > 0
    assert costly >= 1
    node = pnl_totals(mart, EVERYONE, period, node=(("rep", top),), rate=rate)
    for kind, key in (("freight", "freight_cost_minor"), ("financing", "financing_cost_minor")):
        link = find_component(tree, f"pnl-node-{kind}")
        assert link is not None
        _, search = _link(f"[node]({link['props']['href']})")
        assert _documents_total(client, search).endswith(money(node[key], "USD")), kind
