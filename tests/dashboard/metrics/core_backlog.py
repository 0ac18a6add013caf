"""Backlog straight from the core's orders — the independent side of the backlog and credit
exposure tests (no mart, no Polars)."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.billing.balances import invoiced_quantity
from core.catalog.pricing import line_net_amount
from core.sales.models import OrderStatus, SalesOrder
from core.types import round_money


def core_backlog_lines(session: Session) -> Iterator[tuple[SalesOrder, Decimal]]:
    """Each line of a confirmed order with its backlog in the order's currency: the open
    quantity at the net price less its share of the order discount (discount × open /
    amount ordered), before the "never < 0" of the callers."""
    for order in session.scalars(select(SalesOrder).where(
            SalesOrder.status == OrderStatus.CONFIRMED)):
        ordered = sum(line.net_amount for line in order.lines)
        for line in order.lines:
            open_quantity = max(Decimal(0), line.quantity - line.cancelled_quantity
                                - invoiced_quantity(session, line))
            open_net = line_net_amount(open_quantity, line.unit_price, line.discount_pct,
                                       order.currency)
            share = round_money(order.discount_amount * open_net / ordered, order.currency)
            yield order, open_net - share
