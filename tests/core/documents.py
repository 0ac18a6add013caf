"""Small builders of sales documents for service tests (orders, shipments, invoices)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.actor import Actor
from core.billing.invoicing import invoice_order
from core.billing.models import Invoice
from core.fulfilment.shipments import advance_shipment, create_shipment, ship
from core.sales.lines import LineInput
from core.sales.models import SalesOrder
from core.sales.orders import OrderInput, confirm_order, create_order
from tests.core.world import World


def count(session: Session, model: Any) -> int:
    """Number of rows of ``model``."""
    return session.scalar(select(func.count()).select_from(model)) or 0


def widget_order(session: Session, world: World, actor: Actor, quantity: int, *,
                 customer_id: int | None = None, on: date = date(2025, 3, 3),
                 confirm: bool = True, **header: Any) -> SalesOrder:
    """An order of ``quantity`` widgets at 10.00 (confirmed unless told otherwise)."""
    order = create_order(session, actor, customer_id or world.customer.id,
                         OrderInput(order_date=on, **header),
                         [LineInput(world.widget.id, Decimal(quantity))])
    if confirm:
        confirm_order(session, actor, order.id, today=on)
    return order


def ship_lines(session: Session, actor: Actor, order: SalesOrder,
               quantities: dict[int, Decimal], on: date,
               freight_cost: Decimal = Decimal(0)) -> None:
    """Ship ``quantities`` (order line id → quantity) of a confirmed order on ``on``."""
    shipment = create_shipment(session, actor, order.id, quantities, created_date=on)
    advance_shipment(session, actor, shipment.id)
    advance_shipment(session, actor, shipment.id)
    ship(session, actor, shipment.id, shipped_date=on, freight_cost=freight_cost)


def posted_invoice(session: Session, world: World, quantity: int, on: date) -> Invoice:
    """A posted invoice of ``quantity`` widgets to Acme, shipped and invoiced on ``on``."""
    order = widget_order(session, world, world.alice, quantity, on=on)
    ship_lines(session, world.alice, order, {order.lines[0].id: Decimal(quantity)}, on)
    return invoice_order(session, world.alice, order.id, on)


def prepaid_cash_order(session: Session, world: World, quantity: int, *,
                       on: date = date(2025, 3, 3)) -> SalesOrder:
    """A cash sale of ``quantity`` widgets to Acme, prepaid in full and confirmed."""
    from core.billing.models import PaymentMethod
    from core.billing.payments import record_payment
    from core.sales.orders import order_total
    from tests.core.world import FINANCE

    order = widget_order(session, world, world.alice, quantity, on=on, confirm=False,
                         is_cash_sale=True)
    record_payment(session, FINANCE, world.customer.id, amount=order_total(session, order),
                   currency="USD", received_date=on, method=PaymentMethod.CARD,
                   order_id=order.id)
    confirm_order(session, world.alice, order.id, today=on)
    return order
