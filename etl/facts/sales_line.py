"""One row per posted invoice line (+), posted credit-note line (−), or RMA cost event (net 0).

Amounts are integer minor units of the base currency, taken from the base amounts stored on
the document lines at posting (``base_net_amount``, ``base_freight_amount``,
``cost_amount``); tax is never included. Rows by ``source_type``:

- ``invoice`` (``source_id`` = invoice_line.id; invoice status ``posted``): net = the line's
  base net (after line and pro-rated document discount, excluding freight); discount = the
  line's share of the document discount (``doc_discount_amount``, document currency)
  × the invoice rate, rounded half-up; freight charged = the line's base freight; cost = the
  line's cost fixed at shipment; dated at the invoice date.
- ``credit_note`` (``source_id`` = credit_note_line.id; credit note status ``posted``): net,
  cost and quantity negated (cost is non-zero only on restocked returns: "a restocked return
  reverses its cost on the date of the credit note"); ``credit_reason`` = the note's reason
  (the metric layer leaves ``settlement_discount`` and ``bad_debt`` out of net sales); dated
  at the credit date.
- ``rma_cost`` (``source_id`` = rma_line.id, ``document_*`` = the RMA): a resolved
  ``return_without_refund`` RMA with disposition ``restock`` reverses cost,
  −round(quantity × unit cost), on its resolved date; quantity −returned.
- ``replacement`` (``source_id`` = shipment_line.id, ``document_*`` = the shipment): a
  shipped replacement shipment adds cost, +round(quantity × unit cost), on its shipped date;
  quantity +shipped. Keyed on the shipment line because it has no link to a single RMA line.

``refund_only`` and ``return_and_refund`` RMAs make no row here: their credit notes carry
the net and any cost reversal. Cost events have net, discount and freight 0.

Attribution (KPIS.md): rep, channel and region keys are the order's (fixed at confirmation),
and ``customer_key`` is the ``dim_customer`` version valid at the order date. The order of a
credit note is its invoice's; of an RMA event, its invoice's; of a replacement, the
shipment's. A row without an order (a standalone credit note) is attributed to the customer
version valid at its own posting date: that version's account manager, channel and region.
Unknown or missing members are ``-1``; lines without a product (milestones, write-offs) have
``product_key`` ``-1``. ``date_key``/``month_key``/``week_key`` are of the posting date.
"""

from __future__ import annotations

from decimal import Decimal

import polars as pl

from core.types import AMOUNT_SCALE, PRICE_SCALE, QUANTITY_SCALE, RATE_SCALE
from etl.conform import polars_schema
from etl.dims.dim_customer import version_at
from etl.extract import CoreFrames
from etl.facts.lookups import key_of
from etl.keys import date_key, month_key, week_key
from etl.money import minor, minor_rounded, wide
from etl.schema import fct_sales_line

SCHEMA = polars_schema(fct_sales_line)
# The core tables and columns ``build`` reads.
CORE_COLUMNS: dict[str, tuple[str, ...]] = {
    "invoice": ("id", "status", "number", "order_id", "customer_id", "invoice_date", "fx_rate"),
    "invoice_line": ("id", "invoice_id", "product_id", "quantity", "base_net_amount",
                     "cost_amount", "doc_discount_amount", "base_freight_amount"),
    "credit_note": ("id", "status", "number", "invoice_id", "customer_id", "credit_date",
                    "reason"),
    "credit_note_line": ("id", "credit_note_id", "product_id", "quantity", "base_net_amount",
                         "cost_amount"),
    "sales_order": ("id", "customer_id", "order_date", "rep_id", "channel_code", "region_code"),
    "sales_order_line": ("id", "product_id"),
    "rma": ("id", "number", "customer_id", "invoice_id", "rma_type", "state", "disposition",
            "resolved_date"),
    "rma_line": ("id", "rma_id", "product_id", "quantity", "unit_cost"),
    "shipment": ("id", "number", "order_id", "status", "is_replacement", "shipped_date"),
    "shipment_line": ("id", "shipment_id", "order_line_id", "quantity", "unit_cost"),
}
CORE_TABLES = tuple(CORE_COLUMNS)
DIMENSIONS = ("dim_customer", "dim_product", "dim_rep", "dim_channel", "dim_region")

INVOICE = "invoice"
CREDIT_NOTE = "credit_note"
RMA_COST = "rma_cost"
REPLACEMENT = "replacement"
POSTED = "posted"

