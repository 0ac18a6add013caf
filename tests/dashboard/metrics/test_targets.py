"""Targets pro-rated by day and attainment, matched to the core's sales_target rows and the
sales metric; a team's target is the sum of its reps'."""

from __future__ import annotations

import calendar
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import polars as pl
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.sales.models import SalesTarget
from core.users.models import SalesRep
from dashboard.metrics.period import Period
from dashboard.metrics.sales import sales_by, sales_totals
from dashboard.metrics.scope import Scope
from dashboard.metrics.selection import Slice
from dashboard.metrics.targets import attainment_by, attainment_totals, prorated_targets
from tests.dashboard.conftest import DemoMart

FINANCE = Scope(role="finance", user_id=1, all_reps=True)


def _core_targets(session: Session, period: Period) -> dict[int, int]:
    """Each rep's target for ``period`` in cents, pro-rated per month from the core rows
    (Decimal arithmetic, half-up per rep-month)."""
    per_rep: dict[int, int] = {}
    for rep_id, month, amount in session.execute(
            select(SalesTarget.rep_id, SalesTarget.month, SalesTarget.amount)):
        days = calendar.monthrange(month.year, month.month)[1]
        last = date(month.year, month.month, days)
        overlap = (min(last, period.end) - max(month, period.start)).days + 1
        if overlap <= 0:
            continue
        cents = (Decimal(amount) * 100 * overlap / days).quantize(Decimal(1), ROUND_HALF_UP)
        per_rep[rep_id] = per_rep.get(rep_id, 0) + int(cents)
    return per_rep


def _mid_month_period(demo: DemoMart) -> Period:
    """From the 10th of a month to the 20th two months later: two partial months."""
    year = demo.mart.published_at.year - 1
    return Period(date(year, 3, 10), date(year, 5, 20))


def _rep_ids(demo: DemoMart, frame: pl.DataFrame) -> pl.DataFrame:
    return frame.join(demo.mart.frame("dim_rep").select("rep_key", "rep_id"), on="rep_key")


def test_targets_per_rep_are_the_core_targets_pro_rated_by_day(demo_mart: DemoMart) -> None:
    period = _mid_month_period(demo_mart)
    with Session(demo_mart.core) as session:
        expected = _core_targets(session, period)
    rows = _rep_ids(demo_mart, attainment_by(demo_mart.mart, FINANCE, period, "rep"))
    got = {rep: target for rep, target in rows.select("rep_id", "target_minor").iter_rows()
           if target is not None}
    assert expected and any(value > 0 for value in expected.values())
    assert got == expected


def test_attainment_is_net_sales_over_target_and_totals_add_up(demo_mart: DemoMart) -> None:
    period = _mid_month_period(demo_mart)
    by_rep = attainment_by(demo_mart.mart, FINANCE, period, "rep")
    sales = dict(sales_by(demo_mart.mart, FINANCE, period, "rep")
                 .select("rep_key", "net_sales_minor").iter_rows())
    for row in by_rep.iter_rows(named=True):
        assert row["net_sales_minor"] == sales.get(row["rep_key"], 0)
        if row["target_minor"]:
            assert row["attainment"] == pytest.approx(row["net_sales_minor"] / row["target_minor"])
            assert row["gap_minor"] == row["net_sales_minor"] - row["target_minor"]
    totals = attainment_totals(demo_mart.mart, FINANCE, period)
    assert totals["net_sales_minor"] == sales_totals(demo_mart.mart, FINANCE, period)[
        "net_sales_minor"]
    assert totals["target_minor"] == by_rep["target_minor"].sum()
    by_month = attainment_by(demo_mart.mart, FINANCE, period, "month")
    assert by_month["target_minor"].sum() == totals["target_minor"]
    assert by_month["month_key"].to_list() == sorted(by_month["month_key"].to_list())
    ranked = by_rep["attainment"].drop_nulls().to_list()
    assert ranked == sorted(ranked, reverse=True)


def test_a_team_target_is_the_sum_of_its_reps(demo_mart: DemoMart) -> None:
    period = _mid_month_period(demo_mart)
    with Session(demo_mart.core) as session:
        expected = _core_targets(session, period)
        manager_id, *_ = session.scalars(select(SalesRep.manager_id).where(
            SalesRep.manager_id.is_not(None))).all()
        team = set(session.scalars(select(SalesRep.id).where(
            (SalesRep.manager_id == manager_id) | (SalesRep.id == manager_id))))
    scope = Scope(role="sales_manager", user_id=2, rep_ids=frozenset(team))
    totals = attainment_totals(demo_mart.mart, scope, period)
    assert totals["target_minor"] == sum(expected.get(rep, 0) for rep in team) > 0
    one = next(iter(team & expected.keys()))
    only_one = attainment_totals(demo_mart.mart, scope, period, Slice(rep_ids=frozenset({one})))
    assert only_one["target_minor"] == expected[one]


def test_a_rep_outside_the_scope_adds_no_target(demo_mart: DemoMart) -> None:
    period = _mid_month_period(demo_mart)
    nobody = Scope(role="rep", user_id=3)
    assert prorated_targets(demo_mart.mart, nobody, period).collect().is_empty()
    assert attainment_totals(demo_mart.mart, nobody, period) == {
        "target_minor": 0, "net_sales_minor": 0, "attainment": None, "gap_minor": 0}
    other = Scope(role="rep", user_id=3, rep_ids=frozenset({10**9}))
    assert attainment_by(demo_mart.mart, other, period, "rep").is_empty()


def test_a_channel_filter_has_no_target(demo_mart: DemoMart) -> None:
    period = _mid_month_period(demo_mart)
    channel = demo_mart.mart.frame("dim_channel").filter(pl.col("channel_key") > 0)[
        "channel_code"][0]
    totals = attainment_totals(demo_mart.mart, FINANCE, period,
                               Slice(channel_codes=frozenset({channel})))
    assert totals["target_minor"] is None and totals["attainment"] is None
    assert totals["net_sales_minor"] > 0
