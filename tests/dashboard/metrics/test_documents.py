"""The documents behind a figure add up to the figure, in the same scope."""

from __future__ import annotations

import polars as pl
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.billing.models import Invoice
from core.fulfilment.models import Shipment
from core.sales.models import SalesOrder
from core.types import to_minor
from dashboard.metrics.documents import (
    Drill,
    financing_documents,
    freight_documents,
    movement_documents,
    opportunity_documents,
    order_documents,
    quote_documents,
    sales_documents,
)
from dashboard.metrics.orders import order_totals
from dashboard.metrics.period import Period
from dashboard.metrics.pipeline import pipeline_by, pipeline_movement, pipeline_totals
from dashboard.metrics.pnl import pnl_by, pnl_totals
from dashboard.metrics.quotes import quotes_by
from dashboard.metrics.sales import sales_by, sales_totals
from dashboard.metrics.scope import Scope
from dashboard.metrics.selection import Slice
from tests.dashboard.conftest import DemoMart, last_full_year, manager_scope
from tests.dashboard.metrics.core_receivables import BASE
from tests.dashboard.metrics.test_pnl import company_rate, core_invoice_financing_cost

FINANCE = Scope(role="finance", user_id=1, all_reps=True)


def test_sales_documents_add_up_to_net_sales_and_cost(demo_mart: DemoMart) -> None:
    period = last_full_year(demo_mart)
    documents = sales_documents(demo_mart.mart, FINANCE, period)
    totals = sales_totals(demo_mart.mart, FINANCE, period)
    assert documents["net_sales_minor"].sum() == totals["net_sales_minor"]
    assert documents["cost_minor"].sum() == totals["cost_minor"]
    invoices = documents.filter(pl.col("type") == "Invoice")
    with Session(demo_mart.core) as session:
        posted = session.scalar(select(func.count(Invoice.id)).join(
            SalesOrder, SalesOrder.id == Invoice.order_id).where(
            Invoice.status == "posted", Invoice.invoice_date.between(period.start, period.end)))
    assert invoices.height == posted
    assert documents.select("type", "document_number").is_unique().all()


def test_a_customers_documents_add_up_to_its_row_and_stay_in_scope(demo_mart: DemoMart) -> None:
    period = last_full_year(demo_mart)
    by_customer = sales_by(demo_mart.mart, FINANCE, period, "customer")
    customer_id, net = by_customer.select("customer_id", "net_sales_minor").row(0)
    documents = sales_documents(demo_mart.mart, FINANCE, period, drill=Drill(customer_id))
    assert set(documents["customer_id"]) == {customer_id}
    assert documents["net_sales_minor"].sum() == net
    nobody = Scope(role="rep", user_id=9, rep_ids=frozenset({10**9}))
    assert sales_documents(demo_mart.mart, nobody, period, drill=Drill(customer_id)).is_empty()


def test_orders_quotes_and_opportunities_add_up_to_their_figures(demo_mart: DemoMart) -> None:
    mart, period = demo_mart.mart, last_full_year(demo_mart)
    orders = order_documents(mart, FINANCE, period)
    counted = orders.filter(pl.col("status").is_in(["confirmed", "closed"]))
    assert counted.height == order_totals(mart, FINANCE, period)["orders"] > 0
    for status, net in quotes_by(mart, FINANCE, period, "status").select(
            "status", "net_minor").iter_rows():
        quotes = quote_documents(mart, FINANCE, period, drill=Drill(status=status))
        assert quotes["net_minor"].sum() == net, status
    opportunities = opportunity_documents(mart, FINANCE, period)
    assert opportunities["amount_minor"].sum() == pipeline_totals(
        mart, FINANCE, period.end)["pipeline_minor"]
    stage, amount = pipeline_by(mart, FINANCE, period.end, "stage").select(
        "stage", "pipeline_minor").row(0)
    staged = opportunity_documents(mart, FINANCE, period, drill=Drill(stage=stage))
    assert set(staged["stage"]) == {stage} and staged["amount_minor"].sum() == amount


def test_opportunities_expected_to_close_in_a_month_add_up_to_its_bar(demo_mart: DemoMart) -> None:
    mart, period = demo_mart.mart, last_full_year(demo_mart)
    months = pipeline_by(mart, FINANCE, period.end, "close_month")
    assert months.height > 1
    for key, amount in months.select("expected_close_month_key", "pipeline_minor").iter_rows():
        listed = opportunity_documents(mart, FINANCE, period, drill=Drill(close_month_key=key))
        assert listed["amount_minor"].sum() == amount, key
        assert {(d.year * 100 + d.month) for d in listed["expected_close"]} == {key}


def test_the_movement_behind_each_waterfall_step_adds_up_to_it(demo_mart: DemoMart) -> None:
    mart, period = demo_mart.mart, last_full_year(demo_mart)
    steps = pipeline_movement(mart, FINANCE, period.start, period.end)
    moved = movement_documents(mart, FINANCE, period)
    assert moved.select("opportunity_id").is_unique().all()
    assert moved["customer"].null_count() == 0
    for step, amount, count in steps.iter_rows():
        if step in ("opening", "closing"):
            continue
        listed = movement_documents(mart, FINANCE, period, drill=Drill(step=step))
        assert (listed["change_minor"].sum(), listed.height) == (amount, count), step
    opening = opportunity_documents(mart, FINANCE, Period(period.start, period.start))
    assert opening["amount_minor"].sum() == steps["amount_minor"][0]


