"""Engagement status: the KPIS rule on hand-made frames (boundaries, clamping, creation
dates), and the demo company's statuses matched to an independent computation from the
core's orders; customers are scoped by who manages them now."""

from __future__ import annotations

import statistics
from datetime import date, timedelta

import polars as pl
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.customers.models import Customer, Location
from core.sales.models import OrderStatus, SalesOrder
from dashboard.metrics.engagement import (
    STATUSES,
    at_risk_and_lapsed,
    at_risk_and_lapsed_of,
    classify,
    counts_by_status,
    engagement,
    status_counts,
    status_trend,
)
from dashboard.metrics.mart import Mart
from dashboard.metrics.scope import NO_SCOPE, Scope
from tests.dashboard.conftest import DemoMart

FINANCE = Scope(role="finance", user_id=1, all_reps=True)
D = date(2026, 6, 30)
LONG_AGO = date(2020, 1, 1)


def _status(order_days_ago: list[int], as_of: date = D,
            created: date = LONG_AGO) -> dict[str, object]:
    """The classified row of one customer whose orders were ``order_days_ago`` before D."""
    customers = pl.LazyFrame({"customer_id": [1], "created_date": [created]})
    orders = pl.LazyFrame({"customer_id": [1] * len(order_days_ago),
                           "order_date": [D - timedelta(days=n) for n in order_days_ago]},
                          schema={"customer_id": pl.Int64, "order_date": pl.Date})
    rows = classify(customers, orders, as_of).collect().to_dicts()
    assert len(rows) == 1
    return rows[0]


def test_a_customer_without_orders_by_d_is_never() -> None:
    row = _status([-5])  # its only order comes after D
    assert row["status"] == "never" and row["orders"] == 0
    assert row["expected_interval_days"] is None


def test_new_lasts_90_days_from_the_first_order() -> None:
    assert _status([90])["status"] == "new"
    assert _status([91])["status"] == "active"  # one order: E = 365
    assert _status([300, 10, 5])["status"] == "active"  # first order long ago: not new


def test_active_up_to_the_expected_interval_then_at_risk() -> None:
    # Gaps 40 and 40: E = 1.5 × 40 = 60.
    at_60 = _status([140, 100, 60])
    assert at_60["expected_interval_days"] == 60.0 and at_60["days_since_last_order"] == 60
    assert at_60["status"] == "active"
    assert _status([140, 100, 60], as_of=D + timedelta(days=1))["status"] == "at_risk"


def test_lapsed_after_365_days_whatever_the_interval() -> None:
    assert _status([500, 365])["status"] == "active"  # < 3 orders: E = 365
    assert _status([500, 366])["status"] == "lapsed"
    assert _status([445, 405, 365])["status"] == "at_risk"  # E = 60
    assert _status([446, 406, 366])["status"] == "lapsed"


def test_expected_interval_is_clamped_to_30_and_365_days() -> None:
    assert _status([120, 110, 100])["expected_interval_days"] == 30.0  # 1.5 × 10 = 15
    assert _status([1000, 700, 400])["expected_interval_days"] == 365.0  # 1.5 × 300 = 450
    assert _status([181, 141, 100])["expected_interval_days"] == 60.75  # median 40.5


def test_expected_interval_uses_distinct_order_dates_but_counts_orders() -> None:
    # Three orders on two dates: one gap of 50 days, E = 75.
    assert _status([150, 150, 100])["expected_interval_days"] == 75.0
    # Three orders on one date: no gap to take a median of, so the default 365.
    assert _status([200, 200, 200])["expected_interval_days"] == 365.0
    # Two orders: too few for an interval.
    assert _status([150, 100])["expected_interval_days"] == 365.0


def test_customers_created_after_d_are_left_out() -> None:
    customers = pl.LazyFrame({"customer_id": [1, 2],
                              "created_date": [D, D + timedelta(days=1)]})
    orders = pl.LazyFrame(schema={"customer_id": pl.Int64, "order_date": pl.Date})
    rows = classify(customers, orders, D).collect()
    assert rows["customer_id"].to_list() == [1]
    assert rows["status"].to_list() == ["never"]


