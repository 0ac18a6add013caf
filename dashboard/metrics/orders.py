"""Bookings, backlog, order count and average order value (KPIS.md "Sales", "Orders").

Sales history, so scoped by the rep each row is attributed to (``attributed``: the order's
rep, channel and region fixed at confirmation), then narrowed by the slice. Amounts are
integer minor units of the base currency. Each measure is dated by its own date:

- **bookings**: Σ ``fct_booking.net_delta_minor`` of events dated in the period — the net
  line amount added on confirmation and adjusted ± on amendment or cancellation, dated at
  the change (before the order discount, at the order's rate);
- **backlog** (now, as of the batch): Σ ``fct_order_line.backlog_minor`` — the open quantity
  (ordered − invoiced − cancelled) of confirmed orders at the net price less its share of
  the order discount, at the order's rate; by month it is grouped by the order's month;
- **orders**: confirmed, not cancelled orders (status ``confirmed`` or ``closed``) with an
  order date in the period;
- **average order value**: net sales (as ``dashboard.metrics.sales``) / distinct orders
  invoiced in the period, half-up to minor units; null without invoiced orders.

Backlog as of a past date is not offered: it needs each order line's invoiced quantity as
of that date, and ``fct_sales_line`` does not carry the order line of an invoice line (only
the order), so an order with two lines of one product cannot be split exactly; bookings
are before the order discount while backlog is after it, so booked − invoiced is not it
either. It becomes exact once ``fct_sales_line`` carries ``order_line_id``.
"""

from __future__ import annotations

import polars as pl

from dashboard.metrics.labels import with_label
from dashboard.metrics.mart import Mart
from dashboard.metrics.period import Period
from dashboard.metrics.ratios import average_minor
from dashboard.metrics.sales import NET, ORDERS_INVOICED
from dashboard.metrics.scope import Scope
from dashboard.metrics.selection import (
    EVERYTHING,
    Slice,
    attributed,
    attributed_in,
)

GROUPINGS = {"month": "month_key", "rep": "rep_key", "channel": "channel_key",
             "region": "region_key"}
"""Allowed ``by`` values → the fact column they group on (then labelled from the dims)."""
ORDER_STATUSES = ("confirmed", "closed")
"""Orders that count (KPIS: confirmed, not cancelled; a closed order was confirmed)."""
MEASURES = ("bookings_minor", "backlog_minor", "orders", "net_sales_minor",
            "orders_invoiced")


def _aggregate(frame: pl.LazyFrame, keys: list[str], *exprs: pl.Expr) -> pl.LazyFrame:
    return frame.group_by(keys).agg(*exprs) if keys else frame.select(*exprs)


def _bookings(mart: Mart, scope: Scope, period: Period, selection: Slice,
              keys: list[str]) -> pl.LazyFrame:
    return _aggregate(attributed_in(mart, "fct_booking", period, scope, selection), keys,
                      pl.col("net_delta_minor").sum().alias("bookings_minor"))


def _backlog(mart: Mart, scope: Scope, selection: Slice, keys: list[str]) -> pl.LazyFrame:
    return _aggregate(attributed(mart, "fct_order_line", scope, selection).filter(
        pl.col("backlog_minor") != 0), keys, pl.col("backlog_minor").sum().alias("backlog_minor"))


def _measures(mart: Mart, scope: Scope, period: Period, selection: Slice,
              keys: list[str]) -> pl.LazyFrame:
    """One row per ``keys`` value (one row in all when ``keys`` is empty) with every
    measure; a group missing from one source gets 0 for that source's measures."""
    parts = [
        _bookings(mart, scope, period, selection, keys),
        _backlog(mart, scope, selection, keys),
        _aggregate(attributed_in(mart, "fct_order", period, scope, selection).filter(
            pl.col("status").is_in(ORDER_STATUSES)), keys, pl.len().alias("orders")),
        _aggregate(attributed_in(mart, "fct_sales_line", period, scope, selection), keys,
                   NET.sum().alias("net_sales_minor"), ORDERS_INVOICED),
    ]
    joined = parts[0]
    for part in parts[1:]:
        joined = (joined.join(part, on=keys, how="full", coalesce=True) if keys
                  else joined.join(part, how="cross"))
    return joined.with_columns(
        pl.col(name).fill_null(0).cast(pl.Int64) for name in MEASURES
    ).with_columns(average_minor(pl.col("net_sales_minor"), pl.col("orders_invoiced"))
                   .alias("average_order_minor"))


def order_totals(mart: Mart, scope: Scope, period: Period,
                 selection: Slice = EVERYTHING) -> dict[str, int | None]:
    """Bookings in ``period``, backlog now, orders placed in ``period``, net sales and
    orders invoiced in ``period`` and the average order value (rules in the module
    docstring); money in minor units of the base currency."""
    row: dict[str, int | None] = _measures(mart, scope, period, selection, []).collect().row(
        0, named=True)
    return row


def bookings_total(mart: Mart, scope: Scope, period: Period,
                   selection: Slice = EVERYTHING) -> int:
    """``order_totals``' bookings alone (minor units)."""
    return int(_bookings(mart, scope, period, selection, []).collect().item() or 0)


def backlog_total(mart: Mart, scope: Scope, selection: Slice = EVERYTHING) -> int:
    """``order_totals``' backlog alone (now; minor units)."""
    return int(_backlog(mart, scope, selection, []).collect().item() or 0)


def orders_by(mart: Mart, scope: Scope, period: Period, by: str,
              selection: Slice = EVERYTHING) -> pl.DataFrame:
    """The measures of ``order_totals`` per ``by`` (a key of ``GROUPINGS``) with a
    ``label``; groups with any measure, months in order, others by bookings, largest
    first."""
    if by not in GROUPINGS:
        raise ValueError(f"cannot group orders by {by!r}")
    key = GROUPINGS[by]
    frame = with_label(mart, _measures(mart, scope, period, selection, [key]), by)
    ordered = (frame.sort(key) if by == "month"
               else frame.sort("bookings_minor", key, descending=[True, False]))
    return ordered.collect()
