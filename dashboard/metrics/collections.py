"""The collections worklist (issue 6): open, overdue, undisputed invoices of the in-scope
customers as of a date, ranked by score = open amount × the customer's risk of paying late.
Grain: one row per invoice. Amounts are integer minor units of the base currency.

**Items**: ``receivables.open_items_in_scope_lazy`` — the as-of rule, scope (customers
managed now) and conversion (the invoice's own rate) of total AR and AR aging — limited to
invoices with an open amount, due before the as-of day (days overdue = D − due date ≥ 1) and
not disputed (the batch's dispute flag). Refunds and reversals are not collected by call.

**Risk of paying late** (per customer, from its payment history in the mart): the share of
the cash applied to its invoices that arrived after the due date — Σ allocated amount with
days late > 0 / Σ allocated amount, over receipts applied to invoices that are not cash
sales, allocation dated ≤ D, amount at the invoice's rate (``fct_ar_allocation``; a
reversal carries its allocation's days late with the negative amount, so they cancel).
Blended with a prior share as the cash forecast blends its pools: risk =
w × own + (1 − w) × prior, w = n / (n + 5), n = the customer's invoices with cash applied;
prior = its segment's share (the current customer version's segment), or every customer's
when it has no segment or its segment no history. The shares are company-wide, whoever
looks: a customer's risk is the same on every user's list. Computed exactly (integers) and
kept in parts per million, rounded half up (``risk_ppm``); no paid invoice anywhere: null.

**Score** = open amount × risk_ppm / 10⁶, rounded half up to the minor unit: the part of
the open amount expected to come in late. Ranked by score (null last), then days overdue,
then invoice id.
"""

from __future__ import annotations

from datetime import date

import polars as pl

from dashboard.metrics.mart import Mart
from dashboard.metrics.period import date_key, date_of_key
from dashboard.metrics.receivables import open_items_in_scope_lazy
from dashboard.metrics.scope import Scope
from etl.facts.forecast_simulation import PRIOR_INVOICES
from etl.facts.open_ar import INVOICE, PAYMENT
from etl.prorate import half_up

WORKLIST_COLUMNS = ("customer_id", "name", "account_manager", "invoice_id", "document_number",
                    "due_date", "days_overdue", "open_minor", "paid_invoices", "risk_ppm",
                    "score_minor")
PPM = 1_000_000


def late_payment_risk(mart: Mart, as_of: date) -> pl.LazyFrame:
    """One row per current customer: ``customer_id``, ``paid_invoices`` (n), ``paid_minor``
    and ``late_minor`` (its cash applied, and the part paid late), ``prior_paid_minor`` and
    ``prior_late_minor`` (its segment's, else every customer's) and ``risk_ppm`` — the
    rule in the module docstring."""
    cash_sales = mart.lazy("fct_ar_item").filter(
        (pl.col("item_type") == INVOICE) & pl.col("is_cash_sale")).select(
        pl.col("document_id").alias("target_id"))
    per_invoice = (
        mart.lazy("fct_ar_allocation")
        .filter(pl.col("source_type") == PAYMENT, pl.col("target_type") == INVOICE,
                pl.col("allocation_date_key") <= date_key(as_of))
        .join(cash_sales, on="target_id", how="anti")
        .group_by("customer_id", "target_id")
        .agg(pl.col("amount_minor").sum().alias("paid_minor"),
             pl.col("amount_minor").filter(pl.col("days_late") > 0).sum().alias("late_minor"))
    )
    history = per_invoice.group_by("customer_id").agg(
        pl.col("paid_minor").sum(), pl.col("late_minor").sum(),
        (pl.col("paid_minor") > 0).sum().cast(pl.Int64).alias("paid_invoices"))
    customers = (
        mart.lazy("dim_customer").filter(pl.col("is_current") & (pl.col("customer_id") >= 0))
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
        .select("customer_id", "paid_invoices", "paid_minor", "late_minor",
                "prior_paid_minor", "prior_late_minor", "risk_ppm")
    )


def worklist(mart: Mart, scope: Scope, as_of: date, *, timezone: str) -> pl.DataFrame:
    """The ranked worklist as of ``as_of`` (``timezone``: the company's), one row per
    invoice with the ``WORKLIST_COLUMNS``: ``invoice_id`` is the core invoice id,
    ``paid_invoices`` the customer's n. Rules in the module docstring."""
    day = date_key(as_of)
    due = date_of_key("due_date_key")
    items = open_items_in_scope_lazy(mart, scope, as_of, timezone=timezone).filter(
        pl.col("item_type") == INVOICE, ~pl.col("is_disputed"), pl.col("open_doc_minor") > 0,
        pl.col("due_date_key") > 0, pl.col("due_date_key") < day)
    customers = mart.lazy("dim_customer").filter(pl.col("is_current")).select(
        "customer_id", "name", "account_manager_id")
    reps = mart.lazy("dim_rep").select(pl.col("rep_id").alias("account_manager_id"),
                                       pl.col("name").alias("account_manager"))
    return (
        items.join(late_payment_risk(mart, as_of), on="customer_id", how="left")
        .join(customers, on="customer_id", how="left")
        .join(reps, on="account_manager_id", how="left")
        .with_columns(
            pl.col("document_id").alias("invoice_id"),
            due.alias("due_date"),
            (pl.lit(as_of) - due).dt.total_days().alias("days_overdue"),
            pl.col("open_minor").cast(pl.Int64),
            half_up(pl.col("open_minor"), pl.col("risk_ppm"), pl.lit(PPM))
            .alias("score_minor"))
        .sort(["score_minor", "days_overdue", "invoice_id"], descending=[True, True, False],
              nulls_last=True)
        .select(WORKLIST_COLUMNS)
        .collect()
    )


def worklist_totals(rows: pl.DataFrame) -> dict[str, int]:
    """``invoices``, ``customers``, ``open_minor`` and ``score_minor`` summed over the
    worklist (0 when empty)."""
    return {"invoices": rows.height, "customers": rows["customer_id"].n_unique(),
            "open_minor": int(rows["open_minor"].sum()),
            "score_minor": int(rows["score_minor"].sum())}
