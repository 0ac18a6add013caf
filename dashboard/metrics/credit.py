"""Credit exposure and utilisation per customer (KPIS.md "Credit exposure"), in minor units
of the customer's own currency — the currency of its credit limit, as credit control
(``core.customers.credit``) compares them.

- **Open AR**: the customer's total AR (``receivables.ar_by_customer``'s
  ``total_ar_doc_minor``: open invoices − unapplied cash − open credits) at the moment the
  caller picks.
- **Backlog**: Σ ``fct_order_line.backlog_doc_minor`` of confirmed orders that are not cash
  sales (a cash sale is paid before it is confirmed and carries no exposure, as in credit
  control). Backlog is the batch's current state: the mart keeps no history of it.
- **Exposure** = open AR + backlog. **Utilisation** = exposure / credit limit, null when
  the limit is ≤ 0; **over limit** when exposure > limit (credit control then refuses new
  credit orders).

Credit limits change from forms, so they are read live from the core by the page
(``core.customers.profile.credit_standings``) and passed in here as a frame; the figures
come from the mart. Customers with no AR and no backlog have no row.
"""

from __future__ import annotations

import polars as pl

from dashboard.metrics.mart import Mart
from dashboard.metrics.ratios import ratio
from dashboard.metrics.scope import Scope
from dashboard.metrics.selection import EVERYTHING, Slice, managed_rows


def backlog_by_customer(mart: Mart, scope: Scope,
                        selection: Slice = EVERYTHING) -> pl.DataFrame:
    """One row per in-scope customer with backlog on credit orders: ``customer_id`` and
    ``backlog_doc_minor`` (the customer's currency); every customer's kept per batch."""
    return managed_rows(mart, mart.derive("backlog_by_customer", _backlog_of_everyone).lazy(),
                        scope, selection).collect()


def _backlog_of_everyone(mart: Mart) -> pl.DataFrame:
    credit_orders = mart.lazy("fct_order").filter(
        (pl.col("status") == "confirmed") & ~pl.col("is_cash_sale")).select("order_id")
    return (
        mart.lazy("fct_order_line")
        .filter(pl.col("backlog_doc_minor") > 0)
        .join(credit_orders, on="order_id", how="semi")
        .group_by("customer_id")
        .agg(pl.col("backlog_doc_minor").sum().cast(pl.Int64))
        .sort("customer_id")
        .collect()
    )


def credit_exposure(ar_by_customer: pl.DataFrame, backlog: pl.DataFrame) -> pl.DataFrame:
    """One row per customer of either frame: ``customer_id``, ``open_ar_doc_minor``
    (``ar_by_customer``'s ``total_ar_doc_minor``), ``backlog_doc_minor`` and
    ``exposure_doc_minor``; customers with neither AR nor backlog left out."""
    ar = ar_by_customer.select("customer_id",
                               pl.col("total_ar_doc_minor").alias("open_ar_doc_minor"))
    return (
        ar.join(backlog, on="customer_id", how="full", coalesce=True)
        .with_columns(pl.col("open_ar_doc_minor", "backlog_doc_minor").fill_null(0)
                      .cast(pl.Int64))
        .with_columns((pl.col("open_ar_doc_minor") + pl.col("backlog_doc_minor"))
                      .alias("exposure_doc_minor"))
        .filter((pl.col("open_ar_doc_minor") != 0) | (pl.col("backlog_doc_minor") != 0))
        .sort("customer_id")
    )


def credit_utilisation(exposure: pl.DataFrame, limits: pl.DataFrame) -> pl.DataFrame:
    """``exposure`` (``credit_exposure``) with ``credit_limit_minor`` from ``limits``
    (``customer_id``, ``credit_limit_minor`` in the customer's currency; customers missing
    there have no limit on record), ``utilisation`` (Float64, null when the limit ≤ 0 or
    unknown) and ``is_over_limit`` (exposure > limit; false when the limit is unknown)."""
    limit = pl.col("credit_limit_minor")
    return (
        exposure.join(limits.select("customer_id", "credit_limit_minor"), on="customer_id",
                      how="left")
        .with_columns(ratio(pl.col("exposure_doc_minor"), limit).alias("utilisation"),
                      (limit.is_not_null() & (pl.col("exposure_doc_minor") > limit))
                      .alias("is_over_limit"))
    )
