"""Financing cost of a period (KPIS.md "Customer contribution"), per invoice and per invoice
line, from ``fct_ar_item`` and ``fct_ar_allocation``; it depends on the period asked for,
so every invoice's cost is kept per batch for the latest few periods only
(``FINANCING_KEPT``: the P&L's default view, which the batch warm-up builds).

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
- Kept per batch and process (``Mart.derive``), sorted by invoice: the invoices that can
  ever be open past their due date, the allocations to them, and the cash allocations
  received late (with their invoices' attribution), so a period filters these three and
  sums per invoice on a sorted key (10M lines: 160–180 → ~50 ms a period for every
  customer).

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

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from fractions import Fraction

import polars as pl

from dashboard.metrics.mart import Mart
from dashboard.metrics.period import Period, date_of_key
from dashboard.metrics.scope import Scope
from dashboard.metrics.selection import (
    EVERYTHING,
    Slice,
    attributed,
    attributed_rows,
    of_everyone,
)
from etl.facts.open_ar import INVOICE, PAYMENT, open_invoices_lazy
from etl.prorate import half_up, prorated, weights
from etl.schema import UNKNOWN_KEY

ATTRIBUTION = ("customer_id", "customer_key", "rep_key", "channel_key", "region_key")
"""The attribution columns the financing rows carry (as the sales lines)."""
DEFAULT_RATE = Decimal("0.08")
"""KPIS.md's default annual rate; the company setting ``financing_rate`` overrides it."""
DAYS_PER_YEAR = 365
FINANCING_KEPT = 3
"""Periods whose financing cost of every invoice is kept per batch: the P&L's default view
(the period, the prior one and last year's; ~20 MiB each at 10M lines)."""


def _financed_invoices(mart: Mart) -> pl.DataFrame:
    """Per batch: the invoices that can be open past their due date at some moment — those
    not settled, or settled after their due date (one settled by its due date never is) —
    with their ``ATTRIBUTION``, dates and amounts; sorted by ``document_id``."""
    settled = pl.col("settled_date_key")
    return _by_invoice(mart.lazy("fct_ar_item").filter(
        (pl.col("item_type") == INVOICE)
        & ((settled == UNKNOWN_KEY) | (settled > pl.col("due_date_key")))
    ).select("document_id", *ATTRIBUTION, "document_date_key", "due_date_key",
             "settled_date_key", "amount_doc_minor", "amount_minor"), "document_id")


def _late_cash(mart: Mart) -> pl.DataFrame:
    """Per batch: the cash allocations to invoices received after the due date (the others
    carry no cost: max(0, days late) is 0) — ``document_id`` (the invoice), its
    ``ATTRIBUTION``, ``allocation_date_key``, ``minor_days`` (amount × days late) and
    ``paid_late_minor`` (amount); sorted by ``document_id``."""
    invoices = mart.lazy("fct_ar_item").filter(pl.col("item_type") == INVOICE).select(
        "document_id", *ATTRIBUTION)
    return _by_invoice(mart.lazy("fct_ar_allocation").filter(
        (pl.col("source_type") == PAYMENT) & (pl.col("target_type") == INVOICE)
        & (pl.col("days_late") > 0)
    ).select(pl.col("target_id").alias("document_id"), "allocation_date_key",
             (pl.col("amount_minor") * pl.col("days_late")).alias("minor_days"),
             pl.col("amount_minor").alias("paid_late_minor")
             ).join(invoices, on="document_id", how="inner"), "document_id")


def _financed_allocations(mart: Mart) -> pl.DataFrame:
    """Per batch: every allocation (cash or credit) to a ``_financed_invoices`` invoice,
    with that invoice's ``due_date_key``, ``settled_date_key`` and attribution keys;
    sorted by ``target_id``."""
    invoices = mart.derive("financed_invoices", _financed_invoices).lazy().select(
        pl.col("document_id").alias("target_id"), "due_date_key",
        pl.col("settled_date_key").alias("invoice_settled_date_key"),
        "rep_key", "channel_key", "region_key")
    return _by_invoice(mart.lazy("fct_ar_allocation").filter(
        pl.col("target_type") == INVOICE
    ).select("target_id", "allocation_date_key", "amount_doc_minor").join(
        invoices, on="target_id", how="inner"), "target_id")


