"""The documents behind a figure add up to the figure, in the same scope."""

from __future__ import annotations

import polars as pl
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.billing.models import Invoice
from core.sales.models import SalesOrder
from dashboard.metrics.documents import (
    Drill,
    movement_documents,
    opportunity_documents,
    order_documents,
    quote_documents,
    sales_documents,
)
from dashboard.metrics.orders import order_totals
from dashboard.metrics.period import Period
from dashboard.metrics.pipeline import pipeline_by, pipeline_movement, pipeline_totals
from dashboard.metrics.quotes import quotes_by
from dashboard.metrics.sales import sales_by, sales_totals
from dashboard.metrics.scope import Scope
from tests.dashboard.conftest import DemoMart, last_full_year

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
