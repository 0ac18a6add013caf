"""fct_ar_item and fct_ar_allocation: hand-made documents with known answers, open AR as of
several dates, and a reconciliation with the core's own balances on generated demo data."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import polars as pl
import pytest
from sqlalchemy import Engine

from core.billing.balances import customer_balance
from core.billing.statements import balance
from core.company.services import end_of_day_utc
from core.db import make_session_factory
from core.demo import generate_demo
from core.types import to_minor
from etl.conform import polars_schema
from etl.dims import CORE_TABLES as DIMENSION_TABLES
from etl.dims import build_dimensions
from etl.extract import extract
from etl.facts.ar import (
    ALLOCATION_SCHEMA,
    CORE_TABLES,
    ITEM_SCHEMA,
    build_allocations,
    build_items,
)
from etl.facts.open_ar import (
    ITEM_ORDER,
    open_ar_by_customer,
    open_items,
    open_items_at,
    open_items_now,
    possibly_open,
)
from etl.schema import dim_customer, fct_ar_allocation, fct_ar_item
from tests.etl.core_frames import amount, core_frames, rate
from tests.etl.test_fct_sales_line import hand_made_dims

D = Decimal
END = date(9999, 12, 31)


def customer_dims() -> dict[str, pl.DataFrame]:
    """Customer 1 (EUR) is version 10 until 2025-03-01, then 11; customers 2 (USD) and
    3 (JPY) have one version each (no account manager, region or channel); the rep,
    channel, region and product dimensions of ``hand_made_dims``."""
    schema = polars_schema(dim_customer)
    rows = [
        {"customer_key": -1, "customer_id": -1, "valid_from": date(1900, 1, 1),
         "valid_to": END},
        {"customer_key": 10, "customer_id": 1, "valid_from": date(2024, 1, 1),
         "valid_to": date(2025, 3, 1)},
        {"customer_key": 11, "customer_id": 1, "valid_from": date(2025, 3, 1), "valid_to": END},
        {"customer_key": 20, "customer_id": 2, "valid_from": date(2024, 1, 1), "valid_to": END},
        {"customer_key": 30, "customer_id": 3, "valid_from": date(2024, 1, 1), "valid_to": END},
    ]
    return hand_made_dims() | {"dim_customer": pl.DataFrame(
        [{c: row.get(c) for c in schema} for row in rows], schema=schema)}


def _at(day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour)


def _invoice(id_: int, number: str | None, customer_id: int, on: date, due: date,
             currency: str, fx: str, total: str, base_total: str, *, status: str = "posted",
             disputed: bool = False, promise: date | None = None,
             cash_sale: bool = False) -> dict[str, object]:
    return {"id": id_, "number": number, "customer_id": customer_id, "status": status,
            "invoice_date": on, "due_date": due, "currency": currency, "fx_rate": rate(fx),
            "total_amount": amount(total), "base_total_amount": amount(base_total),
            "is_disputed": disputed, "promise_to_pay_date": promise, "is_cash_sale": cash_sale,
            "posted_at": _at(on, 17) if status == "posted" else None}


def _credit_note(id_: int, number: str | None, customer_id: int, on: date,
                 invoice_id: int | None, currency: str, fx: str, total: str, base_total: str,
                 *, status: str = "posted", posted_at: datetime | None = None,
                 ) -> dict[str, object]:
    return {"id": id_, "number": number, "customer_id": customer_id, "invoice_id": invoice_id,
            "status": status, "reason": "price_adjustment", "credit_date": on,
            "currency": currency, "fx_rate": rate(fx), "total_amount": amount(total),
            "base_total_amount": amount(base_total), "posted_at": posted_at or _at(on, 15)}


def _payment(id_: int, number: str, customer_id: int, kind: str, on: date, currency: str,
             fx: str, value: str, base: str, reverses: int | None = None) -> dict[str, object]:
    return {"id": id_, "number": number, "customer_id": customer_id, "kind": kind,
            "method": "bank_transfer", "received_date": on, "currency": currency,
            "fx_rate": rate(fx), "amount": amount(value), "base_amount": amount(base),
            "reverses_payment_id": reverses, "posted_at": _at(on, 11)}


def _allocation(id_: int, on: date, value: str, *, payment: int | None = None,
                credit_note: int | None = None, invoice: int | None = None,
                target_payment: int | None = None,
                reversal_of: int | None = None) -> dict[str, object]:
    return {"id": id_, "source_payment_id": payment, "source_credit_note_id": credit_note,
            "target_invoice_id": invoice, "target_payment_id": target_payment,
            "amount": amount(value), "allocation_date": on, "reversal_of_id": reversal_of,
            "created_at": _at(on, 12)}


def hand_made_core():  # type: ignore[no-untyped-def]
    """Customer 1 (EUR, base USD): invoice of 1000.00 at 1.2, partly paid by a receipt at
    1.25 (400.04), a credit note of 100.00 applied, the rest paid by a receipt of 600.00 at
    1.3 (over-payment 100.04, refunded at 1.125), then the first allocation reversed.
    Customer 2 (USD): an invoice of order 500 (rep 9 / DIRECT / WEST) paid by a receipt
    that bounced (reversal payment), and a standalone credit note back-dated: dated 12
    March, posted 20 March. Customer 3 (JPY, 0 digits): a cash sale prepaid in part. Drafts
    and cancelled documents make no row."""
    return core_frames(
        CORE_TABLES,
        sales_order=[{"id": 500, "customer_id": 2, "order_date": date(2025, 2, 25),
                      "rep_id": 9, "channel_code": "DIRECT", "region_code": "WEST"}],
        invoice=[
            _invoice(200, "INV-0001", 1, date(2025, 1, 10), date(2025, 2, 9), "EUR", "1.2",
                     "1000.00", "1200.00", disputed=True, promise=date(2025, 3, 15)),
            _invoice(201, None, 1, date(2025, 1, 11), date(2025, 2, 10), "EUR", "1.2",
                     "50.00", "60.00", status="draft"),
            _invoice(210, "INV-0002", 2, date(2025, 3, 1), date(2025, 3, 31), "USD", "1",
                     "300.00", "300.00") | {"order_id": 500},
            _invoice(220, "INV-0003", 3, date(2025, 2, 1), date(2025, 2, 1), "JPY", "0.0067",
                     "1500", "10.05", cash_sale=True),
        ],
        credit_note=[
            _credit_note(400, "CN-0001", 1, date(2025, 2, 20), 200, "EUR", "1.2", "100.00",
                         "120.00"),
            _credit_note(401, None, 1, date(2025, 2, 21), 200, "EUR", "1.2", "10.00", "12.00",
                         status="cancelled"),
            _credit_note(410, "CN-0002", 2, date(2025, 3, 12), None, "USD", "1", "50.00",
                         "50.00", posted_at=datetime(2025, 3, 20, 9)),
        ],
        payment=[
            _payment(300, "PAY-0001", 1, "receipt", date(2025, 2, 14), "EUR", "1.25",
                     "400.04", "500.05"),
            _payment(301, "PAY-0002", 1, "receipt", date(2025, 3, 5), "EUR", "1.3", "600.00",
                     "780.00"),
            _payment(302, "PAY-0003", 1, "refund", date(2025, 3, 20), "EUR", "1.125",
                     "100.04", "112.55"),
            _payment(310, "PAY-0004", 2, "receipt", date(2025, 3, 10), "USD", "1", "300.00",
                     "300.00"),
            _payment(311, "PAY-0005", 2, "reversal", date(2025, 3, 15), "USD", "1", "300.00",
                     "300.00", reverses=310),
            _payment(320, "PAY-0006", 3, "receipt", date(2025, 1, 30), "JPY", "0.0066",
                     "1000", "6.60"),
        ],
        allocation=[
            _allocation(1, date(2025, 2, 14), "400.04", payment=300, invoice=200),
            _allocation(2, date(2025, 2, 20), "100.00", credit_note=400, invoice=200),
            _allocation(3, date(2025, 3, 5), "499.96", payment=301, invoice=200),
            _allocation(4, date(2025, 3, 20), "100.04", payment=301, target_payment=302),
            _allocation(5, date(2025, 4, 1), "-400.04", payment=300, invoice=200,
                        reversal_of=1),
            _allocation(6, date(2025, 3, 10), "300.00", payment=310, invoice=210),
            _allocation(7, date(2025, 3, 15), "-300.00", payment=310, invoice=210,
                        reversal_of=6),
            _allocation(8, date(2025, 3, 15), "300.00", payment=310, target_payment=311),
            _allocation(9, date(2025, 2, 1), "1000", payment=320, invoice=220),
        ],
    )


def test_every_column_of_the_items() -> None:
    items = build_items(hand_made_core(), customer_dims(), "USD")

    assert items.schema == ITEM_SCHEMA
    assert items.columns == [c.name for c in fct_ar_item.columns]
    eur, usd, jpy = D("1.2000000000"), D("1.0000000000"), D("0.0067000000")
    # Last four columns: rep, channel and region keys (invoices: their order's, else the
    # customer version's — none here), and the settled date: invoice 200 is open (the first
    # receipt reversed), 210 reopened by the bounced receipt, 220 part-paid; receipt 300 is
    # unused after the reversal; 301 (499.96 + 100.04), 310 (300 − 300 + 300), 320, the
    # refund, the reversal and credit note 400 are used up on their last allocation's date.
    open_ = (-1, -1, -1, -1)
    assert [row[:15] for row in items.rows()] == [
        ("invoice", 200, "INV-0001", 10, 1, 20250110, 20250209, datetime(2025, 1, 10, 17),
         "EUR", eur, 100000, 120000, True, False, 20250315),
        ("payment", 320, "PAY-0006", 30, 3, 20250130, -1, datetime(2025, 1, 30, 11),
         "JPY", D("0.0066000000"), -1000, -660, False, False, -1),
        ("invoice", 220, "INV-0003", 30, 3, 20250201, 20250201, datetime(2025, 2, 1, 17),
         "JPY", jpy, 1500, 1005, False, True, -1),
        ("payment", 300, "PAY-0001", 10, 1, 20250214, -1, datetime(2025, 2, 14, 11),
         "EUR", D("1.2500000000"), -40004, -50005, False, False, -1),
        ("credit_note", 400, "CN-0001", 10, 1, 20250220, -1, datetime(2025, 2, 20, 15),
         "EUR", eur, -10000, -12000, False, False, -1),
        ("invoice", 210, "INV-0002", 20, 2, 20250301, 20250331, datetime(2025, 3, 1, 17),
         "USD", usd, 30000, 30000, False, False, -1),
        ("payment", 301, "PAY-0002", 11, 1, 20250305, -1, datetime(2025, 3, 5, 11),
         "EUR", D("1.3000000000"), -60000, -78000, False, False, -1),
        ("payment", 310, "PAY-0004", 20, 2, 20250310, -1, datetime(2025, 3, 10, 11),
         "USD", usd, -30000, -30000, False, False, -1),
        ("credit_note", 410, "CN-0002", 20, 2, 20250312, -1, datetime(2025, 3, 20, 9),
         "USD", usd, -5000, -5000, False, False, -1),
        ("reversal", 311, "PAY-0005", 20, 2, 20250315, -1, datetime(2025, 3, 15, 11),
         "USD", usd, 30000, 30000, False, False, -1),
        ("refund", 302, "PAY-0003", 11, 1, 20250320, -1, datetime(2025, 3, 20, 11),
         "EUR", D("1.1250000000"), 10004, 11255, False, False, -1),
    ]
    assert {(row[0], row[1]): row[15:] for row in items.rows()} == {
        ("invoice", 200): open_, ("invoice", 210): (3, 1, 3, -1), ("invoice", 220): open_,
        ("payment", 300): open_, ("payment", 301): (-1, -1, -1, 20250320),
        ("payment", 310): (-1, -1, -1, 20250315), ("payment", 320): (-1, -1, -1, 20250201),
        ("refund", 302): (-1, -1, -1, 20250320), ("reversal", 311): (-1, -1, -1, 20250315),
        ("credit_note", 400): (-1, -1, -1, 20250220), ("credit_note", 410): open_,
    }


def test_every_column_of_the_allocations() -> None:
    allocations = build_allocations(hand_made_core(), customer_dims(), "USD")

    assert allocations.schema == ALLOCATION_SCHEMA
    assert allocations.columns == [c.name for c in fct_ar_allocation.columns]
    # Last column: the settled date, the later of both documents' (-1: one is open): only
    # 4 (receipt 301 → refund 302) and 8 (receipt 310 → reversal 311) join two settled ones.
    assert allocations.rows() == [
        # 400.04 EUR at the invoice's 1.2 (not the receipt's 1.25) = 480.048 → 480.05;
        # received 14 Feb: 35 days after the invoice, 5 after the due date.
        (1, None, "payment", 300, "invoice", 200, 10, 1, 20250214,
         datetime(2025, 2, 14, 12), 40004, 48005, 35, 5, -1),
        # credit notes carry no days
        (2, None, "credit_note", 400, "invoice", 200, 10, 1, 20250220,
         datetime(2025, 2, 20, 12), 10000, 12000, None, None, -1),
        # 499.96 × 1.2 = 599.952 → 599.95; customer 1 is version 11 from 1 March
        (3, None, "payment", 301, "invoice", 200, 11, 1, 20250305,
         datetime(2025, 3, 5, 12), 49996, 59995, 54, 24, -1),
        # to a refund: at the refund's rate, 100.04 × 1.125 = 112.545 → 112.55 (half-up)
        (4, None, "payment", 301, "refund", 302, 11, 1, 20250320,
         datetime(2025, 3, 20, 12), 10004, 11255, None, None, 20250320),
        # the reversal of 1: the exact negative, days of the original receipt
        (5, 1, "payment", 300, "invoice", 200, 11, 1, 20250401,
         datetime(2025, 4, 1, 12), -40004, -48005, 35, 5, -1),
        (6, None, "payment", 310, "invoice", 210, 20, 2, 20250310,
         datetime(2025, 3, 10, 12), 30000, 30000, 9, -21, -1),
        (7, 6, "payment", 310, "invoice", 210, 20, 2, 20250315,
         datetime(2025, 3, 15, 12), -30000, -30000, 9, -21, -1),
        (8, None, "payment", 310, "reversal", 311, 20, 2, 20250315,
         datetime(2025, 3, 15, 12), 30000, 30000, None, None, 20250315),
        # JPY has no minor digits; the prepayment arrived 2 days before the (cash) invoice
        (9, None, "payment", 320, "invoice", 220, 30, 3, 20250201,
         datetime(2025, 2, 1, 12), 1000, 670, -2, -2, -1),
    ]


AR_COLUMNS = ["customer_id", "currency",
              "open_invoices_doc_minor", "unapplied_cash_doc_minor", "open_credits_doc_minor",
              "ar_doc_minor", "open_invoices_minor", "unapplied_cash_minor",
              "open_credits_minor", "ar_minor"]


def test_open_ar_by_customer_as_of_three_dates() -> None:
    core, dims = hand_made_core(), customer_dims()
    items = build_items(core, dims, "USD")
    allocations = build_allocations(core, dims, "USD")

    def ar(as_of: date | None, known_by: datetime | None = None) -> list[tuple[object, ...]]:
        frame = open_ar_by_customer(items, allocations, as_of, known_by)
        assert frame.columns == AR_COLUMNS
        return frame.rows()

    # 14 Feb: 599.96 of the invoice open, converted at its 1.2: 1200 × 599.96 / 1000 =
    # 719.952 → 719.95; the JPY cash sale has 500 open: 10.05 × 500 / 1500 = 3.35.
    assert ar(date(2025, 2, 14)) == [
        (1, "EUR", 59996, 0, 0, 59996, 71995, 0, 0, 71995),
        (3, "JPY", 500, 0, 0, 500, 335, 0, 0, 335),
    ]
    # 12 March: the invoice is closed; 100.04 of the second receipt is unapplied, valued at
    # the receipt's 1.3 (780 × 100.04 / 600 = 130.052 → 130.05). Customer 2's invoice is
    # paid and its standalone credit note is open.
    assert ar(date(2025, 3, 12)) == [
        (1, "EUR", 0, 10004, 0, -10004, 0, 13005, 0, -13005),
        (2, "USD", 0, 0, 5000, -5000, 0, 0, 5000, -5000),
        (3, "JPY", 500, 0, 0, 500, 335, 0, 0, 335),
    ]
    # As known at the end of 12 March, the credit note (posted on the 20th) is not there.
    assert ar(date(2025, 3, 12), datetime(2025, 3, 13))[1] == (
        2, "USD", 0, 0, 0, 0, 0, 0, 0, 0)
    # Now: the over-payment was refunded, the first allocation reversed — 400.04 of the
    # invoice open at 1.2 (480.05) against the first receipt unapplied at its 1.25 (500.05):
    # no AR in EUR, −20.00 in base (the receipt's FX gain is not netted into AR). Customer
    # 2's receipt bounced: the invoice is open again, the reversal is covered.
    assert ar(None) == [
        (1, "EUR", 40004, 40004, 0, 0, 48005, 50005, 0, -2000),
        (2, "USD", 30000, 0, 5000, 25000, 30000, 0, 5000, 25000),
        (3, "JPY", 500, 0, 0, 500, 335, 0, 0, 335),
    ]
    # Per document: the refund and the reversal are fully covered, the invoice and the
    # first receipt open.
    now = open_items(items, allocations).filter(pl.col("open_doc_minor") != 0)
    assert now.select("item_type", "document_id", "open_doc_minor", "open_minor").rows() == [
        ("invoice", 200, 40004, 48005), ("payment", 300, -40004, -50005),
        ("invoice", 210, 30000, 30000), ("credit_note", 410, -5000, -5000),
        ("invoice", 220, 500, 335),
    ]


def test_no_documents_give_empty_facts_with_the_mart_dtypes() -> None:
    core = core_frames(CORE_TABLES)
    items = build_items(core, customer_dims(), "USD")
    allocations = build_allocations(core, customer_dims(), "USD")
    assert items.height == allocations.height == 0
    assert items.schema == ITEM_SCHEMA and allocations.schema == ALLOCATION_SCHEMA
    assert open_ar_by_customer(items, allocations, None, None).columns == AR_COLUMNS


def test_an_unknown_currency_fails_rather_than_turning_null() -> None:
    core = core_frames(CORE_TABLES, invoice=[
        _invoice(1, "INV-1", 1, date(2025, 1, 1), date(2025, 1, 1), "ZZZ", "1", "1", "1")])
    with pytest.raises(Exception, match="ZZZ"):
        build_items(core, customer_dims(), "USD")


# --- reconciliation with the core on generated demo data, on both databases ------------

def test_open_ar_reconciles_with_the_core_balances_of_demo_data(
        isolated_engine: Engine) -> None:
    generate_demo(isolated_engine, customers=60, lines=3000, seed=5)
    core = extract(isolated_engine, (*CORE_TABLES, *DIMENSION_TABLES))
    dims = build_dimensions(core, start=date(2020, 1, 1), end=date(2030, 12, 31),
                            fiscal_year_start_month=1)
    items = build_items(core, dims, "USD")
    allocations = build_allocations(core, dims, "USD")

    assert items.schema == ITEM_SCHEMA and allocations.schema == ALLOCATION_SCHEMA
    assert items.select("item_type", "document_id").is_unique().all()
    assert allocations.height == core["allocation"].height
    assert items.filter(pl.col("customer_key") == -1).height == 0
    assert allocations.filter(pl.col("customer_key") == -1).height == 0
    assert set(items["currency"]) > {"USD"}  # several document currencies
    assert set(allocations["target_type"]) == {"invoice", "refund"}

    now = {row["customer_id"]: row for row in
           open_ar_by_customer(items, allocations, None, None).iter_rows(named=True)}
    end = core["invoice"]["invoice_date"].max()
    assert isinstance(end, date)
    as_of = end - timedelta(days=91)
    then = {row["customer_id"]: row["ar_doc_minor"] for row in
            open_ar_by_customer(items, allocations, as_of, None).iter_rows(named=True)}
    customers = core["customer"].select("id", "currency").rows()
    with make_session_factory(isolated_engine)() as session:
        for customer_id, currency in customers:
            core_balance = customer_balance(session, customer_id)
            row = now.get(customer_id)
            mart = ((row["open_invoices_doc_minor"], row["unapplied_cash_doc_minor"],
                     row["open_credits_doc_minor"], row["ar_doc_minor"]) if row
                    else (0, 0, 0, 0))
            assert mart == tuple(to_minor(value, currency) for value in (
                core_balance.open_invoices, core_balance.unapplied_cash,
                core_balance.open_credits, core_balance.total_ar)), customer_id
        with_documents = sorted(then)
        sample = with_documents[::max(1, len(with_documents) // 10)][:10]
        assert len(sample) == 10
        known_by = end_of_day_utc(session, as_of)
        known = {row["customer_id"]: row["ar_doc_minor"] for row in open_ar_by_customer(
            items, allocations, as_of, known_by).iter_rows(named=True)}
        for customer_id in sample:
            currency = dict(customers)[customer_id]
            assert then[customer_id] == to_minor(
                balance(session, customer_id, as_of), currency), customer_id
            assert known.get(customer_id, 0) == to_minor(
                balance(session, customer_id, as_of, known_by), currency), customer_id
    assert any(row["ar_doc_minor"] != 0 for row in now.values())
    # An item settled on a date is closed from that date on; an unsettled one is open now.
    settled = items.filter(pl.col("settled_date_key") > 0)
    assert 0 < settled.height < items.height
    assert open_items(items, allocations).filter(
        (pl.col("settled_date_key") > 0) != (pl.col("open_doc_minor") == 0)).is_empty()
    # So everything open now comes from the unsettled items and allocations alone.
    assert open_items_now(items, allocations).sort(ITEM_ORDER).collect().equals(
        open_items(items, allocations))
    pruned = []
    for day_key in settled["settled_date_key"].unique().sort()[::25]:
        day = date(day_key // 10_000, day_key // 100 % 100, day_key % 100)
        closed = open_items(items.filter(pl.col("settled_date_key").is_between(1, day_key)),
                            allocations, day)
        assert closed.height > 0 and (closed["open_doc_minor"] == 0).all(), day
        # Only the allocations of unsettled documents are needed for the open ones.
        unsettled = allocations.filter(~pl.col("settled_date_key").is_between(1, day_key))
        pruned.append(allocations.height - unsettled.height)
        still_open = open_items(items, allocations, day).filter(pl.col("open_doc_minor") != 0)
        assert open_items(*possibly_open(items, allocations, [(day, None)]), day).filter(
            pl.col("open_doc_minor") != 0).equals(still_open), day
    assert max(pruned) > 0
    # Several moments at once (a year apart, as the CEI's): an item kept for one moment is
    # closed at another without the allocations that closed it.
    days = settled["settled_date_key"].unique().sort()
    moments = [(date(k // 10_000, k // 100 % 100, k % 100), known)
               for k in (days[len(days) // 5], days[len(days) // 2], days[-1])
               for known in (None, datetime(k // 10_000, k // 100 % 100, k % 100, 12))]
    for whole, narrowed in zip(open_items_at(items, allocations, moments),
                               open_items_at(*possibly_open(items, allocations, moments),
                                             moments), strict=True):
        assert narrowed.filter(pl.col("open_doc_minor") != 0).equals(
            whole.filter(pl.col("open_doc_minor") != 0))
