"""Payments: receipts with their allocations (over-payment stays as unapplied credit),
prepayments against an order, refunds and reversals of customer credit.

A payment's currency is the customer's. Payments are never edited: a wrong or bounced
receipt is reversed by a reversal payment that takes back its unallocated amount.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.access import get_customer_for, load
from core.actor import FINANCE_ROLES, Actor
from core.billing.allocation import apply_credit
from core.billing.balances import credit_note_open_amount, payment_unallocated
from core.billing.models import (
    Allocation,
    CreditNote,
    DocumentStatus,
    Invoice,
    Payment,
    PaymentKind,
    PaymentMethod,
)
from core.company.services import fx_rate, get_settings
from core.errors import DomainError, InvalidInput
from core.locking import lock
from core.numbering import DocType, next_number
from core.sales.models import SalesOrder
from core.types import ZERO, round_money, validate_currency


@dataclass(frozen=True)
class AllocationInput:
    """Apply ``amount`` of the new payment to ``invoice_id``."""

    invoice_id: int
    amount: Decimal


def _new_payment(session: Session, customer_id: int, kind: PaymentKind, method: PaymentMethod,
                 amount: Decimal, currency: str, on: date, **extra: object) -> Payment:
    rate = fx_rate(session, currency, on)
    payment = Payment(
        number=next_number(session, DocType.PAYMENT), customer_id=customer_id, kind=kind,
        method=PaymentMethod(method), received_date=on, amount=amount, currency=currency,
        fx_rate=rate, base_amount=round_money(amount * rate, get_settings(session).base_currency),
        **extra,
    )
    session.add(payment)
    session.flush()
    return payment


def record_payment(session: Session, actor: Actor, customer_id: int, *, amount: Decimal,
                   currency: str, received_date: date, method: PaymentMethod,
                   allocations: list[AllocationInput] | None = None, order_id: int | None = None,
                   reference: str | None = None) -> Payment:
    """Record money received and apply it; what is not applied stays as unapplied credit."""
    customer = get_customer_for(session, actor, customer_id, FINANCE_ROLES, "record payments")
    currency = validate_currency(currency)
    if currency != customer.currency:
        raise InvalidInput(
            f"{customer.ref} pays in {customer.currency}, not {currency}", field="currency"
        )
    amount = round_money(Decimal(amount), currency)
    if amount <= ZERO:
        raise InvalidInput("a payment amount must be positive", field="amount")
    if order_id is not None:
        order = session.get(SalesOrder, order_id)
        if order is None or order.customer_id != customer.id:
            raise InvalidInput(f"order #{order_id} is not {customer.ref}'s", field="order_id")
    requested = sum((Decimal(a.amount) for a in allocations or []), ZERO)
    if requested > amount:
        raise InvalidInput(f"allocations total {requested} but the payment is {amount}",
                           field="allocations")
    payment = _new_payment(session, customer.id, PaymentKind.RECEIPT, method, amount, currency,
                           received_date, order_id=order_id, reference=reference)
    for item in allocations or []:
        invoice = session.get(Invoice, item.invoice_id)
        if invoice is None or invoice.customer_id != customer.id:
            raise InvalidInput(f"invoice #{item.invoice_id} is not {customer.ref}'s",
                               field="allocations")
        apply_credit(session, payment=payment, credit_note=None, invoice=invoice,
                     amount=item.amount, on=received_date)
    return payment


def refund(session: Session, actor: Actor, customer_id: int, *, amount: Decimal, on: date,
           method: PaymentMethod, reference: str | None = None) -> Payment:
    """Pay customer credit back: consumes unapplied receipts and open credit notes, oldest
    first. Refused when the customer has less credit than ``amount``."""
    customer = get_customer_for(session, actor, customer_id, FINANCE_ROLES, "refund customers")
    amount = round_money(Decimal(amount), customer.currency)
    if amount <= ZERO:
        raise InvalidInput("a refund amount must be positive", field="amount")
    sources = _credit_sources(session, customer.id, on)
    available = sum((open_ for _, open_ in sources), ZERO)
    if amount > available:
        raise InvalidInput(f"{customer.ref} has {available} {customer.currency} of credit; "
                           f"cannot refund {amount}", field="amount")
    payment = _new_payment(session, customer.id, PaymentKind.REFUND, method, amount,
                           customer.currency, on, reference=reference)
    _consume(session, payment, sources, amount, on)
    return payment


def reverse_payment(session: Session, actor: Actor, payment_id: int, on: date,
                    reference: str | None = None) -> Payment:
    """Reverse a receipt (e.g. a bounced cheque): its allocations are reversed and a
    reversal payment takes back the whole amount."""
    original = load(session, Payment, payment_id, "payment")
    get_customer_for(session, actor, original.customer_id, FINANCE_ROLES, "reverse payments")
    original = lock(session, Payment, original.id, "payment")
    if original.kind != PaymentKind.RECEIPT:
        raise DomainError(f"{original.number} is a {original.kind}; only receipts are reversed")
    latest = session.scalar(select(func.max(Allocation.allocation_date))
                            .where(Allocation.source_payment_id == original.id))
    if on < max(original.received_date, latest or original.received_date):
        raise InvalidInput(f"a reversal cannot predate {original.number} or its allocations",
                           field="received_date")
    if session.scalar(select(Payment.id).where(Payment.reverses_payment_id == original.id)):
        raise DomainError(f"{original.number} is already reversed")
    applied = session.scalars(
        select(Allocation).where(Allocation.source_payment_id == original.id,
                                 Allocation.target_invoice_id.is_not(None),
                                 Allocation.reversal_of_id.is_(None))
    ).all()
    reversed_ids = set(session.scalars(
        select(Allocation.reversal_of_id).where(Allocation.reversal_of_id.is_not(None))
    ))
    for allocation in applied:
        if allocation.id not in reversed_ids:
            session.add(Allocation(
                source_payment_id=original.id, target_invoice_id=allocation.target_invoice_id,
                amount=-allocation.amount, allocation_date=on, reversal_of_id=allocation.id,
            ))
    session.flush()
    reversal = _new_payment(session, original.customer_id, PaymentKind.REVERSAL, original.method,
                            original.amount, original.currency, on,
                            reverses_payment_id=original.id, reference=reference)
    remaining = payment_unallocated(session, original)
    _consume(session, reversal, [(original, remaining)], original.amount, on)
    return reversal


def _credit_sources(session: Session, customer_id: int,
                    on: date) -> list[tuple[Payment | CreditNote, Decimal]]:
    receipts = session.scalars(
        select(Payment).where(Payment.customer_id == customer_id,
                              Payment.kind == PaymentKind.RECEIPT, Payment.received_date <= on)
        .order_by(Payment.received_date, Payment.id)
    )
    credits = session.scalars(
        select(CreditNote).where(CreditNote.customer_id == customer_id,
                                 CreditNote.status == DocumentStatus.POSTED,
                                 CreditNote.credit_date <= on)
        .order_by(CreditNote.credit_date, CreditNote.id)
    )
    sources: list[tuple[Payment | CreditNote, Decimal]] = []
    for receipt in receipts:
        sources.append((receipt, payment_unallocated(session, lock(session, Payment, receipt.id,
                                                                   "payment"))))
    for credit in credits:
        sources.append((credit, credit_note_open_amount(session, lock(session, CreditNote,
                                                                      credit.id, "credit note"))))
    return [(s, a) for s, a in sources if a > ZERO]


def _consume(session: Session, target: Payment,
             sources: list[tuple[Payment | CreditNote, Decimal]], amount: Decimal,
             on: date) -> None:
    remaining = amount
    for source, available in sources:
        take = min(available, remaining)
        if take <= ZERO:
            continue
        session.add(Allocation(
            source_payment_id=source.id if isinstance(source, Payment) else None,
            source_credit_note_id=source.id if isinstance(source, CreditNote) else None,
            target_payment_id=target.id, amount=take, allocation_date=on,
        ))
        remaining -= take
    if remaining != ZERO:
        raise DomainError(f"{remaining} of {target.number} could not be covered by credit")
    session.flush()
