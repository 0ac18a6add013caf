"""AR aging: bucket edges on both bases, configurable boundaries, unapplied cash and open
credits kept out of the buckets, disputed invoices, the as-of rule and the scope on
hand-made facts (also in document currency: USD and EUR customers, their totals per
currency, open items and allocations); and on the demo company, each customer's buckets in
base and in document currency equal to an independent computation from the core's
documents to the cent, today and three months back."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime, timedelta

import polars as pl
import pytest
from sqlalchemy.orm import Session

from core.company.services import end_of_day_utc
from dashboard.metrics.aging import (
    DEFAULT_BOUNDARIES,
    _aging_query,
    aging_buckets,
    aging_by_customer,
    aging_totals,
    aging_with_ar,
    allocations_of,
    bucket_of,
    open_items_of,
    top_overdue,
    totals_by_currency,
)
from dashboard.metrics.mart import Mart
from dashboard.metrics.receivables import (
    ar_by_customer,
    ar_by_customer_at,
    ar_by_customer_query,
    ar_frames,
    ar_totals,
    covers_batch,
    moment,
    open_items_at,
)
from dashboard.metrics.scope import NO_SCOPE, Scope
from dashboard.metrics.selection import EVERYTHING, Slice, managed_customers
from tests.dashboard.conftest import DemoMart
from tests.dashboard.metrics.ar_marts import settled_ar
from tests.dashboard.metrics.core_receivables import CoreOpenItem, core_open_items

FINANCE = Scope(role="finance", user_id=1, all_reps=True)
D = date(2026, 6, 30)
BUCKETS = ("age_0_minor", "age_1_30_minor", "age_31_60_minor", "age_61_90_minor",
           "age_91_120_minor", "age_over_120_minor")


def _key(day: date | None) -> int:
    return -1 if day is None else day.year * 10_000 + day.month * 100 + day.day


def _item(kind: str, doc: int, customer: int, day: date, amount: int, *,
          due: date | None = None, posted: datetime | None = None, base: int | None = None,
          disputed: bool = False) -> dict[str, object]:
    return {"item_type": kind, "document_id": doc, "document_number": f"{kind[:3].upper()}{doc}",
            "customer_id": customer, "document_date_key": _key(day), "due_date_key": _key(due),
            "posted_at": posted or datetime(day.year, day.month, day.day, 9),
            "currency": "USD", "amount_doc_minor": amount,
            "amount_minor": amount if base is None else base, "is_disputed": disputed,
            "is_cash_sale": False, "promise_to_pay_date_key": -1}


def _days_ago(days: int) -> date:
    return D - timedelta(days=days)


def _hand_made_mart() -> Mart:
    """Customer 1 (rep 10) has invoices due on each bucket edge, a part-paid one, a
    disputed one, a refund, unapplied cash, an open credit and a back-dated invoice;
    customer 2 (rep 20) one EUR invoice (base 11 for 10)."""
    invoice_day = _days_ago(200)
    items = pl.DataFrame([
        _item("invoice", 1, 1, _days_ago(10), 100, due=D),  # 0 days: not due
        _item("invoice", 2, 1, _days_ago(20), 200, due=_days_ago(1)),  # 1 → 1–30
        _item("invoice", 3, 1, _days_ago(40), 300, due=_days_ago(30)),  # 30 → 1–30
        _item("invoice", 4, 1, _days_ago(41), 400, due=_days_ago(31)),  # 31 → 31–60
        _item("invoice", 5, 1, invoice_day, 500, due=_days_ago(121), disputed=True),
        _item("invoice", 6, 1, invoice_day, 600, due=_days_ago(120)),  # part-paid
        _item("payment", 1, 1, _days_ago(5), -1000),
        _item("credit_note", 1, 1, _days_ago(3), -70),
        _item("refund", 1, 1, _days_ago(45), 30),  # due on its own date: 45 → 31–60
        _item("invoice", 7, 1, D, 1000, due=D + timedelta(days=30),
              posted=datetime(2026, 7, 2, 9)),  # back-dated: posted after D
        _item("invoice", 8, 2, _days_ago(35), 10, due=_days_ago(5), base=11),
    ])
    allocations = pl.DataFrame([{
        "source_type": "payment", "source_id": 1, "target_type": "invoice", "target_id": 6,
        "customer_id": 1, "allocation_date_key": _key(_days_ago(5)),
        "created_at": datetime(2026, 6, 25, 12), "amount_doc_minor": 250}])
    return _mart(items, allocations, ("Alpha", "Beta"))


def _row(frame: pl.DataFrame, customer_id: int) -> dict[str, object]:
    return frame.filter(pl.col("customer_id") == customer_id).row(0, named=True)


def test_buckets_by_days_past_due_with_cash_and_credits_in_their_own_columns() -> None:
    aging = aging_by_customer(_hand_made_mart(), FINANCE, D, timezone="UTC")
    alpha = _row(aging, 1)
    assert [alpha[b] for b in BUCKETS] == [100, 200 + 300, 400 + 30, 0, 350, 500]
    assert alpha["open_invoices_minor"] == 100 + 500 + 430 + 350 + 500
    assert (alpha["unapplied_cash_minor"], alpha["open_credits_minor"]) == (750, 70)
    assert alpha["total_ar_minor"] == 1880 - 750 - 70
    assert (alpha["disputed_minor"], alpha["disputed_items"]) == (500, 1)
    assert (alpha["name"], alpha["account_manager"]) == ("Alpha", "Rep Ten")
    assert [_row(aging, 2)[b] for b in BUCKETS] == [0, 11, 0, 0, 0, 0]  # base amount
    assert aging["customer_id"].to_list() == [1, 2]  # largest open invoices first


def test_the_invoice_date_basis_ages_from_the_document_date() -> None:
    alpha = _row(aging_by_customer(_hand_made_mart(), FINANCE, D, timezone="UTC",
                                   basis="invoice"), 1)
    # 10, 20 days → 1–30; 40, 41, 45 (refund) → 31–60; 200 → > 120 (incl. the part-paid)
    assert [alpha[b] for b in BUCKETS] == [0, 300, 300 + 400 + 30, 0, 0, 500 + 350]


def test_boundaries_are_configurable() -> None:
    buckets = aging_buckets((15, 45))
    assert [b.label for b in buckets] == ["Not due", "1–15", "16–45", "> 45"]
    alpha = _row(aging_by_customer(_hand_made_mart(), FINANCE, D, timezone="UTC",
                                   boundaries=(15, 45)), 1)
    assert [alpha[b.column] for b in buckets] == [100, 200, 300 + 400 + 30, 850]
    assert aging_buckets(basis="invoice")[0].label == "0 days"
    for bad in ((), (30, 30), (60, 30), (0, 30)):
        with pytest.raises(ValueError, match="aging boundaries"):
            aging_buckets(bad)
    with pytest.raises(ValueError, match="basis"):
        aging_buckets(basis="order")


def test_disputed_invoices_can_be_left_out() -> None:
    alpha = _row(aging_by_customer(_hand_made_mart(), FINANCE, D, timezone="UTC",
                                   exclude_disputed=True), 1)
    assert alpha["age_over_120_minor"] == 0
    assert alpha["open_invoices_minor"] == 1880 - 500
    assert (alpha["disputed_minor"], alpha["disputed_items"]) == (0, 0)


def test_a_closed_day_does_not_change_unless_later_back_dated_entries_are_asked_for() -> None:
    mart = _hand_made_mart()
    assert _row(aging_by_customer(mart, FINANCE, D, timezone="UTC"), 1)["age_0_minor"] == 100
    with_later = aging_by_customer(mart, FINANCE, D, timezone="UTC", include_backdated=True)
    assert _row(with_later, 1)["age_0_minor"] == 1100
    earlier = aging_by_customer(mart, FINANCE, _days_ago(30), timezone="UTC")
    # 30 days earlier: invoices 1 and 2 not issued yet, 3 due that day, 6 unpaid, the
    # receipt and the credit note not yet in
    assert [_row(earlier, 1)[b] for b in BUCKETS] == [300, 400 + 30, 0, 600, 500, 0]
    assert (_row(earlier, 1)["unapplied_cash_minor"], _row(earlier, 1)["open_credits_minor"]) \
        == (0, 0)


def test_aging_follows_who_manages_the_customer_now() -> None:
    mart = _hand_made_mart()
    rep20 = Scope(role="rep", user_id=2, rep_ids=frozenset({20}))
    assert aging_by_customer(mart, rep20, D, timezone="UTC")["customer_id"].to_list() == [2]
    assert aging_by_customer(mart, NO_SCOPE, D, timezone="UTC").height == 0
    assert open_items_of(mart, rep20, 1, D, timezone="UTC").height == 0
    assert set(aging_totals(aging_by_customer(mart, NO_SCOPE, D, timezone="UTC")).values()) \
        == {0}


def test_open_items_of_a_customer_list_every_open_document_with_its_age() -> None:
    items = open_items_of(_hand_made_mart(), FINANCE, 1, D, timezone="UTC")
    assert items["document_number"].to_list() == [
        "INV5", "INV6", "REF1", "INV4", "INV3", "INV2", "INV1", "PAY1", "CRE1"]
    by_number = {row["document_number"]: row for row in items.iter_rows(named=True)}
    assert by_number["INV6"]["open_minor"] == 350
    assert (by_number["INV6"]["days_past_due"], by_number["INV6"]["bucket"]) == (120, "91–120")
    assert by_number["REF1"]["due_date"] == _days_ago(45)
    assert (by_number["INV1"]["days_past_due"], by_number["INV1"]["bucket"]) == (0, "Not due")
    assert by_number["PAY1"]["open_minor"] == -750
    assert by_number["PAY1"]["days_past_due"] is None and by_number["PAY1"]["bucket"] is None
    assert by_number["INV5"]["is_disputed"]
    assert int(items["open_minor"].sum()) == _row(
        aging_by_customer(_hand_made_mart(), FINANCE, D, timezone="UTC"), 1)["total_ar_minor"]


def test_overdue_is_past_the_due_date_whatever_the_basis_and_ranks_the_top_list() -> None:
    mart = _hand_made_mart()
    for basis in ("due", "invoice"):
        aging = aging_by_customer(mart, FINANCE, D, timezone="UTC", basis=basis)
        # Alpha: everything open but invoice 1 (due on D) and the receipt / credit note.
        assert _row(aging, 1)["overdue_minor"] == 1880 - 100
        assert _row(aging, 2)["overdue_minor"] == 11
    top = top_overdue(aging, 1)
    assert top.select("customer_id", "overdue_minor").rows() == [(1, 1780)]
    assert top["overdue_share"].item() == 1780 / 1880
    assert top_overdue(aging)["customer_id"].to_list() == [1, 2]
    assert top_overdue(aging_by_customer(mart, FINANCE, _days_ago(200), timezone="UTC")
                       ).height == 0


def test_bucket_of_one_item_follows_the_frames_rule() -> None:
    buckets = aging_buckets((15, 45))
    assert [bucket_of(days, buckets).label for days in (-3, 0, 1, 15, 16, 45, 46, 400)] == [
        "Not due", "Not due", "1–15", "1–15", "16–45", "16–45", "> 45", "> 45"]


@pytest.mark.parametrize("exclude_disputed", [False, True])
def test_aging_with_ar_at_other_moments_equals_each_computed_alone(
        exclude_disputed: bool) -> None:
    mart = _hand_made_mart()
    others = [moment(_days_ago(30), timezone="UTC"),
              moment(D, timezone="UTC", include_backdated=True)]
    aging, ar = aging_with_ar(mart, FINANCE, D, others, timezone="UTC",
                              exclude_disputed=exclude_disputed)
    assert aging.equals(aging_by_customer(mart, FINANCE, D, timezone="UTC",
                                          exclude_disputed=exclude_disputed))
    assert list(ar) == [moment(D, timezone="UTC"), *others]
    for (day, known_by), frame in ar.items():  # AR keeps the disputed invoices
        alone = ar_by_customer(mart, FINANCE, day, timezone="UTC",  # type: ignore[arg-type]
                               include_backdated=known_by is None)
        assert frame.filter(pl.col("customer_id").is_in(alone["customer_id"].implode())
                            ).equals(alone)


# --- the demo company against the core --------------------------------------------------

def _bucket(days: int, boundaries: Sequence[int]) -> int:
    if days <= 0:
        return 0
    return next((n for n, last in enumerate(boundaries, start=1) if days <= last),
                len(boundaries) + 1)


def _core_aging(items: list[CoreOpenItem], as_of: date, boundaries: Sequence[int],
                basis: str) -> dict[int, tuple[int, ...]]:
    """Per customer: the buckets, unapplied cash and open credits (customers with anything
    open only)."""
    rows: dict[int, list[int]] = defaultdict(lambda: [0] * (len(boundaries) + 4))
    for item in items:
        row = rows[item.customer_id]
        if item.due_date is not None:
            since = item.due_date if basis == "due" else item.document_date
            row[_bucket((as_of - since).days, boundaries)] += item.open_minor
        elif item.kind == "receipt":
            row[-2] -= item.open_minor
        else:
            row[-1] -= item.open_minor
    return {customer: tuple(row) for customer, row in rows.items() if any(row)}


def _as_of(demo: DemoMart, months_back: int) -> date:
    return demo.mart.published_at.date() - timedelta(days=91 * months_back // 3)


@pytest.mark.parametrize(("months_back", "basis", "boundaries"), [
    (0, "due", DEFAULT_BOUNDARIES), (3, "due", DEFAULT_BOUNDARIES),
    (0, "invoice", DEFAULT_BOUNDARIES), (3, "due", (15, 45)),
])
def test_each_customers_buckets_equal_the_core_open_items(
        demo_mart: DemoMart, months_back: int, basis: str, boundaries: tuple[int, ...]) -> None:
    as_of = _as_of(demo_mart, months_back)
    with Session(demo_mart.core) as session:
        core = _core_aging(core_open_items(session, as_of, end_of_day_utc(session, as_of)),
                           as_of, boundaries, basis)
    aging = aging_by_customer(demo_mart.mart, FINANCE, as_of, timezone="UTC",
                              boundaries=boundaries, basis=basis)
    columns = [b.column for b in aging_buckets(boundaries, basis)]
    mart = {row["customer_id"]: tuple(row[c] for c in columns)
            + (row["unapplied_cash_minor"], row["open_credits_minor"])
            for row in aging.iter_rows(named=True)}
    assert len(core) > 10
    assert {c: r for c, r in mart.items() if any(r)} == core
    totals = aging_totals(aging)
    assert sum(1 for c in columns if totals[c] > 0) >= 3  # not all in one bucket


@pytest.mark.parametrize("months_back", [0, 3])
def test_buckets_add_up_to_the_open_invoices_and_total_ar(demo_mart: DemoMart,
                                                          months_back: int) -> None:
    as_of = _as_of(demo_mart, months_back)
    aging = aging_by_customer(demo_mart.mart, FINANCE, as_of, timezone="UTC")
    assert (aging.select(pl.sum_horizontal(BUCKETS)).to_series()
            == aging["open_invoices_minor"]).all()
    ar = ar_by_customer(demo_mart.mart, FINANCE, as_of, timezone="UTC").filter(
        pl.col("customer_id").is_in(aging["customer_id"].implode()))
    joined = aging.join(ar, on="customer_id", suffix="_ar")
    assert joined.height == aging.height
    for column in ("open_invoices_minor", "unapplied_cash_minor", "open_credits_minor",
                   "total_ar_minor"):
        assert (joined[column] == joined[f"{column}_ar"]).all(), column
    left_out = ar.filter(~pl.col("customer_id").is_in(aging["customer_id"].implode()))
    assert (left_out["total_ar_minor"] == 0).all()


def test_disputed_amounts_on_the_demo_equal_the_core_disputed_invoices(
        demo_mart: DemoMart) -> None:
    as_of = _as_of(demo_mart, 0)
    with Session(demo_mart.core) as session:
        items = core_open_items(session, as_of, end_of_day_utc(session, as_of))
    disputed = [i for i in items if i.is_disputed and i.open_minor]
    totals = aging_totals(aging_by_customer(demo_mart.mart, FINANCE, as_of, timezone="UTC"))
    without = aging_totals(aging_by_customer(demo_mart.mart, FINANCE, as_of, timezone="UTC",
                                             exclude_disputed=True))
    assert disputed, "the demo has open disputed invoices"
    assert (totals["disputed_items"], totals["disputed_minor"]) == (
        len(disputed), sum(i.open_minor for i in disputed))
    assert without["open_invoices_minor"] == totals["open_invoices_minor"] \
        - totals["disputed_minor"]


# --- document currency ---------------------------------------------------------------------

def _two_currency_mart() -> Mart:
    """Customer 1 (rep 10) in USD: invoice 1 ($100.00, 20.00 paid by a $30.00 receipt) and
    invoice 2 ($50.00, not due). Customer 2 (rep 20) in EUR: invoice 3 (€200.00 at base
    $217.34, €50.00 covered by a credit note) and invoice 4 (€33.33 at $36.22, not due)."""
    def item(kind: str, doc: int, customer: int, currency: str, amount: int, base: int,
             due: date | None) -> dict[str, object]:
        return _item(kind, doc, customer, _days_ago(60), amount, due=due, base=base) | {
            "currency": currency}

    items = pl.DataFrame([
        item("invoice", 1, 1, "USD", 100_00, 100_00, _days_ago(10)),
        item("invoice", 2, 1, "USD", 50_00, 50_00, D + timedelta(days=5)),
        item("payment", 1, 1, "USD", -30_00, -30_00, None),
        item("invoice", 3, 2, "EUR", 200_00, 217_34, _days_ago(45)),
        item("invoice", 4, 2, "EUR", 33_33, 36_22, D + timedelta(days=1)),
        item("credit_note", 1, 2, "EUR", -50_00, -54_34, None),
    ])

    def allocation(source: tuple[str, int], target: tuple[str, int], customer: int,
                   amount: int, base: int, created: datetime) -> dict[str, object]:
        return {"source_type": source[0], "source_id": source[1], "target_type": target[0],
                "target_id": target[1], "customer_id": customer,
                "allocation_date_key": _key(_days_ago(5)), "created_at": created,
                "amount_doc_minor": amount, "amount_minor": base}

    allocations = pl.DataFrame([
        allocation(("payment", 1), ("invoice", 1), 1, 20_00, 20_00, datetime(2026, 6, 25)),
        allocation(("credit_note", 1), ("invoice", 3), 2, 50_00, 54_34, datetime(2026, 6, 25)),
        # Back-dated: recorded after D, so not in "as of D" unless asked for.
        allocation(("payment", 1), ("invoice", 2), 1, 10_00, 10_00, datetime(2026, 7, 3)),
    ])
    return _mart(items, allocations, ("Dollar Co", "Euro GmbH"))


def _mart(items: pl.DataFrame, allocations: pl.DataFrame, names: tuple[str, str]) -> Mart:
    """A mart of ``items`` and ``allocations`` for customers 1 and 2 (``names``), managed
    by reps 10 and 20."""
    customers = pl.DataFrame({"customer_id": [1, 2], "name": list(names),
                              "account_manager_id": [10, 20], "is_current": [True, True]})
    locations = pl.DataFrame({"customer_id": [1], "rep_override_id": [None]},
                             schema={"customer_id": pl.Int64, "rep_override_id": pl.Int64})
    reps = pl.DataFrame({"rep_id": [10, 20], "name": ["Rep Ten", "Rep Twenty"]})
    return Mart("test", datetime(2026, 7, 5), {
        **settled_ar(items, allocations), "dim_customer": customers,
        "dim_location": locations, "dim_rep": reps})


DOC_BUCKETS = tuple(b.doc_column for b in aging_buckets())


def test_document_currency_amounts_are_the_open_amounts_before_conversion() -> None:
    aging = aging_by_customer(_two_currency_mart(), FINANCE, D, timezone="UTC")
    dollar, euro = _row(aging, 1), _row(aging, 2)
    assert (dollar["currency"], euro["currency"]) == ("USD", "EUR")
    assert [euro[b] for b in DOC_BUCKETS] == [33_33, 0, 150_00, 0, 0, 0]
    # Base: €150.00 open of €200.00 at its invoice's rate, half-up (217.34 × ¾ = 163.005).
    assert [euro[b] for b in BUCKETS] == [36_22, 0, 163_01, 0, 0, 0]
    assert (euro["open_invoices_doc_minor"], euro["total_ar_doc_minor"],
            euro["open_credits_doc_minor"]) == (183_33, 183_33, 0)
    assert [dollar[b] for b in DOC_BUCKETS] == [50_00, 80_00, 0, 0, 0, 0]
    assert (dollar["unapplied_cash_doc_minor"], dollar["total_ar_doc_minor"],
            dollar["overdue_doc_minor"]) == (10_00, 120_00, 80_00)
    assert aging["customer_id"].to_list() == [2, 1]  # by base open invoices: 199.23 > 130


def test_totals_in_document_currency_are_per_currency_and_base_totals_stay_base() -> None:
    aging = aging_by_customer(_two_currency_mart(), FINANCE, D, timezone="UTC")
    totals = totals_by_currency(aging)
    assert [t["currency"] for t in totals] == ["EUR", "USD"]
    assert [(t["total_ar_doc_minor"], t["age_0_doc_minor"], t["disputed_items"])
            for t in totals] == [(183_33, 33_33, 0), (120_00, 50_00, 0)]
    base = aging_totals(aging)
    assert base["total_ar_minor"] == 36_22 + 163_01 + 120_00
    assert not any(column.endswith("_doc_minor") for column in base)


def test_a_reps_document_currency_aging_holds_only_their_customers() -> None:
    mart = _two_currency_mart()
    rep20 = Scope(role="rep", user_id=2, rep_ids=frozenset({20}))
    aging = aging_by_customer(mart, rep20, D, timezone="UTC")
    assert aging["customer_id"].to_list() == [2]
    assert [t["currency"] for t in totals_by_currency(aging)] == ["EUR"]
    assert allocations_of(mart, rep20, 1, D, timezone="UTC").height == 0
    assert open_items_of(mart, rep20, 1, D, timezone="UTC").height == 0


def test_open_items_and_their_allocations_in_document_currency() -> None:
    mart = _two_currency_mart()
    items = open_items_of(mart, FINANCE, 2, D, timezone="UTC")
    assert items.select("document_number", "currency", "open_doc_minor", "open_minor").rows() \
        == [("INV3", "EUR", 150_00, 163_01), ("INV4", "EUR", 33_33, 36_22)]
    allocations = allocations_of(mart, FINANCE, 2, D, timezone="UTC")
    assert allocations.select("from_document", "to_document", "currency", "amount_doc_minor",
                              "amount_minor", "is_reversal").rows() == [
        ("CRE1", "INV3", "EUR", 50_00, 54_34, False)]
    # The USD customer: the receipt's allocation to invoice 1; the back-dated one to invoice
    # 2 only with later back-dated entries, and then invoice 2 alone has just that one.
    assert allocations_of(mart, FINANCE, 1, D, timezone="UTC")["to_document"].to_list() == [
        "INV1"]
    later = allocations_of(mart, FINANCE, 1, D, timezone="UTC", include_backdated=True)
    assert later["to_document"].to_list() == ["INV1", "INV2"]
    one = allocations_of(mart, FINANCE, 1, D, timezone="UTC", include_backdated=True,
                         document=("invoice", 2))
    assert one.select("from_document", "amount_doc_minor").rows() == [("PAY1", 10_00)]


def _core_doc_aging(items: list[CoreOpenItem], as_of: date) -> dict[int, tuple[object, ...]]:
    """Per customer: its currency, then the buckets, unapplied cash and open credits in
    minor units of that currency (customers with anything open only)."""
    rows: dict[int, list[int]] = defaultdict(lambda: [0] * (len(DEFAULT_BOUNDARIES) + 4))
    currencies: dict[int, set[str]] = defaultdict(set)
    for item in items:
        row = rows[item.customer_id]
        currencies[item.customer_id].add(item.currency)
        if item.due_date is not None:
            row[_bucket((as_of - item.due_date).days, DEFAULT_BOUNDARIES)] += item.open_doc_minor
        elif item.kind == "receipt":
            row[-2] -= item.open_doc_minor
        else:
            row[-1] -= item.open_doc_minor
    assert all(len(c) == 1 for c in currencies.values()), "one currency per customer"
    return {customer: (*currencies[customer], *row) for customer, row in rows.items()
            if any(row)}


@pytest.mark.parametrize("months_back", [0, 3])
def test_each_customers_document_currency_buckets_equal_the_core_open_items(
        demo_mart: DemoMart, months_back: int) -> None:
    as_of = _as_of(demo_mart, months_back)
    with Session(demo_mart.core) as session:
        core = _core_doc_aging(core_open_items(session, as_of, end_of_day_utc(session, as_of)),
                               as_of)
    aging = aging_by_customer(demo_mart.mart, FINANCE, as_of, timezone="UTC")
    mart = {row["customer_id"]: (row["currency"], *(row[c] for c in DOC_BUCKETS),
                                 row["unapplied_cash_doc_minor"], row["open_credits_doc_minor"])
            for row in aging.iter_rows(named=True)}
    assert {c: r for c, r in mart.items() if any(r[1:])} == core
    by_currency: dict[str, int] = defaultdict(int)
    for currency, *amounts in core.values():
        by_currency[str(currency)] += sum(amounts[:-2]) - sum(amounts[-2:])
    assert len(by_currency) >= 2, "the demo has customers in several currencies"
    assert {t["currency"]: t["total_ar_doc_minor"] for t in totals_by_currency(aging)
            if t["total_ar_doc_minor"] or t["currency"] in by_currency} == by_currency


# --- kept per batch --------------------------------------------------------------------------

def test_kept_frames_give_each_scope_and_slice_what_it_computes_alone(
        demo_mart: DemoMart) -> None:
    """The aging at today's moment and AR at each moment are computed for every customer
    once per batch when a scope that sees everyone asks (``selection.of_everyone``); each
    scope and slice then picks its rows. They equal the figures computed from that scope's
    and slice's own open items. A rep asking first computes only their own."""
    mart = Mart(demo_mart.mart.batch_id, demo_mart.mart.published_at, demo_mart.mart.tables)
    today = mart.published_at.date()
    own = moment(today, timezone="UTC")
    assert covers_batch(mart, own)
    customers = mart.frame("dim_customer").filter(pl.col("is_current"))
    rep_id = customers["account_manager_id"].drop_nulls().mode().sort()[0]
    region = customers["region_code"].drop_nulls().mode().sort()[0]
    rep = Scope(role="rep", user_id=2, rep_ids=frozenset({rep_id}))
    moments = [moment(_as_of(demo_mart, 3), timezone="UTC"), own]
    rep_first, _ = aging_with_ar(mart, rep, today, moments, timezone="UTC", basis="invoice")
    assert not mart.keyed.get("aging") and not mart.keyed.get("ar_by_customer")
    in_region = Slice(region_codes=frozenset({region}))
    for scope, selection in ((FINANCE, EVERYTHING), (rep, EVERYTHING), (FINANCE, in_region),
                             (NO_SCOPE, EVERYTHING)):
        aging, ar = aging_with_ar(mart, scope, today, moments, timezone="UTC",
                                  basis="invoice", selection=selection)
        customers = managed_customers(mart, scope, selection)
        alone = _aging_query(mart, open_items_at(mart, [own], customers), today,
                             aging_buckets(DEFAULT_BOUNDARIES, "invoice"), "invoice",
                             False).collect()
        assert aging.equals(alone)
        every = [own, moments[0]]
        wide = ar_by_customer_query(open_items_at(mart, every, customers), every)
        for at, expected in zip(every, ar_frames(wide.collect(), 2), strict=True):
            assert ar[at].filter(pl.col("customer_id").is_in(expected["customer_id"].implode())
                                 ).equals(expected.filter(pl.col("customer_id").is_in(
                                     ar[at]["customer_id"].implode())))
            assert ar_totals(ar[at]) == ar_totals(expected)
        assert ar_by_customer_at(mart, scope, every, selection)[0].equals(ar[own])
        assert (scope is NO_SCOPE) == aging.is_empty()
        if scope is rep:
            assert aging.equals(rep_first)
    assert len(mart.keyed["aging"]) == 1 and len(mart.keyed["ar_by_customer"]) == 2
