"""The derived tables (agg_sales_month, fct_customer_month) must add up to the facts they
summarise: consistent tables pass, and a cent, a line or an order out of place fails."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from etl.checks import derived_failures
from etl.facts import customer_month, sales_month
from etl.schema import fct_ar_allocation, fct_freight_cost, fct_order, fct_sales_line
from tests.etl.core_frames import core_frames
from tests.etl.test_agg_sales_month import dims_with_categories_and_segments
from tests.etl.test_fct_sales_line import dim_frame


@pytest.fixture
def tables() -> dict[str, pl.DataFrame]:
    """Customer 2's sales in two months (one a settlement discount), freight cost in
    February, two orders (one a draft) and a cash allocation, with the derived tables built
    from them."""
    line = {"customer_id": 2, "customer_key": 20, "channel_key": 1, "rep_key": 1,
            "region_key": 1, "product_key": 50, "discount_minor": 3, "freight_charged_minor": 7}
    built = dims_with_categories_and_segments() | {
        "fct_sales_line": dim_frame(fct_sales_line, [
            line | {"month_key": 202502, "net_minor": 1_000, "cost_minor": 600},
            line | {"month_key": 202502, "net_minor": -25, "cost_minor": 0,
                    "credit_reason": "settlement_discount"},
            line | {"month_key": 202503, "net_minor": 300, "cost_minor": 100}]),
        "fct_freight_cost": dim_frame(fct_freight_cost, [
            {key: line[key] for key in ("customer_id", "customer_key", "channel_key",
                                        "rep_key", "region_key", "product_key")}
            | {"month_key": 202502, "freight_cost_minor": 410}]),
        "fct_order": dim_frame(fct_order, [
            {"order_id": 1, "customer_id": 2, "date_key": 20250203, "month_key": 202502,
             "status": "confirmed"},
            {"order_id": 2, "customer_id": 2, "date_key": 20250303, "month_key": 202503,
             "status": "draft"}]),
        "fct_ar_allocation": dim_frame(fct_ar_allocation, [
            {"allocation_id": 1, "customer_id": 2, "allocation_date_key": 20250310,
             "amount_minor": 500, "days_late": 3, "days_to_pay": 33}]),
    }
    built["fct_customer_month"] = customer_month.build(core_frames(()), built, "USD",
                                                       today=date(2025, 4, 2))
    built["agg_sales_month"] = sales_month.build(core_frames(()), built, "USD")
    return built


def _changed(frame: pl.DataFrame, column: str, month: int, delta: int) -> pl.DataFrame:
    """``column`` + ``delta`` in ``month`` (of customer 2, where the table has customers)."""
    where = pl.col("month_key") == month
    if "customer_id" in frame.columns:
        where &= pl.col("customer_id") == 2
    return frame.with_columns(pl.when(where).then(pl.col(column) + delta)
                              .otherwise(pl.col(column)).alias(column))


def test_tables_built_from_the_facts_add_up(tables: dict[str, pl.DataFrame]) -> None:
    customer = tables["fct_customer_month"].filter(pl.col("customer_id") == 2)
    assert customer.select(pl.col("net_sales_minor", "order_count").sum()).row(0) == (1_300, 1)
    assert derived_failures(tables) == []


@pytest.mark.parametrize(("table", "column"), [
    ("agg_sales_month", "cost_minor"), ("agg_sales_month", "settlement_discount_minor"),
    ("agg_sales_month", "line_count"), ("agg_sales_month", "discount_minor"),
    ("agg_sales_month", "freight_cost_minor"),
    ("fct_customer_month", "net_sales_minor"), ("fct_customer_month", "freight_charged_minor"),
    ("fct_customer_month", "freight_cost_minor"),
    ("fct_customer_month", "order_count"), ("fct_customer_month", "cash_applied_minor"),
])
def test_one_unit_off_in_a_month_fails(tables: dict[str, pl.DataFrame], table: str,
                                       column: str) -> None:
    month = 202503 if column == "cash_applied_minor" else 202502
    tables[table] = _changed(tables[table], column, month, 1)
    key = "(month_key)" if table == "agg_sales_month" else "(customer_id, month_key)"
    example = (month,) if table == "agg_sales_month" else (2, month)
    assert derived_failures(tables) == [
        f"{table}: 1 group(s) {key} differ from the facts, e.g. [{example}]"]


def test_a_missing_customer_month_fails(tables: dict[str, pl.DataFrame]) -> None:
    tables["fct_customer_month"] = tables["fct_customer_month"].filter(
        (pl.col("customer_id") != 2) | (pl.col("month_key") != 202503))
    assert derived_failures(tables) == [
        "fct_customer_month: 1 group(s) (customer_id, month_key) differ from the facts, "
        "e.g. [(2, 202503)]"]
