"""The documents behind a figure (drill-through), in the same scope and slice as the figure,
so a list's amounts add up to the figure it was opened from.

- **sales** (net sales, cost, margin): one row per document with rows in ``fct_sales_line``
  dated in the period — invoices, credit notes, RMA cost events — with its net sales (as
  ``dashboard.metrics.sales.NET``), cost and margin;
- **orders**: orders with an order date in the period (drafts left out), status and amount;
- **quotes**: quotes dated in the period (every revision), status and amount;
- **opportunities**: opportunities open at the end of the period (``pipeline``), stage,
  amount and probability;
- **movement**: the opportunities behind the pipeline movement between the period's start
  and end (``pipeline.movement_by_opportunity``), with their step and change;
- **freight** (the P&L's freight cost): one row per shipment with freight cost rows
  (``fct_freight_cost``) shipped in the period, with its freight cost;
- **financing** (the P&L's financing cost): one row per invoice with a financing cost in the
  period (``dashboard.metrics.financing``), with the terms behind it.

A ``Drill`` narrows the list further: one customer, one product category or product (sales,
freight, financing — the P&L's own node filter, ``pnl.in_node``, so a list adds up to its P&L
cell), one status (quotes, orders), one stage or expected close month (opportunities), one
movement step. Scope first, as everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import polars as pl

from dashboard.metrics.financing import financing_terms
from dashboard.metrics.mart import Mart
from dashboard.metrics.period import Period, date_of_key
from dashboard.metrics.pipeline import instant, movement_by_opportunity, open_opportunities
from dashboard.metrics.pnl import Node, financing_rows, freight_lines, in_node
from dashboard.metrics.sales import NET, sales_lines
from dashboard.metrics.scope import Scope
from dashboard.metrics.selection import EVERYTHING, Slice, attributed

KINDS = {"sales": "Invoices and credit notes", "orders": "Orders", "quotes": "Quotes",
         "opportunities": "Open opportunities", "movement": "Pipeline movement",
         "freight": "Shipments (freight cost)", "financing": "Invoices (financing cost)"}
SOURCE_LABELS = {"invoice": "Invoice", "credit_note": "Credit note", "rma_cost": "RMA cost",
                 "replacement": "Replacement"}


@dataclass(frozen=True)
class Drill:
    """What the list is narrowed to besides the period and slice (None: no narrowing)."""

    customer_id: int | None = None
    category: str | None = None
    product_id: int | None = None
    status: str | None = None
    stage: str | None = None
    close_month_key: int | None = None
    """Expected close month (YYYYMM) of an opportunity."""
    step: str | None = None
    """Pipeline movement step (``pipeline.MOVEMENT_STEPS``)."""


NO_DRILL = Drill()


def _named(mart: Mart, frame: pl.LazyFrame) -> pl.LazyFrame:
    """Adds ``customer`` (current name) and ``rep`` (name) to rows with ``customer_id`` and
    ``rep_key``."""
    customers = mart.lazy("dim_customer").filter(pl.col("is_current")).select(
        "customer_id", pl.col("name").alias("customer"))
    reps = mart.lazy("dim_rep").select("rep_key", pl.col("name").alias("rep"))
    return frame.join(customers, on="customer_id", how="left").join(reps, on="rep_key",
                                                                     how="left")


def pnl_node(drill: Drill) -> Node:
    """The P&L node of the drill's customer, product category and product."""
    return tuple((dimension, str(value)) for dimension, value in (
        ("customer", drill.customer_id), ("category", drill.category),
        ("product", drill.product_id)) if value is not None)


def _for_customer(frame: pl.LazyFrame, drill: Drill) -> pl.LazyFrame:
    if drill.customer_id is None:
        return frame
    return frame.filter(pl.col("customer_id") == drill.customer_id)


