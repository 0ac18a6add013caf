"""Pipeline and order documents: opportunity, quote (+lines), sales order (+lines,
milestones) and monthly sales targets per rep."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String, UniqueConstraint
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


class OpportunityStage(StrEnum):
    PROSPECTING = "prospecting"
    QUALIFICATION = "qualification"
    PROPOSAL = "proposal"
    NEGOTIATION = "negotiation"
    WON = "won"
    LOST = "lost"


class OpportunityState(StrEnum):
    OPEN = "open"
    WON = "won"
    LOST = "lost"


class QuoteStatus(StrEnum):
    DRAFT = "draft"
    SENT = "sent"
    ACCEPTED = "accepted"
    LOST = "lost"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    SUPERSEDED = "superseded"


class OrderStatus(StrEnum):
    DRAFT = "draft"
    CONFIRMED = "confirmed"
    CANCELLED = "cancelled"
    CLOSED = "closed"


class Opportunity(Base):
    """A potential deal. ``probability`` empty means the stage's default applies."""

    __tablename__ = "opportunity"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[Code] = mapped_column(unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    rep_id: Mapped[int] = mapped_column(ForeignKey("sales_rep.id"), index=True)
    name: Mapped[Name]
    stage: Mapped[OpportunityStage] = mapped_column(enum_type(OpportunityStage))
    state: Mapped[OpportunityState] = mapped_column(
        enum_type(OpportunityState), default=OpportunityState.OPEN
    )
    probability: Mapped[Percent | None]
    amount: Mapped[Amount]
    currency: Mapped[CurrencyCode]
    expected_close_date: Mapped[date]
    closed_date: Mapped[date | None]
    lost_reason: Mapped[str | None] = mapped_column(String(200))
    created_date: Mapped[date]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Quote(Base):
    """A priced offer. Decided quotes (accepted/lost/expired) cannot be edited; a revision
    supersedes its predecessor."""

    __tablename__ = "quote"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[Code] = mapped_column(unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    opportunity_id: Mapped[int | None] = mapped_column(ForeignKey("opportunity.id"))
    rep_id: Mapped[int] = mapped_column(ForeignKey("sales_rep.id"), index=True)
    status: Mapped[QuoteStatus] = mapped_column(enum_type(QuoteStatus), default=QuoteStatus.DRAFT)
    currency: Mapped[CurrencyCode]
    quote_date: Mapped[date]
    valid_until: Mapped[date]
    sent_date: Mapped[date | None]
    decided_date: Mapped[date | None]
    revision_of_id: Mapped[int | None] = mapped_column(ForeignKey("quote.id"))
    revision_no: Mapped[int] = mapped_column(default=0)
    lost_reason: Mapped[str | None] = mapped_column(String(200))
    net_amount: Mapped[Amount]
    tax_amount: Mapped[Amount]
    total_amount: Mapped[Amount]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    lines: Mapped[list[QuoteLine]] = relationship(
        order_by="QuoteLine.line_no", cascade="all, delete-orphan"
    )


class QuoteLine(Base):
    """A quote line; ``net_amount`` = round(quantity × unit_price × (1 − discount))."""

    __tablename__ = "quote_line"
    __table_args__ = (UniqueConstraint("quote_id", "line_no"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    quote_id: Mapped[int] = mapped_column(ForeignKey("quote.id"), index=True)
    line_no: Mapped[int]
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"))
    quantity: Mapped[Quantity]
    unit_price: Mapped[UnitPrice]
    discount_pct: Mapped[Percent]
    tax_code: Mapped[str] = mapped_column(ForeignKey("tax_code.code"))
    net_amount: Mapped[Amount]


class SalesOrder(Base):
    """A sales order. Rep, channel and region are fixed at confirmation (ship-to overrides
    first, then the customer's), with the exchange rate of the order date."""

    __tablename__ = "sales_order"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[Code] = mapped_column(unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    quote_id: Mapped[int | None] = mapped_column(ForeignKey("quote.id"), unique=True)
    ship_to_id: Mapped[int | None] = mapped_column(ForeignKey("customer_location.id"))
    status: Mapped[OrderStatus] = mapped_column(enum_type(OrderStatus), default=OrderStatus.DRAFT)
    order_date: Mapped[date]
    promised_ship_date: Mapped[date | None]
    confirmed_at: Mapped[datetime | None]
    cancelled_date: Mapped[date | None]
    currency: Mapped[CurrencyCode]
    fx_rate: Mapped[Rate]
    is_cash_sale: Mapped[bool] = mapped_column(default=False)
    rep_id: Mapped[int | None] = mapped_column(ForeignKey("sales_rep.id"), index=True)
    channel_code: Mapped[str | None] = mapped_column(ForeignKey("channel.code"))
    region_code: Mapped[str | None] = mapped_column(ForeignKey("region.code"))
    discount_amount: Mapped[Amount]
    freight_charged: Mapped[Amount]
    net_amount: Mapped[Amount]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    lines: Mapped[list[SalesOrderLine]] = relationship(
        order_by="SalesOrderLine.line_no", cascade="all, delete-orphan"
    )
    milestones: Mapped[list[OrderMilestone]] = relationship(
        order_by="OrderMilestone.seq", cascade="all, delete-orphan"
    )


class SalesOrderLine(Base):
    """An order line. Open quantity = quantity − cancelled − invoiced (see billing)."""

    __tablename__ = "sales_order_line"
    __table_args__ = (UniqueConstraint("order_id", "line_no"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("sales_order.id"), index=True)
    line_no: Mapped[int]
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"), index=True)
    quantity: Mapped[Quantity]
    cancelled_quantity: Mapped[Quantity]
    unit_price: Mapped[UnitPrice]
    discount_pct: Mapped[Percent]
    tax_code: Mapped[str] = mapped_column(ForeignKey("tax_code.code"))
    net_amount: Mapped[Amount]


class OrderMilestone(Base):
    """An invoicing milestone of an order (e.g. 30 % on signature), net of tax."""

    __tablename__ = "order_milestone"
    __table_args__ = (UniqueConstraint("order_id", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("sales_order.id"), index=True)
    seq: Mapped[int]
    description: Mapped[Name]
    net_amount: Mapped[Amount]
    tax_code: Mapped[str] = mapped_column(ForeignKey("tax_code.code"))
    invoiced: Mapped[bool] = mapped_column(default=False)


class SalesTarget(Base):
    """A rep's net-sales target for one month (``month`` = first day), base currency."""

    __tablename__ = "sales_target"
    __table_args__ = (UniqueConstraint("rep_id", "month"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    rep_id: Mapped[int] = mapped_column(ForeignKey("sales_rep.id"))
    month: Mapped[date]
    amount: Mapped[Amount]
