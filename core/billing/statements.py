"""Customer statements in the customer's currency: open items as of a date, and the
activity of a period with opening and closing balances.

Balance as of D = Σ invoices + Σ refunds/reversals − Σ credit notes − Σ receipts dated ≤ D,
which equals the sum of the open items as of D (allocations never predate their documents).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
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
from core.company.services import end_of_day_utc
from core.errors import InvalidInput
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


def _documents(session: Session, customer_id: int, start: date | None, end: date,
               known_by: datetime | None) -> list[StatementItem]:
    """Documents dated in [start, end]; with ``known_by``, only those posted before it.
    Their open amounts count the allocations dated ≤ ``end`` (recorded before
    ``known_by``), summed per document in one query per kind of document."""

    def dated(column, posted):  # type: ignore[no-untyped-def]
        conditions = [column <= end] + ([column >= start] if start else [])
        return conditions + ([posted < known_by] if known_by is not None else [])

    def allocated(column, documents) -> dict[int, Decimal]:  # type: ignore[no-untyped-def]
        """Σ allocation amounts per document where ``column`` is one of ``documents``."""
        query = (select(column, func.sum(Allocation.amount))
                 .where(column.in_(documents), Allocation.allocation_date <= end)
                 .group_by(column))
        if known_by is not None:
            query = query.where(Allocation.created_at < known_by)
        return {doc_id: total for doc_id, total in session.execute(query)}

    invoices = select(Invoice.id).where(Invoice.customer_id == customer_id)
    credit_notes = select(CreditNote.id).where(CreditNote.customer_id == customer_id)
    payments = select(Payment.id).where(Payment.customer_id == customer_id)
    paid = allocated(Allocation.target_invoice_id, invoices)
    credited = allocated(Allocation.source_credit_note_id, credit_notes)
    applied = allocated(Allocation.source_payment_id, payments)
    covered = allocated(Allocation.target_payment_id, payments)
    items = []
    for inv in session.scalars(select(Invoice).where(
            Invoice.customer_id == customer_id, Invoice.status == DocumentStatus.POSTED,
            *dated(Invoice.invoice_date, Invoice.posted_at))):
        open_ = inv.total_amount - paid.get(inv.id, ZERO)
        items.append(StatementItem("invoice", inv.number or "", inv.invoice_date, inv.due_date,
                                   inv.total_amount, open_))
    for cn in session.scalars(select(CreditNote).where(
            CreditNote.customer_id == customer_id, CreditNote.status == DocumentStatus.POSTED,
            *dated(CreditNote.credit_date, CreditNote.posted_at))):
        used = credited.get(cn.id, ZERO)
        items.append(StatementItem("credit_note", cn.number or "", cn.credit_date, None,
                                   -cn.total_amount, -(cn.total_amount - used)))
    for pay in session.scalars(select(Payment).where(
            Payment.customer_id == customer_id,
            *dated(Payment.received_date, Payment.posted_at))):
        if pay.kind == PaymentKind.RECEIPT:
            used = applied.get(pay.id, ZERO)
            items.append(StatementItem("payment", pay.number, pay.received_date, None,
                                       -pay.amount, -(pay.amount - used)))
        else:
            items.append(StatementItem(pay.kind.value, pay.number, pay.received_date, None,
                                       pay.amount, pay.amount - covered.get(pay.id, ZERO)))
    return sorted(items, key=lambda i: (i.doc_date, i.doc_type, i.number))


def _cutoff(session: Session, day: date, include_backdated: bool) -> datetime | None:
    return None if include_backdated else end_of_day_utc(session, day)


def open_items(session: Session, actor: Actor, customer_id: int, as_of: date, *,
               include_backdated: bool = False) -> list[StatementItem]:
    """Documents dated on or before ``as_of`` with a non-zero open amount as of that date.

    As of D means as known at the end of D: entries posted later (back-dated) are left out
    unless ``include_backdated``, so a closed day never changes.
    """
    get_customer_for(session, actor, customer_id, READ_ROLES, "read statements")
    known_by = _cutoff(session, as_of, include_backdated)
    return [i for i in _documents(session, customer_id, None, as_of, known_by)
            if i.open_amount != ZERO]


def balance(session: Session, customer_id: int, as_of: date,
            known_by: datetime | None = None) -> Decimal:
    """What the customer owes as of ``as_of`` (negative: credit in the customer's favour)."""
    return sum((i.amount for i in _documents(session, customer_id, None, as_of, known_by)),
               ZERO)


def activity(session: Session, actor: Actor, customer_id: int, start: date, end: date, *,
             include_backdated: bool = False) -> Activity:
    """Documents dated in [start, end] between the opening and closing balances, as known
    at the end of ``end`` (so opening + activity = closing)."""
    get_customer_for(session, actor, customer_id, READ_ROLES, "read statements")
    if end < start:
        raise InvalidInput("the period ends before it starts", field="end")
    known_by = _cutoff(session, end, include_backdated)
    opening = balance(session, customer_id, start - timedelta(days=1), known_by)
    items = _documents(session, customer_id, start, end, known_by)
    return Activity(opening, items, opening + sum((i.amount for i in items), ZERO))
