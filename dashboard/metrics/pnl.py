"""Profit and loss drilled by channel, rep, region, product category, product and customer in
any order (KPIS.md "Sales": net sales, cost, gross margin, margin %, and every term of
customer contribution).

Sources, each attributed to the order's rep, channel and region and to the customer version
of the order (so history stays with the rep of the order after a customer is reassigned):
``fct_sales_line`` (invoice lines, credit-note lines, RMA cost events) dated at posting — so
returns reduce sales and cost in the period of the credit note; ``fct_freight_cost``
(shipment lines) dated at shipping; and the financing cost of the period
(``dashboard.metrics.financing``) on the invoice lines it is split over. Where the node and
its split use only channel, rep, region and category, the calendar months wholly inside a
period are read from ``agg_sales_month`` (the same sums per month × channel × rep × region ×
category, ~30× fewer rows) and only the days outside them from the rows. A drill node is a
sequence of (dimension, value) filters; ``pnl_by`` splits a node by one more dimension, and
the splits add up to the node. Per row, in minor units of the base currency:

- ``net_sales_minor`` (settlement-discount and bad-debt credit notes left out), ``cost_minor``,
  ``margin_minor``, ``margin_pct`` (a ratio of sums, null when net sales ≤ 0);
- ``discount_minor`` (document discounts given), ``freight_charged_minor``,
  ``freight_cost_minor``, ``settlement_discount_minor`` and ``bad_debt_minor`` (credited,
  positive), ``financing_cost_minor``;
- ``contribution_minor`` = margin + freight charged − freight cost − settlement discounts −
  bad debt − financing cost (KPIS.md "Customer contribution").
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

import polars as pl

from dashboard.metrics.financing import financing_invoices, financing_lines
from dashboard.metrics.mart import Mart
from dashboard.metrics.period import Period
from dashboard.metrics.ratios import ratio, ratio_value
from dashboard.metrics.sales import NET, sales_lines
from dashboard.metrics.scope import Scope
from dashboard.metrics.selection import (
    EVERYTHING,
    Slice,
    attributed,
    attributed_in,
)

DIMENSIONS = {"channel": "Channel", "rep": "Rep", "region": "Region",
              "category": "Product category", "product": "Product", "customer": "Customer"}
NO_CATEGORY = "(no product)"
MEASURES = ("net_sales_minor", "cost_minor", "margin_minor", "margin_pct", "discount_minor",
            "freight_charged_minor", "freight_cost_minor", "settlement_discount_minor",
            "bad_debt_minor", "financing_cost_minor", "contribution_minor")
SUMS = tuple(m for m in MEASURES if m not in ("margin_minor", "margin_pct",
                                               "contribution_minor"))
"""The measures summed from the rows (the others are derived from them)."""
AGGREGATED = frozenset({"channel", "rep", "region", "category"})
"""Dimensions ``agg_sales_month`` carries (``category`` as the product's category)."""
BY_PRODUCT = frozenset({"category", "product"})
"""Dimensions that need financing cost split over invoice lines (the other dimensions are
the same on every line of an invoice)."""
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


def _by_member(mart: Mart, rows: pl.LazyFrame, dimension: str,
               sums: list[pl.Expr]) -> pl.LazyFrame:
    """``rows`` summed (``sums``) per member of ``dimension``: ``value``, ``label`` and the
    sums — grouped by the member's key first, then labelled (several times faster than
    grouping millions of rows by their labels); rows without a product fall under
    ``NO_CATEGORY`` / an unnamed product."""
    if dimension == "category" and _is_aggregate(rows):
        return rows.group_by(pl.col("category").alias("value")).agg(sums).with_columns(
            pl.col("value").alias("label"))
    member = members(mart, dimension)
    key = member.collect_schema().names()[0]
    labelled = rows.group_by(key).agg(sums).join(member, on=key, how="left").drop(key)
    if dimension == "category":
        labelled = labelled.with_columns(pl.col("value", "label").fill_null(NO_CATEGORY))
    return labelled


def in_node(mart: Mart, rows: pl.LazyFrame, node: Node) -> pl.LazyFrame:
    """The ``rows`` (sales lines, freight cost or financing rows) of ``node``'s members."""
    for dimension, value in node:
        if dimension == "category" and _is_aggregate(rows):
            rows = rows.filter(pl.col("category") == value)
            continue
        member = members(mart, dimension).filter(pl.col("value") == value)
        key = member.collect_schema().names()[0]
        if dimension == "category" and value == NO_CATEGORY:
            rows = rows.join(mart.lazy("dim_product").select("product_key"), on="product_key",
                             how="anti")
        else:
            rows = rows.join(member.select(key), on=key, how="semi")
    return rows


def _is_aggregate(rows: pl.LazyFrame) -> bool:
    return "category" in rows.collect_schema().names()


Part = tuple[pl.LazyFrame, list[pl.Expr]]
"""One source's rows of a node and the sums it contributes to ``MEASURES`` (parts may
contribute to the same measure: they add up)."""


def _credited(reason: str) -> pl.Expr:
    return (-pl.col("net_minor").filter(pl.col("credit_reason") == reason).sum()).alias(
        f"{reason}_minor")


LINE_SUMS = {
    "net_sales_minor": NET.sum().alias("net_sales_minor"),
    "cost_minor": pl.col("cost_minor").sum(),
    "discount_minor": pl.col("discount_minor").sum(),
    "freight_charged_minor": pl.col("freight_charged_minor").sum(),
    "settlement_discount_minor": _credited("settlement_discount"),
    "bad_debt_minor": _credited("bad_debt"),
}
"""The sales lines' sums by measure (``agg_sales_month`` holds the same under the names)."""


def _uses_aggregate(dimensions: Iterable[str | None]) -> bool:
    """Whether a node and split over ``dimensions`` can read whole months from
    ``agg_sales_month``: only its dimensions (its ``category`` is ``dim_product``'s, which
    is never null, and every sales line's product resolves: the ETL checks it)."""
    return {d for d in dimensions if d is not None} <= AGGREGATED


def _sales_parts(mart: Mart, scope: Scope, period: Period, selection: Slice, node: Node,
                 by: str | None, measures: Iterable[str]) -> list[Part]:
    """The node's sales in ``period`` (``measures`` of ``LINE_SUMS``, and
    ``freight_cost_minor`` when asked for): the whole months from ``agg_sales_month`` when
    the node and ``by`` allow it (``_uses_aggregate``), every other day from the sales lines
    and freight cost rows."""
    wanted = list(measures)
    months = period.whole_months() if _uses_aggregate([by, *(d for d, _ in node)]) else None
    # The days outside the whole months, each sliced on its own (``sales.sales_sums``).
    days = [period] if months is None else period.outside_whole_months()
    parts: list[Part] = []
    for part in days:
        parts.append((in_node(mart, sales_lines(mart, scope, part, selection), node),
                      [LINE_SUMS[m] for m in wanted if m in LINE_SUMS]))
        if "freight_cost_minor" in wanted:
            parts.append((in_node(mart, freight_lines(mart, scope, part, selection), node),
                          [pl.col("freight_cost_minor").sum()]))
    if months is not None:
        aggregate = attributed(mart, "agg_sales_month", scope, selection).filter(
            pl.col("month_key").is_between(*months))
        if "freight_cost_minor" not in wanted:  # grains with freight cost only: no sales
            aggregate = aggregate.filter(pl.col("line_count") > 0)
        parts.append((in_node(mart, aggregate, node), [pl.col(m).sum() for m in wanted]))
    return parts


def freight_lines(mart: Mart, scope: Scope, period: Period,
                  selection: Slice = EVERYTHING) -> pl.LazyFrame:
    """The freight cost rows (``fct_freight_cost``: shipment lines) shipped in ``period``,
    in scope and slice."""
    return attributed_in(mart, "fct_freight_cost", period, scope, selection)


def financing_rows(mart: Mart, scope: Scope, period: Period, selection: Slice,
                   rate: Decimal, dimensions: Iterable[str | None],
                   node: Node = ()) -> pl.LazyFrame:
    """The financing cost of ``period`` in scope and slice, per invoice line
    (``financing_lines``) when one of ``dimensions`` is a product dimension, else per
    invoice (``financing_invoices``: cheaper, same sums); both have ``document_id``. The
    ``node``'s members other than products (whole invoices) narrow the lines before the
    split; the caller still takes the rows of the node (``in_node``)."""
    if BY_PRODUCT & set(dimensions):
        whole_invoices = tuple((d, value) for d, value in node if d not in BY_PRODUCT)
        return financing_lines(mart, scope, period, rate, selection,
                               narrow=(lambda rows: in_node(mart, rows, whole_invoices))
                               if whole_invoices else None)
    return financing_invoices(mart, scope, period, rate, selection)


def _node_parts(mart: Mart, scope: Scope, period: Period, selection: Slice, node: Node,
                rate: Decimal, by: str | None = None) -> list[Part]:
    """The node's sales and freight cost (``_sales_parts``) and financing cost of
    ``period`` — per invoice line when the node or ``by`` is a product dimension, else per
    invoice (cheaper, same sums) — each with its sums. Each source is aggregated on its own
    before they are added up: far fewer rows than one concatenation."""
    financing = financing_rows(mart, scope, period, selection, rate,
                               {by, *(dimension for dimension, _ in node)}, node)
    return [*_sales_parts(mart, scope, period, selection, node, by,
                          [*LINE_SUMS, "freight_cost_minor"]),
            (in_node(mart, financing, node), [pl.col("financing_cost_minor").sum()])]


def _sums(parts: list[Part], keys: list[str]) -> pl.LazyFrame:
    """The parts' sums per ``keys`` (or in total), added up across parts; a measure no
    part has for a key sums to 0."""
    if keys:
        return _added([frame.group_by(keys).agg(exprs) for frame, exprs in parts], keys)
    return pl.concat([frame.select(exprs) for frame, exprs in parts],
                     how="diagonal_relaxed").select(pl.all().sum())


def _added(sums: list[pl.LazyFrame], keys: list[str]) -> pl.LazyFrame:
    """Frames of sums per ``keys`` added up (a sum missing from a frame counts as 0)."""
    return pl.concat(sums, how="diagonal_relaxed").group_by(keys).agg(pl.all().sum())


def _with_measures(sums: pl.LazyFrame) -> pl.LazyFrame:
    """The ``MEASURES`` from the sums of the parts (``_sums``)."""
    margin = pl.col("net_sales_minor") - pl.col("cost_minor")
    return sums.with_columns(
        pl.col(*SUMS).fill_null(0).cast(pl.Int64)).with_columns(
        margin.alias("margin_minor"), ratio(margin, pl.col("net_sales_minor")).alias("margin_pct"),
        (margin + pl.col("freight_charged_minor") - pl.col("freight_cost_minor")
         - pl.col("settlement_discount_minor") - pl.col("bad_debt_minor")
         - pl.col("financing_cost_minor")).alias("contribution_minor"))


def pnl_totals(mart: Mart, scope: Scope, period: Period, selection: Slice = EVERYTHING,
               node: Node = (), *, rate: Decimal) -> dict[str, int | float | None]:
    """The ``MEASURES`` of the node over the period; ``rate`` is the annual financing
    rate (the company's ``financing_rate``)."""
    parts = _node_parts(mart, scope, period, selection, node, rate)
    return _with_measures(_sums(parts, [])).collect().select(MEASURES).row(0, named=True)


def totals_of(rows: pl.DataFrame) -> dict[str, int | float | None]:
    """The ``MEASURES`` of a node from its ``pnl_by`` rows, which add up to it (the same as
    ``pnl_totals`` without computing the period again): sums, margin % a ratio of sums."""
    totals: dict[str, int | float | None] = {
        m: int(rows[m].sum()) for m in MEASURES if m != "margin_pct"}
    totals["margin_pct"] = ratio_value(int(rows["margin_minor"].sum()),
                                       int(rows["net_sales_minor"].sum()))
    return {m: totals[m] for m in MEASURES}


def pnl_by(mart: Mart, scope: Scope, period: Period, by: str, selection: Slice = EVERYTHING,
           node: Node = (), *, rate: Decimal) -> pl.DataFrame:
    """The node split by ``by``: one row per member with rows in the period or sales in the
    comparison periods — ``value``, ``label``, the ``MEASURES`` and, for comparison,
    ``net_sales_prior_minor``, ``net_sales_last_year_minor``, ``margin_pct_prior`` and
    ``margin_pct_last_year``. Largest net sales first. ``rate``: as ``pnl_totals``."""
    member = ["value", "label"]
    frames = [_with_measures(_added([
        _by_member(mart, frame, by, sums)
        for frame, sums in _node_parts(mart, scope, period, selection, node, rate, by)],
        member))]
    net, cost = pl.col("net_sales_minor"), pl.col("cost_minor")
    for suffix, window in (("_prior", period.prior()), ("_last_year", period.last_year())):
        sales = [_by_member(mart, frame, by, sums) for frame, sums in _sales_parts(
            mart, scope, window, selection, node, by, ["net_sales_minor", "cost_minor"])]
        frames.append(_added(sales, member).select(
            "value", "label", net.alias(f"net_sales{suffix}_minor"),
            ratio(net - cost, net).alias(f"margin_pct{suffix}")))
    current, prior, last_year = frames
    joined = (current.join(prior, on=["value", "label"], how="full", coalesce=True)
              .join(last_year, on=["value", "label"], how="full", coalesce=True))
    return joined.with_columns(
        pl.col(*MEASURES[:3], *MEASURES[4:], "net_sales_prior_minor",
               "net_sales_last_year_minor").fill_null(0),
    ).sort(["net_sales_minor", "label"], descending=[True, False], nulls_last=True).collect()
