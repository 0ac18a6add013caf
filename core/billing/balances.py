"""Open amounts of receivable documents and a customer's balances, in document currency.

Open amount of an invoice (as of D) = total − Σ allocations dated ≤ D (reversal rows are
negative, so they re-open it). A receipt's unallocated amount and a credit note's open
amount are their totals minus the allocations they are the source of.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from core.billing.models import (
    Allocation,
    CreditNote,
    DocumentStatus,
    Invoice,
    InvoiceLine,
    Payment,
    PaymentKind,
)
from core.catalog.pricing import line_net_amount
from core.sales.models import OrderStatus, SalesOrder, SalesOrderLine
from core.types import ZERO


def invoice_open_amount(session: Session, invoice: Invoice, as_of: date | None = None) -> Decimal:
    """Total − allocations (payments and credit notes) dated on or before ``as_of``."""
    return invoice.total_amount - allocated_sum(session, Allocation.target_invoice_id,
                                                invoice.id, as_of)


def payment_unallocated(session: Session, payment: Payment) -> Decimal:
    """Receipt: amount not yet applied. Refund/reversal: amount not yet covered by credit."""
    column = (
        Allocation.source_payment_id
        if payment.kind == PaymentKind.RECEIPT
        else Allocation.target_payment_id
    )
    return payment.amount - allocated_sum(session, column, payment.id)


def credit_note_open_amount(session: Session, credit_note: CreditNote) -> Decimal:
    """Credit not yet applied to an invoice or refunded."""
    return credit_note.total_amount - allocated_sum(session, Allocation.source_credit_note_id,
                                                    credit_note.id)


def allocated_sum(session: Session, column: InstrumentedAttribute[int | None], doc_id: int,
                  as_of: date | None = None, known_by: datetime | None = None) -> Decimal:
    """Σ allocation amounts where ``column`` = ``doc_id``: dated ≤ ``as_of`` and recorded
    before ``known_by`` when given (reversal rows are negative, so they net out)."""
    query = select(func.coalesce(func.sum(Allocation.amount), 0)).where(column == doc_id)
    if as_of is not None:
        query = query.where(Allocation.allocation_date <= as_of)
    if known_by is not None:
        query = query.where(Allocation.created_at < known_by)
    return Decimal(session.scalar(query) or 0)


@dataclass(frozen=True)
class CustomerBalance:
    """A customer's receivables in its currency. ``total_ar`` = open invoices − unapplied
    cash − open credits."""

    open_invoices: Decimal
    unapplied_cash: Decimal
    open_credits: Decimal

    @property
    def total_ar(self) -> Decimal:
        return self.open_invoices - self.unapplied_cash - self.open_credits


def open_total(session: Session, amount: InstrumentedAttribute[Decimal],
               allocation: InstrumentedAttribute[int | None],
               *conditions: ColumnElement[bool]) -> Decimal:
    """Σ ``amount`` of the documents meeting ``conditions`` (on ``amount``'s table and the
    tables they join) − Σ the allocations whose ``allocation`` column is one of them: what
    is open of them all, in two queries however many there are."""
    document = amount.class_
    # Sums stay per column: arithmetic between scaled columns would lose their type.
    total = session.scalar(
        select(func.coalesce(func.sum(amount), 0)).select_from(document).where(*conditions))
    allocated = session.scalar(
        select(func.coalesce(func.sum(Allocation.amount), 0))
        .join(document, document.id == allocation).where(*conditions))
    return Decimal(total or 0) - Decimal(allocated or 0)


def customer_balance(session: Session, customer_id: int) -> CustomerBalance:
    """Current open invoices, unapplied cash and open credits of one customer."""
    return CustomerBalance(
        open_invoices=open_total(session, Invoice.total_amount, Allocation.target_invoice_id,
                                 Invoice.customer_id == customer_id,
                                 Invoice.status == DocumentStatus.POSTED),
        unapplied_cash=open_total(session, Payment.amount, Allocation.source_payment_id,
                                  Payment.customer_id == customer_id,
                                  Payment.kind == PaymentKind.RECEIPT),
        open_credits=open_total(session, CreditNote.total_amount,
                                Allocation.source_credit_note_id,
                                CreditNote.customer_id == customer_id,
                                CreditNote.status == DocumentStatus.POSTED))


def order_uninvoiced_amount(session: Session, order: SalesOrder) -> Decimal:
    """Net amount of a confirmed order not yet invoiced: Σ (ordered − cancelled) lines at
    their net price, less the order discount, less posted invoice net for the order."""
    invoiced = invoiced_net(session, select(SalesOrder.id).where(SalesOrder.id == order.id))
    return uninvoiced_amount(order, invoiced.get(order.id, ZERO))


def uninvoiced_amount(order: SalesOrder, invoiced: Decimal) -> Decimal:
    """``order_uninvoiced_amount`` of ``order`` given its posted invoice net ``invoiced``
    (``invoiced_net``): for callers that read many orders at once."""
    if order.status != OrderStatus.CONFIRMED:
        return ZERO
    ordered = sum(
        (line_net_amount(line.quantity - line.cancelled_quantity, line.unit_price,
                         line.discount_pct, order.currency) for line in order.lines),
        ZERO,
    ) - order.discount_amount
    return max(ZERO, ordered - invoiced)


def invoiced_net(session: Session, order_ids: Select[int]) -> dict[int | None, Decimal]:
    """Σ posted invoice line net per order of ``order_ids`` (a query of order ids), in one
    query; orders without a posted invoice are left out."""
    return {order_id: Decimal(total) for order_id, total in session.execute(
        select(Invoice.order_id, func.sum(InvoiceLine.net_amount))
        .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
        .where(Invoice.order_id.in_(order_ids), Invoice.status == DocumentStatus.POSTED)
        .group_by(Invoice.order_id))}


def invoiced_quantity(session: Session, order_line: SalesOrderLine) -> Decimal:
    """Quantity of an order line on posted invoices."""
    return Decimal(
        session.scalar(
            select(func.coalesce(func.sum(InvoiceLine.quantity), 0))
            .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
            .where(InvoiceLine.order_line_id == order_line.id,
                   Invoice.status == DocumentStatus.POSTED)
        )
        or 0
    )
