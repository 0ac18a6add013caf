"""Invoices from shipped quantities or from order milestones, posted in one step.

Posting fixes the gapless number, the due date (invoice date + the customer's terms at
invoicing; a cash sale is due on its invoice date), the exchange rate of the invoice date
and every line's base amounts. An order is billed either by shipment or by milestones,
never both. The order discount is spread over its invoices pro rata to the invoiced
amount; freight is charged on the order's first invoice. Unapplied prepayments of the order
are applied on posting.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import InstrumentedAttribute, Session
from sqlalchemy.sql import ColumnElement

from core.access import get_customer_for, load
from core.actor import FINANCE_ROLES, FULFILMENT_ROLES, Actor, Role
from core.billing.allocation import apply_credit
from core.billing.amounts import DraftLine, line_amounts, totals
from core.billing.balances import invoiced_quantity, payment_unallocated
from core.billing.models import DocumentStatus, Invoice, InvoiceLine, Payment, PaymentKind
from core.catalog.models import Product
from core.catalog.pricing import line_net_amount
from core.company.models import PaymentTerms, TaxCode
from core.company.services import company_today, fx_rate, get_settings
from core.customers.models import Customer
from core.db import utcnow
from core.errors import DomainError, InvalidInput
from core.fulfilment.models import Shipment, ShipmentLine, ShipmentStatus
from core.numbering import DocType, next_number
from core.sales.models import OrderMilestone, OrderStatus, SalesOrder, SalesOrderLine
from core.sales.orders import get_order_for
from core.types import PRICE_SCALE, ZERO, round_money

PRICE_QUANTUM = Decimal(1).scaleb(-PRICE_SCALE)


def _shipped_cost(session: Session, line: SalesOrderLine) -> tuple[Decimal, Decimal]:
    """(shipped quantity, Σ quantity × unit cost) of an order line's shipped shipments."""
    rows = session.execute(
        select(ShipmentLine.quantity, ShipmentLine.unit_cost)
        .join(Shipment, Shipment.id == ShipmentLine.shipment_id)
        .where(ShipmentLine.order_line_id == line.id, Shipment.status == ShipmentStatus.SHIPPED,
               Shipment.is_replacement.is_(False))
    ).all()
    quantity = sum((q for q, _ in rows), ZERO)
    cost = sum((q * (c or ZERO) for q, c in rows), ZERO)
    return quantity, cost


def _invoiced_sums(session: Session, column: InstrumentedAttribute[Decimal],
                   *where: ColumnElement[bool]) -> Decimal:
    return Decimal(session.scalar(
        select(func.coalesce(func.sum(column), 0))
        .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
        .where(Invoice.status == DocumentStatus.POSTED, *where)
    ) or 0)


def invoice_order(session: Session, actor: Actor, order_id: int, invoice_date: date) -> Invoice:
    """Invoice every shipped, not yet invoiced quantity of an order, and post it.

    Each invoice carries exactly the cost of the lots it invoices: the cumulative shipped
    cost of the line, rounded, less the cost already invoiced for it.
    """
    order = get_order_for(session, actor, order_id, "invoice orders", FULFILMENT_ROLES)
    if order.status != OrderStatus.CONFIRMED:
        raise DomainError(f"order {order.number} is {order.status}; only confirmed orders invoice")
    if order.milestones:
        raise DomainError(f"order {order.number} is billed by milestones; invoice its milestones")
    base_currency = get_settings(session).base_currency
    drafts = []
    for line in order.lines:
        shipped, cost = _shipped_cost(session, line)
        to_invoice = shipped - invoiced_quantity(session, line)
        if to_invoice <= 0:
            continue
        cost_amount = round_money(cost, base_currency) - _invoiced_sums(
            session, InvoiceLine.cost_amount, InvoiceLine.order_line_id == line.id)
        product = session.get_one(Product, line.product_id)
        drafts.append(DraftLine(
            order_line_id=line.id, product_id=product.id, description=product.name,
            quantity=to_invoice, unit_price=line.unit_price, discount_pct=line.discount_pct,
            tax_code=line.tax_code, tax_rate=_tax_rate(session, line.tax_code),
            unit_cost=(cost_amount / to_invoice).quantize(PRICE_QUANTUM),
            cost_amount=cost_amount,
            amount=line_net_amount(to_invoice, line.unit_price, line.discount_pct,
                                   order.currency),
        ))
    if not drafts:
        raise DomainError(f"order {order.number} has nothing shipped that is not invoiced")
    discount = _discount_share(session, order, sum((d.amount for d in drafts), ZERO))
    return _post(session, order, drafts, invoice_date, discount, _freight(session, order))


def invoice_milestone(session: Session, actor: Actor, milestone_id: int,
                      invoice_date: date) -> Invoice:
    """Invoice one milestone of a confirmed order (no goods, no cost) and post it."""
    milestone = load(session, OrderMilestone, milestone_id, "milestone")
    order = get_order_for(session, actor, milestone.order_id, "invoice orders", FULFILMENT_ROLES)
    if order.status != OrderStatus.CONFIRMED:
        raise DomainError(f"order {order.number} is {order.status}")
    if milestone.invoiced:
        raise DomainError(f"milestone {milestone.seq} of {order.number} is already invoiced")
    milestone.invoiced = True
    draft = DraftLine(
        milestone_id=milestone.id, description=milestone.description, quantity=Decimal(1),
        unit_price=milestone.net_amount, amount=milestone.net_amount,
        tax_code=milestone.tax_code, tax_rate=_tax_rate(session, milestone.tax_code),
    )
    return _post(session, order, [draft], invoice_date, ZERO, _freight(session, order))


