"""``fct_payment_risk``: each customer's risk of paying late, for the collections worklist
(issue 6). Grain: one row per current customer (``dim_customer``'s current versions), as of
the batch — every allocation in it. Rebuilt whole on every run from the built tables.

**Risk of paying late**: the share of the cash applied to the customer's invoices that
arrived after the due date — Σ allocated amount with days late > 0 / Σ allocated amount,
over receipts applied to invoices that are not cash sales, allocation dated ≤ the as-of day,
amount at the invoice's rate (``fct_ar_allocation``; a reversal carries its allocation's days
late with the negative amount, so they cancel). Blended with a prior share as the cash
forecast blends its pools: risk = w × own + (1 − w) × prior, w = n / (n + 5), n = the
customer's invoices with cash applied; prior = its segment's share (the current customer
version's segment), or every customer's when it has no segment or its segment no history.
The shares are company-wide, whoever looks: a customer's risk is the same on every user's
list. Computed exactly (integers) and kept in parts per million, rounded half up
(``risk_ppm``); no paid invoice anywhere: null.

``late_payment_risk`` applies the rule as of any day, on the mart's frames (the dashboard
asks it for a day before the batch's last allocation); ``build`` as of the batch. On a
same-day incremental run whose rows differ in nothing ``READS`` names (a dispute flag), the
published table stands.
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

from etl.conform import conform
from etl.facts.forecast_simulation import PRIOR_INVOICES
from etl.facts.open_ar import INVOICE, PAYMENT
from etl.increment import Increment
from etl.prorate import half_up
from etl.schema import fct_payment_risk

CORE_COLUMNS: dict[str, tuple[str, ...]] = {}
CORE_TABLES = tuple(CORE_COLUMNS)
TABLE = "fct_payment_risk"
TABLES = ("fct_ar_item", "fct_ar_allocation", "dim_customer")
PPM = 1_000_000
COLUMNS = tuple(c.name for c in fct_payment_risk.columns)
# What ``build`` gives ``late_payment_risk`` of each table (its row key among them), so
# reading another column fails: rows that differ elsewhere change no risk.
READS: dict[str, tuple[str, ...]] = {
    "fct_ar_item": ("item_type", "document_id", "is_cash_sale"),
    "fct_ar_allocation": ("allocation_id", "customer_id", "source_type", "target_type",
                          "target_id", "allocation_date_key", "amount_minor", "days_late"),
    "dim_customer": ("customer_key", "customer_id", "is_current", "segment_code"),
}


def late_payment_risk(tables: Mapping[str, pl.DataFrame],
                      as_of_key: int | None = None) -> pl.LazyFrame:
    """The ``fct_payment_risk`` rows from the ``TABLES`` as of the day ``as_of_key``
    (YYYYMMDD; None: every allocation): the rule in the module docstring."""
    cash_sales = tables["fct_ar_item"].lazy().filter(
        (pl.col("item_type") == INVOICE) & pl.col("is_cash_sale")).select(
        pl.col("document_id").alias("target_id"))
    allocations = tables["fct_ar_allocation"].lazy().filter(
        pl.col("source_type") == PAYMENT, pl.col("target_type") == INVOICE)
    if as_of_key is not None:
        allocations = allocations.filter(pl.col("allocation_date_key") <= as_of_key)
    per_invoice = (
        allocations.join(cash_sales, on="target_id", how="anti")
        .group_by("customer_id", "target_id")
        .agg(pl.col("amount_minor").sum().alias("paid_minor"),
             pl.col("amount_minor").filter(pl.col("days_late") > 0).sum().alias("late_minor"))
    )
    history = per_invoice.group_by("customer_id").agg(
        pl.col("paid_minor").sum(), pl.col("late_minor").sum(),
        (pl.col("paid_minor") > 0).sum().cast(pl.Int64).alias("paid_invoices"))
    customers = (
        tables["dim_customer"].lazy()
        .filter(pl.col("is_current") & (pl.col("customer_id") >= 0))
        .select("customer_id", "segment_code")
        .join(history, on="customer_id", how="left")
        .with_columns(pl.col("paid_minor", "late_minor", "paid_invoices").fill_null(0))
    )
    segments = customers.filter(pl.col("segment_code").is_not_null()).group_by(
        "segment_code").agg(pl.col("paid_minor").sum().alias("segment_paid"),
                            pl.col("late_minor").sum().alias("segment_late"))
    everyone = customers.select(pl.col("paid_minor").sum().alias("all_paid"),
                                pl.col("late_minor").sum().alias("all_late"))
    has_segment = pl.col("segment_paid").fill_null(0) > 0
    n, paid, late = (pl.col(c).cast(pl.Int128) for c in ("paid_invoices", "paid_minor",
                                                        "late_minor"))
    prior_paid, prior_late = (pl.col(c).cast(pl.Int128) for c in ("prior_paid_minor",
                                                                 "prior_late_minor"))
    # risk = n/(n+5) × late/paid + 5/(n+5) × prior_late/prior_paid, as one fraction
    numerator = pl.when(n > 0).then(n * late * prior_paid + PRIOR_INVOICES * paid * prior_late
                                    ).otherwise(prior_late)
    denominator = pl.when(n > 0).then((n + PRIOR_INVOICES) * paid * prior_paid
                                      ).otherwise(prior_paid)
    return (
        customers.join(segments, on="segment_code", how="left")
        .join(everyone, how="cross")
        .with_columns(
            pl.when(has_segment).then("segment_paid").otherwise("all_paid")
            .alias("prior_paid_minor"),
            pl.when(has_segment).then("segment_late").otherwise("all_late")
            .alias("prior_late_minor"))
        .with_columns(pl.when((denominator > 0) & (prior_paid > 0))
                      .then(half_up(pl.lit(PPM), numerator, denominator))
                      .alias("risk_ppm"))
        .select(COLUMNS)
    )


def build(tables: Mapping[str, pl.DataFrame],
          increment: Increment | None = None) -> pl.DataFrame:
    """``fct_payment_risk`` as of the batch (every allocation), sorted by customer; with an
    ``increment`` under which no row differs in ``READS``, the published table."""
    if increment is not None and not increment.customers_reading(READS):
        return increment.previous[TABLE]
    read = {name: tables[name].select(columns) for name, columns in READS.items()}
    return conform(late_payment_risk(read), fct_payment_risk).sort("customer_id").collect()
