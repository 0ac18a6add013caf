"""The collections worklist: the risk of paying late (own share of cash paid late blended
with the segment's, reversals cancelling, cash sales and credit notes left out) on a
hand-made mart; on the demo, the ranked list equals the open, overdue, undisputed invoices
computed from the core with the risk computed from the core's allocations; sales roles see
their customers' rows with the same risk."""

from __future__ import annotations

from datetime import date, datetime
from fractions import Fraction

import polars as pl
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.users.models import User
from dashboard.metrics.collections import late_payment_risk, worklist, worklist_totals
from dashboard.metrics.mart import Mart
from dashboard.metrics.scope import Scope
from etl.facts.payment_risk import TABLE, build
from tests.dashboard.conftest import DemoMart, managed_customers, manager_scope
from tests.dashboard.metrics.ar_marts import settled_ar
from tests.dashboard.metrics.core_collections import core_worklist

FINANCE = Scope(role="finance", user_id=1, all_reps=True)
D = date(2026, 6, 30)


def _key(day: date) -> int:
    return day.year * 10_000 + day.month * 100 + day.day


def _invoice(doc: int, customer: int, due: date, amount: int, *, disputed: bool = False,
             cash_sale: bool = False) -> dict[str, object]:
    return {"item_type": "invoice", "document_id": doc, "document_number": f"INV-{doc}",
            "customer_id": customer, "document_date_key": _key(date(2026, 1, 1)),
            "due_date_key": _key(due), "posted_at": datetime(2026, 1, 1, 8),
            "currency": "USD", "amount_doc_minor": amount, "amount_minor": amount,
            "is_disputed": disputed, "is_cash_sale": cash_sale}


def _cash(allocation: int, invoice: int, customer: int, amount: int, days_late: int | None,
          *, source: str = "payment", reversal_of: int | None = None,
          on: date = date(2026, 3, 1)) -> dict[str, object]:
    return {"allocation_id": allocation, "reversal_of_id": reversal_of, "source_type": source,
            "source_id": allocation, "target_type": "invoice", "target_id": invoice,
            "customer_id": customer, "allocation_date_key": _key(on),
            "created_at": datetime(on.year, on.month, on.day, 12), "amount_doc_minor": amount,
            "amount_minor": amount, "days_late": days_late}


def _hand_made_mart() -> Mart:
    """Customer 1 (segment SMB, rep 10): paid 1000 on invoice 1 (600 late), 400 of a
    reversed late payment on invoice 2, a credit note and a cash sale (ignored); open:
    invoice 3 (overdue), 4 (disputed), 5 (not due). Customer 2 (SMB, rep 20): paid 3000
    on time on invoices 6 and 7; open: invoice 8 (overdue). Customer 3 (no segment, rep
    20): no history; open: invoice 9 (overdue)."""
    items = pl.DataFrame([
        _invoice(1, 1, date(2026, 2, 1), 1000), _invoice(2, 1, date(2026, 2, 1), 400),
        _invoice(10, 1, date(2026, 2, 1), 500, cash_sale=True),
        _invoice(3, 1, date(2026, 6, 1), 700), _invoice(4, 1, date(2026, 5, 1), 900,
                                                        disputed=True),
        _invoice(5, 1, date(2026, 6, 30), 800),
        _invoice(6, 2, date(2026, 2, 1), 1000), _invoice(7, 2, date(2026, 2, 1), 2000),
        _invoice(8, 2, date(2026, 4, 1), 300),
        _invoice(9, 3, date(2026, 6, 29), 5000),
    ])
    allocations = pl.DataFrame([
        _cash(1, 1, 1, 400, -3), _cash(2, 1, 1, 600, 12),
        _cash(3, 2, 1, 400, 30), _cash(4, 2, 1, -400, 30, reversal_of=3),
        _cash(5, 2, 1, 400, None, source="credit_note"),
        _cash(6, 10, 1, 500, 5),  # a cash sale: not credit behaviour
        _cash(7, 6, 2, 1000, 0), _cash(8, 7, 2, 2000, -10),
        _cash(9, 3, 1, 100, 30, on=date(2026, 7, 1)),  # after D: the batch's last
    ])
    customers = pl.DataFrame({"customer_key": [1, 2, 3], "customer_id": [1, 2, 3],
                              "name": ["One", "Two", "Three"],
                              "segment_code": ["SMB", "SMB", None],
                              "account_manager_id": [10, 20, 20],
                              "is_current": [True, True, True]})
    reps = pl.DataFrame({"rep_key": [1, 2], "rep_id": [10, 20], "name": ["Ten", "Twenty"]})
    locations = pl.DataFrame({"customer_id": [1], "rep_override_id": [None]},
                             schema={"customer_id": pl.Int64, "rep_override_id": pl.Int64})
    tables = {**settled_ar(items, allocations), "dim_customer": customers, "dim_rep": reps,
              "dim_location": locations}
    return Mart("test", datetime(2026, 7, 5), {**tables, TABLE: build(tables)})


