"""Financing cost of a period (KPIS.md "Customer contribution"), per invoice and per invoice
line, from ``fct_ar_item`` and ``fct_ar_allocation``; computed per request because it
depends on the period asked for.

For a period S … E and the company's annual ``financing_rate`` r, an invoice's financing cost
is, in minor units of the base currency, rounded half-up once per invoice:

    (Σ over cash allocations to it dated in S … E of amount × max(0, days late)
     + its open amount at E × its overdue days in S … E) × r / 365

- A cash allocation is a receipt applied to the invoice (``fct_ar_allocation`` source
  ``payment``, target ``invoice``); its amount includes tax (invoice totals do) and is in
  base currency at the invoice's rate; days late = payment received date − due date. A
  reversal counts with its negative amount. Credit-note allocations carry no financing cost.
- Open amount at E: the invoice total − every allocation (cash or credit) dated ≤ E, at the
  invoice's rate (``etl.facts.open_ar``). Dates only, as the rest of the P&L: an entry
  posted later with an earlier date counts (there is no "as of" posting cut-off here).
- Overdue days in S … E: the days d of the period with d > due date,
  max(0, E − max(due date, S − 1)).
- Only invoices: open credits, unapplied cash and refunds carry no financing cost. Only
  invoices due before E and not settled by E (``fct_ar_item.settled_date_key``) can be open
  at E, so only their allocations are summed.

The rule is KPIS.md's, so it is not additive over periods: an invoice open at the end of one
period is charged that period's overdue days, and when paid in a later period its allocation
is charged every day late again. A period's figure is additive over invoices, customers and
every split below.

Attribution: an invoice carries the rep, channel and region of its sales lines (its order's)
and its customer (``financing_invoices``: enough for every split but product and category).
For those, ``financing_lines`` splits each invoice's cost over its invoice lines
(``fct_sales_line`` rows of type ``invoice``) pro rata to line net (after discounts, excl.
tax and freight), each share half-up, the remainder to the largest line (``etl.prorate``),
so the lines of an invoice add up to it exactly and every P&L split adds up to its node.
Scope and slice are those of rep-attributed history, as for the sales lines.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from fractions import Fraction

import polars as pl

from dashboard.metrics.mart import Mart
from dashboard.metrics.period import Period, date_of_key
from dashboard.metrics.scope import Scope
from dashboard.metrics.selection import EVERYTHING, Slice, attributed
from etl.facts.open_ar import INVOICE, PAYMENT, open_items_lazy
from etl.prorate import half_up, prorated, weights
from etl.schema import UNKNOWN_KEY

ATTRIBUTION = ("customer_id", "customer_key", "rep_key", "channel_key", "region_key")
"""The attribution columns the financing rows carry (as the sales lines)."""
DEFAULT_RATE = Decimal("0.08")
"""KPIS.md's default annual rate; the company setting ``financing_rate`` overrides it."""
DAYS_PER_YEAR = 365


def _minor_days(mart: Mart, period: Period, items: pl.LazyFrame | None) -> pl.LazyFrame:
    """The terms of the financing cost in ``period`` (rule in the module docstring) of the
    invoices among ``items`` (``fct_ar_item`` rows; None: every invoice), one row per cash
    allocation dated in it and per invoice open at its end:
    ``invoice_id``, ``minor_days`` (amount × days), ``paid_late_minor`` (cash allocated
    after the due date), ``open_minor`` (open and overdue at the period's end) and
    ``overdue_days`` (its overdue days in the period); 0 where a term does not apply."""
    allocations = mart.lazy("fct_ar_allocation")
    days_late = pl.col("days_late").clip(lower_bound=0)
    cash = allocations.filter(
        (pl.col("source_type") == PAYMENT) & (pl.col("target_type") == INVOICE)
        & pl.col("allocation_date_key").is_between(period.start_key, period.end_key)
    ).select(pl.col("target_id").alias("invoice_id"),
             (pl.col("amount_minor") * days_late).alias("minor_days"),
             pl.when(days_late > 0).then(pl.col("amount_minor")).otherwise(0)
             .alias("paid_late_minor"),
             pl.lit(0, pl.Int64).alias("open_minor"), pl.lit(0, pl.Int64).alias("overdue_days"))
    if items is not None:
        cash = cash.join(items.select(pl.col("document_id").alias("invoice_id")),
                         on="invoice_id", how="semi")
    before_start = period.start - timedelta(days=1)
    overdue_days = (pl.lit(period.end) - pl.max_horizontal(date_of_key("due_date_key"),
                                                           pl.lit(before_start))
                    ).dt.total_days().clip(lower_bound=0)
    settled = pl.col("settled_date_key")
    unsettled = (settled == UNKNOWN_KEY) | (settled > period.end_key)
    invoices = (mart.lazy("fct_ar_item") if items is None else items).filter(
        (pl.col("item_type") == INVOICE) & (pl.col("due_date_key") < period.end_key)
        & unsettled)
    # An allocation is settled when both its documents are (fct_ar_allocation): one to an
    # invoice still open at the end is not.
    theirs = allocations.filter((pl.col("target_type") == INVOICE) & unsettled).join(
        invoices.select(pl.col("document_id").alias("target_id")), on="target_id", how="semi")
    still_open = open_items_lazy(invoices, theirs, as_of=period.end).filter(
        pl.col("open_minor") > 0
    ).select(pl.col("document_id").alias("invoice_id"),
             (pl.col("open_minor") * overdue_days).alias("minor_days"),
             pl.lit(0, pl.Int64).alias("paid_late_minor"),
             pl.col("open_minor").cast(pl.Int64), overdue_days.cast(pl.Int64)
             .alias("overdue_days"))
    return pl.concat([cash, still_open], how="vertical_relaxed")


