"""Receivable documents and their settlement.

Posted invoices, credit notes and payments are never edited in place: corrections are new
documents (credit notes, reversal payments, reversal allocations). Amounts are in the
document currency; each line also stores its base-currency amount fixed at posting.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, utcnow
from core.types import (
    Amount,
    Code,
    CurrencyCode,
    Name,
    Percent,
    Quantity,
    Rate,
    UnitPrice,
    enum_type,
)


class DocumentStatus(StrEnum):
    DRAFT = "draft"
    POSTED = "posted"
    CANCELLED = "cancelled"


class CreditReason(StrEnum):
    RETURN = "return"
    PRICE_ADJUSTMENT = "price_adjustment"
    SETTLEMENT_DISCOUNT = "settlement_discount"
    BAD_DEBT = "bad_debt"


class PaymentKind(StrEnum):
    """A receipt brings cash in; a refund or a reversal pays customer credit back out."""

    RECEIPT = "receipt"
    REFUND = "refund"
    REVERSAL = "reversal"


class PaymentMethod(StrEnum):
    BANK_TRANSFER = "bank_transfer"
    CARD = "card"
    CHEQUE = "cheque"
    CASH = "cash"
    DIRECT_DEBIT = "direct_debit"


class Invoice(Base):
    """A customer invoice. Number, base amounts and due date are fixed at posting; after
    that only the collection fields (dispute flag, promise-to-pay date) may change."""

    __tablename__ = "invoice"
    __table_args__ = (
        # The invoices with a promise to pay (~1 % at 10M), read whole for the collections
        # export: a scan of this index instead of every invoice.
        Index("ix_invoice_promised", "id", "promise_to_pay_date",
              postgresql_where=text("promise_to_pay_date IS NOT NULL"),
              sqlite_where=text("promise_to_pay_date IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str | None] = mapped_column(String(32), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("sales_order.id"), index=True)
    status: Mapped[DocumentStatus] = mapped_column(
        enum_type(DocumentStatus), default=DocumentStatus.DRAFT
    )
    invoice_date: Mapped[date] = mapped_column(index=True)
    due_date: Mapped[date]
    terms_code: Mapped[str] = mapped_column(ForeignKey("payment_terms.code"))
    currency: Mapped[CurrencyCode]
    fx_rate: Mapped[Rate]
    is_cash_sale: Mapped[bool] = mapped_column(default=False)
    discount_amount: Mapped[Amount]
    freight_charged: Mapped[Amount]
    net_amount: Mapped[Amount]
    tax_amount: Mapped[Amount]
    total_amount: Mapped[Amount]
    base_total_amount: Mapped[Amount]
    is_disputed: Mapped[bool] = mapped_column(default=False)
    promise_to_pay_date: Mapped[date | None]
    posted_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    lines: Mapped[list[InvoiceLine]] = relationship(
        order_by="InvoiceLine.line_no", cascade="all, delete-orphan"
    )


class InvoiceLine(Base):
    """An invoice line. ``net_amount`` = line amount after line discount minus its share of
    the document discount; freight charged is pro-rated to ``freight_amount``; tax is on
    ``net_amount``; ``cost_amount`` (base) = quantity × unit cost fixed at shipment."""

    __tablename__ = "invoice_line"
    __table_args__ = (UniqueConstraint("invoice_id", "line_no"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoice.id"), index=True)
    line_no: Mapped[int]
    order_line_id: Mapped[int | None] = mapped_column(
        ForeignKey("sales_order_line.id"), index=True
    )
    milestone_id: Mapped[int | None] = mapped_column(ForeignKey("order_milestone.id"))
    product_id: Mapped[int | None] = mapped_column(ForeignKey("product.id"))
    description: Mapped[Name]
    quantity: Mapped[Quantity]
    unit_price: Mapped[UnitPrice]
    discount_pct: Mapped[Percent]
    line_amount: Mapped[Amount]
    doc_discount_amount: Mapped[Amount]
    net_amount: Mapped[Amount]
    freight_amount: Mapped[Amount]
    tax_code: Mapped[str] = mapped_column(ForeignKey("tax_code.code"))
    tax_rate: Mapped[Percent]
    tax_amount: Mapped[Amount]
    unit_cost: Mapped[UnitPrice]
    cost_amount: Mapped[Amount]
    base_net_amount: Mapped[Amount]
    base_tax_amount: Mapped[Amount]
    base_freight_amount: Mapped[Amount]


class CreditNote(Base):
    """A credit note against an invoice (at the invoice's rate) or standalone."""

    __tablename__ = "credit_note"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str | None] = mapped_column(String(32), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoice.id"), index=True)
    rma_id: Mapped[int | None] = mapped_column(ForeignKey("rma.id"))
    reason: Mapped[CreditReason] = mapped_column(enum_type(CreditReason))
    status: Mapped[DocumentStatus] = mapped_column(
        enum_type(DocumentStatus), default=DocumentStatus.DRAFT
    )
    credit_date: Mapped[date] = mapped_column(index=True)
    currency: Mapped[CurrencyCode]
    fx_rate: Mapped[Rate]
    net_amount: Mapped[Amount]
    tax_amount: Mapped[Amount]
    total_amount: Mapped[Amount]
    base_total_amount: Mapped[Amount]
    posted_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    lines: Mapped[list[CreditNoteLine]] = relationship(
        order_by="CreditNoteLine.line_no", cascade="all, delete-orphan"
    )


class CreditNoteLine(Base):
    """A credited amount; a restocked return also reverses ``cost_amount`` (base)."""

    __tablename__ = "credit_note_line"
    __table_args__ = (UniqueConstraint("credit_note_id", "line_no"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    credit_note_id: Mapped[int] = mapped_column(ForeignKey("credit_note.id"), index=True)
    line_no: Mapped[int]
    invoice_line_id: Mapped[int | None] = mapped_column(ForeignKey("invoice_line.id"))
    product_id: Mapped[int | None] = mapped_column(ForeignKey("product.id"))
    description: Mapped[Name]
    quantity: Mapped[Quantity]
    unit_price: Mapped[UnitPrice]
    net_amount: Mapped[Amount]
    tax_code: Mapped[str] = mapped_column(ForeignKey("tax_code.code"))
    tax_rate: Mapped[Percent]
    tax_amount: Mapped[Amount]
    is_restock: Mapped[bool] = mapped_column(default=False)
    unit_cost: Mapped[UnitPrice]
    cost_amount: Mapped[Amount]
    base_net_amount: Mapped[Amount]
    base_tax_amount: Mapped[Amount]


class Payment(Base):
    """Money received (receipt) or paid back out of customer credit (refund, reversal).
    The currency is the customer's; ``order_id`` marks a prepayment against an order."""

    __tablename__ = "payment"
    __table_args__ = (CheckConstraint("amount > 0", name="amount_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[Code] = mapped_column(unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    kind: Mapped[PaymentKind] = mapped_column(enum_type(PaymentKind))
    method: Mapped[PaymentMethod] = mapped_column(enum_type(PaymentMethod))
    received_date: Mapped[date] = mapped_column(index=True)
    amount: Mapped[Amount]
    currency: Mapped[CurrencyCode]
    fx_rate: Mapped[Rate]
    base_amount: Mapped[Amount]
    order_id: Mapped[int | None] = mapped_column(ForeignKey("sales_order.id"))
    reverses_payment_id: Mapped[int | None] = mapped_column(ForeignKey("payment.id"))
    reference: Mapped[str | None] = mapped_column(String(100))
    posted_at: Mapped[datetime] = mapped_column(default=utcnow)


class Allocation(Base):
    """Applies credit (a receipt or a credit note) to a debit (an invoice, or a refund /
    reversal payment), in document currency. A reversal is a new row with the negative
    amount and ``reversal_of_id``; rows are never updated."""

    __tablename__ = "allocation"
    __table_args__ = (
        CheckConstraint(
            "(source_payment_id IS NULL) <> (source_credit_note_id IS NULL)", name="one_source"
        ),
        CheckConstraint(
            "(target_invoice_id IS NULL) <> (target_payment_id IS NULL)", name="one_target"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source_payment_id: Mapped[int | None] = mapped_column(ForeignKey("payment.id"), index=True)
    source_credit_note_id: Mapped[int | None] = mapped_column(
        ForeignKey("credit_note.id"), index=True
    )
    target_invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoice.id"), index=True)
    target_payment_id: Mapped[int | None] = mapped_column(ForeignKey("payment.id"), index=True)
    amount: Mapped[Amount]
    allocation_date: Mapped[date]
    reversal_of_id: Mapped[int | None] = mapped_column(ForeignKey("allocation.id"), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
