"""Return merchandise authorisations: requested → received → inspected → resolved.

Resolution by type: refund only → return credit note without restock (no goods come
back, so it may resolve straight from requested); return and refund → return credit note,
restocked or scrapped per the inspection; return without refund → nothing billed (a
restock reverses cost on the resolved date, in the mart); repair → nothing billed;
replacement → a replacement shipment at cost, not invoiced; reject → nothing.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from core.access import get_customer_for, load
from core.actor import FINANCE_ROLES, FULFILMENT_ROLES, Actor
from core.billing.credit_notes import CreditLineInput, credited_quantity, issue_credit_note
from core.billing.models import CreditReason, DocumentStatus, Invoice, InvoiceLine
from core.catalog.models import Product
from core.errors import DomainError, InvalidInput, NotFound
from core.fulfilment.models import (
    Disposition,
    Rma,
    RmaLine,
    RmaState,
    RmaType,
    Shipment,
    ShipmentLine,
    ShipmentStatus,
)
from core.numbering import DocType, next_number
from core.sales.models import SalesOrderLine
from core.types import ZERO

NEEDS_GOODS = frozenset({RmaType.RETURN_AND_REFUND, RmaType.RETURN_WITHOUT_REFUND,
                         RmaType.REPAIR, RmaType.REPLACEMENT})
REFUNDS = frozenset({RmaType.REFUND_ONLY, RmaType.RETURN_AND_REFUND})


# Resolved RMAs of these types keep their quantity (no credit note records it).
KEEPS_QUANTITY = frozenset({RmaType.RETURN_WITHOUT_REFUND, RmaType.REPLACEMENT})


def quantity_under_rma(session: Session, invoice_line_id: int) -> Decimal:
    """Quantity of an invoice line held by other RMAs: every open one (except rejects) and
    resolved ones whose type issues no credit note (returned without refund, replaced)."""
    held = (
        select(func.coalesce(func.sum(RmaLine.quantity), 0))
        .join(Rma, Rma.id == RmaLine.rma_id)
        .where(
            RmaLine.invoice_line_id == invoice_line_id,
            Rma.rma_type != RmaType.REJECT,
            or_(Rma.state != RmaState.RESOLVED, Rma.rma_type.in_(KEEPS_QUANTITY)),
        )
    )
    return Decimal(session.scalar(held) or 0)


def create_rma(session: Session, actor: Actor, invoice_id: int, *, rma_type: RmaType,
               lines: dict[int, Decimal], requested_date: date, reason: str) -> Rma:
    """Request a return of quantities of a posted invoice's lines."""
    invoice = session.get(Invoice, invoice_id)
    if invoice is None or invoice.status != DocumentStatus.POSTED:
        raise NotFound(f"posted invoice #{invoice_id} not found")
    get_customer_for(session, actor, invoice.customer_id, FULFILMENT_ROLES, "create RMAs")
    if not lines:
        raise InvalidInput("choose at least one line to return", field="lines")
    if requested_date < invoice.invoice_date:
        raise InvalidInput("an RMA cannot predate its invoice", field="requested_date")
    rma = Rma(number=next_number(session, DocType.RMA), customer_id=invoice.customer_id,
              invoice_id=invoice.id, rma_type=RmaType(rma_type), reason=reason,
              requested_date=requested_date)
    for line_id, quantity in lines.items():
        source = session.get(InvoiceLine, line_id)
        if source is None or source.invoice_id != invoice.id or source.product_id is None:
            raise InvalidInput(f"line #{line_id} is not a product line of {invoice.number}",
                               field="lines")
        quantity = Decimal(quantity)
        left = source.quantity - credited_quantity(session, source.id) \
            - quantity_under_rma(session, source.id)
        if quantity <= 0 or quantity > left:
            raise InvalidInput(f"line {source.line_no}: return between 0 and {left}",
                               field="lines")
        rma.lines.append(RmaLine(invoice_line_id=source.id, product_id=source.product_id,
                                 quantity=quantity, unit_cost=source.unit_cost))
    session.add(rma)
    session.flush()
    return rma


def _get(session: Session, actor: Actor, rma_id: int) -> Rma:
    rma = load(session, Rma, rma_id, "RMA")
    get_customer_for(session, actor, rma.customer_id, FULFILMENT_ROLES, "handle RMAs")
    return rma


def receive_rma(session: Session, actor: Actor, rma_id: int, on: date) -> Rma:
    """The returned goods arrived."""
    rma = _get(session, actor, rma_id)
    if rma.state != RmaState.REQUESTED or rma.rma_type == RmaType.REFUND_ONLY:
        raise DomainError(f"RMA {rma.number} ({rma.rma_type}, {rma.state}) cannot be received")
    rma.state, rma.received_date = RmaState.RECEIVED, on
    session.flush()
    return rma


def inspect_rma(session: Session, actor: Actor, rma_id: int, on: date,
                disposition: Disposition) -> Rma:
    """Inspect received goods and decide to restock or scrap them."""
    rma = _get(session, actor, rma_id)
    if rma.state != RmaState.RECEIVED:
        raise DomainError(f"RMA {rma.number} is {rma.state}; receive it first")
    rma.state, rma.inspected_date = RmaState.INSPECTED, on
    rma.disposition = Disposition(disposition)
    session.flush()
    return rma


def resolve_rma(session: Session, actor: Actor, rma_id: int, on: date) -> Rma:
    """Close the RMA and create what its type calls for (credit note, replacement)."""
    rma = _get(session, actor, rma_id)
    if rma.state == RmaState.RESOLVED:
        raise DomainError(f"RMA {rma.number} is already resolved")
    if rma.rma_type in NEEDS_GOODS and rma.state != RmaState.INSPECTED:
        raise DomainError(f"RMA {rma.number} is {rma.state}; inspect the goods first")
    if rma.rma_type in REFUNDS:
        get_customer_for(session, actor, rma.customer_id, FINANCE_ROLES, "refund returns")
        restock = rma.disposition == Disposition.RESTOCK
        issue_credit_note(
            session, actor, rma.customer_id, reason=CreditReason.RETURN, credit_date=on,
            invoice_id=rma.invoice_id, rma_id=rma.id,
            lines=[CreditLineInput(invoice_line_id=x.invoice_line_id, quantity=x.quantity,
                                   restock=restock) for x in rma.lines],
        )
    elif rma.rma_type == RmaType.REPLACEMENT:
        rma.replacement_shipment_id = _replacement(session, rma, on).id
    rma.state, rma.resolved_date = RmaState.RESOLVED, on
    session.flush()
    return rma


def _replacement(session: Session, rma: Rma, on: date) -> Shipment:
    first = session.get_one(InvoiceLine, rma.lines[0].invoice_line_id)
    if first.order_line_id is None:
        raise DomainError(f"RMA {rma.number}: the invoice line has no order to ship against")
    order_id = session.get_one(SalesOrderLine, first.order_line_id).order_id
    shipment = Shipment(number=next_number(session, DocType.SHIPMENT), order_id=order_id,
                        status=ShipmentStatus.SHIPPED, is_replacement=True, created_date=on,
                        shipped_date=on, freight_cost=ZERO)
    for line in rma.lines:
        invoice_line = session.get_one(InvoiceLine, line.invoice_line_id)
        if invoice_line.order_line_id is None:
            raise DomainError(f"RMA {rma.number}: a line has no order line")
        shipment.lines.append(ShipmentLine(
            order_line_id=invoice_line.order_line_id, quantity=line.quantity,
            unit_cost=session.get_one(Product, line.product_id).unit_cost,
        ))
    session.add(shipment)
    session.flush()
    return shipment
