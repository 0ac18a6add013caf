"""Receivables as of a date: the as-of rule (company time zone, later back-dated entries
only on request), current vs overdue, credit sales, DSO and CEI on hand-made facts; AR at
several moments in one pass equal to one pass per moment; and on the demo company total AR
today and three months back, the CEI of a quarter and of its prior quarter, and totals
narrowed by region, channel and rep equal to independent computations from the core's
documents."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import polars as pl
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.billing.models import Invoice
from core.billing.statements import balance
from core.company.services import end_of_day_utc
from core.customers.models import Customer
from core.types import to_minor
from core.users.models import SalesRep
from dashboard.metrics.mart import Mart
from dashboard.metrics.period import Period
from dashboard.metrics.receivables import (
    AR_COLUMNS,
    Cei,
    ar_by_customer,
    ar_by_customer_at,
    ar_summary,
    ar_totals,
    ar_totals_at,
    cei,
    cei_moments,
    covers_batch,
    credit_sales,
    dso,
    moment,
    open_items_in_scope_lazy,
)
from dashboard.metrics.scope import NO_SCOPE, Scope
from dashboard.metrics.selection import Slice
from etl.facts.open_ar import open_items, possibly_open
from tests.dashboard.conftest import DemoMart
from tests.dashboard.metrics.ar_marts import settled_ar
from tests.dashboard.metrics.core_receivables import (
    core_ar,
    core_cei,
    core_credit_sales,
    core_open_items,
)

FINANCE = Scope(role="finance", user_id=1, all_reps=True)
D = date(2026, 6, 30)
BERLIN = "Europe/Berlin"  # UTC+2 in June: the end of 30 June is 22:00 UTC


def _key(day: date) -> int:
    return day.year * 10_000 + day.month * 100 + day.day


def _item(kind: str, doc: int, customer: int, day: date, posted: datetime, amount: int,
          due: date | None = None, cash_sale: bool = False) -> dict[str, object]:
    return {"item_type": kind, "document_id": doc, "customer_id": customer,
            "document_date_key": _key(day), "due_date_key": _key(due) if due else -1,
            "posted_at": posted, "currency": "USD", "amount_doc_minor": amount,
            "amount_minor": amount, "is_cash_sale": cash_sale}


def _allocation(source: tuple[str, int], target: tuple[str, int], customer: int, day: date,
                amount: int) -> dict[str, object]:
    return {"source_type": source[0], "source_id": source[1], "target_type": target[0],
            "target_id": target[1], "customer_id": customer,
            "allocation_date_key": _key(day),
            "created_at": datetime(day.year, day.month, day.day, 12),
            "amount_doc_minor": amount}


def _hand_made_mart() -> Mart:
    """Customer 1 (rep 10): an overdue invoice part-paid, a current one, one back-dated,
    two posted around midnight in Berlin; customer 2 (rep 20): an open credit note and a
    paid cash sale."""
    items = pl.DataFrame([
        _item("invoice", 1, 1, date(2026, 6, 1), datetime(2026, 6, 1, 8), 1000,
              due=date(2026, 6, 15)),
        _item("invoice", 2, 1, date(2026, 6, 20), datetime(2026, 6, 20, 8), 500,
              due=date(2026, 7, 20)),
        _item("invoice", 3, 1, date(2026, 6, 29), datetime(2026, 7, 2, 9), 300,
              due=date(2026, 7, 29)),  # back-dated: posted after D
        _item("invoice", 4, 1, date(2026, 6, 30), datetime(2026, 6, 30, 21, 30), 40,
              due=date(2026, 7, 30)),  # 23:30 in Berlin: known by the end of D
        _item("invoice", 5, 1, date(2026, 6, 30), datetime(2026, 6, 30, 22, 30), 7,
              due=date(2026, 7, 30)),  # 00:30 on 1 July in Berlin: not yet
        _item("payment", 1, 1, date(2026, 6, 25), datetime(2026, 6, 25, 8), -600),
        _item("credit_note", 1, 2, date(2026, 6, 10), datetime(2026, 6, 10, 8), -50),
        _item("invoice", 6, 2, date(2026, 6, 10), datetime(2026, 6, 10, 8), 80,
              due=date(2026, 6, 10), cash_sale=True),
        _item("payment", 2, 2, date(2026, 6, 10), datetime(2026, 6, 10, 8), -80),
    ])
    allocations = pl.DataFrame([
        _allocation(("payment", 1), ("invoice", 1), 1, date(2026, 6, 25), 400),
        _allocation(("payment", 2), ("invoice", 6), 2, date(2026, 6, 10), 80),
    ])
    customers = pl.DataFrame({"customer_id": [1, 2], "account_manager_id": [10, 20],
                              "is_current": [True, True]})
    locations = pl.DataFrame({"customer_id": [1], "rep_override_id": [None]},
                             schema={"customer_id": pl.Int64, "rep_override_id": pl.Int64})
    return Mart("test", datetime(2026, 7, 5), {
        **settled_ar(items, allocations), "dim_customer": customers,
        "dim_location": locations})


def test_ar_as_of_a_day_after_everything_in_the_batch_reads_the_batch_open_items() -> None:
    """A moment after every document and allocation of the batch was dated and recorded is
    answered from the batch's open items (kept per batch): the same items and amounts as
    the as-of computation, in scope; an earlier moment is computed as of its day."""
    mart = _hand_made_mart()
    later = moment(date(2026, 7, 3), timezone=BERLIN)
    assert covers_batch(mart, later)
    assert not covers_batch(mart, moment(D, timezone=BERLIN))  # invoice 3 posted 2 July
    assert covers_batch(mart, moment(D, timezone=BERLIN, include_backdated=True))
    columns = ["item_type", "document_id", "customer_id", "open_doc_minor", "open_minor"]
    expected = open_items(mart.frame("fct_ar_item"), mart.frame("fct_ar_allocation"),
                          *later).filter(pl.col("open_doc_minor") != 0).select(columns)
    assert expected.height == 7
    kept = open_items_in_scope_lazy(mart, FINANCE, date(2026, 7, 3), timezone=BERLIN)
    assert sorted(kept.select(columns).collect().rows()) == sorted(expected.rows())
    assert "open_items_now" in mart.derived
    rep_20 = Scope(role="rep", user_id=2, rep_ids=frozenset({20}))
    theirs = open_items_in_scope_lazy(mart, rep_20, date(2026, 7, 3), timezone=BERLIN)
    assert theirs.select("customer_id").unique().collect()["customer_id"].to_list() == [2]
    totals = ar_totals_at(mart, FINANCE, [later, moment(D, timezone=BERLIN)])
    assert totals[0]["total_ar_minor"] == expected["open_minor"].sum() == 1140 + 307 - 250
    assert totals[1] == ar_summary(mart, FINANCE, D, timezone=BERLIN)


def test_ar_as_of_d_counts_what_was_posted_by_the_end_of_d_in_the_company_time_zone() -> None:
    summary = ar_summary(_hand_made_mart(), FINANCE, D, timezone=BERLIN)
    assert summary == {"open_invoices_minor": 600 + 500 + 40, "current_minor": 540,
                       "overdue_minor": 600, "unapplied_cash_minor": 200,
                       "open_credits_minor": 50, "total_ar_minor": 1140 - 200 - 50}


def test_later_back_dated_entries_count_only_when_asked_for() -> None:
    summary = ar_summary(_hand_made_mart(), FINANCE, D, timezone=BERLIN,
                         include_backdated=True)
    assert summary["current_minor"] == 540 + 300 + 7
    assert summary["total_ar_minor"] == 890 + 307


def test_an_invoice_due_on_d_is_current_and_the_day_after_overdue() -> None:
    mart = _hand_made_mart()
    due = date(2026, 6, 15)
    assert ar_summary(mart, FINANCE, due, timezone="UTC")["overdue_minor"] == 0
    assert ar_summary(mart, FINANCE, due + timedelta(days=1),
                      timezone="UTC")["overdue_minor"] == 1000


def test_credit_sales_leave_out_cash_sales_and_dso_is_blank_without_them() -> None:
    mart = _hand_made_mart()
    period = Period(D - timedelta(days=89), D)
    assert credit_sales(mart, FINANCE, period, timezone=BERLIN) == 1000 + 500 + 40 - 50
    assert credit_sales(mart, FINANCE, period, timezone=BERLIN,
                        include_backdated=True) == 1490 + 307
    result = dso(mart, FINANCE, D, timezone=BERLIN)
    assert result == {"total_ar_minor": 890, "credit_sales_minor": 1490, "days": 90,
                      "dso": 890 * 90 / 1490}
    rep2 = Scope(role="rep", user_id=2, rep_ids=frozenset({20}))
    assert dso(mart, rep2, D, timezone=BERLIN) == {
        "total_ar_minor": -50, "credit_sales_minor": -50, "days": 90, "dso": None}


def test_receivables_follow_who_manages_the_customer_now() -> None:
    mart = _hand_made_mart()
    rep2 = Scope(role="rep", user_id=2, rep_ids=frozenset({20}))
    assert ar_by_customer(mart, rep2, D, timezone=BERLIN)["customer_id"].to_list() == [2]
    assert ar_summary(mart, rep2, D, timezone=BERLIN)["open_credits_minor"] == 50
    assert ar_by_customer(mart, NO_SCOPE, D, timezone=BERLIN).height == 0
    assert set(ar_summary(mart, NO_SCOPE, D, timezone=BERLIN).values()) == {0}


def test_cei_is_what_was_collected_of_what_could_be_collected_in_the_period() -> None:
    mart, june = _hand_made_mart(), Period(date(2026, 6, 1), D)
    result = cei(mart, FINANCE, june, D, timezone=BERLIN)
    # Nothing before June; credit sales 1000 + 500 + 40 − 50 (the cash sale and the
    # invoices posted after the end of 30 June in Berlin left out); at the end total AR
    # 890, current 540.
    assert result == Cei(0, 1490, 890, 540, D)
    assert (result.collected_minor, result.collectible_minor) == (600, 950)
    assert result.cei == Decimal(600) * 100 / Decimal(950)
    # The same with the AR totals computed by the caller.
    totals = {m: ar_totals(f) for m, f in zip(
        cei_moments(june, D, timezone=BERLIN),  # type: ignore[arg-type]
        ar_by_customer_at(mart, FINANCE, cei_moments(june, D, timezone=BERLIN)),  # type: ignore[arg-type]
        strict=True)}
    assert cei(mart, FINANCE, june, D, timezone=BERLIN, ar_at=totals) == result
    # Back-dated entries counted when asked for: invoices 3 and 5 in sales and AR.
    later = cei(mart, FINANCE, june, D, timezone=BERLIN, include_backdated=True)
    assert later == Cei(0, 1490 + 307, 890 + 307, 540 + 307, D)


def test_cei_is_blank_without_anything_to_collect_or_before_the_period_starts() -> None:
    mart, june = _hand_made_mart(), Period(date(2026, 6, 1), D)
    rep2 = Scope(role="rep", user_id=2, rep_ids=frozenset({20}))
    credited = cei(mart, rep2, june, D, timezone=BERLIN)
    # Customer 2: a credit note of 50 (credit sales −50) left open: 0 − 50 + 50 / 0 − 50 − 0.
    assert credited is not None and credited.collectible_minor == -50
    assert credited.cei is None
    nothing = cei(mart, NO_SCOPE, june, D, timezone=BERLIN)
    assert nothing == Cei(0, 0, 0, 0, D) and nothing.cei is None
    assert cei(mart, FINANCE, Period(date(2026, 7, 1), date(2026, 7, 31)), D,
               timezone=BERLIN) is None
    # A period running past today ends today.
    running = cei(mart, FINANCE, Period(date(2026, 6, 1), date(2026, 12, 31)), D,
                  timezone=BERLIN)
    assert running is not None and running.end == D


def test_the_prior_periods_ending_ar_is_this_periods_beginning_ar() -> None:
    quarter = Period(date(2026, 4, 1), date(2026, 6, 30))
    now = cei_moments(quarter, D, timezone=BERLIN)
    before = cei_moments(quarter.prior(), D, timezone=BERLIN)
    assert now is not None and before is not None and now[0] == before[1]
    assert now[0] == moment(date(2026, 3, 31), timezone=BERLIN)


@pytest.mark.parametrize("include_backdated", [False, True])
def test_ar_at_several_moments_in_one_pass_equals_one_pass_per_moment(
        include_backdated: bool) -> None:
    mart = _hand_made_mart()
    days = [D, date(2026, 6, 24), date(2026, 6, 9), date(2026, 5, 1)]
    moments = [moment(day, timezone=BERLIN, include_backdated=include_backdated)
               for day in days]
    summed = ar_totals_at(mart, FINANCE, moments)  # nothing kept: from the open items
    assert "ar_by_customer" not in mart.keyed
    frames = ar_by_customer_at(mart, FINANCE, moments)
    summaries = [ar_summary(mart, FINANCE, day, timezone=BERLIN,
                            include_backdated=include_backdated) for day in days]
    assert [ar_totals(f) for f in frames] == summaries
    assert ar_totals_at(mart, FINANCE, moments) == summaries == summed  # from the kept
    assert any(s["overdue_minor"] and s["unapplied_cash_minor"] for s in summaries)
    for frame, day in zip(frames, days, strict=True):
        single = ar_by_customer(mart, FINANCE, day, timezone=BERLIN,
                                include_backdated=include_backdated)
        # The shared pass has a row for every customer with documents at any moment.
        assert frame.join(single, on=["customer_id", "currency"], how="anti").select(
            pl.sum_horizontal(pl.exclude("customer_id", "currency").abs())).sum().item() == 0
        assert frame.join(single, on=["customer_id", "currency"]).select(
            [(pl.col(c) == pl.col(f"{c}_right")).all() for c in single.columns[2:]]
        ).row(0) == (True,) * (single.width - 2)


# --- the demo company against the core --------------------------------------------------

@pytest.mark.parametrize("months_back", [0, 3])
def test_total_ar_equals_the_core_open_items_today_and_three_months_back(
        demo_mart: DemoMart, months_back: int) -> None:
    as_of = demo_mart.mart.published_at.date() - timedelta(days=91 * months_back // 3)
    mart_ar = ar_by_customer(demo_mart.mart, FINANCE, as_of, timezone="UTC")
    with Session(demo_mart.core) as session:
        known_by = end_of_day_utc(session, as_of)
        expected = core_ar(session, as_of, known_by)
        statements = {
            customer.id: to_minor(balance(session, customer.id, as_of, known_by),
                                  customer.currency)
            for customer in session.scalars(select(Customer))}
    mart_doc = dict(zip(mart_ar["customer_id"], mart_ar["total_ar_doc_minor"], strict=True))
    assert {c: a for c, a in mart_doc.items() if a} == {c: a for c, a in statements.items()
                                                          if a}
    summary = ar_summary(demo_mart.mart, FINANCE, as_of, timezone="UTC")
    assert expected["overdue_minor"] > 0 and expected["current_minor"] > 0
    assert {name: summary[name] for name in expected} == expected


def test_dso_uses_the_credit_sales_of_the_last_90_days_in_the_core(demo_mart: DemoMart) -> None:
    as_of = demo_mart.mart.published_at.date()
    start = as_of - timedelta(days=89)
    with Session(demo_mart.core) as session:
        sales = core_credit_sales(session, start, as_of, end_of_day_utc(session, as_of))
        (cash_sales,) = session.execute(select(func.count()).where(
            Invoice.is_cash_sale, Invoice.status == "posted")).one()
    result = dso(demo_mart.mart, FINANCE, as_of, timezone="UTC")
    total = ar_summary(demo_mart.mart, FINANCE, as_of, timezone="UTC")["total_ar_minor"]
    assert cash_sales > 0
    assert result == {"total_ar_minor": total, "credit_sales_minor": sales, "days": 90,
                      "dso": total * 90 / sales}
    assert dso(demo_mart.mart, FINANCE, as_of, timezone="UTC", total_ar_minor=total) == result


def test_cei_of_a_quarter_and_its_prior_quarter_equal_the_core_documents(
        demo_mart: DemoMart) -> None:
    today = demo_mart.mart.published_at.date()
    quarter = Period(today - timedelta(days=90), today)
    with Session(demo_mart.core) as session:
        expected = [core_cei(session, p.start, p.end) for p in (quarter, quarter.prior())]
    results = [cei(demo_mart.mart, FINANCE, p, today, timezone="UTC")
               for p in (quarter, quarter.prior())]
    assert [(r.collected_minor, r.collectible_minor, r.cei) for r in results  # type: ignore[union-attr]
            ] == expected
    assert all(0 < collected < collectible for collected, collectible, _ in expected)
    assert expected[0][2] != expected[1][2]


def _core_total_by_customer(session: Session, as_of: date) -> dict[int, int]:
    totals: dict[int, int] = {}
    for item in core_open_items(session, as_of, end_of_day_utc(session, as_of)):
        totals[item.customer_id] = totals.get(item.customer_id, 0) + item.open_minor
    return totals


def test_region_channel_and_rep_filters_keep_the_customers_that_match_now(
        demo_mart: DemoMart) -> None:
    today = demo_mart.mart.published_at.date()
    with Session(demo_mart.core) as session:
        totals = _core_total_by_customer(session, today)
        customers = session.scalars(select(Customer)).all()
        reps = session.scalars(select(SalesRep.id).join(
            Customer, Customer.account_manager_id == SalesRep.id).distinct()
            .order_by(SalesRep.id)).all()
    # The first account manager whose customers owe something today (the demo is dated
    # from today: on some days the first one's customers hold more credit than they owe).
    rep = next(r for r in reps if sum(totals.get(c.id, 0) for c in customers
                                      if c.account_manager_id == r) > 0)
    region = sorted({c.region_code for c in customers if c.region_code})[0]
    channel = sorted({c.channel_code for c in customers if c.channel_code})[0]
    everything = ar_summary(demo_mart.mart, FINANCE, today, timezone="UTC")["total_ar_minor"]
    cases = [
        (Slice(region_codes=frozenset({region})), lambda c: c.region_code == region),
        (Slice(channel_codes=frozenset({channel})), lambda c: c.channel_code == channel),
        (Slice(rep_ids=frozenset({rep})), lambda c: c.account_manager_id == rep),
        (Slice(region_codes=frozenset({region}), channel_codes=frozenset({channel})),
         lambda c: c.region_code == region and c.channel_code == channel),
    ]
    for selection, matches in cases:
        expected = sum(totals.get(c.id, 0) for c in customers if matches(c))
        frame = ar_by_customer(demo_mart.mart, FINANCE, today, timezone="UTC",
                               selection=selection)
        assert int(frame["total_ar_minor"].sum()) == expected, selection
        assert set(frame["customer_id"]) <= {c.id for c in customers if matches(c)}
        assert 0 < expected != everything, selection
        sales = credit_sales(demo_mart.mart, FINANCE, Period(today - timedelta(days=89), today),
                             timezone="UTC", selection=selection)
        assert 0 < sales < credit_sales(demo_mart.mart, FINANCE,
                                        Period(today - timedelta(days=89), today),
                                        timezone="UTC")


def test_only_items_that_may_be_open_are_joined_with_their_allocations() -> None:
    items = pl.DataFrame([
        _item("invoice", 1, 1, date(2026, 6, 1), datetime(2026, 6, 1, 8), 100),
        _item("invoice", 2, 1, date(2026, 6, 1), datetime(2026, 6, 1, 8), 200),
        _item("payment", 1, 1, date(2026, 6, 5), datetime(2026, 6, 5, 8), -100),
        _item("payment", 2, 1, date(2026, 6, 5), datetime(2026, 6, 5, 8), -200),
        _item("invoice", 3, 1, date(2026, 6, 8), datetime(2026, 6, 8, 8), 300),
        _item("payment", 3, 1, date(2026, 6, 9), datetime(2026, 6, 9, 8), -100),
    ])
    back_dated = _allocation(("payment", 2), ("invoice", 2), 1, date(2026, 6, 5), 200)
    back_dated["created_at"] = datetime(2026, 6, 20, 12)  # recorded a fortnight later
    allocations = pl.DataFrame([
        _allocation(("payment", 1), ("invoice", 1), 1, date(2026, 6, 5), 100), back_dated,
        _allocation(("payment", 3), ("invoice", 3), 1, date(2026, 6, 9), 100)])
    marts = settled_ar(items, allocations)
    settled, allocations = marts["fct_ar_item"], marts["fct_ar_allocation"]
    assert settled["settled_date_key"].to_list() == [20260605] * 4 + [-1, 20260609]
    assert allocations["settled_date_key"].to_list() == [20260605, 20260605, -1]

    def kept(as_of: date, known_by: datetime | None,
             ) -> tuple[set[tuple[str, int]], set[tuple[str, int]]]:
        frame, applied = (f.collect() for f in possibly_open(settled, allocations,
                                                              [(as_of, known_by)]))
        return (set(zip(frame["item_type"], frame["document_id"], strict=True)),
                set(zip(applied["source_type"], applied["source_id"], strict=True)))

    # On 4 June the invoices 1 and 2 were open and the receipts (5 June) not there yet: no
    # allocation counts yet.
    assert kept(date(2026, 6, 4), None) == ({("invoice", 1), ("invoice", 2)}, set())
    # On 10 June only invoice 3 was open: the allocations of the others are not read.
    assert kept(date(2026, 6, 10), None) == ({("invoice", 3)}, {("payment", 3)})
    # As recorded at the end of 10 June the back-dated receipt was not there yet.
    assert kept(date(2026, 6, 10), datetime(2026, 6, 10, 23, 59)) == (
        {("invoice", 2), ("payment", 2), ("invoice", 3)}, {("payment", 2), ("payment", 3)})
    for as_of in (date(2026, 6, 4), date(2026, 6, 10)):
        for known_by in (None, datetime(as_of.year, as_of.month, as_of.day, 23, 59)):
            whole = open_items(settled, allocations, as_of, known_by).filter(
                pl.col("open_doc_minor") != 0)
            pruned = open_items(*possibly_open(settled, allocations, [(as_of, known_by)]),
                                as_of, known_by)
            assert pruned.filter(pl.col("open_doc_minor") != 0).equals(whole)
    closed_day = open_items(settled, allocations, date(2026, 6, 10),
                            datetime(2026, 6, 10, 23, 59))
    assert closed_day.filter(pl.col("open_doc_minor") != 0)["document_id"].to_list() == [
        2, 2, 3]


def test_the_rows_do_not_depend_on_which_moments_were_kept_together() -> None:
    """A frame kept from a pass over several moments holds customers with nothing at one of
    them; ``ar_by_customer`` leaves those out, so its rows are the same however the kept
    frames were computed."""
    days = [D, date(2026, 6, 9), date(2026, 5, 1), date(2026, 1, 1)]
    alone = [ar_by_customer(_hand_made_mart(), FINANCE, day, timezone=BERLIN) for day in days]
    together = _hand_made_mart()
    ar_by_customer_at(together, FINANCE, [moment(day, timezone=BERLIN) for day in days])
    for day, expected in zip(days, alone, strict=True):
        assert ar_by_customer(together, FINANCE, day, timezone=BERLIN).equals(expected)
        assert not expected.select(pl.all_horizontal(
            pl.col(*AR_COLUMNS, "total_ar_doc_minor") == 0)).to_series().any()
    assert alone[-1].is_empty()  # nothing open on 1 January
