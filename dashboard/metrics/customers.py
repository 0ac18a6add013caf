"""The customer list: customers managed now by reps in scope (current ``dim_customer``
version) with their net sales and margin in the period, attributed within the scope."""

from __future__ import annotations

import polars as pl

from dashboard.metrics.mart import Mart
from dashboard.metrics.period import Period
from dashboard.metrics.sales import sales_by
from dashboard.metrics.scope import Scope
from dashboard.metrics.selection import EVERYTHING, Slice, managed


def customer_list(mart: Mart, scope: Scope, period: Period,
                  selection: Slice = EVERYTHING) -> pl.DataFrame:
    """One row per customer in scope: ref, name, account manager, segment, region, channel,
    net sales / margin / margin % in ``period`` (0 without sales), by net sales descending.
    Region, channel and rep filters apply to the customer's current region, channel and
    account manager (``selection.managed_customers``)."""
    current = managed(mart, "dim_customer", scope, selection).filter(
        pl.col("is_current") & (pl.col("customer_key") >= 0))
    reps = mart.lazy("dim_rep").select(pl.col("rep_id").alias("account_manager_id"),
                                       pl.col("name").alias("account_manager"))
    sales = sales_by(mart, scope, period, "customer", selection).lazy().select(
        "customer_id", "net_sales_minor", "cost_minor", "margin_minor", "margin_pct")
    return (
        current.select("customer_id", "ref", "name", "account_manager_id", "segment_code",
                       "region_code", "channel_code")
        .join(reps, on="account_manager_id", how="left")
        .join(sales, on="customer_id", how="left")
        .with_columns(pl.col("net_sales_minor", "cost_minor", "margin_minor").fill_null(0))
        .sort(["net_sales_minor", "name"], descending=[True, False])
        .collect()
    )
