"""Profit and loss drilled by channel, rep, region, product category, product and customer in
any order (KPIS.md "Sales": net sales, cost, gross margin, margin %, and the contribution
terms the mart holds).

Grain of the source: ``fct_sales_line`` (invoice lines, credit-note lines, RMA cost events)
dated at posting, attributed to the order's rep, channel and region — so history stays with
the rep of the order after a customer is reassigned, and returns reduce sales and cost in
the period of the credit note. A drill node is a sequence of (dimension, value) filters;
``pnl_by`` splits a node by one more dimension. Per row, in minor units of the base currency:

- ``net_sales_minor`` (settlement-discount and bad-debt credit notes left out), ``cost_minor``,
  ``margin_minor``, ``margin_pct`` (a ratio of sums, null when net sales ≤ 0);
- ``discount_minor`` (document discounts given), ``freight_charged_minor``,
  ``settlement_discount_minor`` and ``bad_debt_minor`` (credited, positive);
- ``contribution_minor`` = margin + freight charged − settlement discounts − bad debt.
  Freight cost (on shipments) and financing cost (from days late) are not in the mart yet,
  so this is the contribution before those two terms.
"""

from __future__ import annotations

import polars as pl

from dashboard.metrics.mart import Mart
from dashboard.metrics.period import Period
from dashboard.metrics.ratios import ratio
from dashboard.metrics.sales import NET, sales_lines
from dashboard.metrics.scope import Scope
from dashboard.metrics.selection import EVERYTHING, Slice

DIMENSIONS = {"channel": "Channel", "rep": "Rep", "region": "Region",
              "category": "Product category", "product": "Product", "customer": "Customer"}
NO_CATEGORY = "(no product)"
MEASURES = ("net_sales_minor", "cost_minor", "margin_minor", "margin_pct", "discount_minor",
            "freight_charged_minor", "settlement_discount_minor", "bad_debt_minor",
            "contribution_minor")
Node = tuple[tuple[str, str], ...]
"""A drill node: (dimension, value) pairs, outermost first; values as in the URL."""


def members(mart: Mart, dimension: str) -> pl.LazyFrame:
    """``dimension``'s members: the fact column(s) to join on, ``value`` (its URL form)
    and ``label``."""
    if dimension == "channel":
        return mart.lazy("dim_channel").select("channel_key", pl.col("channel_code")
                                               .alias("value"), pl.col("name").alias("label"))
    if dimension == "rep":
        return mart.lazy("dim_rep").select("rep_key", pl.col("rep_id").cast(pl.String)
                                           .alias("value"), pl.col("name").alias("label"))
    if dimension == "region":
        return mart.lazy("dim_region").select("region_key", pl.col("region_code")
                                              .alias("value"), pl.col("name").alias("label"))
    if dimension == "category":
        category = pl.col("category").fill_null(NO_CATEGORY)
        return mart.lazy("dim_product").select("product_key", category.alias("value"),
                                               category.alias("label"))
    if dimension == "product":
        return mart.lazy("dim_product").select("product_key", pl.col("product_id")
                                               .cast(pl.String).alias("value"),
                                               pl.col("name").alias("label"))
    if dimension == "customer":
        return mart.lazy("dim_customer").filter(pl.col("is_current")).select(
            "customer_id", pl.col("customer_id").cast(pl.String).alias("value"),
            pl.col("name").alias("label"))
    raise ValueError(f"cannot drill P&L by {dimension!r}")


def member_label(mart: Mart, dimension: str, value: str) -> str:
    """The display name of one member (the value itself when unknown)."""
    rows = members(mart, dimension).filter(pl.col("value") == value).select("label").collect()
    return str(rows["label"][0]) if rows.height else value


def member_values(mart: Mart, dimension: str) -> set[str]:
    """Every value ``dimension`` may take in a URL (the allowlist)."""
    return set(members(mart, dimension).select("value").collect()["value"].to_list())