def _cost(minor_days: pl.Expr, rate: Decimal) -> pl.Expr:
    """Σ amount × days × ``rate`` / 365, half-up: the financing cost in minor units."""
    fraction = Fraction(rate)
    return half_up(minor_days, pl.lit(fraction.numerator),
                   pl.lit(fraction.denominator * DAYS_PER_YEAR)).alias("financing_cost_minor")


def invoice_financing(mart: Mart, period: Period, rate: Decimal,
                      items: pl.LazyFrame | None = None) -> pl.LazyFrame:
    """One row per invoice with a financing cost in ``period``: ``invoice_id`` and
    ``financing_cost_minor`` (rule in the module docstring); ``rate`` is annual (0.08 =
    8 %). Of the invoices among ``items`` (``fct_ar_item`` rows), by default every one."""
    return (
        _minor_days(mart, period, items).group_by("invoice_id").agg(pl.col("minor_days").sum())
        .select("invoice_id", _cost(pl.col("minor_days"), rate))
        .filter(pl.col("financing_cost_minor") != 0)
    )


def financing_terms(mart: Mart, period: Period, rate: Decimal) -> pl.LazyFrame:
    """``invoice_financing`` with the terms behind each invoice's cost, for the list of
    invoices behind a P&L figure: ``paid_late_minor`` (cash allocated in the period after
    the due date), ``days_late`` (their days late, weighted by amount; null without
    any), ``open_minor`` (open and overdue at the period's end) and ``overdue_days`` (its
    overdue days in the period). Whole invoices, whatever share of the cost a split
    takes."""
    minor_days = pl.col("minor_days")
    return (
        _minor_days(mart, period, None).group_by("invoice_id").agg(
            minor_days.sum(), pl.col("paid_late_minor").sum(),
            minor_days.filter(pl.col("paid_late_minor") != 0).sum().alias("late_minor_days"),
            pl.col("open_minor").sum(), pl.col("overdue_days").max())
        .select("invoice_id", _cost(minor_days, rate), "paid_late_minor",
                pl.when(pl.col("paid_late_minor") != 0)
                .then(pl.col("late_minor_days") / pl.col("paid_late_minor"))
                .alias("days_late"), "open_minor", "overdue_days")
        .filter(pl.col("financing_cost_minor") != 0)
    )


def financing_invoices(mart: Mart, scope: Scope, period: Period, rate: Decimal,
                       selection: Slice = EVERYTHING) -> pl.LazyFrame:
    """The in-scope invoices with a financing cost in ``period``: ``document_id``, the
    ``ATTRIBUTION`` columns and ``financing_cost_minor``."""
    invoices, narrowed = _scoped_invoices(mart, scope, selection)
    return invoices.select("document_id", *ATTRIBUTION).join(
        invoice_financing(mart, period, rate, narrowed)
        .rename({"invoice_id": "document_id"}), on="document_id", how="inner")


def _scoped_invoices(mart: Mart, scope: Scope, selection: Slice,
                     ) -> tuple[pl.LazyFrame, pl.LazyFrame | None]:
    """The in-scope invoice items, and the same when scope or slice leave some out (the
    financing cost is then computed for them alone: a rep's few instead of every
    customer's) or None when they take all."""
    invoices = attributed(mart, "fct_ar_item", scope, selection).filter(
        pl.col("item_type") == INVOICE)
    every = scope.rep_keys(mart.frame("dim_rep")) is None and selection == EVERYTHING
    return invoices, None if every else invoices


def _line_weights(mart: Mart) -> pl.DataFrame:
    """Per invoice: the total net of its lines and the line that takes the rounding
    remainder (``etl.prorate.weights``), from every invoice line of the batch (a split of
    the cost over an invoice's lines depends on the invoice only; scope and slice keep or
    drop whole invoices: an invoice bills one order, whose rep, channel and region every
    line carries — ``prorated`` needs whole groups)."""
    return weights(mart.lazy("fct_sales_line").filter(pl.col("source_type") == INVOICE),
                   weight="net_minor", group="document_id", order="source_id").collect()


def financing_lines(mart: Mart, scope: Scope, period: Period, rate: Decimal,
                    selection: Slice = EVERYTHING) -> pl.LazyFrame:
    """The in-scope invoice lines of invoices with a financing cost in ``period``:
    ``document_id``, ``source_id`` (the invoice line), the ``ATTRIBUTION`` columns,
    ``product_key`` and ``financing_cost_minor`` (the line's share of its invoice's)."""
    _, narrowed = _scoped_invoices(mart, scope, selection)
    invoices = invoice_financing(mart, period, rate, narrowed).rename(
        {"invoice_id": "document_id", "financing_cost_minor": "invoice_financing_minor"})
    lines = attributed(mart, "fct_sales_line", scope, selection).filter(
        pl.col("source_type") == INVOICE).select(
        "document_id", "source_id", *ATTRIBUTION, "product_key", "net_minor").join(
        invoices, on="document_id", how="inner")
    return prorated(lines, amount="invoice_financing_minor", weight="net_minor",
                    group="document_id", order="source_id", alias="financing_cost_minor",
                    groups=mart.derive("invoice_line_weights", _line_weights).lazy()
                    ).drop("invoice_financing_minor", "net_minor")
