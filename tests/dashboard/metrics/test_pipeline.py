"""Pipeline metrics on hand-made opportunity histories with known answers, pipeline movement
balancing on random histories, and open pipeline as of a past date matched to the core's
opportunities replayed back through their audit history."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.audit import AuditLog
from core.company.services import fx_rate
from core.sales.models import Opportunity, OpportunityStage
from core.sales.opportunities import STAGE_PROBABILITY
from core.types import to_minor
from dashboard.metrics.period import Period, end_of_day
from dashboard.metrics.pipeline import (
    MOVEMENT_STEPS,
    average_deal_size,
    movement_by_opportunity,
    pipeline_by,
    pipeline_coverage,
    pipeline_movement,
    pipeline_totals,
    sales_cycle_days,
    win_rate,
)
from dashboard.metrics.scope import NO_SCOPE, Scope
from dashboard.metrics.selection import EVERYTHING, Slice
from etl.facts.opportunity_history import OPEN_END
from tests.dashboard.conftest import DemoMart
from tests.dashboard.metrics.opportunity_marts import opportunity_mart, version

T = datetime
FINANCE = Scope(role="finance", user_id=1, all_reps=True)
ADA = Scope(role="rep", user_id=2, rep_ids=frozenset({10}))
TEAM = Scope(role="sales_manager", user_id=3, rep_ids=frozenset({10, 20}))
JUNE = Period(date(2025, 6, 1), date(2025, 6, 30))
SPRING = Period(date(2025, 3, 1), date(2025, 5, 31))


def small_pipeline() -> list[dict[str, object]]:
    """1: Ada, 1000.00 in proposal (own probability 0.3) closing in June, raised to 1200.00
    on 1 April at 10:00; 2: Ben, 333.33 in qualification (default 0.25) closing in July;
    3: Ada, 555.55 in negotiation (default 0.75), won on 15 March; 4: Cy, 50.00 open, created
    2 April."""
    return [
        version(1, T(2025, 1, 5), T(2025, 4, 1, 10), amount=100_000, probability="0.3"),
        version(1, T(2025, 4, 1, 10), amount=120_000, probability="0.3"),
        version(2, T(2025, 2, 1), amount=33_333, stage="qualification", rep_key=2,
                close=20250720),
        version(3, T(2025, 1, 20), T(2025, 3, 15, 16), amount=55_555, stage="negotiation"),
        version(3, T(2025, 3, 15, 16), amount=55_555, state="won", created=20250120,
                closed=20250315),
        version(4, T(2025, 4, 2), amount=5_000, rep_key=3, close=20250620),
    ]


@pytest.mark.parametrize(("at", "expected"), [
    (T(2025, 1, 4), (0, 0, 0)),
    # 1000.00 × 0.3 + 555.55 × 0.75 = 300.00 + 416.6625 → 716.66
    (T(2025, 1, 25), (2, 155_555, 71_666)),
    # + 333.33 × 0.25 = 83.3325: Σ 799.995 → 800.00 (rounded once, half-up)
    (date(2025, 3, 14), (3, 188_888, 80_000)),
    (date(2025, 3, 15), (2, 133_333, 38_333)),  # 3 won at 16:00
    (T(2025, 4, 1, 9, 59), (2, 133_333, 38_333)),
    (T(2025, 4, 1, 10), (2, 153_333, 44_333)),  # a version counts from its valid_from
    (date(2025, 4, 2), (3, 158_333, 46_833)),
])
def test_open_and_weighted_pipeline_as_of_an_instant_or_the_end_of_a_day(
        at: date | datetime, expected: tuple[int, int, int]) -> None:
    totals = pipeline_totals(opportunity_mart(small_pipeline()), FINANCE, at)
    assert (totals["opportunities"], totals["pipeline_minor"],
            totals["weighted_minor"]) == expected


def test_the_end_of_a_day_is_in_the_company_time_zone() -> None:
    """Opportunity 1 rises at 10:00 UTC on 1 April: still 1000.00 at the end of 31 March in
    UTC, but 1200.00 at the end of 31 March in Pago Pago (UTC−11: 1 April 11:00 UTC)."""
    mart = opportunity_mart(small_pipeline())
    utc = pipeline_totals(mart, ADA, date(2025, 3, 31))
    pago_pago = pipeline_totals(mart, ADA, date(2025, 3, 31), timezone="Pacific/Pago_Pago")
    assert utc["pipeline_minor"] == 100_000
    assert pago_pago["pipeline_minor"] == 120_000


def test_an_expected_close_window_limits_the_pipeline() -> None:
    mart = opportunity_mart(small_pipeline())
    assert pipeline_totals(mart, FINANCE, date(2025, 4, 30), close_window=JUNE) == {
        "opportunities": 2, "pipeline_minor": 125_000, "weighted_minor": 38_500}


def test_pipeline_by_stage_rep_and_close_month() -> None:
    mart = opportunity_mart(small_pipeline())
    on = date(2025, 4, 30)
    assert pipeline_by(mart, FINANCE, on, "stage").select(
        "label", "opportunities", "pipeline_minor", "weighted_minor").rows() == [
        ("qualification", 1, 33_333, 8_333), ("proposal", 2, 125_000, 38_500)]
    assert pipeline_by(mart, FINANCE, on, "rep").select(
        "rep_key", "label", "pipeline_minor").rows() == [
        (1, "Ada", 120_000), (2, "Ben", 33_333), (3, "Cy", 5_000)]
    assert pipeline_by(mart, FINANCE, on, "close_month").select(
        "label", "pipeline_minor").rows() == [("2025-06", 125_000), ("2025-07", 33_333)]
    with pytest.raises(ValueError, match="cannot group"):
        pipeline_by(mart, FINANCE, on, "customer")


def test_a_rep_sees_only_their_own_pipeline_and_an_empty_scope_nothing() -> None:
    mart = opportunity_mart(small_pipeline())
    on = date(2025, 4, 30)
    assert pipeline_by(mart, ADA, on, "rep")["rep_key"].to_list() == [1]
    assert pipeline_totals(mart, TEAM, on)["pipeline_minor"] == 120_000 + 33_333
    assert pipeline_totals(mart, NO_SCOPE, on) == {
        "opportunities": 0, "pipeline_minor": 0, "weighted_minor": 0}
    assert pipeline_by(mart, NO_SCOPE, on, "stage").height == 0
    assert win_rate(mart, NO_SCOPE, SPRING)["won"] == 0
    assert pipeline_movement(mart, NO_SCOPE, date(2025, 1, 1), on)[
        "amount_minor"].to_list() == [0] * 11


def closed_deals() -> list[dict[str, object]]:
    """Closed in spring: 1 won 400.00 (created 1 Jan, closed 11 Mar: 69 days), 2 won 201.00
    (created 1 Mar, closed 31 May: 91 days), 3 lost 1000.00; 4 lost in June; 5 won in
    April but reopened in May (open now); 6 won by Cy."""
    return [
        version(1, T(2025, 3, 11), amount=40_000, state="won", created=20250101,
                closed=20250311),
        version(2, T(2025, 5, 31), amount=20_100, state="won", created=20250301,
                closed=20250531),
        version(3, T(2025, 4, 1), amount=100_000, state="lost", closed=20250401),
        version(4, T(2025, 6, 1), amount=7_000, state="lost", closed=20250601),
        version(5, T(2025, 4, 10), T(2025, 5, 2), amount=9_000, state="won", closed=20250410),
        version(5, T(2025, 5, 2), amount=9_000),
        version(6, T(2025, 4, 1), amount=8_000, state="won", rep_key=3, closed=20250401),
    ]


def test_win_rate_by_count_and_by_amount_among_deals_closed_in_the_period() -> None:
    mart = opportunity_mart(closed_deals())
    assert win_rate(mart, TEAM, SPRING) == {
        "won": 2, "lost": 1, "won_minor": 60_100, "lost_minor": 100_000,
        "win_rate_count": 2 / 3, "win_rate_amount": 60_100 / 160_100}
    assert win_rate(mart, TEAM, Period(date(2025, 7, 1), date(2025, 7, 31)))[
        "win_rate_count"] is None


def test_average_deal_size_and_sales_cycle_over_deals_won_in_the_period() -> None:
    mart = opportunity_mart(closed_deals())
    assert average_deal_size(mart, TEAM, SPRING) == 30_050
    assert average_deal_size(mart, FINANCE, SPRING) == 22_700  # 68,100 / 3
    assert sales_cycle_days(mart, TEAM, SPRING) == (69 + 91) / 2
    june = Period(date(2025, 6, 1), date(2025, 6, 30))
    assert average_deal_size(mart, TEAM, june) is None
    assert sales_cycle_days(mart, TEAM, june) is None


def test_average_deal_size_rounds_half_up() -> None:
    mart = opportunity_mart([
        version(1, T(2025, 3, 1), amount=100, state="won", closed=20250301),
        version(2, T(2025, 3, 2), amount=101, state="won", closed=20250302)])
    assert average_deal_size(mart, FINANCE, SPRING) == 101


def test_pipeline_coverage_against_the_target_left_in_the_period() -> None:
    mart = opportunity_mart(small_pipeline())
    coverage = pipeline_coverage(mart, FINANCE, JUNE, date(2025, 4, 30),
                                 target_minor=300_000, net_sales_minor=50_000)
    assert coverage == {"pipeline_minor": 125_000, "remaining_minor": 250_000,
                        "coverage": 0.5}
    met = pipeline_coverage(mart, FINANCE, JUNE, date(2025, 4, 30),
                            target_minor=300_000, net_sales_minor=300_000)
    assert met["coverage"] is None


def one_of_each_step() -> list[dict[str, object]]:
    """Between the end of 31 March (A) and the end of 30 April (B), for Ada and Ben (keys
    1, 2) and expected close in June, opportunity n takes step n (1: unchanged)."""
    a, b = T(2025, 1, 1), T(2025, 4, 5)
    july = 20250715
    return [
        version(1, a, amount=100_000),
        version(2, T(2025, 4, 10), amount=50_000),  # new
        version(3, a, T(2025, 3, 1), amount=25_000),  # reopened
        version(3, T(2025, 3, 1), b, amount=25_000, state="won", closed=20250301),
        version(3, b, amount=30_000),
        version(4, a, b, amount=40_000), version(4, b, amount=45_000),  # increased
        version(5, a, b, amount=60_000), version(5, b, amount=55_000),  # decreased
        version(6, a, b, amount=70_000, close=july), version(6, b, amount=70_000),  # pulled in
        version(7, a, b, amount=80_000), version(7, b, amount=80_000, close=july),  # pushed out
        version(8, a, b, amount=90_000, rep_key=3),
        version(8, b, amount=90_000),  # transferred in
        version(9, a, b, amount=11_000, rep_key=2),
        version(9, b, amount=11_000, rep_key=3),  # transferred out
        version(10, a, b, amount=12_000),
        version(10, b, amount=12_000, state="won", closed=20250405),
        version(11, a, b, amount=13_000),
        version(11, b, amount=13_000, state="lost", closed=20250405),
        version(12, a, b, amount=14_000),  # deleted: the history ends on 5 April
        version(13, a, amount=1_000, rep_key=3),  # never in the view
        version(14, T(2025, 4, 6), T(2025, 4, 7), amount=1_000),
        version(14, T(2025, 4, 7), amount=1_000, state="won", closed=20250407),
        version(15, a, amount=1_000, close=20250815),
    ]


def test_each_opportunity_takes_its_step_and_the_movement_balances() -> None:
    mart = opportunity_mart(one_of_each_step())
    a, b = date(2025, 3, 31), date(2025, 4, 30)

    movement = pipeline_movement(mart, TEAM, a, b, close_window=JUNE)

    assert movement.rows() == [
        ("opening", 330_000, 8),
        ("new", 50_000, 1), ("reopened", 30_000, 1), ("increased", 5_000, 1),
        ("decreased", -5_000, 1), ("pulled_in", 70_000, 1), ("pushed_out", -80_000, 1),
        ("transferred_in", 90_000, 1), ("transferred_out", -11_000, 1), ("won", -12_000, 1),
        ("lost", -13_000, 1), ("deleted", -14_000, 1),
        ("closing", 440_000, 7),
    ]
    steps = movement_by_opportunity(mart, TEAM, a, b, close_window=JUNE)
    assert steps.select("opportunity_id", "step").rows() == list(
        zip(range(2, 13), MOVEMENT_STEPS, strict=True))
    assert pipeline_totals(mart, TEAM, a, close_window=JUNE)["pipeline_minor"] == 330_000
    assert pipeline_totals(mart, TEAM, b, close_window=JUNE)["pipeline_minor"] == 440_000


def test_without_a_window_or_a_narrower_scope_there_is_no_push_pull_or_transfer() -> None:
    mart = opportunity_mart(one_of_each_step())
    movement = pipeline_movement(mart, FINANCE, date(2025, 3, 31), date(2025, 4, 30))
    assert movement["step"].to_list() == [
        "opening", "new", "reopened", "increased", "decreased", "won", "lost", "deleted",
        "closing"]
    # 6 and 7 only changed their expected close; 8 and 9 changed hands within the view.
    assert movement.rows()[1:4] == [("new", 50_000, 1), ("reopened", 30_000, 1),
                                    ("increased", 5_000, 1)]
    assert movement["amount_minor"][:-1].sum() == movement["amount_minor"][-1]
    assert "transferred_in" in pipeline_movement(
        mart, FINANCE, date(2025, 3, 31), date(2025, 4, 30),
        selection=Slice(rep_ids=frozenset({10})))["step"].to_list()


def test_movement_needs_a_before_b() -> None:
    mart = opportunity_mart(one_of_each_step())
    with pytest.raises(ValueError, match="A before B"):
        pipeline_movement(mart, FINANCE, date(2025, 4, 30), date(2025, 4, 30))


# --- random histories --------------------------------------------------------------------

DAY0 = T(2025, 1, 1)


@st.composite
def histories(draw: st.DrawFn) -> list[dict[str, object]]:
    """Up to 8 opportunities of 1–5 contiguous versions on a 40-day grid; some histories
    end (deleted) and some start late (new)."""
    rows: list[dict[str, object]] = []
    for opportunity_id in range(1, draw(st.integers(0, 8)) + 1):
        days = sorted(draw(st.sets(st.integers(0, 40), min_size=2, max_size=6)))
        deleted = draw(st.booleans()) and draw(st.booleans())
        bounds = [DAY0 + timedelta(days=d, hours=12) for d in days]
        ends = [*bounds[1:-1], bounds[-1] if deleted else OPEN_END]
        for start, end in zip(bounds, ends, strict=False):
            state = draw(st.sampled_from(["open", "open", "won", "lost"]))
            rows.append(version(
                opportunity_id, start, end, amount=draw(st.integers(0, 50_000)),
                state=state, rep_key=draw(st.sampled_from([1, 2, 3])),
                close=draw(st.sampled_from([20250601, 20250615, 20250715])),
                probability=draw(st.sampled_from([None, "0.3333"])),
                customer_key=draw(st.sampled_from([1, 2])),
                closed=-1 if state == "open" else 20250201))
    return rows


VIEWS = st.sampled_from([
    (FINANCE, EVERYTHING), (ADA, EVERYTHING), (TEAM, EVERYTHING),
    (FINANCE, Slice(rep_ids=frozenset({20, 30}))),
    (TEAM, Slice(region_codes=frozenset({"north"}))),
])


@settings(max_examples=150, deadline=None)
@given(rows=histories(), view=VIEWS, a=st.integers(-1, 41), length=st.integers(1, 42),
       window=st.sampled_from([None, JUNE]))
def test_movement_balances_exactly_on_random_histories(
        rows: list[dict[str, object]], view: tuple[Scope, Slice], a: int, length: int,
        window: Period | None) -> None:
    scope, selection = view
    mart = opportunity_mart(rows)
    start = DAY0.date() + timedelta(days=a)
    end = start + timedelta(days=length)

    movement = pipeline_movement(mart, scope, start, end, close_window=window,
                                 selection=selection)
    detail = movement_by_opportunity(mart, scope, start, end, close_window=window,
                                     selection=selection)

    amounts = dict(zip(movement["step"], movement["amount_minor"], strict=True))
    counts = dict(zip(movement["step"], movement["opportunities"], strict=True))
    opening = pipeline_totals(mart, scope, start, close_window=window, selection=selection)
    closing = pipeline_totals(mart, scope, end, close_window=window, selection=selection)
    assert (amounts["opening"], counts["opening"]) == (opening["pipeline_minor"],
                                                       opening["opportunities"])
    assert (amounts["closing"], counts["closing"]) == (closing["pipeline_minor"],
                                                       closing["opportunities"])
    assert movement["amount_minor"][:-1].sum() == amounts["closing"]
    assert detail["opportunity_id"].is_unique().all()
    per_step = detail.group_by("step").agg(pl.col("change_minor").sum(), pl.len())
    for step, change, n in per_step.iter_rows():
        assert (amounts[step], counts[step]) == (change, n)
    entering = {"new", "reopened", "increased", "pulled_in", "transferred_in"}
    for step, change in zip(detail["step"], detail["change_minor"], strict=True):
        assert change >= 0 if step in entering else change <= 0, step


# --- the demo company: the mart against the core's own records ------------------------------

FIELDS = {"stage": str, "state": str, "amount": Decimal, "probability": Decimal,
          "rep_id": int, "expected_close_date": date.fromisoformat,
          "closed_date": date.fromisoformat}
"""The opportunity fields whose changes start a new version, and how to read their text."""


def _core_open_pipeline(session: Session, at: datetime) -> dict[int, tuple[int, int, int]]:
    """Per rep id: count, Σ amount and weighted amount (rounded once, half-up) of the
    opportunities open at ``at``, from the core: each current row with every change logged
    after ``at`` undone, its amount at the rate of the day of its last change up to ``at``
    (or of its recording)."""
    changes = session.scalars(select(AuditLog).where(
        AuditLog.entity == "opportunity", AuditLog.action == "update",
        AuditLog.field.in_(list(FIELDS))).order_by(AuditLog.seq.desc())).all()
    recorded = {entity_id: occurred for entity_id, occurred in session.execute(
        select(AuditLog.entity_id, AuditLog.occurred_at).where(
            AuditLog.entity == "opportunity", AuditLog.action == "insert"))}
    totals: dict[int, list[Decimal]] = {}
    for opportunity in session.scalars(select(Opportunity)):
        start = recorded.get(opportunity.id, opportunity.created_at)
        if start > at:
            continue
        state: dict[str, object] = {name: getattr(opportunity, name) for name in FIELDS}
        for change in changes:
            if change.entity_id != opportunity.id:
                continue
            if change.occurred_at > at:  # newest first: the earliest's old value wins
                parse = FIELDS[str(change.field)]
                state[str(change.field)] = (None if change.old_value is None
                                            else parse(change.old_value))
            else:
                start = max(start, change.occurred_at)
        if str(state["state"]) != "open":
            continue
        rate = fx_rate(session, opportunity.currency, start.date())
        amount = Decimal(to_minor(Decimal(str(state["amount"])) * rate, "USD"))
        own = state["probability"]
        probability = STAGE_PROBABILITY[OpportunityStage(str(state["stage"]))] \
            if own is None else Decimal(str(own))
        rep = totals.setdefault(int(str(state["rep_id"])), [Decimal(0)] * 3)
        rep[0] += 1
        rep[1] += amount
        rep[2] += amount * probability
    return {rep: (int(n), int(amount), int(weighted.quantize(Decimal(1), ROUND_HALF_UP)))
            for rep, (n, amount, weighted) in totals.items()}


def _past_days(demo: DemoMart) -> list[date]:
    """The 15th of every month of the demo's opportunity history."""
    first = demo.mart.frame("fct_opportunity_history")["valid_from"].min()
    assert isinstance(first, datetime)
    day, days = first.date().replace(day=15), []
    while day < demo.mart.published_at.date():
        days.append(day)
        day = (day + timedelta(days=31)).replace(day=15)
    return days


def test_open_pipeline_as_of_past_days_per_rep_matches_the_core(demo_mart: DemoMart) -> None:
    reps = demo_mart.mart.frame("dim_rep").select("rep_key", "rep_id")
    mart, core = {}, {}
    with Session(demo_mart.core) as session:
        for day in _past_days(demo_mart):
            by_rep = pipeline_by(demo_mart.mart, FINANCE, day, "rep").join(reps, on="rep_key")
            for row in by_rep.iter_rows(named=True):
                mart[day, row["rep_id"]] = (row["opportunities"], row["pipeline_minor"],
                                            row["weighted_minor"])
            for rep_id, figures in _core_open_pipeline(session, end_of_day(day, "UTC")).items():
                core[day, rep_id] = figures

    assert len({rep for _, rep in core}) >= 3 and sum(n for n, _, _ in core.values()) >= 50
    assert mart == core
    (day, rep_id), (count, amount, _) = max(core.items(), key=lambda item: item[1][0])
    own = Scope(role="rep", user_id=9, rep_ids=frozenset({rep_id}))
    assert pipeline_totals(demo_mart.mart, own, day)["pipeline_minor"] == amount
    assert pipeline_by(demo_mart.mart, own, day, "stage")["opportunities"].sum() == count
