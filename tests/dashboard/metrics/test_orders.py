"""Bookings, backlog, order counts and average order value from the mart match independent
computations from the core's records to the cent."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import polars as pl
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.billing.models import CreditNote, CreditNoteLine, Invoice, InvoiceLine
from core.catalog.pricing import line_net_amount
from core.sales.models import OrderStatus, SalesOrder
from core.types import round_money, to_minor
from dashboard.metrics.orders import (
    GROUPINGS,
    backlog_total,
    bookings_total,
    order_totals,
    orders_by,
)
from dashboard.metrics.period import Period
from dashboard.metrics.scope import NO_SCOPE, Scope
from tests.dashboard.conftest import DemoMart
from tests.dashboard.metrics.core_backlog import core_backlog_lines

FINANCE = Scope(role="finance", user_id=1, all_reps=True)
BASE = "USD"
ALL_TIME = Period(date(2000, 1, 1), date(2099, 12, 31))


def _base_minor(amount: Decimal, rate: Decimal) -> int:
    return to_minor(round_money(amount * rate, BASE), BASE)


def _last_full_year(demo: DemoMart) -> Period:
    year = demo.mart.published_at.year - 1
    return Period(date(year, 1, 1), date(year, 12, 31))


def _per_rep(demo: DemoMart, period: Period, column: str) -> dict[int, int]:
    frame = orders_by(demo.mart, FINANCE, period, "rep").join(
        demo.mart.frame("dim_rep").select("rep_key", "rep_id"), on="rep_key")
    return {row["rep_id"]: row[column] for row in frame.iter_rows(named=True)
            if row[column] != 0}


def _core_booked(session: Session) -> dict[int, int]:
    """Per rep: what confirmed orders still book — each line's (quantity − cancelled) net at
    the order's rate; cancelled orders book nothing in the end."""
    booked: dict[int, int] = defaultdict(int)
    orders = session.scalars(select(SalesOrder).where(
        SalesOrder.confirmed_at.is_not(None), SalesOrder.status != OrderStatus.CANCELLED))
    for order in orders:
        for line in order.lines:
            net = line_net_amount(line.quantity - line.cancelled_quantity, line.unit_price,
                                  line.discount_pct, order.currency)
            booked[order.rep_id] += _base_minor(net, order.fx_rate)
    return {rep: amount for rep, amount in booked.items() if amount}


def _core_backlog(session: Session) -> dict[int, int]:
    """Per rep: the backlog of confirmed orders' lines at the order's rate, never < 0."""
    backlog: dict[int, int] = defaultdict(int)
    for order, amount in core_backlog_lines(session):
        backlog[order.rep_id] += max(0, _base_minor(amount, order.fx_rate))
    return {rep: amount for rep, amount in backlog.items() if amount}


def test_bookings_over_all_time_per_rep_equal_what_confirmed_orders_book_in_the_core(
        demo_mart: DemoMart) -> None:
    with Session(demo_mart.core) as session:
        core = _core_booked(session)
    assert len(core) > 3
    assert _per_rep(demo_mart, ALL_TIME, "bookings_minor") == core


def test_backlog_now_per_rep_equals_the_open_quantities_of_confirmed_orders_in_the_core(
        demo_mart: DemoMart) -> None:
    with Session(demo_mart.core) as session:
        core = _core_backlog(session)
    assert core and sum(core.values()) > 0
    assert _per_rep(demo_mart, ALL_TIME, "backlog_minor") == core
    assert order_totals(demo_mart.mart, FINANCE, ALL_TIME)["backlog_minor"] == sum(
        core.values())


def test_orders_count_confirmed_not_cancelled_orders_by_order_date(demo_mart: DemoMart) -> None:
    period = _last_full_year(demo_mart)
    with Session(demo_mart.core) as session:
        rows = session.execute(
            select(SalesOrder.rep_id, func.count())
            .where(SalesOrder.status.in_([OrderStatus.CONFIRMED, OrderStatus.CLOSED]),
                   SalesOrder.order_date.between(period.start, period.end))
            .group_by(SalesOrder.rep_id))
        core = {rep: count for rep, count in rows}
        (cancelled,) = session.execute(select(func.count()).where(
            SalesOrder.status == OrderStatus.CANCELLED,
            SalesOrder.order_date.between(period.start, period.end))).one()
    assert cancelled > 0
    assert _per_rep(demo_mart, period, "orders") == core


