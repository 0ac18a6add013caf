"""P&L drilled in any order adds up at every level (every contribution term included) and
matches the core: credit notes, shipments' freight cost, and the financing cost computed
from invoices, payment allocations and open items."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

import polars as pl
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.billing.models import Allocation, CreditNote, CreditNoteLine, Invoice, Payment
from core.company.models import CompanySettings
from core.fulfilment.models import Shipment
from core.sales.models import SalesOrder
from core.types import round_money, to_minor
from dashboard.metrics import pnl
from dashboard.metrics.mart import Mart
from dashboard.metrics.period import Period
from dashboard.metrics.pnl import (
    DIMENSIONS,
    MEASURES,
    member_values,
    pnl_by,
    pnl_totals,
    totals_of,
)
from dashboard.metrics.sales import sales_by, sales_totals
from dashboard.metrics.scope import Scope
from tests.dashboard.conftest import DemoMart, last_full_year
from tests.dashboard.metrics.core_receivables import BASE, base_share

FINANCE = Scope(role="finance", user_id=1, all_reps=True)
SUMMED = [m for m in MEASURES if m != "margin_pct"]
COSTS = ("freight_cost_minor", "financing_cost_minor")


def company_rate(demo: DemoMart) -> Decimal:
    """The demo company's financing rate, read from the core's settings."""
    with Session(demo.core) as session:
        return session.get_one(CompanySettings, 1).financing_rate


def test_totals_match_the_sales_metric(demo_mart: DemoMart) -> None:
    period = last_full_year(demo_mart)
    totals = pnl_totals(demo_mart.mart, FINANCE, period, rate=company_rate(demo_mart))
    sales = sales_totals(demo_mart.mart, FINANCE, period)
    for key in ("net_sales_minor", "cost_minor", "margin_minor", "margin_pct"):
        assert totals[key] == sales[key], key


@pytest.mark.parametrize("by", sorted(DIMENSIONS))
def test_every_split_adds_up_to_its_node(demo_mart: DemoMart, by: str) -> None:
    period, rate = last_full_year(demo_mart), company_rate(demo_mart)
    totals = pnl_totals(demo_mart.mart, FINANCE, period, rate=rate)
    assert all(totals[cost] > 0 for cost in COSTS)
    rows = pnl_by(demo_mart.mart, FINANCE, period, by, rate=rate)
    for key in SUMMED:
        assert rows[key].sum() == totals[key], key
    assert totals_of(rows) == totals
    assert set(rows["value"].to_list()) <= member_values(demo_mart.mart, by)
    contribution = (rows["margin_minor"] + rows["freight_charged_minor"]
                    - rows["freight_cost_minor"] - rows["settlement_discount_minor"]
                    - rows["bad_debt_minor"] - rows["financing_cost_minor"])
    assert (rows["contribution_minor"] == contribution).all()


@pytest.mark.parametrize("path", [(first, second) for first in sorted(DIMENSIONS)
                                  for second in sorted(DIMENSIONS) if second != first])
def test_a_drill_path_in_any_order_adds_up_level_by_level(demo_mart: DemoMart,
                                                          path: tuple[str, str]) -> None:
    mart, period, rate = demo_mart.mart, last_full_year(demo_mart), company_rate(demo_mart)
    first, second = path
    top = pnl_by(mart, FINANCE, period, first, rate=rate).row(0, named=True)
    node = ((first, top["value"]),)
    below = pnl_by(mart, FINANCE, period, second, node=node, rate=rate)
    for key in SUMMED:
        assert below[key].sum() == top[key], key
    deeper = below.row(0, named=True)
    leaf = pnl_totals(mart, FINANCE, period, node=(*node, (second, deeper["value"])),
                      rate=rate)
    assert {key: leaf[key] for key in SUMMED} == {key: deeper[key] for key in SUMMED}


def test_rep_rows_are_the_reps_of_the_orders(demo_mart: DemoMart) -> None:
    period = last_full_year(demo_mart)
    by_rep = dict(pnl_by(demo_mart.mart, FINANCE, period, "rep",
                         rate=company_rate(demo_mart)).select(
        "label", "net_sales_minor").iter_rows())
    expected = dict(sales_by(demo_mart.mart, FINANCE, period, "rep").select(
        "label", "net_sales_minor").iter_rows())
    assert {k: by_rep[k] for k in expected} == expected
    assert all(by_rep[k] == 0 for k in by_rep.keys() - expected.keys())  # sales in
    # the comparison periods only


def test_settlement_discounts_and_bad_debt_equal_the_core_credit_notes(
        demo_mart: DemoMart) -> None:
    period = last_full_year(demo_mart)
    totals = pnl_totals(demo_mart.mart, FINANCE, period, rate=company_rate(demo_mart))
    with Session(demo_mart.core) as session:
        for reason in ("settlement_discount", "bad_debt"):
            credited = session.scalar(
                select(func.sum(CreditNoteLine.base_net_amount))
                .join(CreditNote, CreditNote.id == CreditNoteLine.credit_note_id)
                .where(CreditNote.status == "posted", CreditNote.reason == reason,
                       CreditNote.credit_date.between(period.start, period.end)))
            assert totals[f"{reason}_minor"] == int((credited or Decimal(0)) * 100), reason
    assert totals["settlement_discount_minor"] > 0


def test_comparisons_are_the_same_rows_over_the_prior_period_and_last_year(
        demo_mart: DemoMart) -> None:
    period, rate = last_full_year(demo_mart), company_rate(demo_mart)
    rows = pnl_by(demo_mart.mart, FINANCE, period, "channel", rate=rate)
    prior = pnl_by(demo_mart.mart, FINANCE, period.prior(), "channel", rate=rate)
    assert rows["net_sales_prior_minor"].sum() == prior["net_sales_minor"].sum()
    last_year = pnl_by(demo_mart.mart, FINANCE, period.last_year(), "channel", rate=rate)
    assert rows["net_sales_last_year_minor"].sum() == last_year["net_sales_minor"].sum()


@pytest.mark.parametrize("by", ["channel", "rep", "region", "category"])
def test_whole_months_from_the_aggregate_equal_the_lines(
        demo_mart: DemoMart, monkeypatch: pytest.MonkeyPatch, by: str) -> None:
    """Split periods (whole months and edge days; days within one month) and a node: the
    same rows, comparisons included, with the aggregate as from the lines alone."""
    mart, rate, year = demo_mart.mart, company_rate(demo_mart), last_full_year(demo_mart)
    periods = [year, Period(year.start + timedelta(days=45), year.end - timedelta(days=40)),
               Period(year.start + timedelta(days=3), year.start + timedelta(days=20))]
    top = pnl_by(mart, FINANCE, year, "channel" if by != "channel" else "region",
                 rate=rate).row(0, named=True)
    node = (("channel" if by != "channel" else "region", top["value"]),)
    answers = [(period, node_, pnl_by(mart, FINANCE, period, by, node=node_, rate=rate))
               for period in periods for node_ in ((), node)]
    assert any(rows["net_sales_last_year_minor"].sum() != 0 for _, _, rows in answers)
    monkeypatch.setattr(pnl, "_uses_aggregate", lambda *_: False)
    for period, node_, rows in answers:
        assert rows.equals(pnl_by(mart, FINANCE, period, by, node=node_, rate=rate)), (
            period, node_)


def test_freight_without_sales_in_a_comparison_month_adds_no_member(
        demo_mart: DemoMart) -> None:
    """A grain of ``agg_sales_month`` with freight cost only (shipped in a month nothing
    was invoiced) in the prior period: no comparison row for a member without sales."""
    mart, rate, year = demo_mart.mart, company_rate(demo_mart), last_full_year(demo_mart)
    rows = pnl_by(mart, FINANCE, year, "region", rate=rate)
    regions = mart.frame("dim_region").filter(pl.col("region_key") >= 0)
    idle = regions.filter(~pl.col("region_code").is_in(rows["value"].to_list()))
    region_key = int(idle["region_key"][0]) if idle.height else -1
    aggregate = mart.frame("agg_sales_month")
    freight_only = aggregate.head(1).with_columns(
        pl.lit(region_key, pl.Int32).alias("region_key"),
        pl.lit(year.prior().start.year * 100 + year.prior().start.month, pl.Int32)
        .alias("month_key"),
        *(pl.lit(0, aggregate[c].dtype).alias(c) for c in aggregate.columns
          if c.endswith("_minor") or c in ("line_count", "quantity")),
    ).with_columns(pl.lit(12_345, pl.Int64).alias("freight_cost_minor"))
    shipped = Mart(mart.batch_id, mart.published_at,
                   {**mart.tables, "agg_sales_month": pl.concat([aggregate, freight_only])})
    assert pnl_by(shipped, FINANCE, year, "region", rate=rate).equals(rows)


# --- freight cost and financing cost against the core's own records ----------------------

def core_freight_cost(session: Session, period: Period) -> dict[int, int]:
    """Σ freight cost of shipments shipped in ``period`` per customer of the order, cents."""
    rows = session.execute(
        select(SalesOrder.customer_id, func.sum(Shipment.freight_cost))
        .join(SalesOrder, SalesOrder.id == Shipment.order_id)
        .where(Shipment.status == "shipped",
               Shipment.shipped_date.between(period.start, period.end))
        .group_by(SalesOrder.customer_id))
    return {customer: to_minor(amount, BASE) for customer, amount in rows}


def core_financing_cost(session: Session, period: Period, rate: Decimal) -> dict[int, int]:
    """KPIS financing cost per customer, cents (``core_invoice_financing_cost`` summed)."""
    invoices = dict(session.execute(select(Invoice.number, Invoice.customer_id)).all())
    costs: dict[int, int] = defaultdict(int)
    for number, cost in core_invoice_financing_cost(session, period, rate).items():
        costs[invoices[number]] += cost
    return {customer: cost for customer, cost in costs.items() if cost}


def core_invoice_financing_cost(session: Session, period: Period,
                                rate: Decimal) -> dict[str, int]:
    """KPIS financing cost per invoice number, cents, from posted invoices and allocations: each
    receipt applied in ``period`` (base at the invoice's rate) × days its payment came after
    the due date, plus each invoice's open amount at the period's end × its overdue days in
    the period; × rate / 365, half-up per invoice. Credit notes only reduce open amounts."""
    invoices = {inv.id: inv for inv in session.scalars(
        select(Invoice).where(Invoice.status == "posted"))}
    received = {row.id: row.received_date
                for row in session.execute(select(Payment.id, Payment.received_date))}
    minor_days: dict[int, int] = defaultdict(int)
    applied_by_end: dict[int, Decimal] = defaultdict(Decimal)
    for allocation in session.scalars(select(Allocation).where(
            Allocation.target_invoice_id.is_not(None))):
        invoice = invoices[allocation.target_invoice_id]  # type: ignore[index]
        if allocation.allocation_date <= period.end:
            applied_by_end[invoice.id] += allocation.amount
        if (allocation.source_payment_id is not None
                and period.start <= allocation.allocation_date <= period.end):
            late = (received[allocation.source_payment_id] - invoice.due_date).days
            base = round_money(allocation.amount * invoice.fx_rate, BASE)
            minor_days[invoice.id] += to_minor(base, BASE) * max(0, late)
    for invoice in invoices.values():
        open_amount = invoice.total_amount - applied_by_end[invoice.id]
        if invoice.invoice_date > period.end or open_amount <= 0:
            continue
        overdue = (period.end - max(invoice.due_date, period.start - timedelta(days=1))).days
        open_base = base_share(invoice.base_total_amount, open_amount, invoice.total_amount)
        minor_days[invoice.id] += to_minor(open_base, BASE) * max(0, overdue)
    costs = {invoices[invoice_id].number: int((days * rate / 365).quantize(
        Decimal(1), rounding=ROUND_HALF_UP)) for invoice_id, days in minor_days.items()}
    return {number: cost for number, cost in costs.items() if cost}


def _periods(demo: DemoMart) -> list[Period]:
    """The last full year, and the 90 days up to the batch (invoices still open at its
    end)."""
    today = demo.mart.published_at.date()
    return [last_full_year(demo), Period(today - timedelta(days=89), today)]


def test_freight_and_financing_cost_per_customer_equal_the_core_records(
        demo_mart: DemoMart) -> None:
    rate = company_rate(demo_mart)
    for period in _periods(demo_mart):
        rows = pnl_by(demo_mart.mart, FINANCE, period, "customer", rate=rate)
        with Session(demo_mart.core) as session:
            freight = core_freight_cost(session, period)
            financing = core_financing_cost(session, period, rate)
        for column, core in (("freight_cost_minor", freight),
                             ("financing_cost_minor", financing)):
            mart = {int(value): cost for value, cost in rows.select("value", column).iter_rows()
                    if cost}
            assert mart == core, (period, column)
            assert len(core) > 5, (period, column)


def test_a_higher_rate_costs_more_and_a_zero_rate_nothing(demo_mart: DemoMart) -> None:
    period = last_full_year(demo_mart)
    costs = [pnl_totals(demo_mart.mart, FINANCE, period, rate=Decimal(r))
             for r in ("0", "0.08", "0.16")]
    assert [c["financing_cost_minor"] for c in costs][0] == 0
    assert 0 < costs[1]["financing_cost_minor"] < costs[2]["financing_cost_minor"]
    assert costs[0]["contribution_minor"] - costs[2]["contribution_minor"] == costs[2][
        "financing_cost_minor"]
