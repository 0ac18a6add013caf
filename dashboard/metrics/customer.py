"""One customer for the Customer 360 page: its 12-month P&L, AR summary, open quotes, open
orders and engagement status.

Scope, in two steps (DESIGN D6): the customer must be managed now by a rep in scope
(current account manager or a ship-to override) — otherwise every function answers empty
(an empty frame, or ``None``), as if it did not exist; then sales history (sales lines,
quotes, orders) shows only the rows attributed to reps in scope, so a customer taken over
from another rep does not expose that rep's history. Finance, executives and admins see
everything. Amounts are integer minor units of the base currency.
"""

from __future__ import annotations

from datetime import date

import polars as pl

from dashboard.metrics import engagement, receivables
from dashboard.metrics.mart import Mart
from dashboard.metrics.period import date_key, month_ends
from dashboard.metrics.ratios import ratio
from dashboard.metrics.sales import NET
from dashboard.metrics.scope import Scope
from dashboard.metrics.selection import attributed, managed

OPEN_QUOTE_STATUSES = ("draft", "sent")
"""Quotes not yet decided (KPIS quote status)."""
PNL_MONTHS = 12


def in_scope(mart: Mart, scope: Scope, customer_id: int) -> bool:
    """Whether ``customer_id`` is a customer managed now by a rep in ``scope``."""
    current = managed(mart, "dim_customer", scope).filter(
        pl.col("is_current"), pl.col("customer_id") == customer_id, pl.col("customer_id") >= 0)
    return current.select(pl.len()).collect().item() > 0


def _documents(mart: Mart, scope: Scope, fact: str, customer_id: int) -> pl.LazyFrame:
    """The customer's rows of ``fact`` attributed to reps in scope; none at all when the
    customer is out of scope (the frame keeps its columns)."""
    return attributed(mart, fact, scope).filter(
        pl.col("customer_id") == customer_id, pl.lit(in_scope(mart, scope, customer_id)))


def customer_pnl(mart: Mart, scope: Scope, customer_id: int, as_of: date,
                 months: int = PNL_MONTHS) -> pl.DataFrame:
    """One row per month of the ``months`` months up to ``as_of`` (its month counts to
    ``as_of``), oldest first, every month present: ``month_key``, ``net_sales_minor``,
    ``cost_minor``, ``margin_minor`` and ``margin_pct`` (margin / net sales, null when net
    sales ≤ 0), by posting date from ``fct_sales_line`` with the rules of
    ``dashboard.metrics.sales``. Empty when the customer is out of scope."""
    ends = month_ends(as_of, months)
    keys = ([day.year * 100 + day.month for day in ends]
            if in_scope(mart, scope, customer_id) else [])
    sums = (
        _documents(mart, scope, "fct_sales_line", customer_id)
        .filter(pl.col("date_key").is_between(date_key(ends[0].replace(day=1)),
                                              date_key(as_of)))
        .group_by("month_key")
        .agg(NET.sum().alias("net_sales_minor"), pl.col("cost_minor").sum())
    )
    margin = pl.col("net_sales_minor") - pl.col("cost_minor")
    return (
        pl.LazyFrame({"month_key": keys}, schema={"month_key": pl.Int32})
        .join(sums, on="month_key", how="left")
        .with_columns(pl.col("net_sales_minor", "cost_minor").fill_null(0).cast(pl.Int64))
        .with_columns(margin.alias("margin_minor"),
                      ratio(margin, pl.col("net_sales_minor")).alias("margin_pct"))
        .sort("month_key")
        .collect()
    )


def customer_ar(mart: Mart, scope: Scope, customer_id: int, as_of: date, *, timezone: str,
                include_backdated: bool = False) -> dict[str, int] | None:
    """The customer's ``receivables.AR_COLUMNS`` and ``total_ar_doc_minor`` (its own
    currency, ``currency``) as of ``as_of`` under the KPIS as-of rule (zeros when it has no
    receivables); ``None`` when the customer is out of scope."""
    if not in_scope(mart, scope, customer_id):
        return None
    frame = receivables.ar_by_customer(mart, scope, as_of, timezone=timezone,
                                       include_backdated=include_backdated).filter(
        pl.col("customer_id") == customer_id)
    if frame.is_empty():
        return dict.fromkeys((*receivables.AR_COLUMNS, "total_ar_doc_minor"), 0)
    row = frame.row(0, named=True)
    del row["customer_id"]
    return row


def open_quotes(mart: Mart, scope: Scope, customer_id: int) -> pl.DataFrame:
    """The customer's draft and sent quotes (one row per quote): number, status, quote,
    sent and valid-until date keys, amount and rep; newest first. Empty out of scope."""
    quotes = _documents(mart, scope, "fct_quote", customer_id).filter(
        pl.col("status").is_in(OPEN_QUOTE_STATUSES))
    return (
        quotes.join(mart.lazy("dim_rep").select("rep_key", pl.col("name").alias("rep")),
                    on="rep_key", how="left")
        .select("quote_id", "quote_number", "status", "quote_date_key", "sent_date_key",
                "valid_until_key", "net_minor", "rep")
        .sort("quote_date_key", "quote_id", descending=True)
        .collect()
    )


def open_orders(mart: Mart, scope: Scope, customer_id: int) -> pl.DataFrame:
    """The customer's confirmed orders with backlog left (one row per order): number,
    order and promised ship date keys, net amount, ``backlog_minor`` and rep; oldest
    first. Empty out of scope."""
    backlog = mart.lazy("fct_order_line").group_by("order_id").agg(
        pl.col("backlog_minor").sum())
    orders = _documents(mart, scope, "fct_order", customer_id).filter(
        pl.col("status") == "confirmed")
    return (
        orders.join(backlog, on="order_id", how="inner")
        .filter(pl.col("backlog_minor") > 0)
        .join(mart.lazy("dim_rep").select("rep_key", pl.col("name").alias("rep")),
              on="rep_key", how="left")
        .select("order_id", "order_number", "date_key", "promised_ship_date_key", "net_minor",
                "backlog_minor", "rep")
        .sort("date_key", "order_id")
        .collect()
    )


def customer_engagement(mart: Mart, scope: Scope, customer_id: int,
                        as_of: date) -> dict[str, object] | None:
    """The customer's ``engagement.engagement`` row as of ``as_of`` (status, last order,
    days since, expected interval, account manager); ``None`` when out of scope or created
    after ``as_of``."""
    rows = engagement.engagement(mart, scope, as_of, customer_id=customer_id)
    return rows.row(0, named=True) if rows.height else None