def test_average_order_value_is_net_sales_over_distinct_orders_invoiced(
        demo_mart: DemoMart) -> None:
    period = _last_full_year(demo_mart)
    posted_in = (Invoice.status == "posted",
                 Invoice.invoice_date.between(period.start, period.end))
    with Session(demo_mart.core) as session:
        invoiced = session.scalar(select(func.sum(InvoiceLine.base_net_amount)).join(
            Invoice, Invoice.id == InvoiceLine.invoice_id).where(*posted_in))
        credited = session.scalar(select(func.sum(CreditNoteLine.base_net_amount)).join(
            CreditNote, CreditNote.id == CreditNoteLine.credit_note_id).where(
            CreditNote.status == "posted",
            CreditNote.reason.not_in(["settlement_discount", "bad_debt"]),
            CreditNote.credit_date.between(period.start, period.end)))
        orders = session.scalar(select(func.count(func.distinct(Invoice.order_id))).where(
            *posted_in))
    net = to_minor(invoiced - credited, BASE)
    totals = order_totals(demo_mart.mart, FINANCE, period)
    assert orders and totals["orders_invoiced"] == orders
    assert totals["net_sales_minor"] == net
    assert totals["average_order_minor"] == int(
        (Decimal(net) / orders).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def test_groupings_add_up_to_the_totals_and_unknown_groupings_are_refused(
        demo_mart: DemoMart) -> None:
    period = _last_full_year(demo_mart)
    totals = order_totals(demo_mart.mart, FINANCE, period)
    for by in GROUPINGS:
        grouped = orders_by(demo_mart.mart, FINANCE, period, by)
        assert grouped["label"].null_count() == 0
        for measure in ("bookings_minor", "backlog_minor", "orders", "net_sales_minor"):
            assert grouped[measure].sum() == totals[measure], (by, measure)
    with pytest.raises(ValueError, match="cannot group orders by"):
        orders_by(demo_mart.mart, FINANCE, period, "customer; drop table")


def test_a_rep_sees_only_orders_attributed_to_them_and_no_scope_sees_nothing(
        demo_mart: DemoMart) -> None:
    period = _last_full_year(demo_mart)
    everyone = orders_by(demo_mart.mart, FINANCE, period, "rep")
    top = everyone.row(0, named=True)
    rep_id = demo_mart.mart.frame("dim_rep").filter(
        pl.col("rep_key") == top["rep_key"])["rep_id"].item()
    rep = Scope(role="rep", user_id=9, rep_ids=frozenset({rep_id}))
    mine = orders_by(demo_mart.mart, rep, period, "rep")
    assert mine["rep_key"].to_list() == [top["rep_key"]]
    assert order_totals(demo_mart.mart, rep, period)["bookings_minor"] == top["bookings_minor"]
    nothing = order_totals(demo_mart.mart, NO_SCOPE, period)
    assert nothing == {"bookings_minor": 0, "backlog_minor": 0, "orders": 0,
                       "net_sales_minor": 0, "orders_invoiced": 0,
                       "average_order_minor": None}


def test_bookings_and_backlog_alone_equal_the_totals(demo_mart: DemoMart) -> None:
    period = _last_full_year(demo_mart)
    top = orders_by(demo_mart.mart, FINANCE, period, "rep").row(0, named=True)
    rep_id = demo_mart.mart.frame("dim_rep").filter(
        pl.col("rep_key") == top["rep_key"])["rep_id"].item()
    rep = Scope(role="rep", user_id=9, rep_ids=frozenset({rep_id}))
    for scope in (FINANCE, rep, NO_SCOPE):
        totals = order_totals(demo_mart.mart, scope, period)
        assert bookings_total(demo_mart.mart, scope, period) == totals["bookings_minor"]
        assert backlog_total(demo_mart.mart, scope) == totals["backlog_minor"]
    assert bookings_total(demo_mart.mart, rep, period) == top["bookings_minor"] != 0