def sales_documents(mart: Mart, scope: Scope, period: Period, selection: Slice = EVERYTHING,
                    drill: Drill = NO_DRILL) -> pl.DataFrame:
    """One row per document: ``type``, ``document_number``, ``date``, ``customer_id``,
    ``customer``, ``rep``, ``net_sales_minor``, ``cost_minor``, ``margin_minor``; newest
    first."""
    lines = in_node(mart, sales_lines(mart, scope, period, selection), pnl_node(drill))
    documents = lines.group_by("source_type", "document_id", "document_number").agg(
        pl.col("date_key").min(), pl.col("customer_id").first(), pl.col("rep_key").first(),
        NET.sum().alias("net_sales_minor"), pl.col("cost_minor").sum())
    return (
        _named(mart, documents)
        .with_columns(pl.col("source_type").replace_strict(SOURCE_LABELS).alias("type"),
                      date_of_key("date_key").alias("date"),
                      (pl.col("net_sales_minor") - pl.col("cost_minor")).alias("margin_minor"))
        .sort(["date_key", "document_number"], descending=[True, False])
        .select("type", "document_number", "date", "customer_id", "customer", "rep",
                "net_sales_minor", "cost_minor", "margin_minor")
        .collect()
    )


def order_documents(mart: Mart, scope: Scope, period: Period, selection: Slice = EVERYTHING,
                    drill: Drill = NO_DRILL) -> pl.DataFrame:
    """Orders dated in ``period`` (not drafts): ``order_number``, ``date``, ``status``,
    ``customer_id``, ``customer``, ``rep``, ``net_minor``; newest first."""
    orders = _for_customer(attributed(mart, "fct_order", scope, selection), drill).filter(
        pl.col("date_key").is_between(period.start_key, period.end_key)
        & (pl.col("status") != "draft"))
    if drill.status is not None:
        orders = orders.filter(pl.col("status") == drill.status)
    return (
        _named(mart, orders)
        .with_columns(date_of_key("date_key").alias("date"))
        .sort(["date_key", "order_number"], descending=[True, False])
        .select("order_number", "date", "status", "customer_id", "customer", "rep",
                "net_minor")
        .collect()
    )


def quote_documents(mart: Mart, scope: Scope, period: Period, selection: Slice = EVERYTHING,
                    drill: Drill = NO_DRILL) -> pl.DataFrame:
    """Quotes dated in ``period``: ``quote_number``, ``revision_no``, ``date``, ``status``,
    ``customer_id``, ``customer``, ``rep``, ``net_minor``, ``valid_until``; newest first."""
    quotes = _for_customer(attributed(mart, "fct_quote", scope, selection), drill).filter(
        pl.col("quote_date_key").is_between(period.start_key, period.end_key))
    if drill.status is not None:
        quotes = quotes.filter(pl.col("status") == drill.status)
    return (
        _named(mart, quotes)
        .with_columns(date_of_key("quote_date_key").alias("date"),
                      date_of_key("valid_until_key").alias("valid_until"))
        .sort(["quote_date_key", "quote_number"], descending=[True, False])
        .select("quote_number", "revision_no", "date", "status", "customer_id", "customer",
                "rep", "net_minor", "valid_until")
        .collect()
    )


