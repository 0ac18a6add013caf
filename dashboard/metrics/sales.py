"""Net sales, cost of sales and gross margin (KPIS.md "Sales") from ``fct_sales_line``.

Grain of the source: one row per invoice line, credit-note line or RMA cost event, dated at
posting, attributed to the order's rep/channel/region. Amounts are integer minor units of
the base currency. Net sales leaves out credit notes for settlement discounts and bad debt
(contribution terms only); cost of sales counts every row (returns and RMA events included).
Margin % is a ratio of sums and is null when net sales ≤ 0.
"""

from __future__ import annotations

import polars as pl

from dashboard.metrics.labels import with_label
from dashboard.metrics.mart import Mart
from dashboard.metrics.period import Period
from dashboard.metrics.ratios import average_minor, ratio
from dashboard.metrics.scope import Scope
from dashboard.metrics.selection import (
    EVERYTHING,
    Slice,
    attributed,
    attributed_in,
    attributed_rows,
    between,
)

CONTRIBUTION_ONLY_REASONS = ("settlement_discount", "bad_debt")
GROUPINGS = {
    "month": ("month_key",),
    "rep": ("rep_key",),
    "channel": ("channel_key",),
    "region": ("region_key",),
    "category": ("product_key",),
    "product": ("product_key",),
    "customer": ("customer_id",),
}
"""Allowed ``by`` values → the fact columns they group on (then labelled from the dims)."""

ORDERS_INVOICED = (pl.col("order_id").filter(pl.col("source_type") == "invoice").n_unique()
                   .alias("orders_invoiced"))
"""Distinct orders with an invoice line in the selection (KPIS average order value)."""
NET = (pl.when(pl.col("credit_reason").is_in(CONTRIBUTION_ONLY_REASONS).fill_null(False))
       .then(0).otherwise(pl.col("net_minor")))


def sales_lines(mart: Mart, scope: Scope, period: Period,
                selection: Slice = EVERYTHING) -> pl.LazyFrame:
    """The ``fct_sales_line`` rows in scope and slice, dated in ``period``."""
    return attributed_in(mart, "fct_sales_line", period, scope, selection)


def _sums() -> list[pl.Expr]:
    return [NET.sum().alias("net_sales_minor"), pl.col("cost_minor").sum().alias("cost_minor")]


MONTHLY_KEYS = frozenset({"month_key", "rep_key", "channel_key", "region_key"})
"""Keys ``agg_sales_month`` carries: sums over them read whole months from it."""


def reads_months(keys: list[str]) -> bool:
    """Whether sums per ``keys`` read a period's whole months from ``agg_sales_month``."""
    return set(keys) <= MONTHLY_KEYS


def sales_sums(mart: Mart, scope: Scope, period: Period, keys: list[str],
               selection: Slice = EVERYTHING) -> pl.LazyFrame:
    """``net_sales_minor`` and ``cost_minor`` per ``keys`` (or in total) over ``period`` in
    scope and slice: the calendar months wholly inside the period from ``agg_sales_month``
    when ``reads_months(keys)`` (the same sums, ~30× fewer rows), the other days from the
    lines. Groups with sales lines only, as the lines alone give."""
    months = period.whole_months() if reads_months(keys) else None
    if months is None:
        whole = sales_lines(mart, scope, period, selection)
        return whole.group_by(keys).agg(_sums()) if keys else whole.select(_sums())
    # The days outside the whole months, sliced on their own: a period's other rows are
    # never scanned (10M, an executive's year to date: 3.6M lines → this month's).
    lines = [sales_lines(mart, scope, part, selection)
             for part in period.outside_whole_months()]
    aggregate = attributed(mart, "agg_sales_month", scope, selection).filter(
        pl.col("month_key").is_between(*months), pl.col("line_count") > 0).select(
        *keys, "net_sales_minor", "cost_minor")
    if not keys:
        return pl.concat([*(part.select(_sums()) for part in lines),
                          aggregate.select(pl.all().sum())],
                         how="vertical_relaxed").select(pl.all().sum())
    return pl.concat([*(part.group_by(keys).agg(_sums()) for part in lines),
                      aggregate.group_by(keys).agg(pl.all().sum())],
                     how="vertical_relaxed").group_by(keys).agg(pl.all().sum())


