"""Sales orders: draft, confirm (credit control, attribution fixed), amend, cancel,
invoicing milestones. A cash sale (asked for, or implied by cash terms) is confirmed only
once prepayments cover its total; it then carries no credit exposure.

Attribution at confirmation (KPIS.md): rep = the ship-to location's rep override, else the
customer's account manager; region = the ship-to's region, else the customer's; channel =
the customer's. The order's exchange rate is the rate of its order date.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.access import get_customer_for, load
from core.actor import SALES_DOCUMENT_ROLES, Actor
from core.billing.amounts import line_amounts, totals
from core.billing.balances import invoiced_quantity, open_total, order_uninvoiced_amount
from core.billing.models import Allocation, Payment, PaymentKind
from core.company.models import PaymentTerms, TaxCode
from core.company.services import company_today, fx_rate
from core.customers.credit import check_credit, check_hold, format_amount
from core.customers.models import Customer, Location, LocationKind
from core.db import utcnow
from core.errors import CreditBlocked, DomainError, InvalidInput
from core.fulfilment.models import Shipment, ShipmentLine, ShipmentStatus
from core.locking import lock
from core.numbering import DocType, next_number
from core.sales.lines import LineInput, PricedLine, price_lines
from core.sales.models import OrderMilestone, OrderStatus, SalesOrder, SalesOrderLine
from core.types import ZERO, round_money


@dataclass(frozen=True)
class OrderInput:
    """Header fields of a new order."""

    order_date: date
    ship_to_id: int | None = None
    promised_ship_date: date | None = None
    is_cash_sale: bool = False
    discount_amount: Decimal = ZERO
    freight_charged: Decimal = ZERO


def get_order_for(session: Session, actor: Actor, order_id: int, action: str,
                  roles: frozenset = SALES_DOCUMENT_ROLES) -> SalesOrder:
    """An order of a customer in the actor's scope."""
    order = load(session, SalesOrder, order_id, "order")
    get_customer_for(session, actor, order.customer_id, roles, action)
    return order


def _check_ship_to(session: Session, customer: Customer, ship_to_id: int | None) -> None:
    if ship_to_id is None:
        return
    location = session.get(Location, ship_to_id)
    if location is None or location.customer_id != customer.id \
            or location.kind != LocationKind.SHIP_TO:
        raise InvalidInput(f"location #{ship_to_id} is not a ship-to of {customer.ref}",
                           field="ship_to_id")


def create_order(session: Session, actor: Actor, customer_id: int, header: OrderInput,
                 lines: list[LineInput], quote_id: int | None = None) -> SalesOrder:
    """Create a draft (pending) order with priced lines."""
    customer = get_customer_for(session, actor, customer_id, SALES_DOCUMENT_ROLES, "create orders")
    header = replace(header, is_cash_sale=header.is_cash_sale
                     or session.get_one(PaymentTerms, customer.terms_code).is_cash)
    check_hold(customer, confirming=False, is_cash=header.is_cash_sale)
    _check_ship_to(session, customer, header.ship_to_id)
    priced = price_lines(session, actor, customer, lines, header.order_date)
    return new_order(session, customer, header, priced, quote_id)


def new_order(session: Session, customer: Customer, header: OrderInput,
              priced: list[PricedLine], quote_id: int | None) -> SalesOrder:
    """Insert a draft order from already priced lines (rules on the header apply)."""
    if header.discount_amount < 0 or header.freight_charged < 0:
        raise InvalidInput("discount and freight cannot be negative", field="discount_amount")
    if header.promised_ship_date and header.promised_ship_date < header.order_date:
        raise InvalidInput("the promised ship date is before the order date",
                           field="promised_ship_date")
    lines_net = sum((p.net_amount for p in priced), ZERO)
    discount = round_money(header.discount_amount, customer.currency)
    if discount > lines_net:
        raise InvalidInput("the order discount exceeds the order amount", field="discount_amount")
    order = SalesOrder(
        number=next_number(session, DocType.ORDER), customer_id=customer.id, quote_id=quote_id,
        ship_to_id=header.ship_to_id, status=OrderStatus.DRAFT, order_date=header.order_date,
        promised_ship_date=header.promised_ship_date, currency=customer.currency,
        fx_rate=fx_rate(session, customer.currency, header.order_date),
        is_cash_sale=header.is_cash_sale, discount_amount=discount,
        freight_charged=round_money(header.freight_charged, customer.currency),
        net_amount=lines_net - discount,
    )
    order.lines = [
        SalesOrderLine(
            line_no=i, product_id=p.product.id, quantity=p.quantity, cancelled_quantity=ZERO,
            unit_price=p.unit_price, discount_pct=p.discount_pct, tax_code=p.product.tax_code,
            net_amount=p.net_amount,
        )
        for i, p in enumerate(priced, start=1)
    ]
    session.add(order)
    session.flush()
    return order


