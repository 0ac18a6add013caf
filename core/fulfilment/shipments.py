"""Shipments: delivery order → picked → packed → shipped, partial quantities allowed.

A shipment never takes more of an order line than is ordered − cancelled − already on other
shipments. The unit cost (base currency) of each line is fixed when the shipment ships; so is
the freight cost the company pays the carrier (base currency, rounded half-up to its digits).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy.orm import Session

from core.access import load
from core.actor import FULFILMENT_ROLES, Actor
from core.catalog.models import Product
from core.company.services import get_settings
from core.customers.credit import check_hold
from core.customers.models import Customer
from core.errors import DomainError, InvalidInput
from core.fulfilment.models import Shipment, ShipmentLine, ShipmentStatus
from core.locking import lock
from core.numbering import DocType, next_number
from core.sales.models import OrderStatus, SalesOrder, SalesOrderLine
from core.sales.orders import get_order_for, shipped_quantity
from core.types import ZERO, round_money

NEXT_STATUS = {
    ShipmentStatus.DELIVERY_ORDER: ShipmentStatus.PICKED,
    ShipmentStatus.PICKED: ShipmentStatus.PACKED,
    ShipmentStatus.PACKED: ShipmentStatus.SHIPPED,
}


def create_shipment(session: Session, actor: Actor, order_id: int,
                    quantities: dict[int, Decimal], *, created_date: date,
                    carrier: str | None = None) -> Shipment:
    """Create a delivery order for some quantity of some lines of a confirmed order."""
    get_order_for(session, actor, order_id, "ship orders", FULFILMENT_ROLES)
    # Lock the order so two delivery orders cannot both take the same open quantity.
    order = lock(session, SalesOrder, order_id, "order")
    if order.status != OrderStatus.CONFIRMED:
        raise DomainError(f"order {order.number} is {order.status}; only confirmed orders ship")
    check_hold(session.get_one(Customer, order.customer_id), confirming=False,
               is_cash=order.is_cash_sale)
    if not quantities:
        raise InvalidInput("choose at least one line to ship", field="quantities")
    lines_by_id = {line.id: line for line in order.lines}
    shipment = Shipment(
        number=next_number(session, DocType.SHIPMENT), order_id=order.id,
        ship_to_id=order.ship_to_id, created_date=created_date, carrier=carrier,
        freight_cost=ZERO,
    )
    for line_id, quantity in quantities.items():
        line = lines_by_id.get(line_id)
        if line is None:
            raise InvalidInput(f"line #{line_id} is not on order {order.number}",
                               field="quantities")
        quantity = Decimal(quantity)
        remaining = line.quantity - line.cancelled_quantity - shipped_quantity(session, line)
        if quantity <= 0 or quantity > remaining:
            raise InvalidInput(
                f"line {line.line_no}: ship between 0 and {remaining}, not {quantity}",
                field="quantities",
            )
        shipment.lines.append(ShipmentLine(order_line_id=line.id, quantity=quantity))
    session.add(shipment)
    session.flush()
    return shipment


def get_shipment_for(session: Session, actor: Actor, shipment_id: int) -> Shipment:
    """A shipment of an order in the actor's scope."""
    shipment = load(session, Shipment, shipment_id, "shipment")
    get_order_for(session, actor, shipment.order_id, "ship orders", FULFILMENT_ROLES)
    return shipment


def advance_shipment(session: Session, actor: Actor, shipment_id: int) -> Shipment:
    """Move a delivery order to picked, or a picked one to packed."""
    shipment = get_shipment_for(session, actor, shipment_id)
    if shipment.status not in (ShipmentStatus.DELIVERY_ORDER, ShipmentStatus.PICKED):
        raise DomainError(f"shipment {shipment.number} is {shipment.status}")
    shipment.status = NEXT_STATUS[shipment.status]
    session.flush()
    return shipment


def ship(session: Session, actor: Actor, shipment_id: int, *, shipped_date: date,
         carrier: str | None = None, tracking_number: str | None = None,
         vehicle_number: str | None = None, freight_cost: Decimal = ZERO) -> Shipment:
    """Mark packed goods shipped; fixes each line's unit cost at the product's cost now and
    the shipment's ``freight_cost`` (base currency)."""
    shipment = get_shipment_for(session, actor, shipment_id)
    if shipment.status != ShipmentStatus.PACKED:
        raise DomainError(f"shipment {shipment.number} is {shipment.status}; pack it first")
    if shipped_date < shipment.created_date:
        raise InvalidInput("the ship date is before the delivery order", field="shipped_date")
    if freight_cost < 0:
        raise InvalidInput("freight cost cannot be negative", field="freight_cost")
    for line in shipment.lines:
        order_line = session.get_one(SalesOrderLine, line.order_line_id)
        line.unit_cost = session.get_one(Product, order_line.product_id).unit_cost
    shipment.status = ShipmentStatus.SHIPPED
    shipment.shipped_date = shipped_date
    shipment.carrier = carrier or shipment.carrier
    shipment.tracking_number = tracking_number
    shipment.vehicle_number = vehicle_number
    shipment.freight_cost = round_money(Decimal(freight_cost),
                                        get_settings(session).base_currency)
    session.flush()
    return shipment


def cancel_shipment(session: Session, actor: Actor, shipment_id: int) -> Shipment:
    """Cancel a shipment that has not shipped; its quantities can ship again."""
    shipment = get_shipment_for(session, actor, shipment_id)
    if shipment.status in (ShipmentStatus.SHIPPED, ShipmentStatus.CANCELLED):
        raise DomainError(f"shipment {shipment.number} is {shipment.status}")
    shipment.status = ShipmentStatus.CANCELLED
    session.flush()
    return shipment
