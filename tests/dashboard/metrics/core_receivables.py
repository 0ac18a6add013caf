"""Open receivables as of a date computed straight from the core's documents and
allocations — the independent side of the receivables and aging tests (no mart, no Polars).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from core.billing.balances import allocated_sum
from core.billing.models import Allocation, CreditNote, Invoice, Payment, PaymentKind
from core.company.services import end_of_day_utc
from core.types import to_minor

BASE = "USD"  # the demo company's base currency


@dataclass(frozen=True)
class CoreOpenItem:
    """One document's open amount in base cents and in minor units of its own
    ``currency`` (signed: credits negative); ``due_date`` is set for debits (a refund or
    reversal is due on its own date)."""

    customer_id: int
    kind: str  # invoice | refund | reversal | receipt | credit_note
    document_date: date
    due_date: date | None
    open_minor: int
    is_disputed: bool = False
    document_id: int | None = None  # the invoice id (set for invoices)
    currency: str = BASE
    open_doc_minor: int = 0

    @property
    def is_debit(self) -> bool:
        return self.due_date is not None


def base_share(base: Decimal, open_amount: Decimal, total: Decimal) -> Decimal:
    """The open share of a document's base amount, half-up to the cent."""
    if open_amount == total:
        return base
    return (base * open_amount / total).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def core_open_items(session: Session, as_of: date, known_by: datetime) -> list[CoreOpenItem]:
    """Every posted document dated ≤ ``as_of`` and posted before ``known_by``, with its open
    amount after the allocations dated ≤ ``as_of`` and created before ``known_by`` (closed
    documents included with 0), converted at the document's own rate."""
    def open_share(base: Decimal, total: Decimal, column: InstrumentedAttribute[int | None],
                   doc_id: int, currency: str) -> tuple[int, int]:
        """(open in base cents, open in minor units of ``currency``)."""
        applied = allocated_sum(session, column, doc_id, as_of, known_by)
        return (to_minor(base_share(base, total - applied, total), BASE),
                to_minor(total - applied, currency))

    items = []
    for inv in session.scalars(select(Invoice).where(
            Invoice.status == "posted", Invoice.invoice_date <= as_of,
            Invoice.posted_at < known_by)):
        base, doc = open_share(inv.base_total_amount, inv.total_amount,
                               Allocation.target_invoice_id, inv.id, inv.currency)
        items.append(CoreOpenItem(inv.customer_id, "invoice", inv.invoice_date, inv.due_date,
                                  base, inv.is_disputed, inv.id, inv.currency, doc))
    for cn in session.scalars(select(CreditNote).where(
            CreditNote.status == "posted", CreditNote.credit_date <= as_of,
            CreditNote.posted_at < known_by)):
        base, doc = open_share(cn.base_total_amount, cn.total_amount,
                               Allocation.source_credit_note_id, cn.id, cn.currency)
        items.append(CoreOpenItem(cn.customer_id, "credit_note", cn.credit_date, None, -base,
                                  currency=cn.currency, open_doc_minor=-doc))
    for pay in session.scalars(select(Payment).where(
            Payment.received_date <= as_of, Payment.posted_at < known_by)):
        if pay.kind == PaymentKind.RECEIPT:
            base, doc = open_share(pay.base_amount, pay.amount, Allocation.source_payment_id,
                                   pay.id, pay.currency)
            items.append(CoreOpenItem(pay.customer_id, "receipt", pay.received_date, None,
                                      -base, currency=pay.currency, open_doc_minor=-doc))
        else:
            base, doc = open_share(pay.base_amount, pay.amount, Allocation.target_payment_id,
                                   pay.id, pay.currency)
            items.append(CoreOpenItem(pay.customer_id, str(pay.kind), pay.received_date,
                                      pay.received_date, base, currency=pay.currency,
                                      open_doc_minor=doc))
    return items


def core_ar(session: Session, as_of: date, known_by: datetime) -> dict[str, int]:
    """Total, current and overdue AR in base cents from the core's documents and
    allocations (open amounts at each document's own rate)."""
    items = core_open_items(session, as_of, known_by)
    debits = [item for item in items if item.due_date is not None]
    return {"current_minor": sum(i.open_minor for i in debits if i.due_date >= as_of),
            "overdue_minor": sum(i.open_minor for i in debits if i.due_date < as_of),
            "total_ar_minor": sum(item.open_minor for item in items)}


def core_credit_sales(session: Session, start: date, end: date, known_by: datetime) -> int:
    """Invoices on credit terms − credit notes dated from ``start`` to ``end`` and posted
    before ``known_by``, base cents."""
    invoiced = session.scalar(select(func.sum(Invoice.base_total_amount)).where(
        Invoice.status == "posted", ~Invoice.is_cash_sale,
        Invoice.invoice_date.between(start, end), Invoice.posted_at < known_by))
    credited = session.scalar(select(func.sum(CreditNote.base_total_amount)).where(
        CreditNote.status == "posted", CreditNote.credit_date.between(start, end),
        CreditNote.posted_at < known_by))
    return to_minor((invoiced or Decimal(0)) - (credited or Decimal(0)), BASE)


def core_cei(session: Session, start: date, end: date) -> tuple[int, int, Decimal]:
    """(collected, collectible, CEI %) of the period from ``start`` to ``end`` from the
    core's documents: AR as of the day before it and as of its end, and its credit sales,
    each as known at the end of its own last day."""
    before = start - timedelta(days=1)
    beginning = core_ar(session, before, end_of_day_utc(session, before))
    ending = core_ar(session, end, end_of_day_utc(session, end))
    sales = core_credit_sales(session, start, end, end_of_day_utc(session, end))
    collected = beginning["total_ar_minor"] + sales - ending["total_ar_minor"]
    collectible = beginning["total_ar_minor"] + sales - ending["current_minor"]
    return collected, collectible, Decimal(collected) * 100 / Decimal(collectible)
