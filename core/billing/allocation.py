"""Allocation of credit (receipts, credit notes) to debits (invoices, refunds).

Rules: an allocation never exceeds the target's open amount nor the source's unallocated
amount; both documents belong to the same customer and currency; it is dated no earlier
than either document. Source and target rows are locked first (PostgreSQL row locks;
SQLite BEGIN IMMEDIATE), so two concurrent allocations cannot both spend the same money.
Rows are never updated: a reversal is a new row with the negative amount.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.access import get_customer_for, load
from core.actor import FINANCE_ROLES, Actor
from core.billing.balances import credit_note_open_amount, invoice_open_amount, payment_unallocated
from core.billing.models import (
    Allocation,
    CreditNote,
    DocumentStatus,
    Invoice,
    Payment,
    PaymentKind,
)
from core.errors import DomainError, InvalidInput, NotFound
from core.locking import lock
from core.types import ZERO, round_money


def apply_credit(session: Session, *, payment: Payment | None, credit_note: CreditNote | None,
                 invoice: Invoice, amount: Decimal, on: date,
                 cap_to_open: bool = False) -> Allocation | None:
    """Allocate ``amount`` of a receipt or credit note to an invoice (rows locked here).

    With ``cap_to_open`` the amount is reduced to what both sides still have open (used for
    automatic application); otherwise exceeding either is an error.
    """
    source: Payment | CreditNote
    if payment is not None:
        receipt = lock(session, Payment, payment.id, "payment")
        if receipt.kind != PaymentKind.RECEIPT:
            raise InvalidInput(f"payment {receipt.number} is a {receipt.kind}, not a receipt")
        source, available = receipt, payment_unallocated(session, receipt)
        source_date = receipt.received_date
    elif credit_note is not None:
        note = lock(session, CreditNote, credit_note.id, "credit note")
        if note.status != DocumentStatus.POSTED:
            raise DomainError(f"credit note #{note.id} is not posted")
        source, available = note, credit_note_open_amount(session, note)
        source_date = note.credit_date
    else:
        raise InvalidInput("an allocation needs a payment or a credit note")
    target = lock(session, Invoice, invoice.id, "invoice")
    if target.status != DocumentStatus.POSTED:
        raise DomainError(f"invoice #{target.id} is not posted")
    if source.customer_id != target.customer_id or source.currency != target.currency:
        raise InvalidInput(f"{source.number} and {target.number} belong to different customers "
                           "or currencies")
    if on < max(source_date, target.invoice_date):
        raise InvalidInput("an allocation cannot be dated before its documents",
                           field="allocation_date")
    open_amount = invoice_open_amount(session, target)
    amount = round_money(Decimal(amount), target.currency)
    if cap_to_open:
        amount = min(amount, open_amount, available)
        if amount <= ZERO:
            return None
    if amount <= ZERO:
        raise InvalidInput("an allocation must be positive", field="amount")
    if amount > open_amount:
        raise InvalidInput(
            f"{amount} exceeds the open amount {open_amount} of invoice {target.number}",
            field="amount",
        )
    if amount > available:
        raise InvalidInput(
            f"{amount} exceeds the {available} still unallocated on {source.number}",
            field="amount",
        )
    allocation = Allocation(
        source_payment_id=source.id if isinstance(source, Payment) else None,
        source_credit_note_id=source.id if isinstance(source, CreditNote) else None,
        target_invoice_id=target.id, amount=amount, allocation_date=on,
    )
    session.add(allocation)
    session.flush()
    return allocation


def allocate(session: Session, actor: Actor, *, invoice_id: int, amount: Decimal, on: date,
             payment_id: int | None = None, credit_note_id: int | None = None) -> Allocation:
    """Apply part of a receipt or credit note to an invoice (finance)."""
    invoice = load(session, Invoice, invoice_id, "invoice")
    get_customer_for(session, actor, invoice.customer_id, FINANCE_ROLES, "allocate payments")
    if (payment_id is None) == (credit_note_id is None):
        raise InvalidInput("allocate either a payment or a credit note")
    payment = session.get(Payment, payment_id) if payment_id is not None else None
    credit_note = session.get(CreditNote, credit_note_id) if credit_note_id is not None else None
    if payment is None and credit_note is None:
        raise NotFound("the payment or credit note was not found")
    allocation = apply_credit(session, payment=payment, credit_note=credit_note, invoice=invoice,
                              amount=amount, on=on)
    assert allocation is not None  # noqa: S101 - cap_to_open is off, so errors raise
    return allocation


def reverse_allocation(session: Session, actor: Actor, allocation_id: int, on: date) -> Allocation:
    """Undo an allocation with a new negative row dated ``on``; the original stays."""
    original = load(session, Allocation, allocation_id, "allocation")
    if original.reversal_of_id is not None or original.amount <= ZERO:
        raise DomainError("a reversal cannot itself be reversed")
    already = session.scalar(
        select(func.count()).where(Allocation.reversal_of_id == original.id)
    )
    if already:
        raise DomainError(f"allocation #{original.id} is already reversed")
    if original.target_invoice_id is None:
        raise DomainError("refund allocations are reversed by reversing the refund")
    invoice = session.get_one(Invoice, original.target_invoice_id)
    get_customer_for(session, actor, invoice.customer_id, FINANCE_ROLES, "reverse allocations")
    lock(session, Invoice, invoice.id, "invoice")  # serialise reversals of this invoice
    if session.scalar(select(func.count()).where(Allocation.reversal_of_id == original.id)):
        raise DomainError(f"allocation #{original.id} is already reversed")
    if on < original.allocation_date:
        raise InvalidInput("a reversal cannot predate the allocation", field="allocation_date")
    reversal = Allocation(
        source_payment_id=original.source_payment_id,
        source_credit_note_id=original.source_credit_note_id,
        target_invoice_id=original.target_invoice_id, amount=-original.amount,
        allocation_date=on, reversal_of_id=original.id,
    )
    session.add(reversal)
    session.flush()
    return reversal
