"""Customer 360 metrics: one customer's 12-month P&L, AR, open quotes and orders and
engagement, matched to the core, and nothing at all for a customer out of scope."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal

import polars as pl
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.billing.balances import invoiced_quantity
from core.billing.models import CreditNote, CreditNoteLine, Invoice, InvoiceLine
from core.billing.statements import balance
from core.company.services import end_of_day_utc
from core.customers.models import Customer
from core.sales.models import OrderStatus, Quote, QuoteStatus, SalesOrder
from core.types import to_minor
from dashboard.metrics.customer import (
    customer_ar,
    customer_engagement,
    customer_pnl,
    open_orders,
    open_quotes,
)
from dashboard.metrics.period import Period
from dashboard.metrics.sales import sales_by
from dashboard.metrics.scope import Scope
from tests.dashboard.conftest import DemoMart

FINANCE = Scope(role="finance", user_id=1, all_reps=True)


def _month(day: date) -> int:
    return day.year * 100 + day.month


def _core_net_by_month(session: Session, customer_id: int) -> dict[int, Decimal]:
    net: dict[int, Decimal] = defaultdict(Decimal)
    for day, amount in session.execute(
            select(Invoice.invoice_date, InvoiceLine.base_net_amount)
            .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
            .where(Invoice.customer_id == customer_id, Invoice.status == "posted")):
        net[_month(day)] += amount
    for day, amount in session.execute(
            select(CreditNote.credit_date, CreditNoteLine.base_net_amount)
            .join(CreditNote, CreditNote.id == CreditNoteLine.credit_note_id)
            .where(CreditNote.customer_id == customer_id, CreditNote.status == "posted",
                   CreditNote.reason.not_in(["settlement_discount", "bad_debt"]))):
        net[_month(day)] -= amount
    return net


def _busiest_customer(demo: DemoMart) -> int:
    lines = demo.mart.frame("fct_sales_line")
    return int(lines.group_by("customer_id").len().sort("len", descending=True)[
        "customer_id"][0])


def test_twelve_month_pnl_matches_the_core_invoices_and_the_sales_metric(
        demo_mart: DemoMart) -> None:
    customer_id = _busiest_customer(demo_mart)
    as_of = demo_mart.mart.published_at.date()
    pnl = customer_pnl(demo_mart.mart, FINANCE, customer_id, as_of)
    with Session(demo_mart.core) as session:
        core = _core_net_by_month(session, customer_id)
    assert pnl.height == 12 and pnl["month_key"][-1] == _month(as_of)
    assert pnl["month_key"].to_list() == sorted(pnl["month_key"].to_list())
    assert {row["month_key"]: row["net_sales_minor"] for row in pnl.iter_rows(named=True)} == {
        key: to_minor(core.get(key, Decimal(0)), "USD") for key in pnl["month_key"]}
    first = pnl["month_key"][0]
    window = Period(date(first // 100, first % 100, 1), as_of)
    by_customer = sales_by(demo_mart.mart, FINANCE, window, "customer").filter(
        pl.col("customer_id") == customer_id).row(0, named=True)
    assert pnl["cost_minor"].sum() == by_customer["cost_minor"] > 0
    assert pnl["margin_minor"].to_list() == [
        n - c for n, c in zip(pnl["net_sales_minor"], pnl["cost_minor"], strict=True)]


def test_customer_ar_is_its_statement_balance(demo_mart: DemoMart) -> None:
    as_of = demo_mart.mart.published_at.date()
    with Session(demo_mart.core) as session:
        known_by = end_of_day_utc(session, as_of)
        balances = {c.id: to_minor(balance(session, c.id, as_of, known_by), c.currency)
                    for c in session.scalars(select(Customer))}
    owing = max(balances, key=lambda c: balances[c])
    ar = customer_ar(demo_mart.mart, FINANCE, owing, as_of, timezone="UTC")
    assert ar is not None
    assert ar["total_ar_doc_minor"] == balances[owing] > 0
    assert ar["current_minor"] + ar["overdue_minor"] == ar["open_invoices_minor"]
    never_billed = next(c for c, amount in balances.items() if amount == 0)
    assert customer_ar(demo_mart.mart, FINANCE, never_billed, as_of, timezone="UTC")[
        "total_ar_minor"] == 0


def test_open_quotes_and_orders_match_the_core(demo_mart: DemoMart) -> None:
    today = demo_mart.mart.published_at.date()
    with Session(demo_mart.core) as session:
        quotes = {(q.customer_id, q.number) for q in session.scalars(select(Quote).where(
            (Quote.status == QuoteStatus.DRAFT)
            | ((Quote.status == QuoteStatus.SENT) & (Quote.valid_until >= today))))}
        orders = set()
        for order in session.scalars(select(SalesOrder).where(
                SalesOrder.status == OrderStatus.CONFIRMED)):
            if any(line.quantity - line.cancelled_quantity > invoiced_quantity(session, line)
                   for line in order.lines):
                orders.add((order.customer_id, order.number))
    assert quotes and orders
    customers = {c for c, _ in quotes | orders}
    mart_quotes = {(c, n) for c in customers
                   for n in open_quotes(demo_mart.mart, FINANCE, c)["quote_number"]}
    mart_orders = {(c, n) for c in customers
                   for n in open_orders(demo_mart.mart, FINANCE, c)["order_number"]}
    assert mart_quotes == quotes
    assert mart_orders == orders


def test_a_customer_out_of_scope_answers_nothing_and_its_manager_sees_it(
        demo_mart: DemoMart) -> None:
    as_of = demo_mart.mart.published_at.date()
    customer_id = _busiest_customer(demo_mart)
    with Session(demo_mart.core) as session:
        manager = session.get(Customer, customer_id).account_manager_id
        other = next(rep for rep in session.scalars(select(Customer.account_manager_id))
                     if rep not in (None, manager))
    owner = Scope(role="rep", user_id=2, rep_ids=frozenset({manager}))
    stranger = Scope(role="rep", user_id=3, rep_ids=frozenset({other}))
    assert customer_engagement(demo_mart.mart, owner, customer_id, as_of)["status"] in {
        "new", "active", "at_risk", "lapsed"}
    assert customer_ar(demo_mart.mart, owner, customer_id, as_of, timezone="UTC") is not None
    assert customer_pnl(demo_mart.mart, owner, customer_id, as_of).height == 12
    assert customer_pnl(demo_mart.mart, stranger, customer_id, as_of).height == 0
    assert customer_ar(demo_mart.mart, stranger, customer_id, as_of, timezone="UTC") is None
    assert customer_engagement(demo_mart.mart, stranger, customer_id, as_of) is None
    assert open_quotes(demo_mart.mart, stranger, customer_id).height == 0
    assert open_orders(demo_mart.mart, stranger, customer_id).height == 0
    assert open_orders(demo_mart.mart, stranger, customer_id).columns == open_orders(
        demo_mart.mart, FINANCE, customer_id).columns
