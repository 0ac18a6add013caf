"""Billing rules that protect the money: milestone vs shipment billing, the order discount
after cancellations, cost per shipped lot, cash sales, credit-note bounds, reversals."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.billing.allocation import reverse_allocation
from core.billing.balances import invoice_open_amount
from core.billing.credit_notes import CreditLineInput, issue_credit_note
from core.billing.invoicing import invoice_milestone, invoice_order
from core.billing.models import Allocation, CreditReason, PaymentMethod
from core.billing.payments import AllocationInput, record_payment, reverse_payment
from core.errors import CreditBlocked, DomainError, InvalidInput
from core.sales.lines import LineInput
from core.sales.orders import OrderInput, add_milestone, cancel_order, confirm_order, create_order
from tests.core.documents import ship_lines, widget_order
from tests.core.world import FINANCE, D, World

MARCH = date(2025, 3, 3)


def test_an_order_billed_by_milestones_cannot_also_be_invoiced_by_shipment(
    session: Session, world: World
) -> None:
    order = widget_order(session, world, world.alice, 100, freight_charged=D("25"))
    milestone = add_milestone(session, world.alice, order.id, description="deposit",
                              net_amount=D("500"), tax_code="STD")
    deposit = invoice_milestone(session, world.alice, milestone.id, MARCH)
    assert deposit.freight_charged == D("25")  # freight goes on the first invoice of any kind
    ship_lines(session, world.alice, order, {order.lines[0].id: D(100)}, MARCH)
    with pytest.raises(DomainError, match="billed by milestones"):
        invoice_order(session, world.alice, order.id, MARCH)


def test_milestones_cannot_be_added_once_goods_are_invoiced(
    session: Session, world: World
) -> None:
    order = widget_order(session, world, world.alice, 10)
    ship_lines(session, world.alice, order, {order.lines[0].id: D(5)}, MARCH)
    invoice_order(session, world.alice, order.id, MARCH)
    with pytest.raises(DomainError, match="already invoiced by shipment"):
        add_milestone(session, world.alice, order.id, description="late", net_amount=D("10"),
                      tax_code="STD")


def test_an_order_with_an_invoiced_milestone_cannot_be_cancelled(
    session: Session, world: World
) -> None:
    order = widget_order(session, world, world.alice, 100)
    milestone = add_milestone(session, world.alice, order.id, description="deposit",
                              net_amount=D("300"), tax_code="STD")
    invoice_milestone(session, world.alice, milestone.id, MARCH)
    with pytest.raises(DomainError, match="invoiced milestones"):
        cancel_order(session, world.alice, order.id, MARCH)


def test_cancelling_the_rest_forfeits_the_discount_of_the_cancelled_part(
    session: Session, world: World
) -> None:
    order = widget_order(session, world, world.alice, 100, discount_amount=D("100"))
    ship_lines(session, world.alice, order, {order.lines[0].id: D(10)}, MARCH)
    cancel_order(session, world.alice, order.id, date(2025, 3, 4))
    invoice = invoice_order(session, world.alice, order.id, date(2025, 3, 5))
    assert invoice.discount_amount == D("10.00")  # 10 % of the order's 1,000, on 100 invoiced
    assert invoice.net_amount == D("90.00")
    with pytest.raises(DomainError, match="nothing to cancel"):
        cancel_order(session, world.alice, order.id, date(2025, 3, 6))


def test_each_shipped_lot_is_costed_at_its_own_unit_cost(session: Session, world: World) -> None:
    order = widget_order(session, world, world.alice, 20)
    line = order.lines[0]
    ship_lines(session, world.alice, order, {line.id: D(10)}, MARCH)
    first = invoice_order(session, world.alice, order.id, MARCH)
    world.widget.unit_cost = D("9.5")
    ship_lines(session, world.alice, order, {line.id: D(10)}, date(2025, 3, 10))
    second = invoice_order(session, world.alice, order.id, date(2025, 3, 10))
    assert first.lines[0].cost_amount == D("65.00")
    assert second.lines[0].cost_amount == D("95.00")


def test_a_cash_sale_needs_the_money_before_confirmation(session: Session, world: World) -> None:
    order = create_order(session, world.alice, world.customer.id,
                         OrderInput(order_date=MARCH, is_cash_sale=True),
                         [LineInput(world.widget.id, D(6000))])
    with pytest.raises(CreditBlocked, match="needs a prepayment of 72,000.00 USD; 0.00 received"):
        confirm_order(session, world.alice, order.id, today=MARCH)
    record_payment(session, FINANCE, world.customer.id, amount=D("72000"), currency="USD",
                   received_date=MARCH, method=PaymentMethod.BANK_TRANSFER, order_id=order.id)
    confirm_order(session, world.alice, order.id, today=MARCH)
    ship_lines(session, world.alice, order, {order.lines[0].id: D(6000)}, MARCH)
    invoice = invoice_order(session, world.alice, order.id, date(2025, 3, 4))
    assert invoice.due_date == invoice.invoice_date and invoice.is_cash_sale
    assert invoice_open_amount(session, invoice) == 0  # the prepayment was applied


@pytest.mark.parametrize("amount", [D("-50"), D("0"), D("57.01")])
def test_price_adjustments_stay_within_the_line(session: Session, world: World,
                                                amount: D) -> None:
    order = widget_order(session, world, world.alice, 6)
    ship_lines(session, world.alice, order, {order.lines[0].id: D(6)}, MARCH)
    invoice = invoice_order(session, world.alice, order.id, MARCH)
    issue_credit_note(session, FINANCE, world.customer.id, reason=CreditReason.PRICE_ADJUSTMENT,
                      credit_date=MARCH, invoice_id=invoice.id,
                      lines=[CreditLineInput(invoice_line_id=invoice.lines[0].id, amount=D("3"))])
    with pytest.raises(InvalidInput, match="between 0 and 57.00"), session.begin_nested():
        issue_credit_note(
            session, FINANCE, world.customer.id, reason=CreditReason.PRICE_ADJUSTMENT,
            credit_date=MARCH, invoice_id=invoice.id,
            lines=[CreditLineInput(invoice_line_id=invoice.lines[0].id, amount=amount)],
        )


def test_partial_returns_add_up_to_the_line(session: Session, world: World) -> None:
    order = create_order(session, world.alice, world.customer.id, OrderInput(order_date=MARCH),
                         [LineInput(world.gadget.id, D(3), unit_price=D("3.3333"))])
    confirm_order(session, world.alice, order.id, today=MARCH)
    ship_lines(session, world.alice, order, {order.lines[0].id: D(3)}, MARCH)
    invoice = invoice_order(session, world.alice, order.id, MARCH)
    line = invoice.lines[0]
    notes = [
        issue_credit_note(session, FINANCE, world.customer.id, reason=CreditReason.RETURN,
                          credit_date=MARCH, invoice_id=invoice.id,
                          lines=[CreditLineInput(invoice_line_id=line.id, quantity=D(1))])
        for _ in range(3)
    ]
    assert sum(n.lines[0].net_amount for n in notes) == line.net_amount


def test_a_payment_reversal_cannot_predate_the_payment(session: Session, world: World) -> None:
    order = widget_order(session, world, world.alice, 6)
    ship_lines(session, world.alice, order, {order.lines[0].id: D(6)}, MARCH)
    invoice = invoice_order(session, world.alice, order.id, MARCH)
    payment = record_payment(session, FINANCE, world.customer.id, amount=D("10"),
                             currency="USD", received_date=date(2025, 3, 10),
                             method=PaymentMethod.CHEQUE,
                             allocations=[AllocationInput(invoice.id, D("10"))])
    with pytest.raises(InvalidInput, match="cannot predate"):
        reverse_payment(session, FINANCE, payment.id, date(2025, 3, 1))


def test_an_allocation_is_reversed_once(session: Session, world: World) -> None:
    order = widget_order(session, world, world.alice, 6)
    ship_lines(session, world.alice, order, {order.lines[0].id: D(6)}, MARCH)
    invoice = invoice_order(session, world.alice, order.id, MARCH)
    record_payment(session, FINANCE, world.customer.id, amount=D("10"), currency="USD",
                   received_date=date(2025, 3, 10), method=PaymentMethod.CARD,
                   allocations=[AllocationInput(invoice.id, D("10"))])
    allocation = session.scalars(select(Allocation)).one()
    reverse_allocation(session, FINANCE, allocation.id, date(2025, 3, 11))
    with pytest.raises(DomainError, match="already reversed"):
        reverse_allocation(session, FINANCE, allocation.id, date(2025, 3, 12))
    assert invoice_open_amount(session, invoice) == invoice.total_amount