def _by_invoice(rows: pl.LazyFrame, invoice: str) -> pl.DataFrame:
    """``rows`` collected, sorted by ``invoice`` and flagged so: filters keep the order, and
    a group-by on a sorted key is several times faster."""
    return rows.sort(invoice).collect().with_columns(pl.col(invoice).set_sorted())


def _terms(mart: Mart, period: Period, scope: Scope | None, selection: Slice,
           ) -> pl.LazyFrame:
    """One row per invoice of ``scope`` and ``selection`` (None: every invoice) with a
    financing term in ``period`` (rule in the module docstring): ``document_id``, its
    ``ATTRIBUTION``, ``minor_days`` (Σ amount × days), ``paid_late_minor`` (cash allocated
    in the period after the due date), ``late_minor_days`` (its amount × days late),
    ``open_minor`` (open and overdue at the period's end) and ``overdue_days`` (its
    overdue days in the period); 0 where a term does not apply."""
    def rows(name: str, build: Callable[[Mart], pl.DataFrame]) -> pl.LazyFrame:
        frame = mart.derive(name, build).lazy()
        return frame if scope is None else attributed_rows(mart, frame, scope, selection)

    end = period.end_key
    cash = rows("financing_late_cash", _late_cash).filter(
        pl.col("allocation_date_key").is_between(period.start_key, end)
    ).group_by("document_id").agg(
        pl.col("minor_days").sum().alias("late_minor_days"), pl.col("paid_late_minor").sum(),
        pl.col(*ATTRIBUTION).first())

    def unsettled(column: str) -> pl.Expr:
        return (pl.col(column) == UNKNOWN_KEY) | (pl.col(column) > end)

    # Open at the end: invoices due before it and not settled by it, and what was applied
    # to them by then.
    overdue = rows("financed_invoices", _financed_invoices).filter(
        (pl.col("due_date_key") < end) & unsettled("settled_date_key"))
    applied = rows("financed_allocations", _financed_allocations).filter(
        (pl.col("due_date_key") < end) & unsettled("invoice_settled_date_key"))
    before_start = period.start - timedelta(days=1)
    overdue_days = (pl.lit(period.end) - pl.max_horizontal(date_of_key("due_date_key"),
                                                           pl.lit(before_start))
                    ).dt.total_days().clip(lower_bound=0).cast(pl.Int64)
    still_open = open_invoices_lazy(overdue, applied, period.end).filter(
        pl.col("open_minor") > 0).select(
        "document_id", *ATTRIBUTION, pl.col("open_minor").cast(pl.Int64),
        overdue_days.alias("overdue_days"))
    joined = cash.join(still_open, on="document_id", how="full", coalesce=True,
                       suffix="_open")
    zero = ("late_minor_days", "paid_late_minor", "open_minor", "overdue_days")
    return joined.select(
        "document_id", *(pl.coalesce(a, f"{a}_open").alias(a) for a in ATTRIBUTION),
        pl.col(*zero).fill_null(0)
    ).with_columns((pl.col("late_minor_days") + pl.col("open_minor") * pl.col("overdue_days")
                    ).alias("minor_days"))


def _cost(minor_days: pl.Expr, rate: Decimal) -> pl.Expr:
    """Σ amount × days × ``rate`` / 365, half-up: the financing cost in minor units."""
    fraction = Fraction(rate)
    return half_up(minor_days, pl.lit(fraction.numerator),
                   pl.lit(fraction.denominator * DAYS_PER_YEAR)).alias("financing_cost_minor")


def invoice_financing(mart: Mart, period: Period, rate: Decimal, scope: Scope | None = None,
                      selection: Slice = EVERYTHING) -> pl.LazyFrame:
    """One row per invoice with a financing cost in ``period``: ``invoice_id`` and
    ``financing_cost_minor`` (rule in the module docstring); ``rate`` is annual (0.08 =
    8 %). Of the invoices of ``scope`` and ``selection``, by default every one."""
    return _terms(mart, period, scope, selection).select(
        pl.col("document_id").alias("invoice_id"), _cost(pl.col("minor_days"), rate)
    ).filter(pl.col("financing_cost_minor") != 0)


