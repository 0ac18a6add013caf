"""Incremental runs of the published batch's own date recompute the tables built from the
facts (``fct_customer_month``, ``agg_sales_month``, the cash forecast and its backtest) for
what changed only (``etl.increment``), and publish exactly what a full run publishes.

A generated demo company ending today (open invoices, backlog, payment habits), changed the
way users change it during a day, through the core services."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from decimal import ROUND_DOWN, Decimal

import polars as pl
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from core.actor import Actor, Role
from core.audit import set_actor
from core.billing.allocation import allocate
from core.billing.balances import invoice_open_amount
from core.billing.credit_notes import CreditLineInput, issue_credit_note
from core.billing.invoicing import set_dispute
from core.billing.models import CreditReason, Invoice, Payment, PaymentMethod
from core.billing.payments import record_payment
from core.company.models import Region
from core.customers.models import Customer, HoldPolicy
from core.customers.services import put_on_hold, take_ownership, update_customer
from core.db import make_session_factory, transaction
from core.demo import generate_demo
from core.types import currency_digits
from core.users.models import SalesRep
from etl import publish
from etl import run as etl_run
from etl.checks import CheckFailed
from etl.facts import (
    cash_forecast,
    customer_month,
    forecast_backtest,
    payment_risk,
    sales_month,
)
from etl.publish import MartTarget
from tests.etl.conftest import MakeTarget
from tests.etl.marts import assert_same_batch, mart_rows, parquet_tables, published_state

FINANCE = Actor(user_id=None, role=Role.FINANCE, name="test")


@pytest.fixture
def demo(isolated_engine: Engine) -> Engine:
    generate_demo(isolated_engine, customers=40, lines=2500, seed=5)
    return isolated_engine


def _open_invoices(session: Session, count: int, *,
                   newest: bool = True) -> list[tuple[Invoice, Decimal]]:
    """The newest (or oldest) ``count`` posted invoices of distinct customers with something
    left to pay, and what is left."""
    found: list[tuple[Invoice, Decimal]] = []
    order = Invoice.id.desc() if newest else Invoice.id
    for invoice in session.scalars(select(Invoice).where(Invoice.status == "posted")
                                   .order_by(order)):
        left = invoice_open_amount(session, invoice)
        if left > 0 and invoice.customer_id not in {i.customer_id for i, _ in found}:
            found.append((invoice, left))
        if len(found) == count:
            return found
    raise AssertionError("the demo has too few open invoices")


def change(engine: Engine, edit: Callable[[Session], None]) -> None:
    with transaction(make_session_factory(engine)) as session:
        set_actor(session, "test")
        edit(session)


def a_days_work(session: Session) -> None:
    """A dispute and a credit note on another invoice of the customer (this month's sales
    change), a hold, and a customer taken over by the head of sales (a new customer
    version): no payment habit changes."""
    ((disputed, _),) = _open_invoices(session, 1)
    set_dispute(session, FINANCE, disputed.id, True)
    credited = session.scalars(select(Invoice).where(Invoice.customer_id == disputed.customer_id)
                               .where(Invoice.status == "posted")
                               .where(Invoice.id != disputed.id).order_by(Invoice.id)).first()
    assert credited is not None
    issue_credit_note(session, FINANCE, credited.customer_id,
                      reason=CreditReason.PRICE_ADJUSTMENT, credit_date=date.today(),
                      invoice_id=credited.id,
                      lines=[CreditLineInput(invoice_line_id=credited.lines[0].id,
                                             amount=Decimal("5.00"), description="goodwill")])
    customers = session.scalars(select(Customer).order_by(Customer.id)).all()
    held = next(c for c in customers if c.id != disputed.customer_id)
    put_on_hold(session, FINANCE, held.id, policy=HoldPolicy.ALLOW_NOTHING, reason="test")
    head = session.scalars(select(SalesRep).where(SalesRep.manager_id.is_(None))
                           .order_by(SalesRep.id)).first()
    assert head is not None
    taken = next(c for c in reversed(customers) if c.account_manager_id != head.id)
    take_ownership(session, Actor(user_id=None, role=Role.SALES_MANAGER, rep_id=head.id,
                                  name="head"), taken.id)


def a_payment(session: Session) -> None:
    """A payment today that settles an old invoice in full: the payment pools change, and
    the backtest's origins see the receipt."""
    ((paid, left),) = _open_invoices(session, 1, newest=False)
    payment = record_payment(session, FINANCE, paid.customer_id, amount=left,
                             currency=paid.currency, received_date=date.today(),
                             method=PaymentMethod.BANK_TRANSFER)
    allocate(session, FINANCE, invoice_id=paid.id, amount=left, on=date.today(),
             payment_id=payment.id)


