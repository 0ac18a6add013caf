"""Net sales, cost and margin from the mart match the core's own records to the cent."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

import polars as pl
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.billing.models import CreditNote, CreditNoteLine, Invoice, InvoiceLine
from core.sales.models import SalesOrder
from dashboard.metrics import sales
from dashboard.metrics.mart import Mart
from dashboard.metrics.period import Period
from dashboard.metrics.sales import net_sales_total, sales_by, sales_totals
from dashboard.metrics.scope import Scope
from dashboard.metrics.selection import EVERYTHING, Slice
from dashboard.metrics.targets import attainment_by
from tests.dashboard.conftest import DemoMart

FINANCE = Scope(role="finance", user_id=1, all_reps=True)
POSTED = "posted"


def _cents(amount: Decimal | None) -> int:
    return int((amount or Decimal(0)) * 100)


def _core_invoiced(session: Session, period: Period) -> dict[int | None, tuple[int, int]]:
    """Invoice line net and cost per order rep, from the core."""
    rows = session.execute(
        select(SalesOrder.rep_id, func.sum(InvoiceLine.base_net_amount),
               func.sum(InvoiceLine.cost_amount))
        .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
        .join(SalesOrder, SalesOrder.id == Invoice.order_id)
        .where(Invoice.status == POSTED,
               Invoice.invoice_date.between(period.start, period.end))
        .group_by(SalesOrder.rep_id))
    return {rep: (_cents(net), _cents(cost)) for rep, net, cost in rows}


def _core_credited_net(session: Session, period: Period) -> int:
    (net,) = session.execute(
        select(func.sum(CreditNoteLine.base_net_amount))
        .join(CreditNote, CreditNote.id == CreditNoteLine.credit_note_id)
        .where(CreditNote.status == POSTED,
               CreditNote.reason.not_in(["settlement_discount", "bad_debt"]),
               CreditNote.credit_date.between(period.start, period.end))).one()
    return _cents(net)


def _last_full_year(demo: DemoMart) -> Period:
    year = demo.mart.published_at.year - 1
    return Period(date(year, 1, 1), date(year, 12, 31))


def test_net_sales_for_everyone_equal_invoices_less_credit_notes_in_the_core(
        demo_mart: DemoMart) -> None:
    period = _last_full_year(demo_mart)
    with Session(demo_mart.core) as session:
        invoiced = sum(net for net, _ in _core_invoiced(session, period).values())
        credited = _core_credited_net(session, period)
    totals = sales_totals(demo_mart.mart, FINANCE, period)
    assert credited > 0 and invoiced > credited
    assert totals["net_sales_minor"] == invoiced - credited


def test_invoiced_sales_and_cost_per_rep_match_the_core(
        demo_mart: DemoMart, monkeypatch: pytest.MonkeyPatch) -> None:
    period = _last_full_year(demo_mart)
    # The invoice lines alone: agg_sales_month holds the credit notes too, so no month
    # is read from it here (the aggregate's own test compares it with the lines).
    monkeypatch.setattr(sales, "reads_months", lambda _keys: False)
    lines = demo_mart.mart.frame("fct_sales_line")
    invoices_only = replace(demo_mart.mart, tables={
        **demo_mart.mart.tables,
        "fct_sales_line": lines.filter(pl.col("source_type") == "invoice")})
    by_rep = sales_by(invoices_only, FINANCE, period, "rep").join(
        demo_mart.mart.frame("dim_rep").select("rep_key", "rep_id"), on="rep_key")
    mart = {row["rep_id"]: (row["net_sales_minor"], row["cost_minor"])
            for row in by_rep.iter_rows(named=True)}
    with Session(demo_mart.core) as session:
        core = _core_invoiced(session, period)
    assert len(core) > 3
    assert mart == core


def test_a_rep_sees_only_sales_attributed_to_them(demo_mart: DemoMart) -> None:
    period = _last_full_year(demo_mart)
    everyone = sales_by(demo_mart.mart, FINANCE, period, "rep")
    top = everyone.row(0, named=True)
    rep_id = demo_mart.mart.frame("dim_rep").filter(
        pl.col("rep_key") == top["rep_key"])["rep_id"].item()
    rep = Scope(role="rep", user_id=9, rep_ids=frozenset({rep_id}))
    mine = sales_by(demo_mart.mart, rep, period, "rep")
    assert mine["rep_key"].to_list() == [top["rep_key"]]
    assert sales_totals(demo_mart.mart, rep, period)["net_sales_minor"] == top[
        "net_sales_minor"]
    assert everyone["net_sales_minor"].sum() == sales_totals(
        demo_mart.mart, FINANCE, period)["net_sales_minor"]
    for scope, expected in ((rep, top["net_sales_minor"]),
                            (FINANCE, everyone["net_sales_minor"].sum())):
        assert net_sales_total(demo_mart.mart, scope, period) == expected != 0


def test_margin_percent_is_a_ratio_of_sums_and_blank_without_sales(
        demo_mart: DemoMart) -> None:
    period = _last_full_year(demo_mart)
    totals = sales_totals(demo_mart.mart, FINANCE, period)
    assert totals["margin_pct"] == (totals["net_sales_minor"] - totals["cost_minor"]) / totals[
        "net_sales_minor"]
    empty = sales_totals(demo_mart.mart, FINANCE, Period(date(1990, 1, 1), date(1990, 1, 2)))
    assert empty["net_sales_minor"] == 0 and empty["margin_pct"] is None


@pytest.mark.parametrize("by", ["month", "rep", "channel", "region"])
def test_whole_months_from_the_aggregate_equal_the_lines(
        demo_mart: DemoMart, monkeypatch: pytest.MonkeyPatch, by: str) -> None:
    """A year, a period of whole months and edge days, days within one month; everyone and
    a region slice: net sales by ``by``, the total and attainment per rep read whole months
    from ``agg_sales_month`` and equal the lines alone."""
    mart, year = demo_mart.mart, _last_full_year(demo_mart)
    periods = [year, Period(year.start + timedelta(days=45), year.end - timedelta(days=40)),
               Period(year.start + timedelta(days=3), year.start + timedelta(days=20))]
    region = sales_by(mart, FINANCE, year, "region")["region_key"][0]
    code = mart.frame("dim_region").filter(pl.col("region_key") == region)["region_code"][0]
    selections = [EVERYTHING, Slice(region_codes=frozenset({code}))]

    def answers() -> list[object]:
        return [(sales_by(mart, FINANCE, p, by, s), net_sales_total(mart, FINANCE, p, s),
                 attainment_by(mart, FINANCE, p, "rep", s))
                for p in periods for s in selections]

    with_months = answers()
    assert sales.reads_months([f"{by}_key" if by != "month" else "month_key"])
    monkeypatch.setattr(sales, "reads_months", lambda _keys: False)
    for (rows, total, reps), (lines, line_total, line_reps) in zip(
            with_months, answers(), strict=True):
        assert rows.equals(lines) and total == line_total and reps.equals(line_reps)
        assert total > 0


def sales_line_days(mart: Mart) -> pl.DataFrame:
    """Each order's invoice days with its next invoice day (null on its last)."""
    return (mart.lazy("fct_sales_line").filter(pl.col("source_type") == "invoice")
            .select("order_id", "date_key").unique().sort("order_id", "date_key")
            .with_columns(pl.col("date_key").shift(-1).over("order_id").alias("next_key"))
            .collect())


