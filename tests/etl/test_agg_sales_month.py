"""agg_sales_month: hand-made sales lines with known sums per grain, and a reassigned
customer's history staying with the rep of its orders."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import polars as pl

from etl.conform import polars_schema
from etl.facts import sales_line
from etl.facts.sales_month import build
from etl.schema import agg_sales_month, fct_freight_cost, fct_sales_line
from tests.etl.core_frames import amount, core_frames, quantity, rate
from tests.etl.test_fct_sales_line import dim_frame, hand_made_dims

D = Decimal


def dims_with_categories_and_segments() -> dict[str, pl.DataFrame]:
    """``hand_made_dims`` with product 5 in "Pumps", 6 in "Valves", and customer 2's
    versions in segment SMB (key 20) then ENT (key 21)."""
    dims = hand_made_dims()
    key = pl.col("product_key")
    dims["dim_product"] = dims["dim_product"].with_columns(
        pl.when(key == 50).then(pl.lit("Pumps")).when(key == 60).then(pl.lit("Valves"))
        .otherwise(pl.lit("Unknown")).alias("category"))
    customer = pl.col("customer_key")
    dims["dim_customer"] = dims["dim_customer"].with_columns(
        pl.when(customer == 20).then(pl.lit("SMB")).when(customer == 21).then(pl.lit("ENT"))
        .alias("segment_code"))
    return dims


def test_lines_sum_per_month_channel_rep_region_category_and_segment() -> None:
    """Two February lines of one grain add up; a settlement discount and a bad-debt
    write-off (no product) go to their own columns; a March line is its own row; freight
    cost rows add to their grain's row (not to its line count) or make one of their own
    (April)."""
    line = {"channel_key": 1, "rep_key": 1, "region_key": 1, "customer_key": 20,
            "discount_minor": 0, "freight_charged_minor": 0, "cost_minor": 0,
            "quantity": D(0)}
    sales = dim_frame(fct_sales_line, [
        line | {"month_key": 202502, "product_key": 50, "quantity": D("2.5"),
                "net_minor": 1_000, "cost_minor": 600, "discount_minor": 30,
                "freight_charged_minor": 70},
        line | {"month_key": 202502, "product_key": 50, "quantity": D("1.25"),
                "net_minor": 500, "cost_minor": 250, "discount_minor": 5},
        line | {"month_key": 202502, "product_key": 60, "quantity": D(-1), "net_minor": -200,
                "cost_minor": -120, "credit_reason": "return"},
        line | {"month_key": 202502, "product_key": -1, "quantity": D(-1), "net_minor": -40,
                "credit_reason": "settlement_discount"},
        line | {"month_key": 202502, "product_key": -1, "quantity": D(-1), "net_minor": -900,
                "credit_reason": "bad_debt"},
        line | {"month_key": 202503, "product_key": 50, "quantity": D(1), "net_minor": 400,
                "cost_minor": 240},
    ])
    freight_row = {"channel_key": 1, "rep_key": 1, "region_key": 1, "customer_key": 20}
    freight = dim_frame(fct_freight_cost, [
        freight_row | {"month_key": 202502, "product_key": 50, "freight_cost_minor": 120},
        freight_row | {"month_key": 202502, "product_key": 50, "freight_cost_minor": 30},
        freight_row | {"month_key": 202504, "product_key": 60, "freight_cost_minor": 90},
    ])
    tables = dims_with_categories_and_segments() | {"fct_sales_line": sales,
                                                     "fct_freight_cost": freight}

    agg = build(core_frames(()), tables, "USD")

    assert agg.schema == polars_schema(agg_sales_month)
    grain = (1, 1, 1)
    assert agg.rows() == [
        # month, channel, rep, region, category, segment, lines, quantity, net sales,
        # settlement discount, bad debt, cost, discount, freight charged, freight cost
        (202502, *grain, "Pumps", "SMB", 2, D("3.7500"), 1_500, 0, 0, 850, 35, 70, 150),
        (202502, *grain, "Unknown", "SMB", 2, D("-2.0000"), 0, 40, 900, 0, 0, 0, 0),
        (202502, *grain, "Valves", "SMB", 1, D("-1.0000"), -200, 0, 0, -120, 0, 0, 0),
        (202503, *grain, "Pumps", "SMB", 1, D("1.0000"), 400, 0, 0, 240, 0, 0, 0),
        (202504, *grain, "Valves", "SMB", 0, D("0.0000"), 0, 0, 0, 0, 0, 0, 90),
    ]


def test_a_reassigned_customers_history_stays_with_the_rep_of_its_orders() -> None:
    """Customer 2 moves from rep 7 (NORTH, SMB) to rep 8 (SOUTH, ENT) on 2025-07-01. Both
    its orders are invoiced in August: the May order's sales stay with rep 7, NORTH and
    SMB; the July order's go to rep 8, SOUTH and ENT."""
    core = core_frames(
        sales_line.CORE_TABLES,
        sales_order=[
            {"id": 600, "customer_id": 2, "order_date": date(2025, 5, 15), "rep_id": 7,
             "channel_code": "DIRECT", "region_code": "NORTH"},
            {"id": 620, "customer_id": 2, "order_date": date(2025, 7, 10), "rep_id": 8,
             "channel_code": "DIRECT", "region_code": "SOUTH"}],
        invoice=[{"id": id_, "number": f"INV-{id_}", "order_id": order_id, "customer_id": 2,
                  "status": "posted", "invoice_date": date(2025, 8, 20), "fx_rate": rate("1")}
                 for id_, order_id in ((610, 600), (630, 620))],
        invoice_line=[{"id": id_, "invoice_id": invoice_id, "product_id": 5,
                       "quantity": quantity("1"), "base_net_amount": amount(net),
                       "cost_amount": amount("4"), "doc_discount_amount": 0,
                       "base_freight_amount": 0}
                      for id_, invoice_id, net in ((611, 610, "10"), (631, 630, "20"))],
    )
    dims = dims_with_categories_and_segments()
    tables = dims | {"fct_sales_line": sales_line.build(core, dims, "USD"),
                     "fct_freight_cost": dim_frame(fct_freight_cost, [])}

    agg = build(core_frames(()), tables, "USD")

    assert agg.select("month_key", "rep_key", "region_key", "segment_code",
                      "net_sales_minor").rows() == [
        (202508, 1, 1, "SMB", 1_000), (202508, 2, 2, "ENT", 2_000)]


def test_no_sales_give_an_empty_table_with_the_mart_dtypes() -> None:
    tables = hand_made_dims() | {"fct_sales_line": dim_frame(fct_sales_line, []),
                                 "fct_freight_cost": dim_frame(fct_freight_cost, [])}
    agg = build(core_frames(()), tables, "USD")
    assert agg.height == 0
    assert agg.schema == polars_schema(agg_sales_month)
