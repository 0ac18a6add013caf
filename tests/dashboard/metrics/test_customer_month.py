"""fct_customer_month (built by the ETL at month ends) and the metric layer's engagement
rule (``classify``, as of any date) are two computations of one KPI: on the demo company
they agree for every customer at every month end of the last two years."""

from __future__ import annotations

from datetime import date

import polars as pl

from core.company.services import company_today
from core.db import make_session_factory
from dashboard.metrics.engagement import classify
from dashboard.metrics.orders import ORDER_STATUSES
from dashboard.metrics.period import month_ends
from tests.dashboard.conftest import DemoMart


def _classified_at(mart_tables: dict[str, pl.DataFrame], point: date) -> pl.DataFrame:
    customers = mart_tables["dim_customer"].lazy().filter(pl.col("customer_id") >= 0) \
        .group_by("customer_id").agg(pl.col("valid_from").min().alias("created_date"))
    key = pl.col("date_key")
    orders = mart_tables["fct_order"].lazy().filter(pl.col("status").is_in(ORDER_STATUSES)) \
        .select("customer_id", pl.date(key // 10_000, key // 100 % 100, key % 100)
                .alias("order_date"))
    return classify(customers, orders, point).select(
        "customer_id", "status", "days_since_last_order",
        "expected_interval_days").sort("customer_id").collect()


def test_month_end_engagement_in_the_mart_matches_the_metric_rule(demo_mart: DemoMart) -> None:
    tables = dict(demo_mart.mart.tables)
    with make_session_factory(demo_mart.core)() as session:
        today = company_today(session)
    stored = tables["fct_customer_month"].filter(pl.col("engagement_status").is_not_null())
    statuses: set[str] = set()
    for point in month_ends(today, 24):
        month = point.year * 100 + point.month
        expected = _classified_at(tables, point)
        mart_rows = stored.filter(pl.col("month_key") == month).select(
            "customer_id", pl.col("engagement_status").alias("status"),
            pl.col("days_since_last_order").cast(pl.Int64),
            pl.col("expected_interval_days").cast(pl.Float64)).sort("customer_id")
        assert mart_rows.rows() == expected.rows(), point
        statuses |= set(expected["status"])
    assert statuses >= {"never", "new", "active", "at_risk", "lapsed"}