# --- the demo company against the core --------------------------------------------------

def _core_statuses(session: Session, as_of: date) -> dict[int, tuple[str, float | None]]:
    """Per customer created by ``as_of``: its status and expected interval, straight from
    the core's customers and confirmed / closed orders."""
    order_dates: dict[int, list[date]] = {}
    for customer_id, order_date in session.execute(select(
            SalesOrder.customer_id, SalesOrder.order_date).where(
            SalesOrder.status.in_([OrderStatus.CONFIRMED, OrderStatus.CLOSED]),
            SalesOrder.order_date <= as_of)):
        order_dates.setdefault(customer_id, []).append(order_date)
    result: dict[int, tuple[str, float | None]] = {}
    for customer in session.scalars(select(Customer)):
        if customer.created_at.date() > as_of:
            continue
        dates = sorted(order_dates.get(customer.id, []))
        if not dates:
            result[customer.id] = ("never", None)
            continue
        distinct = sorted(set(dates))
        gaps = [(b - a).days for a, b in zip(distinct, distinct[1:], strict=False)]
        interval = (min(365.0, max(30.0, 1.5 * statistics.median(gaps)))
                    if len(dates) >= 3 and gaps else 365.0)
        since = (as_of - dates[-1]).days
        if (as_of - dates[0]).days <= 90:
            status = "new"
        elif since <= interval:
            status = "active"
        elif since <= 365:
            status = "at_risk"
        else:
            status = "lapsed"
        result[customer.id] = (status, interval)
    return result


def _mart_statuses(demo: DemoMart, scope: Scope,
                   as_of: date) -> dict[int, tuple[str, float | None]]:
    frame = engagement(demo.mart, scope, as_of)
    return {row["customer_id"]: (row["status"], row["expected_interval_days"])
            for row in frame.iter_rows(named=True)}


@pytest.mark.parametrize("years_back", [0, 1, 2])
def test_statuses_match_the_core_orders(demo_mart: DemoMart, years_back: int) -> None:
    as_of = demo_mart.mart.published_at.date() - timedelta(days=365 * years_back)
    with Session(demo_mart.core) as session:
        core = _core_statuses(session, as_of)
    mart = _mart_statuses(demo_mart, FINANCE, as_of)
    assert mart == core
    if years_back == 0:
        assert {status for status, _ in core.values()} == set(STATUSES)
    if years_back == 2:  # some customers did not exist yet
        with Session(demo_mart.core) as session:
            assert len(core) < len(session.scalars(select(Customer)).all())


def test_today_is_classified_from_the_batchs_order_history(demo_mart: DemoMart) -> None:
    today = demo_mart.mart.published_at.date()
    fresh = Mart(demo_mart.mart.batch_id, demo_mart.mart.published_at, demo_mart.mart.tables)
    rows = engagement(fresh, FINANCE, today)
    history = fresh.derived["engagement_order_history"]  # computed once for the batch
    assert history["last_order_date"].max() <= today  # type: ignore[operator]
    assert rows.height > 0 and engagement(fresh, FINANCE, today).equals(rows)
    assert fresh.derived["engagement_order_history"] is history
    with Session(demo_mart.core) as session:
        assert _mart_statuses(demo_mart, FINANCE, today) == _core_statuses(session, today)