def _labelled(mart: Mart, lines: pl.LazyFrame, dimension: str) -> pl.LazyFrame:
    """``lines`` with the ``value`` and ``label`` of their member of ``dimension`` (lines
    without a product fall under ``NO_CATEGORY`` / an unnamed product)."""
    member = members(mart, dimension)
    key = member.collect_schema().names()[0]
    joined = lines.join(member, on=key, how="left")
    if dimension == "category":
        joined = joined.with_columns(pl.col("value", "label").fill_null(NO_CATEGORY))
    return joined


def _node_lines(mart: Mart, scope: Scope, period: Period, selection: Slice,
                node: Node) -> pl.LazyFrame:
    lines = sales_lines(mart, scope, period, selection)
    for dimension, value in node:
        member = members(mart, dimension).filter(pl.col("value") == value)
        key = member.collect_schema().names()[0]
        if dimension == "category" and value == NO_CATEGORY:
            lines = lines.join(mart.lazy("dim_product").select("product_key"), on="product_key",
                               how="anti")
        else:
            lines = lines.join(member.select(key), on=key, how="semi")
    return lines


def _credited(reason: str) -> pl.Expr:
    return (-pl.col("net_minor").filter(pl.col("credit_reason") == reason).sum()).alias(
        f"{reason}_minor")


def _measures(frame: pl.LazyFrame, keys: list[str]) -> pl.LazyFrame:
    sums = [NET.sum().alias("net_sales_minor"), pl.col("cost_minor").sum(),
            pl.col("discount_minor").sum(), pl.col("freight_charged_minor").sum(),
            _credited("settlement_discount"), _credited("bad_debt")]
    grouped = frame.group_by(keys).agg(sums) if keys else frame.select(sums)
    margin = pl.col("net_sales_minor") - pl.col("cost_minor")
    return grouped.with_columns(pl.col(*MEASURES[:2], *MEASURES[4:8]).fill_null(0)
                                .cast(pl.Int64)).with_columns(
        margin.alias("margin_minor"), ratio(margin, pl.col("net_sales_minor")).alias("margin_pct"),
        (margin + pl.col("freight_charged_minor") - pl.col("settlement_discount_minor")
         - pl.col("bad_debt_minor")).alias("contribution_minor"))


def pnl_totals(mart: Mart, scope: Scope, period: Period, selection: Slice = EVERYTHING,
               node: Node = ()) -> dict[str, int | float | None]:
    """The ``MEASURES`` of the node over the period."""
    frame = _measures(_node_lines(mart, scope, period, selection, node), []).collect()
    return frame.select(MEASURES).row(0, named=True)


def pnl_by(mart: Mart, scope: Scope, period: Period, by: str, selection: Slice = EVERYTHING,
           node: Node = ()) -> pl.DataFrame:
    """The node split by ``by``: one row per member with lines in the period or in the
    comparison periods — ``value``, ``label``, the ``MEASURES`` and, for comparison,
    ``net_sales_prior_minor``, ``net_sales_last_year_minor``, ``margin_pct_prior`` and
    ``margin_pct_last_year``. Largest net sales first."""
    frames = []
    for suffix, window in (("", period), ("_prior", period.prior()),
                           ("_last_year", period.last_year())):
        measures = _measures(_labelled(mart, _node_lines(mart, scope, window, selection, node),
                                       by), ["value", "label"])
        if suffix:
            measures = measures.select(
                "value", "label", pl.col("net_sales_minor").alias(f"net_sales{suffix}_minor"),
                pl.col("margin_pct").alias(f"margin_pct{suffix}"))
        frames.append(measures)
    current, prior, last_year = frames
    joined = (current.join(prior, on=["value", "label"], how="full", coalesce=True)
              .join(last_year, on=["value", "label"], how="full", coalesce=True))
    return joined.with_columns(
        pl.col(*MEASURES[:3], *MEASURES[4:], "net_sales_prior_minor",
               "net_sales_last_year_minor").fill_null(0),
    ).sort(["net_sales_minor", "label"], descending=[True, False], nulls_last=True).collect()
