"""The Cash forecast page over HTTP: finance sees the fan chart, the backtest and both tables
with the forecast's own figures, and a scenario from the URL; a manager sees their tree's
customers and no backtest; a rep cannot open it or export it; unknown URL values are
dropped."""

from __future__ import annotations

import json
from typing import Any

import dash
import polars as pl

from dashboard.formatting import compact_money, percent
from dashboard.metrics import cash_forecast as cf
from dashboard.metrics.scope import Scope
from tests.dashboard.conftest import DemoMart, manager_scope
from tests.dashboard.dash_client import export, find_component, login, page_json

EVERYONE = Scope("finance", 1, all_reps=True)


def _page(app: dash.Dash, username: str, search: str = "") -> Any:
    client = app.server.test_client()
    login(client, username)
    return json.loads(page_json(client, "/cash-forecast", search))


def _card(tree: Any, card_id: str) -> str:
    component = find_component(tree, card_id)
    assert component is not None, card_id
    return str(component["props"]["children"])


def test_finance_sees_the_forecast_the_backtest_and_the_tables(
        demo_app: dash.Dash, demo_mart: DemoMart) -> None:
    tree = _page(demo_app, "finance")
    expected = cf.forecast(demo_mart.mart, EVERYONE)
    assert _card(tree, "cash-forecast-expected") == compact_money(
        expected.horizon["expected"], "USD")
    fan = find_component(tree, "cash-forecast-fan")
    assert fan is not None
    figure = fan["props"]["figure"]
    assert "(USD)" in figure["layout"]["title"]["text"]
    assert figure["layout"]["yaxis"]["title"]["text"] == "Receipts (USD)"
    assert {trace.get("name") for trace in figure["data"]} >= {"P10–P90", "P50",
                                                               "Naive: due dates"}
    wape = cf.backtest_wape(cf.backtest(demo_mart.mart, EVERYONE))  # type: ignore[arg-type]
    assert _card(tree, "cash-forecast-wape") == percent(wape["wape"][0])
    assert _card(tree, "cash-forecast-naive-wape") == percent(wape["naive_wape"][0])
    weeks = find_component(tree, "cash-forecast-weeks")
    assert weeks is not None and len(weeks["props"]["rowData"]) == 13
    customers = find_component(tree, "cash-forecast-customers")
    assert customers is not None
    assert len(customers["props"]["rowData"]) == expected.customers.height
    assert find_component(tree, "cash-forecast-scenario-note") is None


def test_a_scenario_in_the_url_changes_the_figures(demo_app: dash.Dash,
                                                   demo_mart: DemoMart) -> None:
    base = cf.forecast(demo_mart.mart, EVERYONE)
    customer = int(base.customers["customer_id"][0])
    scenario = cf.Scenario(customer, 30, exclude_on_hold=True, exclude_disputed=True)
    tree = _page(demo_app, "finance",
                 f"?shift_customer={customer}&shift_days=30&exclude=hold,disputed")
    note = _card(tree, "cash-forecast-scenario-note")
    assert "pays 30 days later" in note and "on hold" in note and "disputed" in note
    assert _card(tree, "cash-forecast-expected") == compact_money(
        cf.forecast(demo_mart.mart, EVERYONE, scenario).horizon["expected"], "USD")
    # values outside the allowlists are dropped: the baseline again
    tree = _page(demo_app, "finance", "?shift_customer=999999&shift_days=9999&exclude=all")
    assert find_component(tree, "cash-forecast-scenario-note") is None
    assert _card(tree, "cash-forecast-expected") == compact_money(base.horizon["expected"],
                                                                  "USD")


def test_a_manager_sees_their_trees_customers_and_no_backtest(
        demo_app: dash.Dash, demo_mart: DemoMart) -> None:
    tree = _page(demo_app, "manager")
    scope = manager_scope(demo_mart)
    expected = cf.forecast(demo_mart.mart, scope)
    assert _card(tree, "cash-forecast-expected") == compact_money(
        expected.horizon["expected"], "USD")
    rows = find_component(tree, "cash-forecast-customers")["props"]["rowData"]  # type: ignore[index]
    names = demo_mart.mart.frame("dim_customer").filter(
        pl.col("is_current") & pl.col("customer_id").is_in(
            list(scope.customer_ids(demo_mart.mart.frame("dim_customer"),
                                    demo_mart.mart.frame("dim_location")))))["name"]
    shown = {row["name"].split("](")[0].lstrip("[") for row in rows}
    assert shown and shown <= set(names)
    assert find_component(tree, "cash-forecast-no-backtest") is not None
    assert find_component(tree, "cash-forecast-wape") is None
    # a customer outside the tree cannot be named in a scenario
    outsider = cf.forecast(demo_mart.mart, EVERYONE).customers.filter(
        ~pl.col("customer_id").is_in(expected.customers["customer_id"].implode()))
    tree = _page(demo_app, "manager",
                 f"?shift_customer={outsider['customer_id'][0]}&shift_days=30")
    assert find_component(tree, "cash-forecast-scenario-note") is None


def test_a_rep_gets_no_forecast_by_url_or_export(demo_app: dash.Dash) -> None:
    client = demo_app.server.test_client()
    login(client, "rep")
    page = page_json(client, "/cash-forecast")
    assert "no-access" in page and "cash-forecast-fan" not in page
    assert export(client, "cash-forecast-customers", "/cash-forecast").status_code == 403


def _search(client: Any, text: str) -> Any:
    dropdown = {"name": "shift_customer", "type": "view-param"}
    key = json.dumps(dropdown, separators=(",", ":"))
    body = {"output": f"{key}.options", "outputs": {"id": dropdown, "property": "options"},
            "inputs": [{"id": dropdown, "property": "search_value", "value": text}],
            "state": [{"id": dropdown, "property": "value", "value": None}],
            "changedPropIds": [f"{key}.search_value"]}
    return client.post("/_dash-update-component", json=body)


def test_searching_a_customer_offers_only_customers_in_scope(
        demo_app: dash.Dash, demo_mart: DemoMart) -> None:
    client = demo_app.server.test_client()
    login(client, "manager")
    scope = manager_scope(demo_mart)
    candidates = cf.shift_candidates(demo_mart.mart, scope)
    everyone = cf.shift_candidates(demo_mart.mart, EVERYONE)
    # a letter that names customers inside and outside the tree
    response = _search(client, "a")
    assert response.status_code == 200
    options = response.get_json()["response"]['{"name":"shift_customer","type":"view-param"}'][
        "options"]
    offered = {int(option["value"]) for option in options}
    assert offered and offered <= set(candidates["customer_id"])
    assert len(everyone) > len(candidates)
    client = demo_app.server.test_client()
    login(client, "rep")
    assert _search(client, "a").status_code == 403
