"""Customer statements in the customer's currency: open items as of a date, and the
activity of a period with opening and closing balances.

Balance as of D = Σ invoices + Σ refunds/reversals − Σ credit notes − Σ receipts dated ≤ D,
which equals the sum of the open items as of D (allocations never predate their documents).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.access import get_customer_for
from core.actor import Actor, Role
from core.billing.models import (
    Allocation,
    CreditNote,
    DocumentStatus,
    Invoice,
    Payment,
    PaymentKind,
)
from core.types import ZERO

READ_ROLES = frozenset(Role)


@dataclass(frozen=True)
class StatementItem:
    """One document on a statement; ``amount`` is signed (+ the customer owes)."""

    doc_type: str
    number: str
    doc_date: date
    due_date: date | None
    amount: Decimal
    open_amount: Decimal


@dataclass(frozen=True)
class Activity:
    """The documents of a period with the balance before and after."""

    opening_balance: Decimal
    items: list[StatementItem]
    closing_balance: Decimal


def _allocated(session: Session, column, doc_id: int, as_of: date) -> Decimal:  # type: ignore[no-untyped-def]
    return Decimal(session.scalar(
        select(func.coalesce(func.sum(Allocation.amount), 0))
        .where(column == doc_id, Allocation.allocation_date <= as_of)
    ) or 0)


def _documents(session: Session, customer_id: int, start: date | None,
               end: date) -> list[StatementItem]:
    def dated(column):  # type: ignore[no-untyped-def]
        return (column >= start, column <= end) if start else (column <= end,)

    items = []
    for inv in session.scalars(select(Invoice).where(
            Invoice.customer_id == customer_id, Invoice.status == DocumentStatus.POSTED,
            *dated(Invoice.invoice_date))):
        open_ = inv.total_amount - _allocated(session, Allocation.target_invoice_id, inv.id, end)
        items.append(StatementItem("invoice", inv.number or "", inv.invoice_date, inv.due_date,
                                   inv.total_amount, open_))
    for cn in session.scalars(select(CreditNote).where(
            CreditNote.customer_id == customer_id, CreditNote.status == DocumentStatus.POSTED,
            *dated(CreditNote.credit_date))):
        used = _allocated(session, Allocation.source_credit_note_id, cn.id, end)
        items.append(StatementItem("credit_note", cn.number or "", cn.credit_date, None,
                                   -cn.total_amount, -(cn.total_amount - used)))
    for pay in session.scalars(select(Payment).where(
            Payment.customer_id == customer_id, *dated(Payment.received_date))):
        if pay.kind == PaymentKind.RECEIPT:
            used = _allocated(session, Allocation.source_payment_id, pay.id, end)
            items.append(StatementItem("payment", pay.number, pay.received_date, None,
                                       -pay.amount, -(pay.amount - used)))
        else:
            covered = _allocated(session, Allocation.target_payment_id, pay.id, end)
            items.append(StatementItem(pay.kind.value, pay.number, pay.received_date, None,
                                       pay.amount, pay.amount - covered))
    return sorted(items, key=lambda i: (i.doc_date, i.doc_type, i.number))


def open_items(
    session: Session, actor: Actor, customer_id: int, as_of: date
) -> list[StatementItem]:
    """Documents dated on or before ``as_of`` with a non-zero open amount as of that date."""
    get_customer_for(session, actor, customer_id, READ_ROLES, "read statements")
    return [i for i in _documents(session, customer_id, None, as_of) if i.open_amount != ZERO]


def balance(session: Session, customer_id: int, as_of: date) -> Decimal:
    """What the customer owes as of ``as_of`` (negative: credit in the customer's favour)."""
    return sum((i.amount for i in _documents(session, customer_id, None, as_of)), ZERO)


def activity(session: Session, actor: Actor, customer_id: int, start: date,
             end: date) -> Activity:
    """Documents dated in [start, end] between the opening and closing balances."""
    get_customer_for(session, actor, customer_id, READ_ROLES, "read statements")
    if end < start:
        raise ValueError("the period ends before it starts")
    opening = balance(session, customer_id, start - timedelta(days=1))
    items = _documents(session, customer_id, start, end)
    return Activity(opening, items, opening + sum((i.amount for i in items), ZERO))
