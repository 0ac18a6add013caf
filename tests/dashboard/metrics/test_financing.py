"""Financing cost (KPIS "Customer contribution") on hand-made receivables with known
answers: an allocation paid 10 days late, an item open and overdue across the period start,
one falling due inside the period, credit-note allocations carrying nothing, early payment
costing nothing, the split over an invoice's lines and the rep scope."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import polars as pl

from dashboard.metrics.financing import (
    FINANCING_KEPT,
    financing_invoices,
    financing_lines,
    invoice_financing,
)
from dashboard.metrics.mart import Mart
from dashboard.metrics.period import Period, date_key
from dashboard.metrics.scope import Scope
from etl.schema import dim_rep, fct_ar_allocation, fct_ar_item, fct_sales_line
from tests.etl.test_fct_sales_line import dim_frame

RATE = Decimal("0.08")
FEBRUARY = Period(date(2025, 2, 1), date(2025, 2, 28))
MARCH = Period(date(2025, 3, 1), date(2025, 3, 31))
FINANCE = Scope("finance", 1, all_reps=True)


def _invoice(doc: int, customer: int, due: date, amount: int,
             settled: date | None = None) -> dict[str, object]:
    return {"item_type": "invoice", "document_id": doc, "customer_id": customer,
            "document_date_key": date_key(due) - 100, "due_date_key": date_key(due),
            "posted_at": datetime(2025, 1, 1), "currency": "USD",
            "amount_doc_minor": amount, "amount_minor": amount, "rep_key": customer,
            "channel_key": 1, "region_key": 1,
            "settled_date_key": date_key(settled) if settled else -1}


def _allocation(id_: int, source: str, target: int, on: date, amount: int,
                days_late: int | None, settled: date | None = None) -> dict[str, object]:
    """``settled``: when both documents are (the source is used up on ``on``); None while
    the invoice is open."""
    return {"allocation_id": id_, "source_type": source, "source_id": id_,
            "target_type": "invoice", "target_id": target, "allocation_date_key": date_key(on),
            "created_at": datetime(on.year, on.month, on.day), "amount_doc_minor": amount,
            "amount_minor": amount, "days_late": days_late,
            "settled_date_key": date_key(max(settled, on)) if settled else -1}


def _line(id_: int, invoice: int, customer: int, rep_key: int, product_key: int,
          net: int) -> dict[str, object]:
    return {"source_type": "invoice", "source_id": id_, "document_id": invoice,
            "customer_id": customer, "rep_key": rep_key, "product_key": product_key,
            "net_minor": net, "date_key": 20250105}


def hand_made_mart() -> Mart:
    """Rate 8 %. Customer 1 (rep 10): invoice 1 (1,000.00, due 31 Jan) paid 10 days late on
    10 Feb; invoice 2 (500.00, due 15 Jan) part-paid in January and by a credit note in
    February, 200.00 open all February; invoice 6 paid 5 days early. Customer 2 (rep 20):
    invoice 3 (365.00) due 18 Feb and open; invoice 4 closed by a credit note in February;
    invoice 5 not due before March; invoice 7 (100.00) due 25 Feb, paid 5 March. Each
    invoice has the rep key of its customer's rep (1: rep 10, 2: rep 20)."""
    items = dim_frame(fct_ar_item, [
        _invoice(1, 1, date(2025, 1, 31), 100_000, settled=date(2025, 2, 10)),
        _invoice(2, 1, date(2025, 1, 15), 50_000), _invoice(3, 2, date(2025, 2, 18), 36_500),
        _invoice(4, 2, date(2025, 1, 31), 40_000, settled=date(2025, 2, 12)),
        _invoice(5, 2, date(2025, 3, 15), 10_000),
        _invoice(6, 1, date(2025, 2, 8), 5_000, settled=date(2025, 2, 3)),
        _invoice(7, 2, date(2025, 2, 25), 10_000, settled=date(2025, 3, 5))])
    allocations = dim_frame(fct_ar_allocation, [
        _allocation(1, "payment", 1, date(2025, 2, 10), 100_000, 10, date(2025, 2, 10)),
        _allocation(2, "payment", 2, date(2025, 1, 20), 20_000, 5),
        _allocation(3, "credit_note", 2, date(2025, 2, 5), 10_000, None),
        _allocation(4, "credit_note", 4, date(2025, 2, 12), 40_000, None, date(2025, 2, 12)),
        _allocation(5, "payment", 6, date(2025, 2, 3), 5_000, -5, date(2025, 2, 3)),
        _allocation(6, "payment", 7, date(2025, 3, 5), 10_000, 8, date(2025, 3, 5))])
    lines = dim_frame(fct_sales_line, [
        _line(11, 1, 1, 1, 50, 60_000), _line(12, 1, 1, 1, 60, 30_000),
        _line(21, 2, 1, 1, 50, 45_000), _line(31, 3, 2, 2, 50, 33_000),
        _line(71, 7, 2, 2, 60, 9_000)])
    reps = dim_frame(dim_rep, [{"rep_key": -1, "rep_id": -1}, {"rep_key": 1, "rep_id": 10},
                               {"rep_key": 2, "rep_id": 20}])
    return Mart("test", datetime(2025, 4, 1), {
        "fct_ar_item": items, "fct_ar_allocation": allocations, "fct_sales_line": lines,
        "dim_rep": reps})