def financing_terms(mart: Mart, period: Period, rate: Decimal) -> pl.LazyFrame:
    """``invoice_financing`` with the terms behind each invoice's cost, for the list of
    invoices behind a P&L figure: ``paid_late_minor`` (cash allocated in the period after
    the due date), ``days_late`` (their days late, weighted by amount; null without
    any), ``open_minor`` (open and overdue at the period's end) and ``overdue_days`` (its
    overdue days in the period). Whole invoices, whatever share of the cost a split
    takes."""
    paid_late = pl.col("paid_late_minor")
    return _terms(mart, period, None, EVERYTHING).select(
        pl.col("document_id").alias("invoice_id"), _cost(pl.col("minor_days"), rate),
        paid_late, pl.when(paid_late != 0).then(pl.col("late_minor_days") / paid_late)
        .alias("days_late"), "open_minor", "overdue_days"
    ).filter(pl.col("financing_cost_minor") != 0)


def financing_invoices(mart: Mart, scope: Scope, period: Period, rate: Decimal,
                       selection: Slice = EVERYTHING) -> pl.LazyFrame:
    """The in-scope invoices with a financing cost in ``period``: ``document_id``, the
    ``ATTRIBUTION`` columns and ``financing_cost_minor``. Every invoice's of a period is
    kept with the batch (``selection.of_everyone``; the ``FINANCING_KEPT`` latest used
    periods) and the scope and slice pick its rows by their attribution."""
    everyone = of_everyone(mart, scope, "financing", [(period, rate)], _financing_everyone,
                           keep=FINANCING_KEPT)
    if everyone is None:
        return _financing(mart, period, rate, scope, selection)
    return attributed_rows(mart, everyone[0].lazy(), scope, selection)


def _financing_everyone(mart: Mart, keys: list[tuple[Period, Decimal]]) -> list[pl.DataFrame]:
    return [_financing(mart, period, rate, None, EVERYTHING).collect() for period, rate in keys]


def _financing(mart: Mart, period: Period, rate: Decimal, scope: Scope | None,
               selection: Slice) -> pl.LazyFrame:
    """``financing_invoices`` of ``scope`` (None: every invoice) computed from the batch's
    financing frames."""
    return _terms(mart, period, scope, selection).select(
        "document_id", *ATTRIBUTION, _cost(pl.col("minor_days"), rate)
    ).filter(pl.col("financing_cost_minor") != 0)


def _line_weights(mart: Mart) -> pl.DataFrame:
    """Per invoice: the total net of its lines and the line that takes the rounding
    remainder (``etl.prorate.weights``), from every invoice line of the batch (a split of
    the cost over an invoice's lines depends on the invoice only; scope and slice keep or
    drop whole invoices: an invoice bills one order, whose rep, channel and region every
    line carries — ``prorated`` needs whole groups)."""
    return weights(mart.lazy("fct_sales_line").filter(pl.col("source_type") == INVOICE),
                   weight="net_minor", group="document_id", order="source_id").collect()


def financing_lines(mart: Mart, scope: Scope, period: Period, rate: Decimal,
                    selection: Slice = EVERYTHING,
                    narrow: Callable[[pl.LazyFrame], pl.LazyFrame] | None = None,
                    ) -> pl.LazyFrame:
    """The in-scope invoice lines of invoices with a financing cost in ``period``:
    ``document_id``, ``source_id`` (the invoice line), the ``ATTRIBUTION`` columns,
    ``product_key`` and ``financing_cost_minor`` (the line's share of its invoice's).
    ``narrow`` keeps some invoices only, by their ``ATTRIBUTION`` (the same on all their
    lines, so invoices stay whole): applied to the invoices and lines before the split (a
    P&L node's channel, rep, region or customer; 10M, the categories under a channel and a
    rep: 580 → 250 ms)."""
    invoices = _terms(mart, period, scope, selection)
    lines = attributed(mart, "fct_sales_line", scope, selection).filter(
        pl.col("source_type") == INVOICE).select(
        "document_id", "source_id", *ATTRIBUTION, "product_key", "net_minor")
    if narrow is not None:
        invoices, lines = narrow(invoices), narrow(lines)
    costs = invoices.select("document_id", _cost(pl.col("minor_days"), rate).alias(
        "invoice_financing_minor")).filter(pl.col("invoice_financing_minor") != 0)
    return prorated(lines.join(costs, on="document_id", how="inner"),
                    amount="invoice_financing_minor", weight="net_minor",
                    group="document_id", order="source_id", alias="financing_cost_minor",
                    groups=mart.derive("invoice_line_weights", _line_weights).lazy()
                    ).drop("invoice_financing_minor", "net_minor")
