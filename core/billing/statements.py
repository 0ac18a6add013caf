"""Customer statements in the customer's currency: open items as of a date, and the
activity of a period with opening and closing balances.

Balance as of D = Σ invoices + Σ refunds/reversals − Σ credit notes − Σ receipts dated ≤ D,
which equals the sum of the open items as of D (allocations never predate their documents).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import ScalarSelect, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

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


def _allocated(column: InstrumentedAttribute[int | None], document_id: Any, end: date,
               known_by: datetime | None) -> ScalarSelect[Decimal]:
    """Σ the allocations dated ≤ ``end`` (recorded before ``known_by``) whose ``column`` is
    ``document_id``: a subquery correlated to the document's row (an index lookup each)."""
    conditions = [column == document_id, Allocation.allocation_date <= end]
    if known_by is not None:
        conditions.append(Allocation.created_at < known_by)
    return (select(func.coalesce(func.sum(Allocation.amount), 0))
            .where(*conditions).scalar_subquery())


def _documents(session: Session, customer_id: int, start: date | None, end: date,
               known_by: datetime | None) -> list[StatementItem]:
    """Documents dated in [start, end]; with ``known_by``, only those posted before it.
    Their open amounts count the allocations dated ≤ ``end`` (recorded before
    ``known_by``): one query per kind of document, reading only the columns a statement
    shows (whole ORM documents took 310 ms for a customer with 2,000 invoices at 10M)."""

    def dated(column, posted):  # type: ignore[no-untyped-def]
        conditions = [column <= end] + ([column >= start] if start else [])
        return conditions + ([posted < known_by] if known_by is not None else [])

    items = []
    for number, day, due, amount, paid in session.execute(select(
            Invoice.number, Invoice.invoice_date, Invoice.due_date, Invoice.total_amount,
            _allocated(Allocation.target_invoice_id, Invoice.id, end, known_by)).where(
            Invoice.customer_id == customer_id, Invoice.status == DocumentStatus.POSTED,
            *dated(Invoice.invoice_date, Invoice.posted_at))):
        items.append(StatementItem("invoice", number or "", day, due, amount, amount - paid))
    for number, day, amount, used in session.execute(select(
            CreditNote.number, CreditNote.credit_date, CreditNote.total_amount,
            _allocated(Allocation.source_credit_note_id, CreditNote.id, end, known_by)).where(
            CreditNote.customer_id == customer_id, CreditNote.status == DocumentStatus.POSTED,
            *dated(CreditNote.credit_date, CreditNote.posted_at))):
        items.append(StatementItem("credit_note", number or "", day, None, -amount,
                                   -(amount - used)))
    for kind, number, day, amount, applied, covered in session.execute(select(
            Payment.kind, Payment.number, Payment.received_date, Payment.amount,
            _allocated(Allocation.source_payment_id, Payment.id, end, known_by),
            _allocated(Allocation.target_payment_id, Payment.id, end, known_by)).where(
            Payment.customer_id == customer_id,
            *dated(Payment.received_date, Payment.posted_at))):
        if kind == PaymentKind.RECEIPT:
            items.append(StatementItem("payment", number, day, None, -amount,
                                       -(amount - applied)))
        else:
            items.append(StatementItem(kind.value, number, day, None, amount,
                                       amount - covered))
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
    """What the customer owes as of ``as_of`` (negative: credit in the customer's favour):
    the sums of its documents dated ≤ ``as_of`` (posted before ``known_by``), in one
    query."""
    def total(amount, day, posted, *conditions) -> ScalarSelect[Decimal]:  # type: ignore[no-untyped-def]
        known = [posted < known_by] if known_by is not None else []
        return (select(func.coalesce(func.sum(amount), 0))
                .where(day <= as_of, *known, *conditions).scalar_subquery())

    invoiced, credited, received, refunded = session.execute(select(
        total(Invoice.total_amount, Invoice.invoice_date, Invoice.posted_at,
              Invoice.customer_id == customer_id, Invoice.status == DocumentStatus.POSTED),
        total(CreditNote.total_amount, CreditNote.credit_date, CreditNote.posted_at,
              CreditNote.customer_id == customer_id,
              CreditNote.status == DocumentStatus.POSTED),
        total(Payment.amount, Payment.received_date, Payment.posted_at,
              Payment.customer_id == customer_id, Payment.kind == PaymentKind.RECEIPT),
        total(Payment.amount, Payment.received_date, Payment.posted_at,
              Payment.customer_id == customer_id, Payment.kind != PaymentKind.RECEIPT),
    )).one()
    return invoiced - credited - received + refunded


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