def test_risk_is_the_share_paid_late_blended_with_the_segments() -> None:
    risk = {row["customer_id"]: row for row in
            late_payment_risk(_hand_made_mart(), D).collect().iter_rows(named=True)}
    assert (risk[1]["paid_invoices"], risk[1]["paid_minor"], risk[1]["late_minor"]) == (
        1, 1000, 600)  # the reversed payment cancels; the credit note and cash sale are out
    assert (risk[1]["prior_paid_minor"], risk[1]["prior_late_minor"]) == (4000, 600)  # SMB
    assert risk[1]["risk_ppm"] == 225_000  # 1/6 × 600/1000 + 5/6 × 600/4000
    assert risk[2]["risk_ppm"] == 107_143  # 2/7 × 0 + 5/7 × 0.15 = 0.1071428…, half up
    assert risk[3]["paid_invoices"] == 0
    assert risk[3]["risk_ppm"] == 150_000  # no segment: every customer's 600/4000


def test_the_batch_holds_the_risk_as_of_its_last_allocation() -> None:
    mart = _hand_made_mart()
    batch = late_payment_risk(mart, date(2026, 7, 1)).collect()
    assert batch.equals(mart.frame(TABLE))
    one = batch.row(0, named=True)  # invoice 3's late 100 on 1 July counts now
    assert (one["paid_invoices"], one["paid_minor"], one["late_minor"]) == (2, 1100, 700)
    # 2/7 × 700/1100 + 5/7 × 700/4100 = 0.3037694…
    share = Fraction(2, 7) * Fraction(700, 1100) + Fraction(5, 7) * Fraction(700, 4100)
    assert one["risk_ppm"] == int(share * 1_000_000 + Fraction(1, 2)) == 303_769
    # As of D, before that allocation, the rule is applied as of D (the first test).
    then = late_payment_risk(mart, D).collect().filter(pl.col("customer_id") == 1)
    assert then["risk_ppm"].to_list() == [225_000]


def test_the_worklist_ranks_open_overdue_undisputed_invoices_by_score() -> None:
    mart = _hand_made_mart()
    rows = worklist(mart, FINANCE, D, timezone="UTC")
    assert rows["invoice_id"].to_list() == [9, 3, 8]  # 4 disputed, 5 not due, 1/2/6/7 paid
    assert rows["score_minor"].to_list() == [750, 158, 32]  # 157.5 rounds half up
    nine = rows.row(0, named=True)
    assert (nine["name"], nine["account_manager"], nine["days_overdue"], nine["open_minor"]
            ) == ("Three", "Twenty", 1, 5000)
    assert worklist_totals(rows) == {"invoices": 3, "customers": 3, "open_minor": 6000,
                                     "score_minor": 940}
    # A rep's rows: of everyone's worklist kept after finance asked, or their own.
    rep = Scope("rep", 2, rep_ids=frozenset({20}))
    assert list(mart.keyed["worklist"]) == [(D, "UTC")]
    assert worklist(mart, rep, D, timezone="UTC")["invoice_id"].to_list() == [9, 8]
    fresh = _hand_made_mart()
    assert worklist(fresh, rep, D, timezone="UTC")["invoice_id"].to_list() == [9, 8]
    assert "worklist" not in fresh.keyed


def test_the_demo_worklist_equals_the_core_ranked_by_the_risk_from_its_allocations(
        demo_mart: DemoMart) -> None:
    today = demo_mart.mart.published_at.date()
    with Session(demo_mart.core) as session:
        expected = core_worklist(session, today)
    rows = worklist(demo_mart.mart, FINANCE, today, timezone="UTC").to_dicts()
    assert len(expected) >= 10
    assert len({e.risk_ppm for e in expected}) >= 5  # customers differ: ranking means something
    assert [(r["invoice_id"], r["customer_id"], r["days_overdue"], r["open_minor"],
             r["risk_ppm"], r["score_minor"]) for r in rows] == [
        (e.invoice_id, e.customer_id, e.days_overdue, e.open_minor, e.risk_ppm, e.score_minor)
        for e in expected]
    assert worklist_totals(pl.DataFrame(rows))["open_minor"] == sum(
        e.open_minor for e in expected)


@pytest.mark.parametrize("username", ["rep", "manager"])
def test_sales_roles_see_the_rows_of_the_customers_they_manage_with_the_same_risk(
        demo_mart: DemoMart, username: str) -> None:
    today = demo_mart.mart.published_at.date()
    everyone = worklist(demo_mart.mart, FINANCE, today, timezone="UTC")
    with Session(demo_mart.core) as session:
        user = session.scalars(select(User).where(User.username == username)).one()
    scope = manager_scope(demo_mart) if username == "manager" else Scope(
        "rep", user.id, rep_ids=frozenset({user.rep_id or 0}))
    rows = worklist(demo_mart.mart, scope, today, timezone="UTC")
    managed = managed_customers(demo_mart.core, username)
    mine = everyone.filter(pl.col("customer_id").is_in(list(managed)))
    assert 0 < rows.height < everyone.height
    assert rows.equals(mine)