def confirm_order(session: Session, actor: Actor, order_id: int,
                  today: date | None = None) -> SalesOrder:
    """Confirm a draft order after credit control; fixes rep, channel, region and rate."""
    order = get_order_for(session, actor, order_id, "confirm orders")
    if order.status != OrderStatus.DRAFT:
        raise DomainError(f"order {order.number} is {order.status}, not a draft")
    # Locking the customer serialises confirmations, so two cannot both pass the limit.
    customer = lock(session, Customer, order.customer_id, "customer")
    if order.is_cash_sale:
        _check_prepaid(session, order)
    check_credit(session, customer, order.net_amount, exclude_order_id=order.id,
                 is_cash=order.is_cash_sale, today=today or company_today(session))
    ship_to = session.get(Location, order.ship_to_id) if order.ship_to_id else None
    order.rep_id = (ship_to.rep_override_id if ship_to and ship_to.rep_override_id
                    else customer.account_manager_id)
    order.region_code = ship_to.region_code if ship_to and ship_to.region_code \
        else customer.region_code
    order.channel_code = customer.channel_code
    order.fx_rate = fx_rate(session, order.currency, order.order_date)
    order.status = OrderStatus.CONFIRMED
    order.confirmed_at = utcnow()
    session.flush()
    return order


def order_total(session: Session, order: SalesOrder) -> Decimal:
    """What the customer will pay for the order: net after discount + tax + freight."""
    lines = line_amounts(
        [line.net_amount for line in order.lines],
        [session.get_one(TaxCode, line.tax_code).rate for line in order.lines],
        discount=order.discount_amount, freight=order.freight_charged,
        currency=order.currency, rate=Decimal(1), base_currency=order.currency,
    )
    return totals(lines).total


def _check_prepaid(session: Session, order: SalesOrder) -> None:
    """A cash sale is confirmed only once its prepayments cover the order total."""
    total = order_total(session, order)
    prepaid = open_total(session, Payment.amount, Allocation.source_payment_id,
                         Payment.order_id == order.id, Payment.kind == PaymentKind.RECEIPT)
    if prepaid < total:
        raise CreditBlocked(
            f"cash sale {order.number} needs a prepayment of {format_amount(total)} "
            f"{order.currency}; {format_amount(prepaid)} received"
        )


def shipped_quantity(session: Session, order_line: SalesOrderLine,
                     include_pending: bool = True) -> Decimal:
    """Quantity of an order line on shipments (pending ones too unless told otherwise)."""
    statuses = [ShipmentStatus.SHIPPED]
    if include_pending:
        statuses += [ShipmentStatus.DELIVERY_ORDER, ShipmentStatus.PICKED, ShipmentStatus.PACKED]
    return Decimal(
        session.scalar(
            select(func.coalesce(func.sum(ShipmentLine.quantity), 0))
            .join(Shipment, Shipment.id == ShipmentLine.shipment_id)
            .where(ShipmentLine.order_line_id == order_line.id, Shipment.status.in_(statuses),
                   Shipment.is_replacement.is_(False))
        )
        or 0
    )


def _line(order: SalesOrder, line_no: int) -> SalesOrderLine:
    for line in order.lines:
        if line.line_no == line_no:
            return line
    raise InvalidInput(f"order {order.number} has no line {line_no}", field="line_no")


def _refresh_net(order: SalesOrder) -> None:
    order.net_amount = sum((line.net_amount for line in order.lines), ZERO) - order.discount_amount