def a_master_data_change(session: Session) -> None:
    """A customer moved to another segment with other payment terms: the segment pools and
    the sales cube's labels change."""
    customers = session.scalars(select(Customer).where(Customer.segment_code.is_not(None))
                                .order_by(Customer.id)).all()
    moved = customers[1]
    other = next(c for c in customers if c.segment_code != moved.segment_code)
    terms = next(c.terms_code for c in customers if c.terms_code != moved.terms_code)
    update_customer(session, FINANCE, moved.id,
                    {"segment_code": other.segment_code, "terms_code": terms})


def _heights(monkeypatch: pytest.MonkeyPatch, module: object, name: str,
             table: str | None = None) -> list[int]:
    """The height of the frame each call of ``module.name`` gets first (of its ``table``
    when it gets a mapping of tables), call by call."""
    counts: list[int] = []
    real = getattr(module, name)

    def counted(frame, *args):  # type: ignore[no-untyped-def]
        counts.append((frame if table is None else frame[table]).height)
        return real(frame, *args)

    monkeypatch.setattr(module, name, counted)
    return counts


@pytest.fixture
def simulated_items(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many items each cash-forecast simulation drew for."""
    return _heights(monkeypatch, cash_forecast, "_simulated")


@pytest.fixture
def recorded_customers(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """How many customers each ``fct_customer_month`` build computed."""
    counts: list[int] = []
    real = customer_month.customer_months

    def counted(*frames, today):  # type: ignore[no-untyped-def]
        counts.append(frames[-1].select("customer_id").unique().collect().height)
        return real(*frames, today=today)

    monkeypatch.setattr(customer_month, "customer_months", counted)
    yield counts


@pytest.fixture
def recounted_states(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many AR items each backtest state was taken of."""
    return _heights(monkeypatch, forecast_backtest, "invoice_states")


@pytest.fixture
def risks_computed(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Of how many ``dim_customer`` rows each ``fct_payment_risk`` build computed risks."""
    return _heights(monkeypatch, payment_risk, "late_payment_risk", "dim_customer")


def _incremental_run(demo: Engine, target: MartTarget, edit: Callable[[Session], None],
                     *counters: list[int]) -> tuple[etl_run.RunResult, list[list[int]]]:
    """``edit`` made, then an incremental run: its result and what each of ``counters``
    recorded during it alone."""
    change(demo, edit)
    for counter in counters:
        counter.clear()
    result = etl_run.run_etl(demo, target)
    return result, [counter.copy() for counter in counters]


@pytest.mark.parametrize(("edit", "forecast_in_part", "months_unchanged"), [
    (a_days_work, True, 1), (a_payment, False, 0), (a_master_data_change, False, 0)])
def test_a_same_day_incremental_run_publishes_what_a_full_run_publishes(
    demo: Engine, make_target: MakeTarget, edit: Callable[[Session], None],
    forecast_in_part: bool, months_unchanged: int, recorded_customers: list[int],
    simulated_items: list[int], recounted_states: list[int], risks_computed: list[int],
) -> None:
    target = make_target("mart")
    first = etl_run.run_etl(demo, target, full=True)
    first_tables = parquet_tables(target, first.batch_id)
    before, before_backtest = (first_tables["fct_customer_month"],
                               first_tables[forecast_backtest.TABLE])
    result, (months_computed, simulated_in_part, recounted, risks) = _incremental_run(
        demo, target, edit, recorded_customers, simulated_items, recounted_states,
        risks_computed)
    published = mart_rows(target.engine)
    # A full run on the same mart keeps the surrogate keys, so its batch must be equal.
    reference = etl_run.run_etl(demo, target, full=True)

    assert (result.mode, reference.mode) == ("incremental", "full")
    ours = parquet_tables(target, result.batch_id)
    theirs = parquet_tables(target, reference.batch_id)
    assert sorted(ours) == sorted(theirs)
    for name, frame in ours.items():
        assert frame.equals(theirs[name]), f"Parquet {name} differs from the full run"
    assert published == mart_rows(target.engine)
    # Only the months of the changed customers whose inputs changed were computed (the
    # disputed invoice's customer: a dispute changes nothing fct_customer_month reads); the
    # published rows of the others were kept — yet the table changed.
    assert result.customers is not None
    assert months_computed[0] == result.customers - months_unchanged < 10
    assert not ours["fct_customer_month"].equals(before)
    assert ours["fct_customer_month"]["customer_id"].n_unique() == 40
    # The forecast simulated the changed customers' items (now and as published) only,
    # unless the payment pools changed.
    if edit is a_payment:
        backtest = forecast_backtest.TABLE
        assert not ours[backtest].equals(before_backtest)
    # Cash applied, a credit note or a customer version changes the risks: computed again.
    assert len(risks) == 1
    # The backtest counted again the receipts of the customers whose AR rows changed in
    # what it reads (a payment, a credit note), now and as published; a customer change
    # alone recounts nothing.
    if edit is a_master_data_change:
        assert recounted == []
    else:
        assert len(recounted) == 2 and 0 < max(recounted) < ours["fct_ar_item"].height / 4
    items = ours["fct_cash_forecast_item"].height
    if forecast_in_part:
        assert len(simulated_in_part) == 2 and max(simulated_in_part) < items / 4
    else:
        assert simulated_in_part == [items]


def test_a_dispute_of_a_settled_invoice_simulates_and_recounts_nothing(
    demo: Engine, make_target: MakeTarget, simulated_items: list[int],
    recounted_states: list[int], recorded_customers: list[int], risks_computed: list[int],
) -> None:
    """A settled invoice is no forecast item, and neither the backtest, nor
    ``fct_customer_month``, nor the payment risks read the dispute flag: they stay as
    published (no customer's months or risk computed), yet equal a full run's."""
    target = make_target("mart")
    first = etl_run.run_etl(demo, target, full=True)
    before = parquet_tables(target, first.batch_id)
    with make_session_factory(demo)() as session:
        settled = next(invoice for invoice in session.scalars(
            select(Invoice).where(Invoice.status == "posted")
            .where(Invoice.is_disputed.is_(False)).order_by(Invoice.id))
            if invoice_open_amount(session, invoice) == 0)

    def dispute(session: Session) -> None:
        set_dispute(session, FINANCE, settled.id, True)

    result, (simulated, recounted, months_computed, risks) = _incremental_run(
        demo, target, dispute, simulated_items, recounted_states, recorded_customers,
        risks_computed)
    reference = etl_run.run_etl(demo, target, full=True)

    assert (result.mode, result.customers) == ("incremental", 1)
    ours = assert_same_batch(target, result.batch_id, target, reference.batch_id)
    items = ours["fct_ar_item"]
    assert items.filter((pl.col("item_type") == "invoice")
                        & (pl.col("document_id") == settled.id))["is_disputed"].to_list() \
        == [True]
    assert (simulated, recounted, months_computed, risks) == ([], [], [], [])
    for name in (*cash_forecast.TABLES, forecast_backtest.TABLE, "fct_customer_month",
                 payment_risk.TABLE):
        assert ours[name].equals(before[name]), name


def a_receipt_not_yet_applied(session: Session) -> None:
    """Half of the oldest open invoice (open at every backtest origin) received today, not
    applied to it yet."""
    ((invoice, left),) = _open_invoices(session, 1, newest=False)
    record_payment(session, FINANCE, invoice.customer_id, amount=_part(invoice, left, 2),
                   currency=invoice.currency, received_date=date.today(),
                   method=PaymentMethod.BANK_TRANSFER)


def its_partial_application(session: Session) -> None:
    """Half of that receipt applied to the invoice: neither is settled, so of the AR facts
    only ``fct_ar_allocation`` changes (a row comes)."""
    ((invoice, left),) = _open_invoices(session, 1, newest=False)
    receipt = session.scalars(select(Payment).where(Payment.customer_id == invoice.customer_id)
                              .order_by(Payment.id.desc())).first()
    assert receipt is not None
    allocate(session, FINANCE, invoice_id=invoice.id, amount=_part(invoice, left, 4),
             on=date.today(), payment_id=receipt.id)


def _part(invoice: Invoice, amount: Decimal, parts: int) -> Decimal:
    """``amount`` / ``parts`` in whole minor units of the invoice's currency."""
    return (amount / parts).quantize(Decimal(1).scaleb(-currency_digits(invoice.currency)),
                                     rounding=ROUND_DOWN)


def a_region_change(session: Session) -> None:
    """The customer of the newest open invoice moved to another region: a new customer
    version (``customer_key``), nothing else the forecast reads changes."""
    ((invoice, _),) = _open_invoices(session, 1)
    moved = session.get_one(Customer, invoice.customer_id)
    other = session.scalars(select(Region.code).where(Region.code != moved.region_code)
                            .order_by(Region.code)).first()
    update_customer(session, FINANCE, moved.id, {"region_code": other})


def _nothing(session: Session) -> None:
    """No change before the first run."""


@pytest.mark.parametrize(("before_first_run", "edit", "forecast_table", "recounts"), [
    (a_receipt_not_yet_applied, its_partial_application, "fct_cash_forecast_item", True),
    (_nothing, a_region_change, "fct_cash_forecast", False)])
def test_a_change_of_one_customer_is_simulated_and_recounted_for_it_alone(
    demo: Engine, make_target: MakeTarget, before_first_run: Callable[[Session], None],
    edit: Callable[[Session], None], forecast_table: str, recounts: bool,
    simulated_items: list[int], recounted_states: list[int], monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A receipt applied in part changes only allocations (the backtest must recount the
    customer from them) and the invoice's open amount (a forecast item); a region change
    only the customer's version (its ``fct_cash_forecast`` rows carry the new
    ``customer_key``): each is simulated again for its customer alone, and the batch equals
    a full run's. The mart rewrites the forecast rows that differ, not the table."""
    change(demo, before_first_run)
    target = make_target("mart")
    first = etl_run.run_etl(demo, target, full=True)
    before = parquet_tables(target, first.batch_id)
    rewritten: list[str] = []
    real_rewrite = publish.rewrite_rows

    def recorded(conn, table, rows):  # type: ignore[no-untyped-def]
        rewritten.append(table.name)
        real_rewrite(conn, table, rows)

    monkeypatch.setattr(publish, "rewrite_rows", recorded)
    result, (simulated, recounted) = _incremental_run(demo, target, edit, simulated_items,
                                                      recounted_states)
    assert forecast_table in rewritten
    reference = etl_run.run_etl(demo, target, full=True)

    assert (result.mode, result.customers) == ("incremental", 1)
    ours = assert_same_batch(target, result.batch_id, target, reference.batch_id)
    items = ours["fct_cash_forecast_item"].height
    assert len(simulated) == 2 and 0 < max(simulated) < items / 4
    assert not ours[forecast_table].equals(before[forecast_table])
    if recounts:
        assert ours["fct_ar_item"].equals(before["fct_ar_item"])
        assert len(recounted) == 2 and 0 < max(recounted) < ours["fct_ar_item"].height / 4
        assert not ours[forecast_backtest.TABLE].equals(before[forecast_backtest.TABLE])
    else:
        assert recounted == []


def test_an_incremental_run_checks_the_kept_rows_by_their_grand_totals(
    demo: Engine, make_target: MakeTarget, monkeypatch: pytest.MonkeyPatch,
) -> None:
    target = make_target("mart")
    etl_run.run_etl(demo, target, full=True)
    state = published_state(target)
    change(demo, a_days_work)
    real_build = sales_month.build

    def lossy(*args, **kwargs):  # type: ignore[no-untyped-def]
        return real_build(*args, **kwargs).slice(1)  # the first month's first row, kept

    monkeypatch.setattr(sales_month, "build", lossy)
    with pytest.raises(CheckFailed, match=r"agg_sales_month: 1 group\(s\) \(all_rows\)"):
        etl_run.run_etl(demo, target)
    assert published_state(target) == state
