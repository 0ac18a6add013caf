"""Credit control: may this customer place or confirm this order?

An order is blocked when the customer is archived or on manual hold (per its hold policy:
allow nothing / pending orders only / cash sales only), when an invoice is more than N days
past due (company setting ``overdue_block_days``), or when exposure — total AR + confirmed
uninvoiced orders + this order — exceeds the credit limit. Cash sales carry no exposure.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from babel.numbers import format_decimal
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from core.billing.balances import customer_balance, invoiced_net, open_total, uninvoiced_amount
from core.billing.models import Allocation, DocumentStatus, Invoice, Payment, PaymentKind
from core.company.services import get_settings
from core.customers.models import Customer, CustomerStatus, HoldPolicy, HoldState
from core.errors import CreditBlocked
from core.sales.models import OrderStatus, SalesOrder
from core.types import ZERO


def format_amount(amount: Decimal) -> str:
    """Amount with thousands separators and two decimals, for messages."""
    return format_decimal(amount, format="#,##0.00", locale="en")


def check_hold(customer: Customer, *, confirming: bool, is_cash: bool) -> None:
    """Apply the hold policy: drafts are refused only under 'allow nothing'."""
    if customer.status == CustomerStatus.ARCHIVED:
        raise CreditBlocked(f"customer {customer.ref} is archived and takes no new orders")
    if customer.hold_state != HoldState.ON_HOLD:
        return
    why = f"customer {customer.ref} is on hold ({customer.hold_reason or 'no reason given'})"
    if customer.hold_policy == HoldPolicy.ALLOW_NOTHING:
        raise CreditBlocked(f"{why}: no orders allowed")
    if confirming and customer.hold_policy == HoldPolicy.PENDING_ONLY:
        raise CreditBlocked(f"{why}: orders can be saved as pending but not confirmed")
    if confirming and customer.hold_policy == HoldPolicy.CASH_ONLY and not is_cash:
        raise CreditBlocked(f"{why}: only cash sales are allowed")


def oldest_overdue(session: Session, customer: Customer, today: date,
                   days: int) -> tuple[Invoice, Decimal] | None:
    """The oldest posted invoice still open more than ``days`` past its due date."""
    paid = (select(func.coalesce(func.sum(Allocation.amount), 0))
            .where(Allocation.target_invoice_id == Invoice.id)
            .correlate(Invoice).scalar_subquery())
    found = session.execute(
        select(Invoice, paid)
        .where(
            Invoice.customer_id == customer.id,
            Invoice.status == DocumentStatus.POSTED,
            Invoice.due_date < today - timedelta(days=days),
            Invoice.total_amount > paid,
        )
        .order_by(Invoice.due_date, Invoice.id).limit(1)
    ).first()
    if found is None:
        return None
    invoice, paid_amount = found
    return invoice, invoice.total_amount - Decimal(paid_amount)


def open_credit_orders_amount(session: Session, customer_id: int,
                              exclude_order_id: int | None) -> Decimal:
    """Σ uninvoiced amount of the customer's confirmed credit orders (cash sales carry no
    exposure), except ``exclude_order_id``: the orders with their lines, and what was
    invoiced of them, in three queries however many there are."""
    ids = select(SalesOrder.id).where(
        SalesOrder.customer_id == customer_id,
        SalesOrder.status == OrderStatus.CONFIRMED,
        SalesOrder.is_cash_sale.is_(False),
        SalesOrder.id != (exclude_order_id or 0),
    )
    orders = session.scalars(select(SalesOrder).where(SalesOrder.id.in_(ids))
                             .options(selectinload(SalesOrder.lines)))
    invoiced = invoiced_net(session, ids)
    return sum((uninvoiced_amount(order, invoiced.get(order.id, ZERO)) for order in orders),
               ZERO)


def _earmarked_prepayments(session: Session, customer: Customer) -> Decimal:
    """Unapplied prepayments held for confirmed orders: they pay those orders (cash sales
    carry no exposure either), so they are not general credit against new orders."""
    return open_total(session, Payment.amount, Allocation.source_payment_id,
                      Payment.customer_id == customer.id, Payment.kind == PaymentKind.RECEIPT,
                      Payment.order_id == SalesOrder.id,
                      SalesOrder.status == OrderStatus.CONFIRMED)


def check_credit(session: Session, customer: Customer, order_amount: Decimal, *,
                 exclude_order_id: int | None, is_cash: bool, today: date) -> None:
    """Refuse confirming ``order_amount`` more when overdue or over the credit limit."""
    check_hold(customer, confirming=True, is_cash=is_cash)
    if is_cash:
        return
    block_days = get_settings(session).overdue_block_days
    overdue = oldest_overdue(session, customer, today, block_days)
    if overdue is not None:
        invoice, open_amount = overdue
        days = (today - invoice.due_date).days
        raise CreditBlocked(
            f"customer {customer.ref} has invoice {invoice.number} {days} days past due "
            f"(open {format_amount(open_amount)} {customer.currency}; limit {block_days} days)"
        )
    ar = customer_balance(session, customer.id).total_ar + _earmarked_prepayments(session,
                                                                                  customer)
    orders = open_credit_orders_amount(session, customer.id, exclude_order_id)
    exposure = ar + orders + order_amount
    if exposure > customer.credit_limit:
        fmt, currency = format_amount, customer.currency
        raise CreditBlocked(
            f"credit limit exceeded for {customer.ref}: open AR {fmt(ar)} + open orders "
            f"{fmt(orders)} + this order {fmt(order_amount)} = {fmt(exposure)} {currency} "
            f"> credit limit {fmt(customer.credit_limit)} {currency}"
        )
