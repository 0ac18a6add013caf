"""The order-to-cash path through the services: order → ship (partial) → invoice →
payment → credit note → refund, with the amounts checked by hand."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.billing.balances import customer_balance, invoice_open_amount, payment_unallocated
from core.billing.credit_notes import CreditLineInput, issue_credit_note
from core.billing.invoicing import invoice_order, set_dispute
from core.billing.models import Allocation, CreditReason, InvoiceLine, Payment, PaymentMethod
from core.billing.payments import AllocationInput, record_payment, refund, reverse_payment
from core.errors import ImmutableDocument, InvalidInput
from core.fulfilment.shipments import advance_shipment, create_shipment, ship
from core.sales.lines import LineInput
from core.sales.orders import OrderInput, confirm_order, create_order
from tests.core.world import FINANCE, D, World


def row_counts(session: Session) -> tuple[int, int]:
    return (session.scalar(select(func.count()).select_from(Payment)) or 0,
            session.scalar(select(func.count()).select_from(Allocation)) or 0)


def shipped_order(session: Session, world: World, qty_shipped: int = 6):
    order = create_order(
        session, world.alice, world.customer.id,
        OrderInput(order_date=date(2025, 3, 3), discount_amount=D("10"),
                   freight_charged=D("15")),
        [LineInput(world.widget.id, D(10)), LineInput(world.gadget.id, D(3))],
    )
    confirm_order(session, world.alice, order.id, today=date(2025, 3, 3))
    widget_line, gadget_line = order.lines
    shipment = create_shipment(session, world.alice, order.id,
                               {widget_line.id: D(qty_shipped), gadget_line.id: D(3)},
                               created_date=date(2025, 3, 4))
    advance_shipment(session, world.alice, shipment.id)
    advance_shipment(session, world.alice, shipment.id)
    ship(session, world.alice, shipment.id, shipped_date=date(2025, 3, 5), carrier="DHL",
         tracking_number="TRK1", freight_cost=D("9.40"))
    return order


def test_partial_shipment_invoice_amounts_and_due_date(session: Session, world: World) -> None:
    order = shipped_order(session, world)
    assert order.net_amount == D("100.00") + D("99.99") - D("10")
    invoice = invoice_order(session, world.alice, order.id, date(2025, 3, 6))
    assert invoice.number == "INV0000001"
    assert invoice.due_date == date(2025, 4, 5)  # NET30
    widget, gadget = invoice.lines
    # 6 × 10.00 = 60.00 and 3 × 33.33 = 99.99 invoiced of 199.99 ordered: the discount share is
    # round(10 × 159.99 / 199.99) = 8.00, split 60:99.99 → 3.00 / 5.00 (remainder to largest).
    assert (widget.line_amount, gadget.line_amount) == (D("60.00"), D("99.99"))
    assert widget.doc_discount_amount + gadget.doc_discount_amount == D("8.00")
    assert gadget.doc_discount_amount == D("5.00")
    assert widget.net_amount == D("57.00") and gadget.net_amount == D("94.99")
    assert widget.tax_amount == D("11.40")  # 20 %
    assert gadget.tax_amount == D("4.75")  # 5 % of 94.99 = 4.7495 → 4.75 half-up
    assert invoice.freight_charged == D("15.00")
    assert invoice.total_amount == D("57.00") + D("94.99") + D("11.40") + D("4.75") + D("15")
    assert widget.cost_amount == D("39.00")  # 6 × 6.50 fixed at shipment
    assert invoice.base_total_amount == invoice.total_amount  # USD customer


def test_freight_cost_is_fixed_at_shipping_in_base_currency_rounded_half_up(
        session: Session, world: World) -> None:
    order = shipped_order(session, world)
    shipment = create_shipment(session, world.alice, order.id, {order.lines[0].id: D(1)},
                               created_date=date(2025, 3, 6))
    advance_shipment(session, world.alice, shipment.id)
    advance_shipment(session, world.alice, shipment.id)
    ship(session, world.alice, shipment.id, shipped_date=date(2025, 3, 6),
         freight_cost=D("12.345"))
    assert shipment.freight_cost == D("12.35")  # USD base: two digits, half-up


def test_second_invoice_takes_the_discount_remainder_and_no_freight(
    session: Session, world: World
) -> None:
    order = shipped_order(session, world)
    first = invoice_order(session, world.alice, order.id, date(2025, 3, 6))
    shipment = create_shipment(session, world.alice, order.id, {order.lines[0].id: D(4)},
                               created_date=date(2025, 3, 10))
    advance_shipment(session, world.alice, shipment.id)
    advance_shipment(session, world.alice, shipment.id)
    ship(session, world.alice, shipment.id, shipped_date=date(2025, 3, 11))
    second = invoice_order(session, world.alice, order.id, date(2025, 3, 12))
    assert second.number == "INV0000002"
    assert second.freight_charged == 0
    assert first.discount_amount + second.discount_amount == D("10.00")


def test_nothing_to_invoice_is_a_clear_error(session: Session, world: World) -> None:
    order = shipped_order(session, world)
    invoice_order(session, world.alice, order.id, date(2025, 3, 6))
    with pytest.raises(Exception, match="nothing shipped that is not invoiced"):
        invoice_order(session, world.alice, order.id, date(2025, 3, 7))


def test_posted_invoice_cannot_be_edited_but_can_be_disputed(
    session: Session, world: World
) -> None:
    invoice = invoice_order(session, world.alice, shipped_order(session, world).id,
                            date(2025, 3, 6))
    set_dispute(session, world.alice, invoice.id, True)
    assert invoice.is_disputed
    with pytest.raises(ImmutableDocument, match="posted"), session.begin_nested():
        invoice.total_amount = D("1")
        session.flush()


def test_overpayment_stays_unapplied_and_can_be_refunded(session: Session, world: World) -> None:
    invoice = invoice_order(session, world.alice, shipped_order(session, world).id,
                            date(2025, 3, 6))
    payment = record_payment(
        session, FINANCE, world.customer.id, amount=invoice.total_amount + D("50"),
        currency="USD", received_date=date(2025, 3, 20), method=PaymentMethod.BANK_TRANSFER,
        allocations=[AllocationInput(invoice.id, invoice.total_amount)],
    )
    assert invoice_open_amount(session, invoice) == 0
    assert payment_unallocated(session, payment) == D("50.00")
    assert customer_balance(session, world.customer.id).total_ar == D("-50.00")
    refunded = refund(session, FINANCE, world.customer.id, amount=D("50"), on=date(2025, 3, 25),
                      method=PaymentMethod.BANK_TRANSFER)
    assert payment_unallocated(session, payment) == 0
    assert payment_unallocated(session, refunded) == 0
    assert customer_balance(session, world.customer.id).total_ar == 0


def test_allocation_above_open_amount_is_refused_and_nothing_changes(
    session: Session, world: World
) -> None:
    invoice = invoice_order(session, world.alice, shipped_order(session, world).id,
                            date(2025, 3, 6))
    counts_before = row_counts(session)
    with pytest.raises(InvalidInput, match="exceeds the open amount"), session.begin_nested():
        record_payment(
            session, FINANCE, world.customer.id, amount=invoice.total_amount + D("1"),
            currency="USD", received_date=date(2025, 3, 20), method=PaymentMethod.CARD,
            allocations=[AllocationInput(invoice.id, invoice.total_amount + D("1"))],
        )
    assert row_counts(session) == counts_before
    assert invoice_open_amount(session, invoice) == invoice.total_amount


def test_payment_in_another_currency_is_refused(session: Session, world: World) -> None:
    with pytest.raises(InvalidInput, match="pays in USD, not EUR"):
        record_payment(session, FINANCE, world.customer.id, amount=D("5"), currency="EUR",
                       received_date=date(2025, 3, 20), method=PaymentMethod.CARD)


def test_reps_cannot_record_payments(session: Session, world: World) -> None:
    with pytest.raises(Exception, match="may not record payments"):
        record_payment(session, world.alice, world.customer.id, amount=D("5"), currency="USD",
                       received_date=date(2025, 3, 20), method=PaymentMethod.CARD)


def test_settlement_discount_closes_the_rest_of_the_invoice(session: Session, world: World) -> None:
    invoice = invoice_order(session, world.alice, shipped_order(session, world).id,
                            date(2025, 3, 6))
    record_payment(session, FINANCE, world.customer.id, amount=invoice.total_amount - D("3"),
                   currency="USD", received_date=date(2025, 3, 20), method=PaymentMethod.CARD,
                   allocations=[AllocationInput(invoice.id, invoice.total_amount - D("3"))])
    note = issue_credit_note(
        session, FINANCE, world.customer.id, reason=CreditReason.SETTLEMENT_DISCOUNT,
        credit_date=date(2025, 3, 21), invoice_id=invoice.id,
        lines=[CreditLineInput(amount=D("3"), description="2 % early payment")],
    )
    assert note.number == "CN0000001"
    assert invoice_open_amount(session, invoice) == 0
    with pytest.raises(InvalidInput, match="exceeds the open amount"):
        issue_credit_note(
            session, FINANCE, world.customer.id, reason=CreditReason.BAD_DEBT,
            credit_date=date(2025, 3, 22), invoice_id=invoice.id,
            lines=[CreditLineInput(amount=D("1"), description="write-off")],
        )


def test_return_credit_note_at_invoice_rate_for_foreign_customer(
    session: Session, world: World
) -> None:
    order = create_order(session, world.manager, world.eur_customer.id,
                         OrderInput(order_date=date(2024, 6, 1)),
                         [LineInput(world.widget.id, D(5), unit_price=D("9.00"))])
    confirm_order(session, world.manager, order.id, today=date(2024, 6, 1))
    shipment = create_shipment(session, world.manager, order.id, {order.lines[0].id: D(5)},
                               created_date=date(2024, 6, 2))
    advance_shipment(session, world.manager, shipment.id)
    advance_shipment(session, world.manager, shipment.id)
    ship(session, world.manager, shipment.id, shipped_date=date(2024, 6, 3))
    invoice = invoice_order(session, world.manager, order.id, date(2024, 6, 3))
    assert invoice.fx_rate == D("1.1")
    assert invoice.lines[0].base_net_amount == D("49.50")  # 45.00 EUR × 1.1
    note = issue_credit_note(
        session, FINANCE, world.eur_customer.id, reason=CreditReason.RETURN,
        credit_date=date(2025, 2, 1), invoice_id=invoice.id,
        lines=[CreditLineInput(invoice_line_id=invoice.lines[0].id, quantity=D(2), restock=True)],
    )
    assert note.fx_rate == D("1.1")  # the invoice's rate, not 1.2 of the credit date
    assert note.lines[0].net_amount == D("18.00")
    assert note.lines[0].cost_amount == D("13.00")  # 2 × 6.50 reversed on restock
    assert invoice_open_amount(session, invoice) == invoice.total_amount - note.total_amount


def test_reversed_payment_reopens_the_invoice(session: Session, world: World) -> None:
    invoice = invoice_order(session, world.alice, shipped_order(session, world).id,
                            date(2025, 3, 6))
    payment = record_payment(
        session, FINANCE, world.customer.id, amount=invoice.total_amount, currency="USD",
        received_date=date(2025, 3, 20), method=PaymentMethod.CHEQUE,
        allocations=[AllocationInput(invoice.id, invoice.total_amount)],
    )
    reverse_payment(session, FINANCE, payment.id, date(2025, 3, 27), reference="bounced")
    assert invoice_open_amount(session, invoice) == invoice.total_amount
    assert invoice_open_amount(session, invoice, as_of=date(2025, 3, 21)) == 0
    assert payment_unallocated(session, payment) == 0


def test_payments_and_allocations_are_never_edited_or_deleted(
    session: Session, world: World
) -> None:
    invoice = invoice_order(session, world.alice, shipped_order(session, world).id,
                            date(2025, 3, 6))
    payment = record_payment(
        session, FINANCE, world.customer.id, amount=D("20"), currency="USD",
        received_date=date(2025, 3, 20), method=PaymentMethod.CARD,
        allocations=[AllocationInput(invoice.id, D("20"))],
    )
    with pytest.raises(ImmutableDocument, match="reverse them"), session.begin_nested():
        payment.amount = D("25")
        session.flush()
    allocation = session.scalars(select(Allocation)).one()
    with pytest.raises(ImmutableDocument, match="never deleted"), session.begin_nested():
        session.delete(allocation)
        session.flush()
    assert invoice_open_amount(session, invoice) == invoice.total_amount - D("20")


def test_posted_credit_note_lines_cannot_change(session: Session, world: World) -> None:
    invoice = invoice_order(session, world.alice, shipped_order(session, world).id,
                            date(2025, 3, 6))
    note = issue_credit_note(
        session, FINANCE, world.customer.id, reason=CreditReason.PRICE_ADJUSTMENT,
        credit_date=date(2025, 3, 21), invoice_id=invoice.id,
        lines=[CreditLineInput(amount=D("3"), description="price fix")],
    )
    with pytest.raises(ImmutableDocument, match="posted credit note"), session.begin_nested():
        note.lines[0].net_amount = D("1")
        session.flush()


def test_posted_invoice_cannot_be_deleted_or_take_new_lines(
    session: Session, world: World
) -> None:
    invoice = invoice_order(session, world.alice, shipped_order(session, world).id,
                            date(2025, 3, 6))
    with pytest.raises(ImmutableDocument, match="cannot be deleted"), session.begin_nested():
        session.delete(invoice)
        session.flush()
    first = invoice.lines[0]
    with pytest.raises(ImmutableDocument, match="cannot take new lines"), session.begin_nested():
        session.add(InvoiceLine(
            invoice_id=invoice.id, line_no=99, description="sneaky", quantity=D(1),
            unit_price=D(1), discount_pct=D(0), line_amount=D(1), doc_discount_amount=D(0),
            net_amount=D(1), freight_amount=D(0), tax_code=first.tax_code, tax_rate=D(0),
            tax_amount=D(0), unit_cost=D(0), cost_amount=D(0), base_net_amount=D(1),
            base_tax_amount=D(0), base_freight_amount=D(0),
        ))
        session.flush()
