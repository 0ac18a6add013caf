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
from dashboard.metrics.selection import EVERYTHING, Slice, attributed

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
    return attributed(mart, "fct_sales_line", scope, selection).filter(
        pl.col("date_key").is_between(period.start_key, period.end_key))


def _sums() -> list[pl.Expr]:
    return [NET.sum().alias("net_sales_minor"), pl.col("cost_minor").sum().alias("cost_minor")]


def _with_margin(frame: pl.LazyFrame) -> pl.LazyFrame:
    margin = pl.col("net_sales_minor") - pl.col("cost_minor")
    return frame.with_columns(margin.alias("margin_minor"),
                              ratio(margin, pl.col("net_sales_minor")).alias("margin_pct"))


def net_sales_total(mart: Mart, scope: Scope, period: Period,
                    selection: Slice = EVERYTHING) -> int:
    """``sales_totals``' net sales alone (minor units): one sum, no distinct count of
    orders."""
    return int(sales_lines(mart, scope, period, selection).select(NET.sum())
               .collect().item() or 0)


def sales_totals(mart: Mart, scope: Scope, period: Period,
                 selection: Slice = EVERYTHING) -> dict[str, int | float | None]:
    """Net sales, cost, margin, margin %, the number of distinct orders invoiced and the
    average order value (net sales / orders invoiced, half-up to minor units; null without
    orders)."""
    lines = sales_lines(mart, scope, period, selection)
    row = _with_margin(lines.select(*_sums(), ORDERS_INVOICED).with_columns(
        average_minor(pl.col("net_sales_minor"), pl.col("orders_invoiced"))
        .alias("average_order_minor"),
    )).collect().row(0, named=True)
    row["net_sales_minor"] = int(row["net_sales_minor"] or 0)
    row["cost_minor"] = int(row["cost_minor"] or 0)
    row["margin_minor"] = row["net_sales_minor"] - row["cost_minor"]
    return row


def sales_by(mart: Mart, scope: Scope, period: Period, by: str,
             selection: Slice = EVERYTHING) -> pl.DataFrame:
    """Net sales, cost, margin and margin % per ``by`` (a key of ``GROUPINGS``), with a
    ``label`` column; sorted by net sales, largest first (months: in order)."""
    if by not in GROUPINGS:
        raise ValueError(f"cannot group sales by {by!r}")
    lines = sales_lines(mart, scope, period, selection)
    if by == "category":
        lines = lines.join(mart.lazy("dim_product").select("product_key", "category"),
                           on="product_key", how="left")
        keys = ["category"]
    else:
        keys = list(GROUPINGS[by])
    frame = _with_margin(lines.group_by(keys).agg(_sums()))
    frame = with_label(mart, frame, by)
    ordered = frame.sort("month_key") if by == "month" else frame.sort(
        "net_sales_minor", descending=True)
    return ordered.collect()
