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
    lines = sales_lines(mart, scope, period, selection)
    months = period.whole_months() if reads_months(keys) else None
    if months is None:
        return lines.group_by(keys).agg(_sums()) if keys else lines.select(_sums())
    inside = pl.col("month_key").is_between(*months)
    aggregate = attributed(mart, "agg_sales_month", scope, selection).filter(
        inside, pl.col("line_count") > 0)
    parts = [lines.filter(~inside), aggregate.select(*keys, "net_sales_minor", "cost_minor")]
    if not keys:
        return pl.concat([parts[0].select(_sums()), parts[1].select(pl.all().sum())],
                         how="vertical_relaxed").select(pl.all().sum())
    return pl.concat([parts[0].group_by(keys).agg(_sums()),
                      parts[1].group_by(keys).agg(pl.all().sum())],
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