def test_orders_invoiced_per_day_count_what_the_lines_count(demo_mart: DemoMart) -> None:
    """``sales_totals`` counts distinct orders invoiced from the batch's orders per day
    (``orders_invoiced``): the same count as over the lines themselves, in every scope and
    slice, for whole and part months; checked against the core's invoices for everyone."""
    mart, year = demo_mart.mart, _last_full_year(demo_mart)
    rep_key = sales_by(mart, FINANCE, year, "rep")["rep_key"][0]
    rep_id = mart.frame("dim_rep").filter(pl.col("rep_key") == rep_key)["rep_id"][0]
    region = sales_by(mart, FINANCE, year, "region")["region_key"][0]
    code = mart.frame("dim_region").filter(pl.col("region_key") == region)["region_code"][0]
    periods = [year, Period(year.start + timedelta(days=45), year.end - timedelta(days=40)),
               Period(year.start + timedelta(days=3), year.start + timedelta(days=20))]
    for period in periods:
        for scope, selection in ((FINANCE, EVERYTHING),
                                 (Scope("rep", 2, rep_ids=frozenset({rep_id})), EVERYTHING),
                                 (FINANCE, Slice(region_codes=frozenset({code})))):
            lines = sales.sales_lines(mart, scope, period, selection).select(
                sales.ORDERS_INVOICED).collect().item()
            assert sales_totals(mart, scope, period, selection)["orders_invoiced"] == lines
    # An order invoiced before a period and again in it counts once, in the period: the
    # fixture has such orders (the count reads each order's previous invoice day).
    days = sales_line_days(mart)
    assert any(days.filter((pl.col("date_key") < p.start_key)
                           & (pl.col("next_key").is_between(p.start_key, p.end_key))).height
               for p in periods)
    with Session(demo_mart.core) as session:
        core = session.scalar(select(func.count(func.distinct(Invoice.order_id))).where(
            Invoice.status == "posted", Invoice.invoice_date.between(year.start, year.end)))
    assert core and sales_totals(mart, FINANCE, year)["orders_invoiced"] == core
