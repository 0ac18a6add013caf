"""P&L drilled in any order adds up at every level and matches the core's credit notes."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.billing.models import CreditNote, CreditNoteLine
from dashboard.metrics.pnl import DIMENSIONS, MEASURES, member_values, pnl_by, pnl_totals
from dashboard.metrics.sales import sales_by, sales_totals
from dashboard.metrics.scope import Scope
from tests.dashboard.conftest import DemoMart, last_full_year

FINANCE = Scope(role="finance", user_id=1, all_reps=True)
SUMMED = [m for m in MEASURES if m != "margin_pct"]


def test_totals_match_the_sales_metric(demo_mart: DemoMart) -> None:
    period = last_full_year(demo_mart)
    totals = pnl_totals(demo_mart.mart, FINANCE, period)
    sales = sales_totals(demo_mart.mart, FINANCE, period)
    for key in ("net_sales_minor", "cost_minor", "margin_minor", "margin_pct"):
        assert totals[key] == sales[key], key


@pytest.mark.parametrize("by", sorted(DIMENSIONS))
def test_every_split_adds_up_to_its_node(demo_mart: DemoMart, by: str) -> None:
    period = last_full_year(demo_mart)
    totals = pnl_totals(demo_mart.mart, FINANCE, period)
    rows = pnl_by(demo_mart.mart, FINANCE, period, by)
    for key in SUMMED:
        assert rows[key].sum() == totals[key], key
    assert set(rows["value"].to_list()) <= member_values(demo_mart.mart, by)


def test_a_drill_path_in_any_order_adds_up_level_by_level(demo_mart: DemoMart) -> None:
    mart, period = demo_mart.mart, last_full_year(demo_mart)
    for first, second in (("channel", "rep"), ("category", "region"), ("rep", "product")):
        top = pnl_by(mart, FINANCE, period, first).row(0, named=True)
        node = ((first, top["value"]),)
        below = pnl_by(mart, FINANCE, period, second, node=node)
        for key in SUMMED:
            assert below[key].sum() == top[key], (first, second, key)
        deeper = below.row(0, named=True)
        leaf = pnl_totals(mart, FINANCE, period, node=(*node, (second, deeper["value"])))
        assert leaf["net_sales_minor"] == deeper["net_sales_minor"]


def test_rep_rows_are_the_reps_of_the_orders(demo_mart: DemoMart) -> None:
    period = last_full_year(demo_mart)
    by_rep = dict(pnl_by(demo_mart.mart, FINANCE, period, "rep").select(
        "label", "net_sales_minor").iter_rows())
    expected = dict(sales_by(demo_mart.mart, FINANCE, period, "rep").select(
        "label", "net_sales_minor").iter_rows())
    assert {k: by_rep[k] for k in expected} == expected
    assert all(by_rep[k] == 0 for k in by_rep.keys() - expected.keys())  # sales in
    # the comparison periods only


def test_settlement_discounts_and_bad_debt_equal_the_core_credit_notes(
        demo_mart: DemoMart) -> None:
    period = last_full_year(demo_mart)
    totals = pnl_totals(demo_mart.mart, FINANCE, period)
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
    period = last_full_year(demo_mart)
    rows = pnl_by(demo_mart.mart, FINANCE, period, "channel")
    prior = pnl_by(demo_mart.mart, FINANCE, period.prior(), "channel")
    assert rows["net_sales_prior_minor"].sum() == prior["net_sales_minor"].sum()
    last_year = pnl_by(demo_mart.mart, FINANCE, period.last_year(), "channel")
    assert rows["net_sales_last_year_minor"].sum() == last_year["net_sales_minor"].sum()
