"""Drill-through: a click on a figure opens the Documents page with the page's filters and
the point's slice; the list there applies the user's scope whatever the URL says."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import dash
import polars as pl
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.users.models import User
from dashboard.drill import drill_search
from dashboard.formatting import money
from dashboard.metrics.period import preset_period
from dashboard.metrics.pipeline import pipeline_by, pipeline_movement
from dashboard.metrics.pnl import pnl_by, pnl_totals
from dashboard.metrics.sales import sales_totals
from dashboard.metrics.scope import Scope
from tests.dashboard.conftest import DemoMart
from tests.dashboard.dash_client import (
    export,
    exported_rows,
    find_component,
    grid_block,
    login,
    page_json,
)
from tests.dashboard.metrics.test_pnl import company_rate


def test_a_point_keeps_the_page_filters_and_lays_its_own_slice_over_them() -> None:
    search = drill_search("kind=sales&customer=12&evil=1",
                          "?period=custom&start=2026-01-01&end=2026-03-31&region=EU&x=1")
    assert _parsed(search) == {"period": "custom", "start": "2026-01-01", "end": "2026-03-31",
                               "region": "EU", "kind": "sales", "customer": "12"}
    month = drill_search("kind=sales&period=custom&start=2026-05-01&end=2026-05-31",
                         "?period=ytd&channel=web&start=2020-01-01")
    assert _parsed(month) == {"channel": "web", "period": "custom", "start": "2026-05-01",
                              "end": "2026-05-31", "kind": "sales"}


def _parsed(search: str) -> dict[str, str]:
    return dict(parse_qsl(search.lstrip("?")))


def _drill_outputs(demo_app: dash.Dash, graph_id: str) -> str:
    """The output spec Dash registered for the drill callback of ``graph_id``."""
    for key, callback in demo_app.callback_map.items():
        if any(i["id"] == graph_id for i in callback["inputs"]):
            return key
    raise AssertionError(f"no drill callback on {graph_id}")


def test_clicking_a_month_opens_its_invoices_and_credit_notes(demo_app: dash.Dash) -> None:
    client = demo_app.server.test_client()
    login(client, "exec")
    output = _drill_outputs(demo_app, "home-trend")
    body = {
        "output": output,
        "outputs": [{"id": "_pages_location", "property": prop.split("@")[0].split(".")[-1]
                     + ("@" + prop.split("@")[1] if "@" in prop else "")}
                    for prop in output.strip(".").split("...")],
        "inputs": [{"id": "home-trend", "property": "clickData", "value": {"points": [
            {"customdata": "kind=sales&period=custom&start=2026-05-01&end=2026-05-31"}]}}],
        "changedPropIds": ["home-trend.clickData"],
        "state": [{"id": "_pages_location", "property": "search", "value": "?period=ytd"}],
    }
    response = client.post("/_dash-update-component", json=body)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    located = response.get_json()["response"]["_pages_location"]
    assert located["pathname"] == "/documents"
    assert _parsed(located["search"]) == {"period": "custom", "start": "2026-05-01",
                                          "end": "2026-05-31", "kind": "sales"}


def _total_text(client: Any, search: str) -> str:
    tree = json.loads(page_json(client, "/documents", search))
    total = find_component(tree, "documents-total")
    assert total is not None
    return str(total["props"]["children"])


def test_the_documents_page_adds_up_to_net_sales_for_the_user(demo_app: dash.Dash,
                                                               demo_mart: DemoMart) -> None:
    client = demo_app.server.test_client()
    login(client, "exec")
    period = preset_period("ytd", demo_mart.mart.published_at.date())
    net = sales_totals(demo_mart.mart, Scope("executive", 1, all_reps=True), period)
    assert _total_text(client, "?period=ytd&kind=sales").endswith(
        f"total {money(net['net_sales_minor'], 'USD')}")


def test_a_rep_drilling_into_another_reps_customer_sees_no_documents(
        demo_app: dash.Dash, demo_mart: DemoMart) -> None:
    with Session(demo_mart.core) as session:
        rep_id = session.scalars(select(User.rep_id).where(User.username == "rep")).one()
    customers = demo_mart.mart.frame("dim_customer").filter(pl.col("is_current"))
    other = customers.filter(pl.col("account_manager_id") != rep_id)["customer_id"][0]
    own = customers.filter(pl.col("account_manager_id") == rep_id)["customer_id"][0]
    client = demo_app.server.test_client()
    login(client, "rep")
    assert _total_text(client, f"?period=fiscal_year&kind=sales&customer={other}").startswith(
        "0 documents")
    assert _total_text(client, f"?period=ytd&kind=orders&customer={own}") != ""


def test_a_close_month_bar_opens_its_opportunities_and_a_bad_month_is_ignored(
        demo_app: dash.Dash, demo_mart: DemoMart) -> None:
    client = demo_app.server.test_client()
    login(client, "exec")
    end = demo_mart.mart.published_at.date()
    months = pipeline_by(demo_mart.mart, Scope("executive", 1, all_reps=True), end,
                         "close_month")
    month, count = months.select("label", "opportunities").row(0)
    search = f"?period=custom&start={end:%Y-%m}-01&end={end}&kind=opportunities"
    assert _total_text(client, f"{search}&close_month={month}").startswith(f"{count} ")
    everything = _total_text(client, search)
    assert _total_text(client, f"{search}&close_month=2026-13") == everything
    assert int(everything.split()[0].replace(",", "")) > count


def test_each_waterfall_bar_opens_the_opportunities_behind_it(demo_app: dash.Dash,
                                                              demo_mart: DemoMart) -> None:
    client = demo_app.server.test_client()
    login(client, "exec")
    period = preset_period("ytd", demo_mart.mart.published_at.date())
    steps = pipeline_movement(demo_mart.mart, Scope("executive", 1, all_reps=True),
                              period.start, period.end)
    tree = json.loads(page_json(client, "/pipeline", "?period=ytd"))
    graph = find_component(tree, "pipeline-movement")
    assert graph is not None
    queries = graph["props"]["figure"]["data"][0]["customdata"]
    assert len(queries) == steps.height >= 3
    for query, (step, _, count) in zip(queries, steps.iter_rows(), strict=True):
        assert _parsed(query)["kind"] == ("opportunities" if step in ("opening", "closing")
                                          else "movement"), step
        assert _total_text(client, "?" + query).startswith(f"{count:,} document"), step


def _exported(client: Any, search: str) -> list[dict[str, str]]:
    return exported_rows(export(client, "documents", "/documents", search))


def test_a_rep_opening_another_reps_pnl_node_sees_none_of_their_shipments_or_invoices(
        demo_app: dash.Dash, demo_mart: DemoMart) -> None:
    mart, rate = demo_mart.mart, company_rate(demo_mart)
    period = preset_period("fiscal_year", mart.published_at.date())
    with Session(demo_mart.core) as session:
        rep_id = session.scalars(select(User.rep_id).where(User.username == "rep")).one()
    by_rep = pnl_by(mart, Scope("executive", 1, all_reps=True), period, "rep", rate=rate)
    other = by_rep.filter((pl.col("value") != str(rep_id)) & (pl.col("freight_cost_minor") > 0)
                          & (pl.col("financing_cost_minor") > 0))["value"][0]
    executive, client = demo_app.server.test_client(), demo_app.server.test_client()
    login(executive, "exec")
    login(client, "rep")
    pnl = json.loads(page_json(client, "/pnl", f"?period=fiscal_year&path=rep,channel&at={other}"))
    for kind, noun in (("freight", "shipments"), ("financing", "invoices")):
        link = find_component(pnl, f"pnl-node-{kind}")
        assert link is not None
        search = "?" + urlsplit(link["props"]["href"]).query
        assert _parsed(search)["rep"] == other
        assert not _total_text(executive, search).startswith(f"0 {noun}")
        assert grid_block(demo_app, executive, "documents-table", search)[1] > 0
        assert _total_text(client, search).startswith(f"0 {noun}"), kind
        tree = json.loads(page_json(client, "/documents", search))
        empty = find_component(tree, "documents-table-empty")
        assert empty is not None and "outside your scope" in empty["props"]["children"]
        assert grid_block(demo_app, client, "documents-table", search) == ([], 0)
        assert _exported(client, search) == []
        assert _exported(executive, search) != []


def test_a_reps_own_shipments_and_invoices_add_up_to_their_pnl(demo_app: dash.Dash,
                                                               demo_mart: DemoMart) -> None:
    with Session(demo_mart.core) as session:
        user_id, rep_id = session.execute(select(User.id, User.rep_id).where(
            User.username == "rep")).one()
    mart, rate = demo_mart.mart, company_rate(demo_mart)
    period = preset_period("fiscal_year", mart.published_at.date())
    totals = pnl_totals(mart, Scope("rep", user_id, rep_ids=frozenset({rep_id})), period,
                        rate=rate)
    client = demo_app.server.test_client()
    login(client, "rep")
    for kind, key in (("freight", "freight_cost_minor"), ("financing", "financing_cost_minor")):
        search = f"?period=fiscal_year&kind={kind}"
        assert totals[key] > 0 and _total_text(client, search).endswith(
            money(totals[key], "USD")), kind
        rows = _exported(client, search)
        assert sum(int(Decimal(row[key.removesuffix("_minor")]) * 100) for row in rows) == \
            totals[key]
