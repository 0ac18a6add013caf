"""The cash-flow forecast (KPIS "Cash-flow forecast"): the simulation on hand-made pools with
known answers (ISO week bucketing, the n / (n + 5) blend, conditioning on the days overdue,
promises to pay, invoices never paid, a deterministic seed), the forecast tables built from
hand-made facts, and the backtest against known receipts."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from etl.checks import forecast_failures
from etl.conform import polars_schema
from etl.facts import cash_forecast, forecast_backtest, forecast_simulation
from etl.facts.forecast_simulation import (
    ALL_POOL,
    CUSTOMER_POOL,
    OUTSIDE,
    SEGMENT_POOL,
    SIMULATIONS,
    Items,
    attach_pools,
    bands,
    day_number,
    forecast_seed,
    horizon_start,
    naive_weeks,
    simulate,
    simulation_frame,
    week_index,
    week_probabilities,
    week_starts,
)
from etl.schema import (
    dim_customer,
    fct_ar_allocation,
    fct_ar_item,
    fct_order,
    fct_order_line,
    fct_payment_days_late,
)
from tests.dashboard.metrics.ar_marts import settled_ar
from tests.etl.core_frames import core_frames
from tests.etl.test_fct_sales_line import dim_frame

END = date(9999, 12, 31)
SUNDAY = date(2025, 6, 1)  # as of a Sunday: week 1 is Monday 2 June … Sunday 8 June
SEED = forecast_seed(SUNDAY)


def _key(day: date) -> int:
    return day.year * 10_000 + day.month * 100 + day.day


# --- the simulation on hand-made pools ----------------------------------------------------

def pools(*rows: tuple[str, int, str | None, int, int, int]) -> pl.DataFrame:
    """Pool rows (pool, customer, segment, days late, paid, open)."""
    return pl.DataFrame(
        [dict(zip(("pool", "customer_id", "segment_code", "days_late", "paid_invoices",
                   "open_invoices"), row, strict=True)) for row in rows],
        schema=polars_schema(fct_payment_days_late))


def items(*rows: dict[str, object]) -> pl.DataFrame:
    """Invoice items of customer 1 (segment SMB) unless told: ``document_id``, ``due``,
    ``amount_minor``, optional ``promise``."""
    return simulation_frame(pl.DataFrame([{
        "item_type": "invoice", "document_id": row["document_id"],
        "customer_id": row.get("customer_id", 1), "segment_code": row.get("segment", "SMB"),
        "amount_minor": row.get("amount_minor", 10_000),
        "due_date_key": _key(row["due"]),  # type: ignore[arg-type]
        "promise_to_pay_date_key": _key(row["promise"]) if row.get("promise") else -1,  # type: ignore[arg-type]
    } for row in rows])).collect()


def probabilities(item_rows: pl.DataFrame, pool_rows: pl.DataFrame, as_of: date = SUNDAY,
                  shift: int = 0) -> np.ndarray:
    sim_items, sim_pools = attach_pools(item_rows, pool_rows)
    return week_probabilities(sim_items, sim_pools, as_of,
                              shift_days=np.full(len(sim_items), shift))


def test_the_horizon_is_13_iso_weeks_from_the_week_holding_the_next_day() -> None:
    wednesday = date(2025, 6, 11)
    assert horizon_start(wednesday) == date(2025, 6, 9)  # the run date's own week
    assert horizon_start(SUNDAY) == date(2025, 6, 2)  # the next week
    starts = week_starts(wednesday)
    assert len(starts) == 13 and all(d.isoweekday() == 1 for d in starts)
    assert starts[-1] == date(2025, 9, 1)
    days = np.array([day_number(d) for d in (date(2025, 6, 8), date(2025, 6, 9),
                                             date(2025, 6, 15), date(2025, 6, 16),
                                             date(2025, 9, 7), date(2025, 9, 8))])
    assert week_index(days, wednesday).tolist() == [OUTSIDE, 0, 0, 1, 12, OUTSIDE]


@pytest.mark.parametrize(("paid", "own_share"), [(5, 0.5), (20, 0.8), (0, 0.0)])
def test_the_own_history_weighs_n_over_n_plus_5(paid: int, own_share: float) -> None:
    # Customer 1 pays on the due date; its segment 14 days late. Due Wednesday of week 1.
    rows = [(SEGMENT_POOL, -1, "SMB", 14, 50, 0)]
    if paid:
        rows.append((CUSTOMER_POOL, 1, None, 0, paid, 0))
    item = items({"document_id": 1, "due": date(2025, 6, 4), "amount_minor": 10_000})
    p = probabilities(item, pools(*rows))[0]
    assert p[0] == pytest.approx(own_share) and p[2] == pytest.approx(1 - own_share)
    assert p.sum() == pytest.approx(1.0)

    sim_items, sim_pools = attach_pools(item, pools(*rows))
    result = simulate(sim_items, sim_pools, SUNDAY, SEED)
    in_week_1 = (result.totals[0, :, 0] == 10_000).mean()
    assert in_week_1 == pytest.approx(own_share, abs=0.05)
    assert result.expected[0, 0] == pytest.approx(10_000 * own_share)


def test_an_overdue_item_is_drawn_above_its_days_overdue() -> None:
    # 25 paid invoices each 0, 10, 20 and 30 days late, in the customer's pool and the
    # segment's alike; the item is 15 days overdue: only 20 or 30 days late remain.
    history = [(pool, customer, segment, days, 25, 0)
               for pool, customer, segment in ((CUSTOMER_POOL, 1, None),
                                               (SEGMENT_POOL, -1, "SMB"))
               for days in (0, 10, 20, 30)]
    due = SUNDAY - timedelta(days=15)
    p = probabilities(items({"document_id": 1, "due": due}), pools(*history))[0]
    paid_on = [due + timedelta(days=20), due + timedelta(days=30)]  # 6 and 16 June
    expected = np.zeros(13)
    for day in paid_on:
        expected[week_index(np.array([day_number(day)]), SUNDAY)[0]] += 0.5
    assert p == pytest.approx(expected)

    sim_items, sim_pools = attach_pools(items({"document_id": 1, "due": due}), pools(*history))
    weeks = simulate(sim_items, sim_pools, SUNDAY, SEED).totals[0]
    assert set(np.flatnonzero(weeks.sum(axis=0))) == {0, 2}  # never before the run date


def test_a_promise_after_the_run_date_replaces_the_draw_and_a_broken_one_does_not() -> None:
    history = pools((CUSTOMER_POOL, 1, None, 0, 20, 0), (SEGMENT_POOL, -1, "SMB", 0, 20, 0))
    due = date(2025, 6, 4)
    kept = probabilities(items({"document_id": 1, "due": due,
                                "promise": date(2025, 6, 25)}), history)[0]
    assert kept.tolist() == [0, 0, 0, 1] + [0] * 9  # week of 23 June
    broken = probabilities(items({"document_id": 1, "due": due,
                                  "promise": date(2025, 5, 30)}), history)[0]
    without = probabilities(items({"document_id": 1, "due": due}), history)[0]
    assert broken.tolist() == without.tolist() and without[0] == pytest.approx(1.0)
    later = probabilities(items({"document_id": 1, "due": due,
                                 "promise": date(2025, 6, 25)}), history, shift=7)[0]
    assert later[4] == 1  # "pays 7 days later" moves the promised date too


def test_invoices_never_paid_stay_outside_the_horizon() -> None:
    # 8 invoices paid on their due date, 2 still open 300 days past it (Kaplan–Meier): an
    # invoice 100 days overdue is not expected; one not yet due is paid with 80 % chance.
    history = pools((CUSTOMER_POOL, 1, None, 0, 8, 0), (CUSTOMER_POOL, 1, None, 300, 0, 2),
                    (SEGMENT_POOL, -1, "SMB", 0, 8, 0), (SEGMENT_POOL, -1, "SMB", 300, 0, 2))
    p = probabilities(items({"document_id": 1, "due": SUNDAY - timedelta(days=100)},
                            {"document_id": 2, "due": date(2025, 6, 10)}), history)
    assert p[0].sum() == 0
    assert p[1][1] == pytest.approx(0.8) and p[1].sum() == pytest.approx(0.8)


def test_a_customer_without_a_segment_uses_the_all_customers_pool() -> None:
    history = pools((SEGMENT_POOL, -1, "SMB", 14, 10, 0), (ALL_POOL, -1, None, 7, 10, 0))
    p = probabilities(items({"document_id": 1, "due": date(2025, 6, 4), "segment": None}),
                      history)[0]
    assert p[1] == pytest.approx(1.0)  # 11 June: 7 days late


def test_the_draws_depend_only_on_the_seed_and_the_item() -> None:
    history = pools((CUSTOMER_POOL, 1, None, 0, 3, 0), (CUSTOMER_POOL, 1, None, 9, 3, 0),
                    (SEGMENT_POOL, -1, "SMB", 4, 5, 0), (SEGMENT_POOL, -1, "SMB", 20, 5, 0))
    both = items({"document_id": 1, "due": date(2025, 6, 4)},
                 {"document_id": 2, "due": date(2025, 6, 6), "amount_minor": 777})
    sim_items, sim_pools = attach_pools(both, history)
    together = simulate(sim_items, sim_pools, SUNDAY, SEED, groups=np.array([0, 1]),
                        group_count=2).totals
    alone_items, alone_pools = attach_pools(both.slice(1, 1), history)
    alone = simulate(alone_items, alone_pools, SUNDAY, SEED).totals[0]
    assert np.array_equal(together[1], alone)
    assert np.array_equal(simulate(sim_items, sim_pools, SUNDAY, SEED).totals,
                          simulate(sim_items, sim_pools, SUNDAY, SEED).totals)
    assert not np.array_equal(simulate(sim_items, sim_pools, SUNDAY, SEED + 1).totals,
                              simulate(sim_items, sim_pools, SUNDAY, SEED).totals)
    assert forecast_seed(SUNDAY) == SEED and 0 < SEED < 2 ** 63
    assert forecast_seed(SUNDAY + timedelta(days=1)) != SEED


def _splitmix_totals(items: Items, probabilities: np.ndarray, groups: np.ndarray,
                     group_count: int, seed: int) -> np.ndarray:
    """The documented draws in plain numpy: draw s of the item with key k is splitmix64
    output k × SIMULATIONS + s of the stream at ``seed`` as 53 bits in [0, 1), its week the
    number of the item's cumulative week probabilities ≤ it (13: outside the horizon)."""
    counter = (items.key.astype(np.uint64)[:, None] * np.uint64(SIMULATIONS)
               + np.arange(SIMULATIONS, dtype=np.uint64)[None, :])
    z = np.uint64(seed) + (counter + np.uint64(1)) * np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z ^= z >> np.uint64(31)
    u = (z >> np.uint64(11)).astype(np.float64) / float(1 << 53)
    week = (u[:, :, None] >= np.cumsum(probabilities, axis=1)[:, None, :]).sum(axis=2)
    totals = np.zeros((group_count, SIMULATIONS, 14))
    np.add.at(totals, (groups[:, None], np.arange(SIMULATIONS)[None, :], week),
              np.broadcast_to(items.amount[:, None], week.shape))
    return totals[:, :, :13]