# --- the shipments and invoices behind the P&L's freight and financing cost ---------------

def test_each_shipment_lists_its_whole_freight_cost_as_the_core_records_it(
        demo_mart: DemoMart) -> None:
    period = last_full_year(demo_mart)
    listed = freight_documents(demo_mart.mart, FINANCE, period)
    with Session(demo_mart.core) as session:
        core = {number: to_minor(cost, BASE) for number, cost in session.execute(
            select(Shipment.number, Shipment.freight_cost).where(
                Shipment.status == "shipped", Shipment.freight_cost != 0,
                Shipment.shipped_date.between(period.start, period.end))).all()}
    assert dict(listed.select("shipment_number", "freight_cost_minor").iter_rows()) == core
    assert listed["freight_cost_minor"].sum() == pnl_totals(
        demo_mart.mart, FINANCE, period, rate=company_rate(demo_mart))["freight_cost_minor"]
    assert listed["customer"].null_count() == listed["order_number"].null_count() == 0


def test_each_invoice_lists_its_financing_cost_as_computed_from_the_core(
        demo_mart: DemoMart) -> None:
    period, rate = last_full_year(demo_mart), company_rate(demo_mart)
    listed = financing_documents(demo_mart.mart, FINANCE, period, rate=rate)
    with Session(demo_mart.core) as session:
        core = core_invoice_financing_cost(session, period, rate)
    assert dict(listed.select("document_number", "financing_cost_minor").iter_rows()) == core
    assert len(core) > 5
    # Every cost comes from cash received late or an invoice still overdue at the end.
    assert listed.filter((pl.col("paid_late_minor") <= 0) & (pl.col("open_minor") <= 0)
                         ).is_empty()
    assert (listed["due_date"] <= period.end).all()


def _nested_nodes(demo_mart: DemoMart, scope: Scope) -> list[tuple[str, str, str, str]]:
    """Nested P&L nodes (dimension, value, dimension, value) with freight and financing
    cost: the largest rep × each category, the largest channel × its largest customer."""
    mart, period, rate = demo_mart.mart, last_full_year(demo_mart), company_rate(demo_mart)
    nodes = []
    rep = pnl_by(mart, scope, period, "rep", rate=rate)["value"][0]
    nodes += [("rep", rep, "category", category) for category in pnl_by(
        mart, scope, period, "category", node=(("rep", rep),), rate=rate)["value"]]
    channel = pnl_by(mart, scope, period, "channel", rate=rate)["value"][0]
    customer = pnl_by(mart, scope, period, "customer", node=(("channel", channel),),
                      rate=rate)["value"][0]
    return [*nodes, ("channel", channel, "customer", customer)]


def _listed_for(demo_mart: DemoMart, scope: Scope, node: tuple[str, str, str, str],
                ) -> tuple[dict[str, int | float | None], int, int]:
    """The P&L cell of ``node`` and the freight and financing lists' sums for it, the
    outer member as the Documents page's global filter, the inner one as its drill."""
    mart, period, rate = demo_mart.mart, last_full_year(demo_mart), company_rate(demo_mart)
    outer, outer_value, inner, inner_value = node
    totals = pnl_totals(mart, scope, period, node=((outer, outer_value), (inner, inner_value)),
                        rate=rate)
    selection = (Slice(rep_ids=frozenset({int(outer_value)})) if outer == "rep"
                 else Slice(channel_codes=frozenset({outer_value})))
    drill = (Drill(category=inner_value) if inner == "category"
             else Drill(customer_id=int(inner_value)))
    freight = freight_documents(mart, scope, period, selection, drill)
    financing = financing_documents(mart, scope, period, selection, drill, rate=rate)
    return (totals, int(freight["freight_cost_minor"].sum()),
            int(financing["financing_cost_minor"].sum()))


def test_the_lists_behind_a_nested_pnl_node_add_up_to_its_freight_and_financing_cost(
        demo_mart: DemoMart) -> None:
    nodes = _nested_nodes(demo_mart, FINANCE)
    assert len(nodes) > 2
    costly = 0
    for node in nodes:
        totals, freight, financing = _listed_for(demo_mart, FINANCE, node)
        assert (freight, financing) == (totals["freight_cost_minor"],
                                        totals["financing_cost_minor"]), node
        costly += freight > 0 and financing > 0
    assert costly >= 2


def test_a_managers_lists_add_up_to_the_teams_pnl_and_hold_only_the_team(
        demo_mart: DemoMart) -> None:
    team = manager_scope(demo_mart)
    for node in _nested_nodes(demo_mart, team):
        totals, freight, financing = _listed_for(demo_mart, team, node)
        assert (freight, financing) == (totals["freight_cost_minor"],
                                        totals["financing_cost_minor"]), node
    mart, period = demo_mart.mart, last_full_year(demo_mart)
    names = set(mart.frame("dim_rep").filter(pl.col("rep_id").is_in(sorted(team.rep_ids)))[
        "name"])
    rate = company_rate(demo_mart)
    for listed in (freight_documents(mart, team, period),
                   financing_documents(mart, team, period, rate=rate)):
        assert 0 < listed.height and set(listed["rep"]) <= names
    assert freight_documents(mart, team, period).height < freight_documents(
        mart, FINANCE, period).height