# The columns every source contributes before attribution; ``quantity`` stays a scaled
# Int64 (value × 10^4) until the final cast.
_EVENT_COLUMNS = ("source_type", "source_id", "document_id", "document_number", "order_id",
                  "customer_id", "posting_date", "product_id", "quantity", "net_minor",
                  "cost_minor", "discount_minor", "freight_charged_minor", "credit_reason")


def _zero() -> pl.Expr:
    return pl.lit(0, pl.Int64)


def _invoice_lines(core: CoreFrames, base: str) -> pl.LazyFrame:
    invoices = core["invoice"].lazy().filter(pl.col("status") == POSTED).select(
        pl.col("id").alias("invoice_id"), "number", "order_id", "customer_id",
        "invoice_date", "fx_rate")
    return core["invoice_line"].lazy().join(invoices, on="invoice_id", how="inner").select(
        pl.lit(INVOICE).alias("source_type"),
        pl.col("id").alias("source_id"),
        pl.col("invoice_id").alias("document_id"),
        pl.col("number").alias("document_number"),
        "order_id", "customer_id",
        pl.col("invoice_date").alias("posting_date"),
        "product_id", "quantity",
        minor("base_net_amount", base).alias("net_minor"),
        minor("cost_amount", base).alias("cost_minor"),
        minor_rounded(wide("doc_discount_amount") * pl.col("fx_rate"),
                       AMOUNT_SCALE + RATE_SCALE, base).alias("discount_minor"),
        minor("base_freight_amount", base).alias("freight_charged_minor"),
        pl.lit(None, pl.String).alias("credit_reason"),
    )


def _credit_note_lines(core: CoreFrames, base: str) -> pl.LazyFrame:
    invoice_orders = core["invoice"].lazy().select(
        pl.col("id").alias("invoice_id"), pl.col("order_id"))
    notes = (
        core["credit_note"].lazy().filter(pl.col("status") == POSTED)
        .select(pl.col("id").alias("credit_note_id"), "number", "invoice_id", "customer_id",
                "credit_date", "reason")
        .join(invoice_orders, on="invoice_id", how="left")
    )
    return core["credit_note_line"].lazy().join(notes, on="credit_note_id", how="inner").select(
        pl.lit(CREDIT_NOTE).alias("source_type"),
        pl.col("id").alias("source_id"),
        pl.col("credit_note_id").alias("document_id"),
        pl.col("number").alias("document_number"),
        "order_id", "customer_id",
        pl.col("credit_date").alias("posting_date"),
        "product_id",
        (-pl.col("quantity")).alias("quantity"),
        (-minor("base_net_amount", base)).alias("net_minor"),
        (-minor("cost_amount", base)).alias("cost_minor"),
        _zero().alias("discount_minor"),
        _zero().alias("freight_charged_minor"),
        pl.col("reason").alias("credit_reason"),
    )


def _cost_of(base: str) -> pl.Expr:
    """round(quantity × unit cost) in base minor units; a missing unit cost costs 0."""
    return minor_rounded(wide("quantity") * pl.col("unit_cost").fill_null(0),
                          QUANTITY_SCALE + PRICE_SCALE, base)


def _restocked_returns_without_refund(core: CoreFrames, base: str) -> pl.LazyFrame:
    rmas = core["rma"].lazy().filter(
        (pl.col("rma_type") == "return_without_refund") & (pl.col("state") == "resolved")
        & (pl.col("disposition") == "restock") & pl.col("resolved_date").is_not_null()
    ).select(pl.col("id").alias("rma_id"), "number", "customer_id", "invoice_id",
             "resolved_date")
    invoice_orders = core["invoice"].lazy().select(
        pl.col("id").alias("invoice_id"), pl.col("order_id"))
    return (
        core["rma_line"].lazy().join(rmas, on="rma_id", how="inner")
        .join(invoice_orders, on="invoice_id", how="left")
        .select(
            pl.lit(RMA_COST).alias("source_type"),
            pl.col("id").alias("source_id"),
            pl.col("rma_id").alias("document_id"),
            pl.col("number").alias("document_number"),
            "order_id", "customer_id",
            pl.col("resolved_date").alias("posting_date"),
            "product_id",
            (-pl.col("quantity")).alias("quantity"),
            _zero().alias("net_minor"),
            (-_cost_of(base)).alias("cost_minor"),
            _zero().alias("discount_minor"),
            _zero().alias("freight_charged_minor"),
            pl.lit(None, pl.String).alias("credit_reason"),
        )
    )