def amend_order_line(session: Session, actor: Actor, order_id: int, line_no: int,
                     quantity: Decimal, today: date | None = None) -> SalesOrder:
    """Change an ordered quantity; never below what is shipped or invoiced. An increase on
    a confirmed order passes credit control with the order's new uninvoiced amount."""
    order = get_order_for(session, actor, order_id, "amend orders")
    if order.status not in (OrderStatus.DRAFT, OrderStatus.CONFIRMED):
        raise DomainError(f"order {order.number} is {order.status} and cannot be amended")
    line = _line(order, line_no)
    quantity = Decimal(quantity)
    if quantity <= 0:
        raise InvalidInput("quantity must be positive; cancel the line instead", field="quantity")
    floor_qty = max(shipped_quantity(session, line), invoiced_quantity(session, line))
    if quantity - line.cancelled_quantity < floor_qty:
        raise InvalidInput(
            f"line {line_no} has {floor_qty} shipped or invoiced; it cannot go below that",
            field="quantity",
        )
    old_net = line.net_amount
    line.quantity = quantity
    line.net_amount = round_money(quantity * line.unit_price * (1 - line.discount_pct),
                                  order.currency)
    _refresh_net(order)
    if order.status == OrderStatus.CONFIRMED and line.net_amount > old_net:
        # The amended order counts once, with its new uninvoiced amount.
        customer = session.get_one(Customer, order.customer_id)
        check_credit(session, customer, order_uninvoiced_amount(session, order),
                     exclude_order_id=order.id, is_cash=order.is_cash_sale,
                     today=today or company_today(session))
    session.flush()
    return order


def cancel_order(session: Session, actor: Actor, order_id: int, on: date) -> SalesOrder:
    """Cancel what is not shipped. Nothing shipped: the whole order is cancelled; else the
    unshipped quantities are cancelled and the order stays confirmed."""
    order = get_order_for(session, actor, order_id, "cancel orders")
    if order.status not in (OrderStatus.DRAFT, OrderStatus.CONFIRMED):
        raise DomainError(f"order {order.number} is already {order.status}")
    if any(m.invoiced for m in order.milestones):
        raise DomainError(f"order {order.number} has invoiced milestones; credit them first")
    anything_shipped = changed = False
    for line in order.lines:
        shipped = max(shipped_quantity(session, line), invoiced_quantity(session, line))
        anything_shipped = anything_shipped or shipped > 0
        changed = changed or line.cancelled_quantity != line.quantity - shipped
        line.cancelled_quantity = line.quantity - shipped
    if anything_shipped and not changed:
        raise DomainError(f"order {order.number} is shipped or cancelled in full; "
                          "there is nothing to cancel")
    if not anything_shipped:
        order.status = OrderStatus.CANCELLED
        order.cancelled_date = on
    session.flush()
    return order


def _invoiced_by_shipment(session: Session, order: SalesOrder) -> bool:
    return any(invoiced_quantity(session, line) > 0 for line in order.lines)


def add_milestone(session: Session, actor: Actor, order_id: int, *, description: str,
                  net_amount: Decimal, tax_code: str) -> OrderMilestone:
    """Add an invoicing milestone; all milestones together cannot exceed the order."""
    order = get_order_for(session, actor, order_id, "plan invoicing milestones")
    if order.status not in (OrderStatus.DRAFT, OrderStatus.CONFIRMED):
        raise DomainError(f"order {order.number} is {order.status}")
    if session.get(TaxCode, tax_code) is None:
        raise InvalidInput(f"unknown tax code {tax_code!r}", field="tax_code")
    if _invoiced_by_shipment(session, order):
        raise DomainError(f"order {order.number} is already invoiced by shipment; "
                          "milestones would bill it twice")
    amount = round_money(Decimal(net_amount), order.currency)
    planned = sum((m.net_amount for m in order.milestones), ZERO)
    if amount <= 0 or planned + amount > order.net_amount:
        raise InvalidInput(
            f"milestones would total {planned + amount} but the order is {order.net_amount}",
            field="net_amount",
        )
    milestone = OrderMilestone(seq=len(order.milestones) + 1, description=description,
                               net_amount=amount, tax_code=tax_code)
    order.milestones.append(milestone)
    session.flush()
    return milestone