def _with_margin(frame: pl.LazyFrame) -> pl.LazyFrame:
    margin = pl.col("net_sales_minor") - pl.col("cost_minor")
    return frame.with_columns(margin.alias("margin_minor"),
                              ratio(margin, pl.col("net_sales_minor")).alias("margin_pct"))


def net_sales_total(mart: Mart, scope: Scope, period: Period,
                    selection: Slice = EVERYTHING) -> int:
    """``sales_totals``' net sales alone (minor units): one sum, no distinct count of
    orders."""
    return int(sales_sums(mart, scope, period, [], selection).select("net_sales_minor")
               .collect().item() or 0)


def sales_totals(mart: Mart, scope: Scope, period: Period,
                 selection: Slice = EVERYTHING) -> dict[str, int | float | None]:
    """Net sales, cost, margin, margin %, the number of distinct orders invoiced and the
    average order value (net sales / orders invoiced, half-up to minor units; null without
    orders)."""
    orders = orders_invoiced(mart, scope, period, selection)
    row = _with_margin(sales_sums(mart, scope, period, [], selection).with_columns(
        pl.lit(orders, pl.UInt32).alias("orders_invoiced")).with_columns(
        average_minor(pl.col("net_sales_minor"), pl.col("orders_invoiced"))
        .alias("average_order_minor"),
    )).collect().row(0, named=True)
    row["net_sales_minor"] = int(row["net_sales_minor"] or 0)
    row["cost_minor"] = int(row["cost_minor"] or 0)
    row["margin_minor"] = row["net_sales_minor"] - row["cost_minor"]
    return row


def orders_invoiced(mart: Mart, scope: Scope, period: Period,
                    selection: Slice = EVERYTHING) -> int:
    """Distinct orders with an invoice line in ``period``, in scope and slice
    (``ORDERS_INVOICED``), from the batch's orders invoiced per day
    (``_invoiced_orders``): an order counts on its first invoice day in the period, the
    day whose previous invoice day is before the period (or which has none)."""
    days = between(mart.derive("invoiced_orders", _invoiced_orders), "date_key",
                   period.start_key, period.end_key)
    first = pl.col("previous_key").is_null() | (pl.col("previous_key") < period.start_key)
    return int(attributed_rows(mart, days, scope, selection).filter(first)
               .select(pl.len()).collect().item())


def _invoiced_orders(mart: Mart) -> pl.DataFrame:
    """Per batch: one row per order and day it has invoice lines, with the attribution keys
    (the ETL copies them from the order to each of its lines) and ``previous_key``, the
    order's invoice day before (null on its first), by day. A period's distinct orders are
    then a count of rows, not a distinct count over them (10M lines, an executive's year to
    date: over the lines 50 ms, distinct over these rows ~15 ms, this count ~2 ms)."""
    return (mart.lazy("fct_sales_line").filter(pl.col("source_type") == "invoice")
            .select("date_key", "order_id", "rep_key", "channel_key", "region_key").unique()
            .sort("order_id", "date_key")
            .with_columns(pl.col("date_key").shift(1).over("order_id").alias("previous_key"))
            .sort("date_key", "order_id").collect()
            .with_columns(pl.col("date_key").set_sorted()))


def sales_by(mart: Mart, scope: Scope, period: Period, by: str,
             selection: Slice = EVERYTHING) -> pl.DataFrame:
    """Net sales, cost, margin and margin % per ``by`` (a key of ``GROUPINGS``), with a
    ``label`` column; sorted by net sales, largest first (months: in order)."""
    if by not in GROUPINGS:
        raise ValueError(f"cannot group sales by {by!r}")
    if by == "category":
        lines = sales_lines(mart, scope, period, selection).join(
            mart.lazy("dim_product").select("product_key", "category"), on="product_key",
            how="left")
        sums = lines.group_by("category").agg(_sums())
    else:
        sums = sales_sums(mart, scope, period, list(GROUPINGS[by]), selection)
    frame = _with_margin(sums)
    frame = with_label(mart, frame, by)
    ordered = frame.sort("month_key") if by == "month" else frame.sort(
        "net_sales_minor", descending=True)
    return ordered.collect()