def opportunity_documents(mart: Mart, scope: Scope, period: Period,
                          selection: Slice = EVERYTHING, drill: Drill = NO_DRILL, *,
                          timezone: str = "UTC") -> pl.DataFrame:
    """Opportunities open at the end of ``period``: ``opportunity_id``, ``stage``,
    ``customer_id``, ``customer``, ``rep``, ``amount_minor``, ``probability``,
    ``expected_close``; largest first."""
    versions = _for_customer(open_opportunities(mart, scope, period.end, selection=selection,
                                                timezone=timezone), drill)
    if drill.stage is not None:
        versions = versions.filter(pl.col("stage") == drill.stage)
    if drill.close_month_key is not None:
        versions = versions.filter(
            pl.col("expected_close_date_key") // 100 == drill.close_month_key)
    return (
        _named(mart, versions)
        .with_columns(date_of_key("expected_close_date_key").alias("expected_close"),
                      pl.col("effective_probability").cast(pl.Float64).alias("probability"))
        .sort(["amount_minor", "opportunity_id"], descending=[True, False])
        .select("opportunity_id", "stage", "customer_id", "customer", "rep", "amount_minor",
                "probability", "expected_close")
        .collect()
    )


def movement_documents(mart: Mart, scope: Scope, period: Period, selection: Slice = EVERYTHING,
                       drill: Drill = NO_DRILL, *, timezone: str = "UTC") -> pl.DataFrame:
    """The opportunities that moved the pipeline between the start and the end of
    ``period`` (the waterfall's steps): ``opportunity_id``, ``step``, ``stage``,
    ``customer_id``, ``customer``, ``rep``, ``opening_minor``, ``closing_minor``,
    ``change_minor``; in step order. Names are those of each opportunity's last version by
    the period end."""
    moved = movement_by_opportunity(mart, scope, period.start, period.end,
                                    selection=selection, timezone=timezone).lazy()
    if drill.step is not None:
        moved = moved.filter(pl.col("step") == drill.step)
    latest = (mart.lazy("fct_opportunity_history")
              .filter(pl.col("valid_from") <= instant(period.end, timezone))
              .sort("version_no")
              .group_by("opportunity_id").last()
              .select("opportunity_id", "stage", "customer_id", "rep_key"))
    return (
        _named(mart, _for_customer(moved.join(latest, on="opportunity_id", how="left",
                                                   maintain_order="left"), drill))
        .select("opportunity_id", "step", "stage", "customer_id", "customer", "rep",
                "opening_minor", "closing_minor", "change_minor")
        .collect()
    )


def freight_documents(mart: Mart, scope: Scope, period: Period,
                      selection: Slice = EVERYTHING, drill: Drill = NO_DRILL) -> pl.DataFrame:
    """One row per shipment with freight cost rows shipped in ``period``:
    ``shipment_number``, ``date`` (shipped), ``order_number``, ``customer_id``,
    ``customer``, ``rep``, ``replacement`` ("yes" for a replacement shipment) and
    ``freight_cost_minor`` — the shipment's freight cost, or its lines' share of it when the
    drill names a product or category (the P&L's split). Newest first."""
    lines = in_node(mart, freight_lines(mart, scope, period, selection), pnl_node(drill))
    shipments = lines.group_by("shipment_number").agg(
        pl.col("date_key", "order_id", "customer_id", "rep_key", "is_replacement").first(),
        pl.col("freight_cost_minor").sum())
    orders = mart.lazy("fct_order").select("order_id", "order_number")
    return (
        _named(mart, shipments.join(orders, on="order_id", how="left"))
        .with_columns(date_of_key("date_key").alias("date"),
                      pl.when(pl.col("is_replacement")).then(pl.lit("yes"))
                      .otherwise(pl.lit("")).alias("replacement"))
        .sort(["date_key", "shipment_number"], descending=[True, False])
        .select("shipment_number", "date", "order_number", "customer_id", "customer", "rep",
                "replacement", "freight_cost_minor")
        .collect()
    )


def financing_documents(mart: Mart, scope: Scope, period: Period,
                        selection: Slice = EVERYTHING, drill: Drill = NO_DRILL, *,
                        rate: Decimal) -> pl.DataFrame:
    """One row per invoice with a financing cost in ``period`` at the annual ``rate``:
    ``document_number``, ``date``, ``due_date``, ``customer_id``, ``customer``, ``rep``,
    the whole invoice's terms (``financing.financing_terms``: ``paid_late_minor``,
    ``days_late``, ``open_minor``, ``overdue_days``) and ``financing_cost_minor`` — the
    invoice's cost, or its lines' share of it when the drill names a product or category
    (the P&L's split; invoices whose share is 0 are left out). Largest cost first."""
    node = pnl_node(drill)
    rows = in_node(mart, financing_rows(mart, scope, period, selection, rate,
                                        [dimension for dimension, _ in node], node), node)
    invoices = rows.group_by("document_id").agg(
        pl.col("customer_id", "rep_key").first(), pl.col("financing_cost_minor").sum()
    ).filter(pl.col("financing_cost_minor") != 0)
    terms = financing_terms(mart, period, rate).drop("financing_cost_minor").rename(
        {"invoice_id": "document_id"})
    items = mart.lazy("fct_ar_item").filter(pl.col("item_type") == "invoice").select(
        "document_id", "document_number", "document_date_key", "due_date_key")
    return (
        _named(mart, invoices.join(items, on="document_id", how="left")
               .join(terms, on="document_id", how="left"))
        .with_columns(date_of_key("document_date_key").alias("date"),
                      date_of_key("due_date_key").alias("due_date"),
                      pl.col("days_late").round(1))
        .sort(["financing_cost_minor", "document_number"], descending=[True, False])
        .select("document_number", "date", "due_date", "customer_id", "customer", "rep",
                "paid_late_minor", "days_late", "open_minor", "overdue_days",
                "financing_cost_minor")
        .collect()
    )
