"""Credit control on order confirmation: the credit limit (with the figures in the
message), invoices long overdue, hold policies and cash sales."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy.orm import Session

from core.billing.balances import customer_balance
from core.billing.models import PaymentMethod
from core.billing.payments import AllocationInput, record_payment
from core.customers.credit import check_credit
from core.customers.models import HoldPolicy
from core.customers.services import put_on_hold, release_hold, update_customer
from core.errors import CreditBlocked
from core.sales.models import OrderStatus, SalesOrder
from core.sales.orders import confirm_order
from tests.core.documents import count, posted_invoice, prepaid_cash_order, widget_order
from tests.core.queries import queries_sent
from tests.core.world import FINANCE, D, World

MARCH = date(2025, 3, 3)


def set_limit(session: Session, world: World, limit: str) -> None:
    update_customer(session, FINANCE, world.customer.id, {"credit_limit": D(limit)})


def test_order_blocked_when_credit_limit_exceeded_states_the_figures(
    session: Session, world: World
) -> None:
    set_limit(session, world, "1000")
    posted_invoice(session, world, 20, MARCH)  # 200.00 + 20 % tax = 240.00 open AR
    widget_order(session, world, world.alice, 30)  # 300.00 confirmed, not invoiced
    order = widget_order(session, world, world.alice, 50, confirm=False)  # 500.00
    with pytest.raises(CreditBlocked) as raised, session.begin_nested():
        confirm_order(session, world.alice, order.id, today=MARCH)
    assert raised.value.message == (
        f"credit limit exceeded for {world.customer.ref}: open AR 240.00 + open orders 300.00"
        " + this order 500.00 = 1,040.00 USD > credit limit 1,000.00 USD"
    )
    session.refresh(order)
    assert order.status == OrderStatus.DRAFT and order.rep_id is None


def test_order_up_to_the_credit_limit_is_confirmed(session: Session, world: World) -> None:
    set_limit(session, world, "1000")
    posted_invoice(session, world, 20, MARCH)
    widget_order(session, world, world.alice, 30)
    order = widget_order(session, world, world.alice, 46)  # 240 + 300 + 460 = 1,000
    assert order.status == OrderStatus.CONFIRMED


def test_invoice_long_overdue_blocks_confirmation(session: Session, world: World) -> None:
    invoice = posted_invoice(session, world, 1, date(2025, 1, 2))  # NET30: due 2025-02-01
    assert invoice.due_date == date(2025, 2, 1)
    order = widget_order(session, world, world.alice, 1, on=date(2025, 4, 1), confirm=False)
    with pytest.raises(CreditBlocked) as raised, session.begin_nested():
        confirm_order(session, world.alice, order.id, today=date(2025, 4, 3))
    assert raised.value.message == (
        f"customer {world.customer.ref} has invoice {invoice.number} 61 days past due "
        "(open 12.00 USD; limit 60 days)"
    )
    session.refresh(order)
    assert order.status == OrderStatus.DRAFT


def test_invoice_exactly_at_the_overdue_limit_does_not_block(
    session: Session, world: World
) -> None:
    posted_invoice(session, world, 1, date(2025, 1, 2))
    order = widget_order(session, world, world.alice, 1, on=date(2025, 4, 1), confirm=False)
    confirm_order(session, world.alice, order.id, today=date(2025, 4, 2))  # 60 days past due
    assert order.status == OrderStatus.CONFIRMED


def test_hold_allow_nothing_blocks_even_a_draft(session: Session, world: World) -> None:
    put_on_hold(session, FINANCE, world.customer.id, policy=HoldPolicy.ALLOW_NOTHING,
                reason="fraud check")
    with pytest.raises(CreditBlocked, match=r"on hold \(fraud check\): no orders allowed"), \
            session.begin_nested():
        widget_order(session, world, world.alice, 1, confirm=False)
    assert count(session, SalesOrder) == 0


def test_hold_pending_only_allows_a_draft_but_not_confirmation(
    session: Session, world: World
) -> None:
    put_on_hold(session, FINANCE, world.customer.id, policy=HoldPolicy.PENDING_ONLY,
                reason="review")
    order = widget_order(session, world, world.alice, 1, confirm=False)
    with pytest.raises(CreditBlocked, match="saved as pending but not confirmed"), \
            session.begin_nested():
        confirm_order(session, world.alice, order.id, today=MARCH)
    session.refresh(order)
    assert order.status == OrderStatus.DRAFT


def test_hold_cash_only_allows_cash_sales_only(session: Session, world: World) -> None:
    put_on_hold(session, FINANCE, world.customer.id, policy=HoldPolicy.CASH_ONLY,
                reason="slow payer")
    cash = prepaid_cash_order(session, world, 1)
    assert cash.status == OrderStatus.CONFIRMED
    credit = widget_order(session, world, world.alice, 1, confirm=False)
    with pytest.raises(CreditBlocked, match="only cash sales are allowed"), \
            session.begin_nested():
        confirm_order(session, world.alice, credit.id, today=MARCH)
    session.refresh(credit)
    assert credit.status == OrderStatus.DRAFT


def test_released_hold_lets_the_order_be_confirmed(session: Session, world: World) -> None:
    put_on_hold(session, FINANCE, world.customer.id, policy=HoldPolicy.PENDING_ONLY,
                reason="review")
    order = widget_order(session, world, world.alice, 1, confirm=False)
    release_hold(session, world.manager, world.customer.id)
    confirm_order(session, world.alice, order.id, today=MARCH)
    assert order.status == OrderStatus.CONFIRMED


def test_cash_sales_skip_the_credit_limit(session: Session, world: World) -> None:
    set_limit(session, world, "100")
    cash = prepaid_cash_order(session, world, 50)  # 500.00 + tax, paid up front
    assert cash.status == OrderStatus.CONFIRMED
    credit = widget_order(session, world, world.alice, 50, confirm=False)
    with pytest.raises(CreditBlocked, match="open orders 0.00 "), session.begin_nested():
        confirm_order(session, world.alice, credit.id, today=MARCH)


def test_cash_sales_skip_the_overdue_block(session: Session, world: World) -> None:
    posted_invoice(session, world, 1, date(2025, 1, 2))
    order = prepaid_cash_order(session, world, 1, on=date(2025, 6, 2))
    assert order.status == OrderStatus.CONFIRMED


def test_the_credit_check_sends_the_same_queries_however_many_documents(
    session: Session, world: World
) -> None:
    """Open AR, unapplied cash, open credits and the oldest overdue invoice are sums and one
    ordered lookup, not a query per document (a customer's hundreds of receipts and paid
    invoices each took one)."""
    set_limit(session, world, "100000")

    def paid_invoices(count: int) -> None:
        for _ in range(count):
            invoice = posted_invoice(session, world, 1, date(2025, 1, 2))
            record_payment(session, FINANCE, world.customer.id, amount=invoice.total_amount
                           + D("1"), currency="USD", received_date=date(2025, 1, 20),
                           method=PaymentMethod.CARD,
                           allocations=[AllocationInput(invoice.id, invoice.total_amount)])

    def check() -> None:
        check_credit(session, world.customer, D("10"), exclude_order_id=None, is_cash=False,
                     today=date(2025, 4, 3))

    paid_invoices(2)
    few = queries_sent(session, check)
    paid_invoices(3)
    assert queries_sent(session, check) == few
    assert customer_balance(session, world.customer.id).unapplied_cash == D("5")
    overdue = posted_invoice(session, world, 1, date(2025, 1, 3))  # due 2 Feb, unpaid
    blocked = rf"has invoice {overdue.number} 61 days past due \(open 12\.00"
    with pytest.raises(CreditBlocked, match=blocked):
        check_credit(session, world.customer, D("10"), exclude_order_id=None, is_cash=False,
                     today=date(2025, 4, 4))