def test_counts_trend_and_list_agree_with_the_statuses(demo_mart: DemoMart) -> None:
    as_of = demo_mart.mart.published_at.date()
    rows = engagement(demo_mart.mart, FINANCE, as_of)
    counts = status_counts(demo_mart.mart, FINANCE, as_of)
    assert counts == {s: rows.filter(pl.col("status") == s).height for s in STATUSES}
    trend = status_trend(demo_mart.mart, FINANCE, as_of, months=6)
    assert trend.height == 6 * len(STATUSES)
    for point in (trend["as_of"][0], as_of):
        at_point = trend.filter(pl.col("as_of") == point)
        assert dict(zip(at_point["status"], at_point["customers"], strict=True)) == \
            status_counts(demo_mart.mart, FINANCE, point)
    assert counts_by_status(rows) == counts
    assert status_trend(demo_mart.mart, FINANCE, as_of, months=6, current=counts).equals(trend)
    risky = at_risk_and_lapsed(demo_mart.mart, FINANCE, as_of)
    assert risky.equals(at_risk_and_lapsed_of(rows))
    assert risky.height == counts["at_risk"] + counts["lapsed"] > 0
    assert risky["account_manager"].null_count() == 0
    assert risky["status"].to_list() == sorted(risky["status"].to_list())  # at_risk first


def test_a_rep_sees_the_customers_they_manage_now_and_no_scope_sees_none(
        demo_mart: DemoMart) -> None:
    """Every customer's classification as of a day is kept with the batch when finance asks;
    a rep's rows of it, or of their own classification when nothing is kept, are their
    customers'."""
    as_of = demo_mart.mart.published_at.date()
    with Session(demo_mart.core) as session:
        rep_id = session.scalars(select(Customer.account_manager_id).where(
            Customer.account_manager_id.is_not(None))).first()
        managed = set(session.scalars(select(Customer.id).where(
            Customer.account_manager_id == rep_id)))
        managed |= set(session.scalars(select(Location.customer_id).where(
            Location.rep_override_id == rep_id)))
        core = _core_statuses(session, as_of)
        year_ago = as_of - timedelta(days=365)
        core_then = _core_statuses(session, year_ago)
    rep = Scope(role="rep", user_id=5, rep_ids=frozenset({rep_id}))
    fresh = Mart(demo_mart.mart.batch_id, demo_mart.mart.published_at, demo_mart.mart.tables)
    for mart in (demo_mart.mart, fresh):
        engagement(mart, FINANCE, year_ago)
        mine = {row["customer_id"]: (row["status"], row["expected_interval_days"])
                for row in engagement(mart, rep, as_of).iter_rows(named=True)}
        assert mine and set(mine) == managed
        assert mine == {customer: core[customer] for customer in managed}
        then = engagement(mart, rep, year_ago)
        assert dict(zip(then["customer_id"], then["status"], strict=True)) == {
            customer: core_then[customer][0] for customer in managed if customer in core_then}
    # Kept: the day finance asked for; today the rep classified their own customers.
    assert list(fresh.keyed["engagement"]) == [year_ago]
    assert engagement(demo_mart.mart, NO_SCOPE, as_of).height == 0
    assert status_counts(demo_mart.mart, NO_SCOPE, as_of) == dict.fromkeys(STATUSES, 0)
    assert engagement(demo_mart.mart, rep, as_of, customer_id=min(
        set(core) - managed)).height == 0


@pytest.mark.parametrize("days_back", [0, 45, 400])
def test_the_trend_from_customer_months_equals_classifying_every_point(
        demo_mart: DemoMart, days_back: int) -> None:
    """Closed month ends come from ``fct_customer_month`` (in the trend and in the counts
    at one date); each must equal the rule applied to the orders at that date
    (``engagement`` classifies always), for any scope (a rep's customers, everyone)."""
    mart = demo_mart.mart
    as_of = mart.published_at.date() - timedelta(days=days_back)
    rep_id = mart.frame("dim_customer").filter(pl.col("is_current"))["account_manager_id"] \
        .drop_nulls()[0]
    for scope in (FINANCE, Scope(role="rep", user_id=5, rep_ids=frozenset({rep_id}))):
        trend = status_trend(mart, scope, as_of, months=24)
        for point in trend["as_of"].unique().to_list():
            at_point = trend.filter(pl.col("as_of") == point)
            classified = counts_by_status(engagement(mart, scope, point))
            assert dict(zip(at_point["status"], at_point["customers"], strict=True)) == \
                classified == status_counts(mart, scope, point), (scope.role, point)