def _tax_rate(session: Session, code: str) -> Decimal:
    return session.get_one(TaxCode, code).rate


def _freight(session: Session, order: SalesOrder) -> Decimal:
    """Freight is charged once, on the order's first invoice of any kind."""
    invoiced = session.scalar(
        select(func.count()).where(Invoice.order_id == order.id,
                                   Invoice.status == DocumentStatus.POSTED)
    )
    return ZERO if invoiced else order.freight_charged


def _discount_share(session: Session, order: SalesOrder, invoiced_now: Decimal) -> Decimal:
    """This invoice's share of the order discount: the discount pro rata to the cumulative
    invoiced amount over the amount ordered, less what earlier invoices took. Cancelled
    quantities are never invoiced, so their share of the discount lapses."""
    if order.discount_amount == ZERO:
        return ZERO
    ordered = sum((line.net_amount for line in order.lines), ZERO)
    invoiced_before = _invoiced_sums(session, InvoiceLine.line_amount,
                                     Invoice.order_id == order.id)
    discounted_before = _invoiced_sums(session, InvoiceLine.doc_discount_amount,
                                       Invoice.order_id == order.id)
    cumulative = round_money(order.discount_amount * (invoiced_before + invoiced_now) / ordered,
                             order.currency)
    return min(cumulative, order.discount_amount) - discounted_before


def _post(session: Session, order: SalesOrder, drafts: list[DraftLine], invoice_date: date,
          discount: Decimal, freight: Decimal) -> Invoice:
    customer = session.get_one(Customer, order.customer_id)
    terms = session.get_one(PaymentTerms, customer.terms_code)
    base_currency = get_settings(session).base_currency
    rate = fx_rate(session, order.currency, invoice_date)
    amounts = line_amounts(
        [d.amount for d in drafts], [d.tax_rate for d in drafts], discount=discount,
        freight=freight,
        currency=order.currency, rate=rate, base_currency=base_currency,
    )
    head = totals(amounts)
    invoice = Invoice(
        customer_id=customer.id, order_id=order.id, status=DocumentStatus.DRAFT,
        invoice_date=invoice_date,
        due_date=invoice_date + timedelta(days=0 if order.is_cash_sale else terms.net_days),
        terms_code=terms.code, currency=order.currency, fx_rate=rate,
        is_cash_sale=order.is_cash_sale, discount_amount=discount,
        freight_charged=freight, net_amount=head.net, tax_amount=head.tax,
        total_amount=head.total, base_total_amount=head.base_total,
    )
    for i, (d, a) in enumerate(zip(drafts, amounts, strict=True), start=1):
        invoice.lines.append(InvoiceLine(
            line_no=i, order_line_id=d.order_line_id, milestone_id=d.milestone_id,
            product_id=d.product_id, description=d.description, quantity=d.quantity,
            unit_price=d.unit_price, discount_pct=d.discount_pct,
            line_amount=a.line_amount, doc_discount_amount=a.doc_discount, net_amount=a.net,
            freight_amount=a.freight, tax_code=d.tax_code, tax_rate=d.tax_rate,
            tax_amount=a.tax, unit_cost=d.unit_cost, cost_amount=d.cost_amount,
            base_net_amount=a.base_net, base_tax_amount=a.base_tax,
            base_freight_amount=a.base_freight,
        ))
    session.add(invoice)
    session.flush()
    invoice.number = next_number(session, DocType.INVOICE)
    invoice.status = DocumentStatus.POSTED
    invoice.posted_at = utcnow()
    session.flush()
    _apply_prepayments(session, order, invoice)
    return invoice


def _apply_prepayments(session: Session, order: SalesOrder, invoice: Invoice) -> None:
    prepayments = session.scalars(
        select(Payment).where(Payment.order_id == order.id, Payment.kind == PaymentKind.RECEIPT)
        .order_by(Payment.received_date, Payment.id)
    )
    for payment in prepayments:
        available = payment_unallocated(session, payment)
        if available > ZERO:
            apply_credit(session, payment=payment, credit_note=None, invoice=invoice,
                         amount=available, on=max(invoice.invoice_date, payment.received_date),
                         cap_to_open=True)


def get_invoice_for(session: Session, actor: Actor, invoice_id: int, roles: frozenset[Role],
                    action: str) -> Invoice:
    """An invoice of a customer in the actor's scope."""
    invoice = load(session, Invoice, invoice_id, "invoice")
    get_customer_for(session, actor, invoice.customer_id, roles, action)
    return invoice


def set_dispute(session: Session, actor: Actor, invoice_id: int, disputed: bool) -> Invoice:
    """Flag or clear a dispute on a posted invoice (a collection field, not its content)."""
    invoice = get_invoice_for(session, actor, invoice_id, FULFILMENT_ROLES, "flag disputes")
    invoice.is_disputed = disputed
    session.flush()
    return invoice


def set_promise_to_pay(session: Session, actor: Actor, invoice_id: int,
                       promised: date | None, today: date | None = None) -> Invoice:
    """Record (or clear) the date the customer promised to pay this invoice: not before
    the invoice date, nor before today (company time zone; ``today`` only for tests and the
    importer)."""
    invoice = get_invoice_for(session, actor, invoice_id, FINANCE_ROLES, "record promises to pay")
    if promised is not None and promised < invoice.invoice_date:
        raise InvalidInput("a promise to pay cannot be before the invoice date",
                           field="promise_to_pay_date")
    if promised is not None and promised < (today or company_today(session)):
        raise InvalidInput("a promise to pay cannot be dated in the past",
                           field="promise_to_pay_date")
    invoice.promise_to_pay_date = promised
    session.flush()
    return invoice