@pytest.mark.parametrize("threads", [1, 3])
def test_the_simulation_adds_the_documented_draws(threads: int,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    # 300 random invoices of 3 customers over 4 groups, some with a promise (certain):
    # the compiled draws give exactly the plain-numpy rule's totals, on one thread or
    # with the simulations spread over several.
    monkeypatch.setattr(forecast_simulation, "DRAW_THREADS", threads)
    monkeypatch.setattr(forecast_simulation, "_THREADED_DRAWS", 1)
    rng = np.random.default_rng(7)
    history = pools(*[(CUSTOMER_POOL, customer, None, days, int(rng.integers(1, 6)), 0)
                      for customer in (1, 2, 3) for days in range(-5, 40, 3)],
                    (SEGMENT_POOL, -1, "SMB", 10, 30, 2), (SEGMENT_POOL, -1, "SMB", 50, 5, 0))
    rows = [{"document_id": d, "customer_id": int(rng.integers(1, 4)),
             "due": SUNDAY + timedelta(days=int(rng.integers(-40, 60))),
             "amount_minor": int(rng.integers(1, 10**9)),
             **({"promise": SUNDAY + timedelta(days=int(rng.integers(1, 60)))}
                if d % 10 == 0 else {})} for d in range(1, 301)]
    sim_items, sim_pools = attach_pools(items(*rows), history)
    groups = rng.integers(0, 4, len(rows))
    result = simulate(sim_items, sim_pools, SUNDAY, SEED, groups=groups, group_count=4)
    expected = _splitmix_totals(sim_items, week_probabilities(sim_items, sim_pools, SUNDAY),
                                groups, 4, SEED)
    assert np.array_equal(result.totals, expected)
    assert result.totals.sum() > 0 and len(np.unique(result.totals[0, :, 0])) > 10


def test_loading_the_draws_compiles_what_simulate_calls() -> None:
    forecast_simulation.load_draws()
    compiled = forecast_simulation._add_draws.signatures
    history = pools((CUSTOMER_POOL, 1, None, 0, 3, 0), (SEGMENT_POOL, -1, "SMB", 9, 5, 0))
    sim_items, sim_pools = attach_pools(items({"document_id": 1, "due": SUNDAY}), history)
    simulate(sim_items, sim_pools, SUNDAY, SEED, groups=np.array([1]), group_count=2)
    assert forecast_simulation._add_draws.signatures == compiled  # nothing compiled again


def test_a_group_outside_the_count_is_refused() -> None:
    history = pools((CUSTOMER_POOL, 1, None, 0, 3, 0), (SEGMENT_POOL, -1, "SMB", 9, 5, 0))
    sim_items, sim_pools = attach_pools(items({"document_id": 1, "due": SUNDAY}), history)
    for group in (-1, 3):
        with pytest.raises(ValueError, match="groups must be 0 … 2"):
            simulate(sim_items, sim_pools, SUNDAY, SEED, groups=np.array([group]),
                     group_count=3)


def test_the_naive_forecast_pays_on_the_due_date() -> None:
    due = np.array([day_number(d) for d in (date(2025, 6, 4), date(2025, 6, 16),
                                            date(2025, 5, 20), date(2025, 12, 1))])
    assert naive_weeks(due, SUNDAY).tolist() == [0, 2, OUTSIDE, OUTSIDE]
    assert naive_weeks(due, SUNDAY, shift_days=np.full(4, 14)).tolist() == [2, 4, 0,
                                                                             OUTSIDE]


def test_the_bands_are_quantiles_of_the_simulated_weekly_totals() -> None:
    totals = np.arange(1, 1001, dtype=float)[:, None] * np.array([[1.0, 2.0]])
    band = bands(totals)
    assert band["p10"].tolist() == [101, 202]  # linear: 100.9 → 101
    assert band["p50"].tolist() == [501, 1001]
    assert band["p90"].tolist() == [900, 1800]


# --- the forecast tables from hand-made facts ---------------------------------------------

TODAY = date(2025, 6, 11)  # a Wednesday: week 1 is 9 … 15 June


def _invoice(document_id: int, customer_id: int, on: date, due: date, amount: int, *,
             disputed: bool = False, promise: date | None = None,
             cash_sale: bool = False) -> dict[str, object]:
    return {"item_type": "invoice", "document_id": document_id, "document_number": "I",
            "customer_key": customer_id * 10, "customer_id": customer_id,
            "document_date_key": _key(on), "due_date_key": _key(due),
            "posted_at": datetime(on.year, on.month, on.day, 12), "currency": "USD",
            "amount_doc_minor": amount, "amount_minor": amount, "is_disputed": disputed,
            "is_cash_sale": cash_sale,
            "promise_to_pay_date_key": _key(promise) if promise else -1}


def _receipt(document_id: int, customer_id: int, on: date, amount: int) -> dict[str, object]:
    return {"item_type": "payment", "document_id": document_id, "document_number": "P",
            "customer_key": customer_id * 10, "customer_id": customer_id,
            "document_date_key": _key(on), "due_date_key": -1,
            "posted_at": datetime(on.year, on.month, on.day, 12), "currency": "USD",
            "amount_doc_minor": -amount, "amount_minor": -amount, "is_disputed": False,
            "is_cash_sale": False, "promise_to_pay_date_key": -1}


def _applied(allocation_id: int, payment: int, invoice: int, customer_id: int, on: date,
             amount: int, due: date) -> dict[str, object]:
    return {"allocation_id": allocation_id, "source_type": "payment", "source_id": payment,
            "target_type": "invoice", "target_id": invoice, "customer_key": customer_id * 10,
            "customer_id": customer_id, "allocation_date_key": _key(on),
            "created_at": datetime(on.year, on.month, on.day, 13),
            "amount_doc_minor": amount, "amount_minor": amount, "days_late": (on - due).days,
            "days_to_pay": 30}


def hand_made_tables() -> dict[str, pl.DataFrame]:
    """Customer 1 (rep 7, SMB, net 30) paid five invoices 3 days late and has two open: 101
    (due 20 June) and 103 (half paid, due 1 June); customer 2 (rep 8, SMB, net 15, on hold)
    owes 102, disputed, promised for 25 June; a paid cash sale (104) is no payment
    history. Backlog: order 1 (credit) line 11 promised in the past, line 12 on 2 July;
    order 2 is a cash sale."""
    item_rows, allocation_rows = [], []
    for n in range(5):
        on = date(2025, 1, 1) + timedelta(days=20 * n)
        due = on + timedelta(days=30)
        item_rows += [_invoice(90 + n, 1, on, due, 1_000), _receipt(190 + n, 1,
                                                                    due + timedelta(days=3),
                                                                    1_000)]
        allocation_rows.append(_applied(n + 1, 190 + n, 90 + n, 1, due + timedelta(days=3),
                                        1_000, due))
    item_rows += [
        _invoice(101, 1, date(2025, 5, 21), date(2025, 6, 20), 50_000),
        _invoice(103, 1, date(2025, 5, 2), date(2025, 6, 1), 8_000),
        _receipt(203, 1, date(2025, 6, 2), 4_000),
        _invoice(102, 2, date(2025, 4, 1), date(2025, 4, 16), 30_000, disputed=True,
                 promise=date(2025, 6, 25)),
        _invoice(104, 1, date(2025, 3, 1), date(2025, 3, 1), 7_000, cash_sale=True),
        _receipt(204, 1, date(2025, 2, 27), 7_000),
    ]
    allocation_rows += [_applied(10, 203, 103, 1, date(2025, 6, 2), 4_000, date(2025, 6, 1)),
                        _applied(11, 204, 104, 1, date(2025, 3, 1), 7_000, date(2025, 3, 1))]
    return {
        "dim_customer": dim_frame(dim_customer, [
            {"customer_key": -1, "customer_id": -1, "valid_from": date(1900, 1, 1),
             "valid_to": END, "is_current": True},
            {"customer_key": 10, "customer_id": 1, "account_manager_id": 7,
             "segment_code": "SMB", "valid_from": date(2024, 1, 1), "valid_to": END,
             "is_current": True},
            {"customer_key": 20, "customer_id": 2, "account_manager_id": 8,
             "segment_code": "SMB", "valid_from": date(2024, 1, 1), "valid_to": END,
             "is_current": True}]),
        **settled_ar(dim_frame(fct_ar_item, item_rows),
                     dim_frame(fct_ar_allocation, allocation_rows)),
        "fct_order": dim_frame(fct_order, [
            {"order_id": 1, "customer_id": 1, "is_cash_sale": False, "status": "confirmed"},
            {"order_id": 2, "customer_id": 1, "is_cash_sale": True, "status": "confirmed"}]),
        "fct_order_line": dim_frame(fct_order_line, [
            {"order_line_id": 11, "order_id": 1, "customer_id": 1, "backlog_minor": 5_000,
             "promised_ship_date_key": _key(date(2025, 6, 1))},
            {"order_line_id": 12, "order_id": 1, "customer_id": 1, "backlog_minor": 6_000,
             "promised_ship_date_key": _key(date(2025, 7, 2))},
            {"order_line_id": 13, "order_id": 1, "customer_id": 1, "backlog_minor": 0,
             "promised_ship_date_key": -1},
            {"order_line_id": 21, "order_id": 2, "customer_id": 1, "backlog_minor": 9_000,
             "promised_ship_date_key": -1}]),
    }


def hand_made_core():  # type: ignore[no-untyped-def]
    return core_frames(cash_forecast.CORE_TABLES,
                       customer=[{"id": 1, "terms_code": "NET30", "hold_state": "none"},
                                 {"id": 2, "terms_code": "NET15", "hold_state": "on_hold"}],
                       payment_terms=[{"code": "NET30", "net_days": 30},
                                      {"code": "NET15", "net_days": 15}])


@pytest.fixture(scope="module")
def forecast() -> dict[str, pl.DataFrame]:
    tables = hand_made_tables()
    tables |= cash_forecast.build(hand_made_core(), tables, today=TODAY)
    return tables | {forecast_backtest.TABLE: forecast_backtest.build(tables, today=TODAY,
                                                                       timezone="UTC")}


def test_the_items_are_the_open_invoices_and_the_backlog_on_credit(
        forecast: dict[str, pl.DataFrame]) -> None:
    rows = forecast["fct_cash_forecast_item"].select(
        "item_type", "document_id", "customer_id", "account_manager_id", "amount_minor",
        "document_date_key", "due_date_key", "promise_to_pay_date_key", "days_overdue",
        "is_disputed", "is_on_hold").rows()
    assert rows == [
        ("backlog", 11, 1, 7, 5_000, 20250611, 20250711, -1, -30, False, False),
        ("backlog", 12, 1, 7, 6_000, 20250702, 20250801, -1, -51, False, False),
        ("invoice", 101, 1, 7, 50_000, 20250521, 20250620, -1, -9, False, False),
        ("invoice", 102, 2, 8, 30_000, 20250401, 20250416, 20250625, 56, True, True),
        ("invoice", 103, 1, 7, 4_000, 20250502, 20250601, -1, 10, False, False),
    ]
    assert forecast_failures(forecast) == []


def test_the_payment_history_pools_paid_and_still_open_invoices(
        forecast: dict[str, pl.DataFrame]) -> None:
    own = forecast["fct_payment_days_late"].filter(
        pl.col("pool") == CUSTOMER_POOL, pl.col("customer_id") == 1)
    # five invoices paid 3 days late; 101 and 103 open (censored), the cash sale left out
    assert own.select("days_late", "paid_invoices", "open_invoices").rows() == [
        (-9, 0, 1), (3, 5, 0), (10, 0, 1)]
    segment = forecast["fct_payment_days_late"].filter(pl.col("pool") == SEGMENT_POOL)
    assert segment.select("segment_code", "days_late", "paid_invoices",
                          "open_invoices").rows() == [
        ("SMB", -9, 0, 1), ("SMB", 3, 5, 0), ("SMB", 10, 0, 1), ("SMB", 56, 0, 1)]


def test_the_forecast_tables_add_up(forecast: dict[str, pl.DataFrame]) -> None:
    weeks = forecast["fct_cash_forecast_week"]
    assert weeks["week_start_date_key"].to_list()[:2] == [20250609, 20250616]
    assert weeks["as_of_date_key"].unique().to_list() == [20250611]
    assert weeks["seed"].unique().to_list() == [forecast_seed(TODAY)]
    by_customer = forecast["fct_cash_forecast"]
    # 102's promise (25 June, week 3) replaces its draw: all of it expected then, disputed.
    promised = by_customer.filter(pl.col("customer_id") == 2)
    assert promised.select("week_no", "expected_minor", "disputed_expected_minor",
                           "is_on_hold").rows() == [(3, 30_000, 30_000, True)]
    # 101 (due 20 June; customer 1 pays 3 days late): week 3 at most
    sims = forecast["fct_cash_forecast_sim"]
    assert sims.height == 2 * SIMULATIONS  # one row per cell and simulation
    assert sorted(sims.select("account_manager_id", "is_on_hold", "is_disputed").unique()
                  .rows()) == [(7, False, False), (8, True, True)]
    week_columns = [c for c in sims.columns if c.startswith("week_")]
    per_sim = sims.select(pl.sum_horizontal(week_columns)).to_series()
    assert per_sim.max() <= forecast["fct_cash_forecast_item"]["amount_minor"].sum()
    assert weeks.filter(pl.col("week_no") == 3)["p10_minor"].item() >= 30_000


def test_a_run_is_deterministic(forecast: dict[str, pl.DataFrame]) -> None:
    again = cash_forecast.build(hand_made_core(), hand_made_tables(), today=TODAY)
    for name, frame in again.items():
        assert frame.equals(forecast[name]), name


# --- the backtest -------------------------------------------------------------------------

def test_the_backtest_compares_each_origin_with_the_cash_received() -> None:
    # Invoice 103 (8,000, due Sunday 1 June) is paid in half on Monday 2 June: as of 25 May
    # the customer's history says "3 days late" → week of 2 June; the naive forecast says 1
    # June (week of 26 May). Run date: Wednesday 18 June.
    tables = hand_made_tables()
    rows = forecast_backtest.build(tables, today=date(2025, 6, 18), timezone="UTC")
    assert rows.height == 8 * 13
    assert rows["origin_date_key"].unique().sort().to_list()[-2:] == [20250602, 20250609]
    may = rows.filter(pl.col("origin_date_key") == 20250526).sort("week_no").head(3)
    assert may.select("week_start_date_key", "naive_minor", "p50_minor", "actual_minor",
                      "is_complete").rows() == [
        (20250526, 8_000, 0, 0, True),
        (20250602, 0, 8_000, 4_000, True),
        (20250609, 0, 0, 0, True)]
    june = rows.filter(pl.col("origin_date_key") == 20250609).sort("week_no").head(2)
    assert june["is_complete"].to_list() == [True, False]
    assert (rows["p10_minor"] <= rows["p50_minor"]).all()
    assert (rows["p50_minor"] <= rows["p90_minor"]).all()
