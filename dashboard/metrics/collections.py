"""The collections worklist (issue 6): open, overdue, undisputed invoices of the in-scope
customers as of a date, ranked by score = open amount × the customer's risk of paying late.
Grain: one row per invoice. Amounts are integer minor units of the base currency.

**Items**: ``receivables.open_items_in_scope_lazy`` — the as-of rule, scope (customers
managed now) and conversion (the invoice's own rate) of total AR and AR aging — limited to
invoices with an open amount, due before the as-of day (days overdue = D − due date ≥ 1) and
not disputed (the batch's dispute flag). Refunds and reversals are not collected by call.

**Risk of paying late** (per customer, from its payment history in the mart):
``etl.facts.payment_risk`` — the share of the cash applied to its invoices that arrived late,
blended with its segment's, in parts per million (``risk_ppm``). The batch's
``fct_payment_risk`` holds it as of the batch; a worklist as of an earlier day than the
batch's last allocation applies the same rule as of that day.

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
from dashboard.metrics.scope import COMPANY, Scope
from dashboard.metrics.selection import managed_rows, of_everyone
from etl.facts import payment_risk
from etl.facts.open_ar import INVOICE
from etl.facts.payment_risk import PPM
from etl.prorate import half_up

WORKLIST_COLUMNS = ("customer_id", "name", "account_manager", "invoice_id", "document_number",
                    "due_date", "days_overdue", "open_minor", "paid_invoices", "risk_ppm",
                    "score_minor")


def late_payment_risk(mart: Mart, as_of: date) -> pl.LazyFrame:
    """One row per current customer (``fct_payment_risk``'s columns): its risk of paying
    late as of ``as_of`` — the batch's table when no allocation in the batch is dated after
    ``as_of`` (the same figures, computed once per batch), else the rule applied as of
    ``as_of``."""
    last = mart.frame("fct_ar_allocation")["allocation_date_key"].max()
    if last is None or date_key(as_of) >= last:
        return mart.lazy(payment_risk.TABLE)
    return payment_risk.late_payment_risk(mart.tables, date_key(as_of))


def worklist(mart: Mart, scope: Scope, as_of: date, *, timezone: str) -> pl.DataFrame:
    """The ranked worklist as of ``as_of`` (``timezone``: the company's), one row per
    invoice with the ``WORKLIST_COLUMNS``: ``invoice_id`` is the core invoice id,
    ``paid_invoices`` the customer's n. Rules in the module docstring. Every customer's
    worklist of a day is kept with the batch (``selection.of_everyone``) and the scope picks
    its rows, in rank order."""
    everyone = of_everyone(mart, scope, "worklist", [(as_of, timezone)], _ranked_everyone)
    if everyone is None:
        return _ranked(mart, scope, as_of, timezone=timezone).collect()
    return managed_rows(mart, everyone[0].lazy(), scope).collect()


def _ranked_everyone(mart: Mart, keys: list[tuple[date, str]]) -> list[pl.DataFrame]:
    """The worklist of every customer for each (as-of day, time zone)."""
    return [_ranked(mart, COMPANY, day, timezone=zone).collect() for day, zone in keys]


def _ranked(mart: Mart, scope: Scope, as_of: date, *, timezone: str) -> pl.LazyFrame:
    """``worklist`` computed from ``scope``'s open items."""
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
    )


def worklist_totals(rows: pl.DataFrame) -> dict[str, int]:
    """``invoices``, ``customers``, ``open_minor`` and ``score_minor`` summed over the
    worklist (0 when empty)."""
    return {"invoices": rows.height, "customers": rows["customer_id"].n_unique(),
            "open_minor": int(rows["open_minor"].sum()),
            "score_minor": int(rows["score_minor"].sum())}
