"""Receivables as of a date (KPIS.md "Receivables and cash"): total, current and overdue
AR, unapplied cash and open credits, credit sales and DSO, from ``fct_ar_item`` and
``fct_ar_allocation`` through ``etl.facts.open_ar.open_items``.

Customers are scoped by who manages them now (``managed``). Amounts are integer minor units
of the base currency; each open amount is converted at its own document's rate (an
invoice's open amount at the invoice's rate, unapplied cash at the receipt's), so FX
differences are never AR.

**As of D**: documents dated ≤ D and allocations dated ≤ D, counting only what was posted
(documents) or recorded (allocations) before the end of D in the company time zone, so a
closed day never changes; ``include_backdated`` also counts entries posted later with a
date ≤ D. Per customer:

- open invoices = Σ open amounts of invoices (and of refunds / reversals not yet covered by
  credit, which count as due on their own date); **current** = those not yet due (due date
  ≥ D), **overdue** = those past due (D − due date > 0), so open invoices = current +
  overdue;
- **total AR** = open invoices − unapplied cash − open credits (both positive amounts).

**Credit sales** of a period: Σ base totals (incl. tax and freight) of invoices that are not
cash sales − Σ base totals of credit notes, dated in the period (posting date), under the
same as-of rule at the period's end. **DSO** = total AR at D / credit sales of the N days
ending at D × N; null when credit sales ≤ 0. (``fct_ar_item`` marks no credit note as a
cash sale, so a credit note against a cash-sale invoice would count; the demo has none.)
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import polars as pl

from dashboard.metrics.mart import Mart
from dashboard.metrics.period import Period, date_key, day_end_utc
from dashboard.metrics.scope import Scope
from dashboard.metrics.selection import managed
from etl.facts.open_ar import (
    CREDIT_NOTE,
    DEBITS,
    INVOICE,
    PAYMENT,
    open_items,
    open_items_lazy,
)

DSO_DAYS = 90
AR_COLUMNS = ("open_invoices_minor", "current_minor", "overdue_minor",
              "unapplied_cash_minor", "open_credits_minor", "total_ar_minor")


def _known_by(as_of: date, timezone: str, include_backdated: bool) -> datetime | None:
    return None if include_backdated else day_end_utc(as_of, timezone)


DUE_KEY = pl.when(pl.col("due_date_key") > 0).then(pl.col("due_date_key")).otherwise(
    pl.col("document_date_key"))
"""The YYYYMMDD key of the day an item falls due: its due date; a refund or reversal (no
due date) is due on its own date."""


def open_items_in_scope(mart: Mart, scope: Scope, as_of: date, *, timezone: str,
                        include_backdated: bool = False,
                        customer_id: int | None = None) -> pl.DataFrame:
    """``etl.facts.open_ar.open_items`` of the in-scope customers (or of ``customer_id`` only,
    none when it is out of scope) as of ``as_of`` under the as-of rule of the module
    docstring: every ``fct_ar_item`` column plus ``open_doc_minor`` and ``open_minor``
    (signed; closed items have 0)."""
    items, allocations = _scoped_ar(mart, scope, customer_id)
    return open_items(items, allocations, as_of, _known_by(as_of, timezone, include_backdated))


def open_items_in_scope_lazy(mart: Mart, scope: Scope, as_of: date, *, timezone: str,
                             include_backdated: bool = False,
                             customer_id: int | None = None) -> pl.LazyFrame:
    """``open_items_in_scope`` as a lazy query, unsorted: for callers that aggregate or sort
    it themselves (at 10M lines the sort and the unused columns cost more than the rest)."""
    items, allocations = _scoped_ar(mart, scope, customer_id)
    return open_items_lazy(items, allocations, as_of,
                           _known_by(as_of, timezone, include_backdated))


def _scoped_ar(mart: Mart, scope: Scope,
               customer_id: int | None) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    items = managed(mart, "fct_ar_item", scope)
    allocations = managed(mart, "fct_ar_allocation", scope)
    if customer_id is not None:
        items = items.filter(pl.col("customer_id") == customer_id)
        allocations = allocations.filter(pl.col("customer_id") == customer_id)
    return items, allocations


def ar_by_customer(mart: Mart, scope: Scope, as_of: date, *, timezone: str,
                   include_backdated: bool = False) -> pl.DataFrame:
    """One row per in-scope customer with receivable documents as of ``as_of``:
    ``customer_id``, ``currency``, the ``AR_COLUMNS`` in base minor units and
    ``total_ar_doc_minor`` (minor units of the customer's currency). Rules in the module
    docstring; ``timezone`` is the company's. Sorted by customer."""
    items = open_items_in_scope_lazy(mart, scope, as_of, timezone=timezone,
                                     include_backdated=include_backdated)
    kind, amount = pl.col("item_type"), pl.col("open_minor")
    debit = kind.is_in(DEBITS)
    overdue = debit & (DUE_KEY < date_key(as_of))
    return (
        items.group_by("customer_id", "currency").agg(
            amount.filter(debit).sum().alias("open_invoices_minor"),
            amount.filter(debit & ~overdue).sum().alias("current_minor"),
            amount.filter(overdue).sum().alias("overdue_minor"),
            (-amount.filter(kind == PAYMENT).sum()).alias("unapplied_cash_minor"),
            (-amount.filter(kind == CREDIT_NOTE).sum()).alias("open_credits_minor"),
            amount.sum().alias("total_ar_minor"),
            pl.col("open_doc_minor").sum().alias("total_ar_doc_minor"),
        )
        .with_columns(pl.col(name).cast(pl.Int64) for name in (*AR_COLUMNS,
                                                                 "total_ar_doc_minor"))
        .sort("customer_id", "currency")
        .collect()
    )


def ar_summary(mart: Mart, scope: Scope, as_of: date, *, timezone: str,
               include_backdated: bool = False) -> dict[str, int]:
    """The ``AR_COLUMNS`` summed over the in-scope customers as of ``as_of`` (0 when
    there is nothing), in base minor units."""
    frame = ar_by_customer(mart, scope, as_of, timezone=timezone,
                           include_backdated=include_backdated)
    return {name: int(frame[name].sum()) for name in AR_COLUMNS}


def credit_sales(mart: Mart, scope: Scope, period: Period, *, timezone: str,
                 include_backdated: bool = False) -> int:
    """Credit sales of ``period`` for in-scope customers, base minor units: invoices that
    are not cash sales − credit notes, dated in the period and posted before the end of
    its last day (unless ``include_backdated``)."""
    known_by = _known_by(period.end, timezone, include_backdated)
    documents = managed(mart, "fct_ar_item", scope).filter(
        ((pl.col("item_type") == INVOICE) & ~pl.col("is_cash_sale"))
        | (pl.col("item_type") == CREDIT_NOTE),
        pl.col("document_date_key").is_between(period.start_key, period.end_key))
    if known_by is not None:
        documents = documents.filter(pl.col("posted_at") < known_by)
    return int(documents.select(pl.col("amount_minor").sum()).collect().item())


def dso(mart: Mart, scope: Scope, as_of: date, *, timezone: str, days: int = DSO_DAYS,
        include_backdated: bool = False,
        total_ar_minor: int | None = None) -> dict[str, int | float | None]:
    """Days sales outstanding at ``as_of``: ``total_ar_minor`` at ``as_of``,
    ``credit_sales_minor`` of the ``days`` days ending at ``as_of``, ``days`` and ``dso``
    = total AR / credit sales × days (null when credit sales ≤ 0). A caller that has the
    total AR at ``as_of`` already (``ar_summary``, same scope and rule) passes it as
    ``total_ar_minor``, and it is not computed again."""
    if days < 1:
        raise ValueError(f"DSO needs a window of at least one day, not {days}")
    total = total_ar_minor if total_ar_minor is not None else ar_summary(
        mart, scope, as_of, timezone=timezone,
        include_backdated=include_backdated)["total_ar_minor"]
    sales = credit_sales(mart, scope, Period(as_of - timedelta(days=days - 1), as_of),
                         timezone=timezone, include_backdated=include_backdated)
    return {"total_ar_minor": total, "credit_sales_minor": sales, "days": days,
            "dso": total * days / sales if sales > 0 else None}