def _replacement_shipments(core: CoreFrames, base: str) -> pl.LazyFrame:
    shipments = core["shipment"].lazy().filter(
        pl.col("is_replacement") & (pl.col("status") == "shipped")
        & pl.col("shipped_date").is_not_null()
    ).select(pl.col("id").alias("shipment_id"), "number", "order_id", "shipped_date")
    order_customers = core["sales_order"].lazy().select(
        pl.col("id").alias("order_id"), "customer_id")
    order_line_products = core["sales_order_line"].lazy().select(
        pl.col("id").alias("order_line_id"), "product_id")
    return (
        core["shipment_line"].lazy().join(shipments, on="shipment_id", how="inner")
        .join(order_customers, on="order_id", how="left")
        .join(order_line_products, on="order_line_id", how="left")
        .select(
            pl.lit(REPLACEMENT).alias("source_type"),
            pl.col("id").alias("source_id"),
            pl.col("shipment_id").alias("document_id"),
            pl.col("number").alias("document_number"),
            "order_id", "customer_id",
            pl.col("shipped_date").alias("posting_date"),
            "product_id", "quantity",
            _zero().alias("net_minor"),
            _cost_of(base).alias("cost_minor"),
            _zero().alias("discount_minor"),
            _zero().alias("freight_charged_minor"),
            pl.lit(None, pl.String).alias("credit_reason"),
        )
    )


def attributed(events: pl.LazyFrame, core: CoreFrames,
               dims: dict[str, pl.DataFrame]) -> pl.LazyFrame:
    """``events`` (``order_id``, ``customer_id``, ``posting_date``, ``product_id``) plus
    ``customer_key``, ``rep_key``, ``channel_key``, ``region_key`` and ``product_key``: from
    the order (rep, channel, region; customer version at the order date), or from the
    customer version at the posting date when there is no order. Reads ``sales_order``'s
    ``id``, ``order_date``, ``rep_id``, ``channel_code`` and ``region_code``."""
    orders = core["sales_order"].lazy().select(
        pl.col("id").alias("order_id"), "order_date",
        pl.col("rep_id").alias("order_rep_id"),
        pl.col("channel_code").alias("order_channel_code"),
        pl.col("region_code").alias("order_region_code"),
    )
    has_order = pl.col("order_date").is_not_null()
    frame = (
        events.join(orders, on="order_id", how="left")
        .with_columns(pl.coalesce("order_date", "posting_date").alias("attribution_date"))
    )
    frame = version_at(
        frame, dims["dim_customer"], customer_id="customer_id", on="attribution_date",
        columns={"customer_key": "customer_key", "account_manager_id": "version_rep_id",
                 "channel_code": "version_channel_code", "region_code": "version_region_code"},
    ).with_columns(
        pl.when(has_order).then(pl.col("order_rep_id"))
        .otherwise(pl.col("version_rep_id").cast(pl.Int64)).alias("rep_id"),
        pl.when(has_order).then(pl.col("order_channel_code"))
        .otherwise(pl.col("version_channel_code")).alias("channel_code"),
        pl.when(has_order).then(pl.col("order_region_code"))
        .otherwise(pl.col("version_region_code")).alias("region_code"),
    )
    frame = key_of(frame, dims["dim_rep"], on="rep_id", natural="rep_id", key="rep_key")
    frame = key_of(frame, dims["dim_channel"], on="channel_code", natural="channel_code",
                   key="channel_key")
    frame = key_of(frame, dims["dim_region"], on="region_code", natural="region_code",
                   key="region_key")
    return key_of(frame, dims["dim_product"], on="product_id", natural="product_id",
                  key="product_key")


def build(core: CoreFrames, dims: dict[str, pl.DataFrame], base_currency: str) -> pl.DataFrame:
    """``fct_sales_line`` from the extracted core tables (``CORE_TABLES``) and the built
    dimensions (``DIMENSIONS``); amounts in minor units of ``base_currency``. Rows sorted by
    date, source type and source id."""
    events = pl.concat([
        source(core, base_currency).select(_EVENT_COLUMNS)
        for source in (_invoice_lines, _credit_note_lines, _restocked_returns_without_refund,
                       _replacement_shipments)
    ], how="vertical_relaxed")
    frame = attributed(events, core, dims).with_columns(
        date_key("posting_date").alias("date_key"),
        month_key("posting_date").alias("month_key"),
        week_key("posting_date").alias("week_key"),
        # Scaled Int64 → exact Decimal: value × 10^-4, no float on the way.
        (pl.col("quantity").cast(pl.Decimal(18, 0))
         * pl.lit(Decimal(1).scaleb(-QUANTITY_SCALE))).alias("quantity"),
    )
    return (
        frame.select(pl.col(name).cast(dtype) for name, dtype in SCHEMA.items())
        .sort("date_key", "source_type", "source_id")
        .collect()
    )
