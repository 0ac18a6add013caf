"""Shipments with their lines (unit cost fixed at shipment) and return authorisations."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, utcnow
from core.types import Amount, Code, Quantity, UnitPrice, enum_type


class ShipmentStatus(StrEnum):
    DELIVERY_ORDER = "delivery_order"
    PICKED = "picked"
    PACKED = "packed"
    SHIPPED = "shipped"
    CANCELLED = "cancelled"


class RmaType(StrEnum):
    REFUND_ONLY = "refund_only"
    RETURN_AND_REFUND = "return_and_refund"
    RETURN_WITHOUT_REFUND = "return_without_refund"
    REPAIR = "repair"
    REPLACEMENT = "replacement"
    REJECT = "reject"


class RmaState(StrEnum):
    REQUESTED = "requested"
    RECEIVED = "received"
    INSPECTED = "inspected"
    RESOLVED = "resolved"


class Disposition(StrEnum):
    RESTOCK = "restock"
    SCRAP = "scrap"


class Shipment(Base):
    """A delivery of (part of) an order, or a replacement shipment for an RMA."""

    __tablename__ = "shipment"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[Code] = mapped_column(unique=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("sales_order.id"), index=True)
    ship_to_id: Mapped[int | None] = mapped_column(ForeignKey("customer_location.id"))
    status: Mapped[ShipmentStatus] = mapped_column(
        enum_type(ShipmentStatus), default=ShipmentStatus.DELIVERY_ORDER
    )
    is_replacement: Mapped[bool] = mapped_column(default=False)
    carrier: Mapped[str | None] = mapped_column(String(100))
    tracking_number: Mapped[str | None] = mapped_column(String(100))
    vehicle_number: Mapped[str | None] = mapped_column(String(40))
    created_date: Mapped[date]
    shipped_date: Mapped[date | None]
    freight_cost: Mapped[Amount]  # paid to the carrier; base currency, like unit costs
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    lines: Mapped[list[ShipmentLine]] = relationship(cascade="all, delete-orphan")


class ShipmentLine(Base):
    """Quantity of one order line on a shipment; ``unit_cost`` (base) is fixed at shipping."""

    __tablename__ = "shipment_line"

    id: Mapped[int] = mapped_column(primary_key=True)
    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipment.id"), index=True)
    order_line_id: Mapped[int] = mapped_column(ForeignKey("sales_order_line.id"), index=True)
    quantity: Mapped[Quantity]
    unit_cost: Mapped[UnitPrice | None]


class Rma(Base):
    """A return merchandise authorisation: requested → received → inspected → resolved."""

    __tablename__ = "rma"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[Code] = mapped_column(unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoice.id"), index=True)
    rma_type: Mapped[RmaType] = mapped_column(enum_type(RmaType))
    state: Mapped[RmaState] = mapped_column(enum_type(RmaState), default=RmaState.REQUESTED)
    disposition: Mapped[Disposition | None] = mapped_column(enum_type(Disposition))
    reason: Mapped[str | None] = mapped_column(Text)
    requested_date: Mapped[date]
    received_date: Mapped[date | None]
    inspected_date: Mapped[date | None]
    resolved_date: Mapped[date | None]
    replacement_shipment_id: Mapped[int | None] = mapped_column(ForeignKey("shipment.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    lines: Mapped[list[RmaLine]] = relationship(cascade="all, delete-orphan")


class RmaLine(Base):
    """A returned quantity of an invoice line; ``unit_cost`` is the cost fixed at shipment."""

    __tablename__ = "rma_line"

    id: Mapped[int] = mapped_column(primary_key=True)
    rma_id: Mapped[int] = mapped_column(ForeignKey("rma.id"), index=True)
    invoice_line_id: Mapped[int] = mapped_column(ForeignKey("invoice_line.id"))
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"))
    quantity: Mapped[Quantity]
    unit_cost: Mapped[UnitPrice]
