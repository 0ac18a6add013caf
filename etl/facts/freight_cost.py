"""One row per line of a shipped shipment with a freight cost (``fct_freight_cost``).

The freight cost the company pays the carrier is recorded on the shipment header
(``shipment.freight_cost``, base currency — like unit costs — rounded to its digits when
shipped). It is a cost event of its own, dated at the shipped date (not at the invoice's),
for ordinary and replacement shipments alike (``is_replacement``). It is split over the
shipment's lines pro rata to line value — shipped quantity × the order line's unit price ×
(1 − its line discount), i.e. the line net before any document discount, as KPIS.md splits
freight charged — each share rounded half-up, the remainder to the largest line
(``etl.prorate``), so the lines add up to the shipment's freight cost exactly and the
product and category splits of the P&L add up too. Shipments not shipped (or cancelled) and
shipments without freight cost make no row.

Attribution as ``fct_sales_line`` (``etl.facts.sales_line.attributed``): rep, channel and
region of the order, ``customer_key`` = the ``dim_customer`` version valid at the order
date; ``product_key`` of the order line's product. Amounts in integer minor units of the
base currency; ``date_key``/``month_key``/``week_key`` of the shipped date.
"""

from __future__ import annotations

import polars as pl

from core.types import PERCENT_SCALE
from etl.conform import conform, polars_schema
from etl.extract import CoreFrames
from etl.facts.sales_line import attributed
from etl.keys import date_key, month_key, week_key
from etl.money import minor, wide
from etl.prorate import prorated
from etl.schema import fct_freight_cost

SCHEMA = polars_schema(fct_freight_cost)
# The core tables and columns ``build`` reads.
CORE_COLUMNS: dict[str, tuple[str, ...]] = {
    "shipment": ("id", "number", "order_id", "status", "is_replacement", "shipped_date",
                 "freight_cost"),
    "shipment_line": ("id", "shipment_id", "order_line_id", "quantity"),
    "sales_order": ("id", "customer_id", "order_date", "rep_id", "channel_code",
                    "region_code"),
    "sales_order_line": ("id", "product_id", "unit_price", "discount_pct"),
}
CORE_TABLES = tuple(CORE_COLUMNS)
DIMENSIONS = ("dim_customer", "dim_product", "dim_rep", "dim_channel", "dim_region")
SHIPPED = "shipped"


def build(core: CoreFrames, dims: dict[str, pl.DataFrame], base_currency: str) -> pl.DataFrame:
    """``fct_freight_cost`` from the extracted core tables (``CORE_TABLES``) and the built
    dimensions (``DIMENSIONS``); amounts in minor units of ``base_currency``. Rows sorted by
    date and shipment line."""
    shipments = core["shipment"].lazy().filter(
        (pl.col("status") == SHIPPED) & pl.col("shipped_date").is_not_null()
        & (pl.col("freight_cost") != 0)
    ).select(pl.col("id").alias("shipment_id"), pl.col("number").alias("shipment_number"),
             "order_id", "is_replacement", pl.col("shipped_date").alias("posting_date"),
             minor("freight_cost", base_currency).alias("shipment_freight_minor"))
    orders = core["sales_order"].lazy().select(pl.col("id").alias("order_id"), "customer_id")
    order_lines = core["sales_order_line"].lazy().select(
        pl.col("id").alias("order_line_id"), "product_id", "unit_price", "discount_pct")
    # quantity × unit price × (1 − discount), all scaled integers: exact in Int128.
    value = (wide("quantity") * pl.col("unit_price")
             * (10 ** PERCENT_SCALE - pl.col("discount_pct")))
    lines = (
        core["shipment_line"].lazy().join(shipments, on="shipment_id", how="inner")
        .join(orders, on="order_id", how="left")
        .join(order_lines, on="order_line_id", how="left")
        .select(pl.col("id").alias("shipment_line_id"), "shipment_id", "shipment_number",
                "order_id", "is_replacement", "customer_id", "posting_date", "product_id",
                "shipment_freight_minor", value.fill_null(0).alias("line_value"))
    )
    frame = prorated(lines, amount="shipment_freight_minor", weight="line_value",
                     group="shipment_id", order="shipment_line_id", alias="freight_cost_minor")
    frame = attributed(frame, core, dims).with_columns(
        date_key("posting_date").alias("date_key"),
        month_key("posting_date").alias("month_key"),
        week_key("posting_date").alias("week_key"),
    )
    return conform(frame, fct_freight_cost).sort("date_key", "shipment_line_id").collect()
