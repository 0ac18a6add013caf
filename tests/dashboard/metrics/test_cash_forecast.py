"""The cash-forecast metric on the demo company: the baseline is the batch's own weekly
table; a sales manager's forecast covers their tree's customers only; every scenario gives
exactly what a full re-simulation of the kept items gives; the backtest is for roles that
see every customer; on demo data the behaviour forecast beats the naive one."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from core.config import Settings
from core.db import make_engine
from core.demo import generate_demo
from dashboard.mart_reader import load_batch
from dashboard.metrics import cash_forecast as cf
from dashboard.metrics.mart import Mart
from dashboard.metrics.scope import Scope
from etl import run as etl_run
from etl.publish import mart_target, published_batch
from tests.conftest import seed_company
from tests.dashboard.conftest import DemoMart, manager_scope

EVERYONE = Scope("finance", 1, all_reps=True)


def resimulated(demo: DemoMart, scope: Scope, scenario: cf.Scenario) -> np.ndarray:
    """(simulations, weeks) totals of every item the scope and scenario keep, simulated
    again from scratch (the slow way the metric avoids)."""
    mart = demo.mart
    week = mart.frame("fct_cash_forecast_week")
    items = cf._in_scope(mart, scope, mart.frame("fct_cash_forecast_item")).filter(
        cf._kept(scenario))
    shift = np.where(items["customer_id"].to_numpy() == (scenario.shift_customer_id or -9),
                     scenario.shift_days, 0)
    as_of = cf._date(int(week["as_of_date_key"][0]))
    totals, _ = cf._resimulate(mart, items, as_of, int(week["seed"][0]),
                               np.zeros(items.height, np.int64), 1, shift)
    return totals[0]


def test_the_baseline_is_the_batchs_weekly_forecast(demo_mart: DemoMart) -> None:
    result = cf.forecast(demo_mart.mart, EVERYONE)
    week = demo_mart.mart.frame("fct_cash_forecast_week").sort("week_no")
    for column in ("p10_minor", "p50_minor", "p90_minor", "naive_minor"):
        assert result.weeks[column].to_list() == week[column].to_list(), column
    # expected: Σ of the customers' rounded means, within a unit per customer
    customers = result.customers.height
    assert (result.weeks["expected_minor"] - week["expected_minor"]).abs().max() <= customers
    assert result.horizon["expected"] == result.customers["expected_minor"].sum()
    assert result.horizon["amount"] == demo_mart.mart.frame(
        "fct_cash_forecast_item")["amount_minor"].sum()
    assert (result.weeks["p10_minor"] <= result.weeks["p50_minor"]).all()
    assert (result.weeks["p50_minor"] <= result.weeks["p90_minor"]).all()


def test_a_managers_forecast_is_their_trees_customers_only(demo_mart: DemoMart) -> None:
    mart, scope = demo_mart.mart, manager_scope(demo_mart)
    mine = set(scope.customer_ids(mart.frame("dim_customer"), mart.frame("dim_location")))
    result = cf.forecast(mart, scope)
    everyone = cf.forecast(mart, EVERYONE)
    assert 0 < result.customers.height < everyone.customers.height
    assert set(result.customers["customer_id"]) <= mine
    assert set(cf.shift_candidates(mart, scope)["customer_id"]) <= mine
    bands = cf.bands(resimulated(demo_mart, scope, cf.BASELINE))
    for name, values in bands.items():
        assert result.weeks[f"{name}_minor"].to_list() == values.tolist(), name
    assert result.horizon["expected"] < everyone.horizon["expected"]
    assert cf.backtest(mart, scope) is None


@pytest.mark.parametrize("scope_name", ["everyone", "manager"])
@pytest.mark.parametrize("scenario", [
    cf.Scenario(exclude_on_hold=True), cf.Scenario(exclude_disputed=True),
    cf.Scenario(shift_days=30), cf.Scenario(shift_days=-10, exclude_disputed=True),
    cf.Scenario(shift_days=45, exclude_on_hold=True, exclude_disputed=True)],
    ids=["on-hold", "disputed", "later", "earlier-no-disputes", "all"])
def test_each_scenario_equals_a_full_resimulation(demo_mart: DemoMart, scope_name: str,
                                                  scenario: cf.Scenario) -> None:
    scope = EVERYONE if scope_name == "everyone" else manager_scope(demo_mart)
    if scenario.shift_days:  # the customer with the most to receive
        candidates = cf.forecast(demo_mart.mart, scope).customers
        scenario = cf.Scenario(int(candidates["customer_id"][0]), scenario.shift_days,
                               scenario.exclude_on_hold, scenario.exclude_disputed)
    result = cf.forecast(demo_mart.mart, scope, scenario)
    bands = cf.bands(resimulated(demo_mart, scope, scenario))
    for name, values in bands.items():
        assert result.weeks[f"{name}_minor"].to_list() == values.tolist(), name
    assert result.weeks["expected_minor"].sum() == result.customers["expected_minor"].sum()
    assert result.weeks["naive_minor"].sum() == result.customers["naive_minor"].sum()


def test_leaving_out_disputed_invoices_and_customers_on_hold(demo_mart: DemoMart) -> None:
    mart = demo_mart.mart
    items = mart.frame("fct_cash_forecast_item")
    assert items["is_disputed"].any() and items["is_on_hold"].any()  # the demo has both
    base = cf.forecast(mart, EVERYONE)
    no_disputes = cf.forecast(mart, EVERYONE, cf.Scenario(exclude_disputed=True))
    assert no_disputes.horizon["amount"] == items.filter(~pl.col("is_disputed"))[
        "amount_minor"].sum()
    assert no_disputes.customers["disputed_minor"].sum() == 0
    no_holds = cf.forecast(mart, EVERYONE, cf.Scenario(exclude_on_hold=True))
    held = set(items.filter(pl.col("is_on_hold"))["customer_id"])
    assert not held & set(no_holds.customers["customer_id"])
    assert no_holds.horizon["expected"] < base.horizon["expected"]


def test_a_customer_paying_later_receives_later(demo_mart: DemoMart) -> None:
    mart = demo_mart.mart
    base = cf.forecast(mart, EVERYONE)
    customer = int(base.customers["customer_id"][0])
    later = cf.forecast(mart, EVERYONE, cf.Scenario(customer, 30))

    def of(result: cf.Forecast) -> dict[str, int]:
        return result.customers.filter(pl.col("customer_id") == customer).row(0, named=True)

    assert of(later)["expected_near_minor"] < of(base)["expected_near_minor"]
    assert of(later)["expected_minor"] <= of(base)["expected_minor"]
    # everyone else is unchanged
    others = pl.col("customer_id") != customer
    assert later.customers.filter(others).equals(base.customers.filter(others))


def test_the_backtest_is_for_roles_that_see_every_customer(demo_mart: DemoMart) -> None:
    rows = cf.backtest(demo_mart.mart, EVERYONE)
    assert rows is not None and rows.height == 8 * 13
    overall = cf.backtest_wape(rows)
    assert overall["pairs"][0] == rows.filter(pl.col("is_complete")).height > 0
    by_origin = cf.backtest_wape(rows, by_origin=True)
    assert by_origin.height == 8
    done = rows.filter(pl.col("is_complete"))
    actual = done["actual_minor"].sum()
    assert overall["wape"][0] == pytest.approx(
        (done["actual_minor"] - done["p50_minor"]).abs().sum() / actual)


# --- the behaviour forecast against the naive one on demo data ----------------------------

BACKTEST_DEMO = {"customers": 300, "lines": 20_000, "seed": 7, "end_date": date(2026, 6, 14)}


@pytest.fixture(scope="module")
def backtest_demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mart]:
    """A demo company large enough for weekly receipts to be more than a handful of
    invoices (the shared 60-customer demo is not), built and run on a fixed date."""
    settings = Settings(var_dir=tmp_path_factory.mktemp("backtest-demo"))
    core = make_engine(settings.resolved_database_url)
    seed_company(core)
    generate_demo(core, **BACKTEST_DEMO)  # type: ignore[arg-type]
    target = mart_target(settings.resolved_mart_url, settings.resolved_mart_dir)
    end = BACKTEST_DEMO["end_date"]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(etl_run, "utc_now", lambda: datetime(end.year, end.month, end.day, 18))
        etl_run.run_etl(core, target, full=True)
    core.dispose()
    batch = published_batch(target.engine)
    assert batch is not None
    yield load_batch(Path(settings.resolved_mart_dir), batch)
    target.engine.dispose()


def test_the_behaviour_forecast_beats_the_naive_one_on_demo_data(
        backtest_demo: Mart, capsys: pytest.CaptureFixture[str]) -> None:
    rows = cf.backtest(backtest_demo, EVERYONE)
    assert rows is not None
    overall = cf.backtest_wape(rows).row(0, named=True)
    with capsys.disabled():
        print(f"\nbacktest on the demo {BACKTEST_DEMO}: WAPE behaviour (P50) "
              f"{overall['wape']:.1%}, naive (due dates) {overall['naive_wape']:.1%} over "
              f"{overall['pairs']} (origin, week) pairs")
    assert overall["pairs"] == 36
    assert overall["wape"] < overall["naive_wape"]