def _by_invoice(period: Period) -> dict[int, int]:
    return dict(invoice_financing(hand_made_mart(), period, RATE).collect().iter_rows())


def test_each_invoice_is_charged_its_days_late_and_overdue_days_in_the_period() -> None:
    assert _by_invoice(FEBRUARY) == {
        1: 219,  # 1,000.00 × 10 days × 8 % / 365 = 2.1918 → 2.19
        2: 123,  # 200.00 open (500 − 200 paid − 100 credited) × 28 days = 1.2274 → 1.23
        3: 80,  # 365.00 × 10 days overdue (19 … 28 Feb) × 8 % / 365 = 0.80
        7: 7,  # 100.00 × 3 days overdue (26 … 28 Feb) = 0.0658 → 0.07
    }  # 4: closed by a credit note; 5: not yet due; 6: paid early — no cost


def test_a_later_period_charges_the_payment_every_day_late_again() -> None:
    """KPIS's rule is per period: March charges invoice 7's payment its 8 days late,
    though February charged 3 of them while it was open; invoice 2 is still open."""
    assert _by_invoice(MARCH) == {
        2: 136,  # 200.00 × 31 days = 1.3589 → 1.36
        3: 248,  # 365.00 × 31 days = 2.48
        5: 35,  # 100.00 × 16 days overdue (16 … 31 Mar) = 0.3507 → 0.35
        7: 18,  # 100.00 × 8 days late = 0.1753 → 0.18
    }


def test_a_higher_rate_scales_the_cost() -> None:
    doubled = dict(invoice_financing(hand_made_mart(), FEBRUARY, Decimal("0.16"))
                   .collect().iter_rows())
    assert doubled == {1: 438, 2: 245, 3: 160, 7: 13}  # rounded once per invoice


def test_lines_share_their_invoices_cost_pro_rata_to_net_within_the_scope() -> None:
    mart = hand_made_mart()
    everyone = financing_lines(mart, FINANCE, FEBRUARY, RATE).sort("source_id").collect()
    assert everyone.select("source_id", "financing_cost_minor").rows() == [
        (11, 146), (12, 73), (21, 123), (31, 80), (71, 7)]  # 219 split 2 : 1
    rep_20 = Scope("rep", 2, rep_ids=frozenset({20}))
    mine = financing_lines(mart, rep_20, FEBRUARY, RATE).collect()
    assert sorted(mine["source_id"].to_list()) == [31, 71]
    assert financing_lines(mart, Scope("rep", 3), FEBRUARY, RATE).collect().is_empty()
    assert everyone.schema["financing_cost_minor"] == pl.Int64


def test_invoices_carry_their_cost_and_rep_within_the_scope() -> None:
    mart = hand_made_mart()
    rep_10 = Scope("rep", 1, rep_ids=frozenset({10}))
    mine = financing_invoices(mart, rep_10, FEBRUARY, RATE).sort("document_id").collect()
    assert mine.select("document_id", "rep_key", "financing_cost_minor").rows() == [
        (1, 1, 219), (2, 1, 123)]
    lines = financing_lines(mart, rep_10, FEBRUARY, RATE).collect()
    assert lines["financing_cost_minor"].sum() == mine["financing_cost_minor"].sum()


def test_every_invoices_cost_kept_per_period_gives_each_scope_its_own_rows() -> None:
    """Finance's request keeps every invoice's cost of a period (the ``FINANCING_KEPT``
    latest); a rep's rows of it equal the rep's own computation on a batch with nothing
    kept."""
    rep_10 = Scope("rep", 1, rep_ids=frozenset({10}))
    alone = {period: financing_invoices(hand_made_mart(), rep_10, period, RATE)
             .sort("document_id").collect() for period in (FEBRUARY, MARCH)}
    mart = hand_made_mart()
    for period in (FEBRUARY, MARCH):
        financing_invoices(mart, FINANCE, period, RATE).collect()
        assert financing_invoices(mart, rep_10, period, RATE).sort("document_id").collect(
        ).equals(alone[period])
    assert set(mart.keyed["financing"]) == {(FEBRUARY, RATE), (MARCH, RATE)}
    assert not alone[FEBRUARY].is_empty() and FINANCING_KEPT >= 2


def test_lines_narrowed_before_the_split_equal_the_lines_narrowed_after() -> None:
    """Narrowing by whole invoices (a customer here, as a P&L node's channel, rep, region
    or customer does) before the split gives the same lines and shares as after it."""
    mart = hand_made_mart()
    after = financing_lines(mart, FINANCE, FEBRUARY, RATE).filter(pl.col("customer_id") == 1)
    before = financing_lines(mart, FINANCE, FEBRUARY, RATE,
                             narrow=lambda rows: rows.filter(pl.col("customer_id") == 1))
    rows = after.sort("source_id").collect()
    assert rows.height == 3 and rows["financing_cost_minor"].sum() == 219 + 123
    assert before.sort("source_id").collect().equals(rows)
