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

**CEI** of a period (collection effectiveness, %) = (beginning total AR + credit sales −
ending total AR) / (beginning total AR + credit sales − ending current AR) × 100. The period
runs to its end or today, whichever is earlier; beginning AR is total AR as of the day
before it starts, ending AR (total and current) as of its last day, credit sales those of
the period — each under the as-of rule above, so a closed period never changes and the
prior period's ending AR is this one's beginning AR; null when the denominator ≤ 0 or the
period has not started.

**Global filters** (``Slice``): receivables follow the customer as it is now (DESIGN D6:
AR follows the current account manager), so a region or channel filter keeps customers
whose current version has that region or channel, and a rep filter those whose current
account manager is one of the reps (``selection.managed``), within the scope.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

import polars as pl

from dashboard.metrics.mart import Mart
from dashboard.metrics.period import Period, date_key, day_end_utc
from dashboard.metrics.scope import Scope, restrict
from dashboard.metrics.selection import (
    EVERYTHING,
    Slice,
    dated,
    managed,
    managed_customers,
    managed_rows,
    of_everyone,
)
from etl.facts.open_ar import (
    CREDIT_NOTE,
    DEBITS,
    INVOICE,
    PAYMENT,
    Moment,
    open_items,
    open_items_at_lazy,
    open_items_lazy,
    open_items_now,
    possibly_open,
)

DSO_DAYS = 90
AR_KEYS = ["customer_id", "currency"]
AR_COLUMNS = ("open_invoices_minor", "current_minor", "overdue_minor",
              "unapplied_cash_minor", "open_credits_minor", "total_ar_minor")


def _known_by(as_of: date, timezone: str, include_backdated: bool) -> datetime | None:
    return None if include_backdated else day_end_utc(as_of, timezone)


def moment(as_of: date, *, timezone: str, include_backdated: bool = False) -> Moment:
    """AR "as of ``as_of``" under the as-of rule: (as of, known by the end of that day in
    the company ``timezone``; no limit with ``include_backdated``)."""
    return as_of, _known_by(as_of, timezone, include_backdated)


DUE_KEY = pl.when(pl.col("due_date_key") > 0).then(pl.col("due_date_key")).otherwise(
    pl.col("document_date_key"))
"""The YYYYMMDD key of the day an item falls due: its due date; a refund or reversal (no
due date) is due on its own date."""


def open_items_in_scope(mart: Mart, scope: Scope, as_of: date, *, timezone: str,
                        include_backdated: bool = False, customer_id: int | None = None,
                        selection: Slice = EVERYTHING) -> pl.DataFrame:
    """``etl.facts.open_ar.open_items`` of the in-scope customers (or of ``customer_id`` only,
    none when it is out of scope) as of ``as_of`` under the as-of rule of the module
    docstring: every ``fct_ar_item`` column plus ``open_doc_minor`` and ``open_minor``
    (signed; closed items have 0)."""
    items, allocations = _scoped_ar(mart, scope, customer_id, selection)
    return open_items(items, allocations, as_of, _known_by(as_of, timezone, include_backdated))


def open_items_in_scope_lazy(mart: Mart, scope: Scope, as_of: date, *, timezone: str,
                             include_backdated: bool = False, customer_id: int | None = None,
                             selection: Slice = EVERYTHING) -> pl.LazyFrame:
    """``open_items_in_scope`` as a lazy query, unsorted, without the items surely closed
    then (``possibly_open``): for callers that aggregate or sort open amounts themselves (at
    10M lines the sort, the unused columns and the closed items cost more than the rest).
    At a moment that ``covers_batch`` (today, usually) these are the batch's open items,
    kept per batch (``open_items_now``)."""
    at = moment(as_of, timezone=timezone, include_backdated=include_backdated)
    if covers_batch(mart, at):
        items = managed_rows(mart, mart.derive("open_items_now", _open_now).lazy(), scope,
                             selection)
        if customer_id is not None:
            items = items.filter(pl.col("customer_id") == customer_id)
        return items
    items, allocations = possibly_open(*_scoped_ar(mart, scope, customer_id, selection), [at])
    return open_items_lazy(items, allocations, *at)


def _latest(mart: Mart) -> pl.DataFrame:
    """Per batch, one row: the latest ``date_key`` and ``recorded_at`` (posted or created)
    of its AR documents and allocations."""
    return pl.concat([
        mart.lazy("fct_ar_item").select(pl.col("document_date_key").max().alias("date_key"),
                                        pl.col("posted_at").max().alias("recorded_at")),
        mart.lazy("fct_ar_allocation").select(
            pl.col("allocation_date_key").max().alias("date_key"),
            pl.col("created_at").max().alias("recorded_at")),
    ]).select(pl.all().max()).collect()


def covers_batch(mart: Mart, at: Moment) -> bool:
    """Whether AR as of ``at`` counts every document and allocation of the batch: none is
    dated after its day or recorded after its "known by" (as of today, usually). Open
    amounts at such a moment are the batch's own (``open_items_now``)."""
    latest = mart.derive("ar_latest", _latest).row(0, named=True)
    if latest["date_key"] is None:
        return False
    as_of, known_by = at
    return ((as_of is None or date_key(as_of) >= latest["date_key"])
            and (known_by is None or latest["recorded_at"] < known_by))


def _open_now(mart: Mart) -> pl.DataFrame:
    """Per batch: every item open with all of the batch's allocations counted (``fct_ar_item``
    columns, ``open_doc_minor`` and ``open_minor``; closed items left out) — the open items
    at any moment that ``covers_batch``, computed once instead of per request (10M: a
    worklist's open items 100 ms → a filter)."""
    return open_items_now(mart.lazy("fct_ar_item"), mart.lazy("fct_ar_allocation")).filter(
        pl.col("open_doc_minor") != 0).collect()


def _scoped_ar(mart: Mart, scope: Scope, customer_id: int | None,
               selection: Slice) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    items = managed(mart, "fct_ar_item", scope, selection)
    allocations = managed(mart, "fct_ar_allocation", scope, selection)
    if customer_id is not None:
        items = items.filter(pl.col("customer_id") == customer_id)
        allocations = allocations.filter(pl.col("customer_id") == customer_id)
    return items, allocations


def ar_by_customer(mart: Mart, scope: Scope, as_of: date, *, timezone: str,
                   include_backdated: bool = False,
                   selection: Slice = EVERYTHING) -> pl.DataFrame:
    """One row per in-scope customer with receivable documents as of ``as_of``:
    ``customer_id``, ``currency``, the ``AR_COLUMNS`` in base minor units and
    ``total_ar_doc_minor`` (minor units of the customer's currency). Rules in the module
    docstring; ``timezone`` is the company's. Sorted by customer."""
    (frame,) = ar_by_customer_at(
        mart, scope, [moment(as_of, timezone=timezone, include_backdated=include_backdated)],
        selection)
    return frame


def open_items_at(mart: Mart, moments: Sequence[Moment],
                  customers: pl.Series | None) -> pl.LazyFrame:
    """The items of ``customers`` (None: every customer; ``selection.managed_customers``
    gives a scope's) that may be open at one of ``moments`` (``possibly_open``) with
    ``open_doc_minor_<i>`` and ``open_minor_<i>`` at each of them
    (``etl.facts.open_ar.open_items_at_lazy``), lazy and unsorted, cached: the
    callers that aggregate it in one ``pl.collect_all`` compute the open amounts once. When
    every moment ``covers_batch``, the batch's open items (``open_items_now``)."""
    if moments and all(covers_batch(mart, at) for at in moments):
        now = restrict(mart.derive("open_items_now", _open_now).lazy(), "customer_id",
                       customers)
        return now.with_columns(
            column for i in range(len(moments)) for column in (
                pl.col("open_doc_minor").alias(f"open_doc_minor_{i}"),
                pl.col("open_minor").alias(f"open_minor_{i}"))
        ).drop("open_doc_minor", "open_minor")
    items, allocations = (restrict(mart.lazy(table), "customer_id", customers)
                          for table in ("fct_ar_item", "fct_ar_allocation"))
    return open_items_at_lazy(*possibly_open(items, allocations, moments), moments).cache()


def _ar_parts(moments: Sequence[Moment]) -> list[pl.Expr]:
    """Each item's share of the ``AR_COLUMNS`` and ``total_ar_doc_minor`` at each moment i
    of ``open_items_at(…, moments)``, suffixed ``_<i>`` (0 where it does not count): sums
    of these over any set of items are its AR."""
    kind = pl.col("item_type")
    debit = kind.is_in(DEBITS)
    parts = []
    for i, (as_of, _) in enumerate(moments):
        amount = pl.col(f"open_minor_{i}")
        due_by = DUE_KEY < date_key(day_of(as_of))

        def share(condition: pl.Expr, value: pl.Expr, name: str, i: int = i) -> pl.Expr:
            return pl.when(condition).then(value).otherwise(0).alias(f"{name}_{i}")

        parts += [
            share(debit, amount, "open_invoices_minor"),
            share(debit & ~due_by, amount, "current_minor"),
            share(debit & due_by, amount, "overdue_minor"),
            share(kind == PAYMENT, -amount, "unapplied_cash_minor"),
            share(kind == CREDIT_NOTE, -amount, "open_credits_minor"),
            amount.alias(f"total_ar_minor_{i}"),
            pl.col(f"open_doc_minor_{i}").alias(f"total_ar_doc_minor_{i}"),
        ]
    return parts


def ar_by_customer_query(items_at: pl.LazyFrame, moments: Sequence[Moment]) -> pl.LazyFrame:
    """Per customer and currency of ``open_items_at(…, moments)``: the ``AR_COLUMNS`` and
    ``total_ar_doc_minor``, each suffixed ``_<i>`` for moment i; split it with
    ``ar_frames``. Each item's shares, then plain sums per customer."""
    return items_at.select("customer_id", "currency", *_ar_parts(moments)).group_by(
        "customer_id", "currency").agg(pl.all().sum())


def ar_frames(wide: pl.DataFrame, count: int) -> list[pl.DataFrame]:
    """``ar_by_customer_query``'s collected result as one frame per moment (the columns of
    ``ar_by_customer``, sorted by customer), every frame with the same rows."""
    wide = wide.sort("customer_id", "currency")
    columns = (*AR_COLUMNS, "total_ar_doc_minor")
    return [wide.select("customer_id", "currency",
                        *(pl.col(f"{name}_{i}").cast(pl.Int64).alias(name) for name in columns))
            for i in range(count)]


def day_of(as_of: date | None) -> date:
    """The as-of date of a moment (an AR figure per customer needs one)."""
    if as_of is None:
        raise ValueError("AR by customer needs an as-of date for every moment")
    return as_of


def ar_by_customer_at(mart: Mart, scope: Scope, moments: Sequence[Moment],
                      selection: Slice = EVERYTHING) -> list[pl.DataFrame]:
    """``ar_by_customer`` at each of ``moments`` (``moment(...)``): one frame per moment,
    every frame with the same rows — the customers with AR (an amount not 0) at any of the
    moments, whichever frames were kept and however they were computed — sorted by
    customer (``_ar_at``)."""
    frames = _ar_at(mart, scope, moments, selection)
    amounts = pl.any_horizontal(pl.col(*AR_COLUMNS, "total_ar_doc_minor") != 0)
    held = pl.concat([frame.filter(amounts).select(AR_KEYS) for frame in frames]).unique()
    frames = [held.join(frame, on=AR_KEYS, how="left").fill_null(0) for frame in frames]
    return [frame.sort(AR_KEYS) for frame in pl.collect_all(frames)]


def _ar_at(mart: Mart, scope: Scope, moments: Sequence[Moment],
           selection: Slice) -> list[pl.LazyFrame]:
    """The in-scope rows of ``ar_by_customer`` at each of ``moments``. Every customer's AR
    at a moment is fixed within a batch, and the cards and pages of every user ask for the
    same few moments (today, the days before their periods start): it is kept with the
    batch (``Mart.derive_each``), computed when a scope that sees every customer asks, and
    read by any scope once kept (``selection.of_everyone``)."""
    customers = managed_customers(mart, scope, selection)
    everyone = of_everyone(mart, scope, "ar_by_customer", moments, _ar_of_everyone)
    if everyone is not None:
        return [restrict(frame.lazy(), "customer_id", customers) for frame in everyone]
    return [frame.lazy() for frame in _ar_of(mart, moments, customers)]


def _ar_of_everyone(mart: Mart, moments: list[Moment]) -> list[pl.DataFrame]:
    """``ar_by_customer`` of every customer (no scope, no slice) at each of ``moments``."""
    return _ar_of(mart, moments, None)


def _ar_of(mart: Mart, moments: Sequence[Moment],
           customers: pl.Series | None) -> list[pl.DataFrame]:
    """``ar_by_customer`` of ``customers`` (None: every customer) at each of ``moments``, in
    one pass over their open items."""
    query = ar_by_customer_query(open_items_at(mart, moments, customers), moments)
    return ar_frames(query.collect(), len(moments))


def ar_totals(by_customer: pl.DataFrame) -> dict[str, int]:
    """The ``AR_COLUMNS`` of an ``ar_by_customer`` frame summed (0 when it is empty)."""
    return {name: int(by_customer[name].sum()) for name in AR_COLUMNS}


def ar_totals_at(mart: Mart, scope: Scope, moments: Sequence[Moment],
                 selection: Slice = EVERYTHING) -> list[dict[str, int]]:
    """``ar_totals`` of ``ar_by_customer`` at each of ``moments`` (what a KPI card needs):
    the scope's rows of every customer's AR when all the moments are kept with the batch
    (``ar_by_customer_at``, ``dashboard.batch_warmup``), else summed straight from the open
    items without a row per customer (cheaper for a moment asked once: 10M lines, four
    past moments 150 ms, against 210 ms per customer) — the moments that ``covers_batch``
    from the batch's open items, the others in one pass."""
    customers = managed_customers(mart, scope, selection)
    everyone = mart.kept_each("ar_by_customer", moments)
    if everyone is not None:
        sums = pl.collect_all([restrict(frame.lazy(), "customer_id", customers)
                               .select(pl.col(AR_COLUMNS).sum()) for frame in everyone])
        return [{name: int(frame[name][0]) for name in AR_COLUMNS} for frame in sums]
    covered = [at for at in moments if covers_batch(mart, at)]
    groups = [group for group in (covered, [at for at in moments if at not in covered])
              if group]
    sums = pl.collect_all([open_items_at(mart, group, customers).select(
        _ar_parts(group)).sum() for group in groups])
    totals = {at: {name: int(frame[f"{name}_{i}"][0]) for name in AR_COLUMNS}
              for group, frame in zip(groups, sums, strict=True)
              for i, at in enumerate(group)}
    return [totals[at] for at in moments]


def ar_summary(mart: Mart, scope: Scope, as_of: date, *, timezone: str,
               include_backdated: bool = False,
               selection: Slice = EVERYTHING) -> dict[str, int]:
    """The ``AR_COLUMNS`` summed over the in-scope customers as of ``as_of`` (0 when
    there is nothing), in base minor units."""
    return ar_totals(ar_by_customer(mart, scope, as_of, timezone=timezone,
                                    include_backdated=include_backdated, selection=selection))


def credit_sales(mart: Mart, scope: Scope, period: Period, *, timezone: str,
                 include_backdated: bool = False, selection: Slice = EVERYTHING) -> int:
    """Credit sales of ``period`` for in-scope customers, base minor units: invoices that
    are not cash sales − credit notes, dated in the period and posted before the end of
    its last day (unless ``include_backdated``)."""
    known_by = _known_by(period.end, timezone, include_backdated)
    documents = managed_rows(mart, dated(mart, "fct_ar_item", "document_date_key",
                                         period.start_key, period.end_key),
                             scope, selection).filter(
        ((pl.col("item_type") == INVOICE) & ~pl.col("is_cash_sale"))
        | (pl.col("item_type") == CREDIT_NOTE))
    if known_by is not None:
        documents = documents.filter(pl.col("posted_at") < known_by)
    return int(documents.select(pl.col("amount_minor").sum()).collect().item())


def dso(mart: Mart, scope: Scope, as_of: date, *, timezone: str, days: int = DSO_DAYS,
        include_backdated: bool = False, total_ar_minor: int | None = None,
        selection: Slice = EVERYTHING) -> dict[str, int | float | None]:
    """Days sales outstanding at ``as_of``: ``total_ar_minor`` at ``as_of``,
    ``credit_sales_minor`` of the ``days`` days ending at ``as_of``, ``days`` and ``dso``
    = total AR / credit sales × days (null when credit sales ≤ 0). A caller that has the
    total AR at ``as_of`` already (``ar_summary``, same scope and rule) passes it as
    ``total_ar_minor``, and it is not computed again."""
    if days < 1:
        raise ValueError(f"DSO needs a window of at least one day, not {days}")
    total = total_ar_minor if total_ar_minor is not None else ar_summary(
        mart, scope, as_of, timezone=timezone, include_backdated=include_backdated,
        selection=selection)["total_ar_minor"]
    sales = credit_sales(mart, scope, Period(as_of - timedelta(days=days - 1), as_of),
                         timezone=timezone, include_backdated=include_backdated,
                         selection=selection)
    return {"total_ar_minor": total, "credit_sales_minor": sales, "days": days,
            "dso": total * days / sales if sales > 0 else None}


def cei_moments(period: Period, today: date, *, timezone: str,
                include_backdated: bool = False) -> tuple[Moment, Moment] | None:
    """The beginning and ending AR moments of ``period``'s CEI (module docstring): the day
    before it starts and its last day (at the latest ``today``); None when the period
    starts after ``today``."""
    end = min(period.end, today)
    if period.start > end:
        return None
    return (moment(period.start - timedelta(days=1), timezone=timezone,
                   include_backdated=include_backdated),
            moment(end, timezone=timezone, include_backdated=include_backdated))


@dataclass(frozen=True)
class Cei:
    """The collection effectiveness index of a period and its terms (base minor units);
    ``end`` is the last day counted; ``cei`` a percentage, None when ``collectible_minor``
    ≤ 0."""

    beginning_ar_minor: int
    credit_sales_minor: int
    ending_ar_minor: int
    ending_current_minor: int
    end: date

    @property
    def collected_minor(self) -> int:
        """The numerator: beginning AR + credit sales − ending AR."""
        return self.beginning_ar_minor + self.credit_sales_minor - self.ending_ar_minor

    @property
    def collectible_minor(self) -> int:
        """The denominator: beginning AR + credit sales − ending current AR."""
        return self.beginning_ar_minor + self.credit_sales_minor - self.ending_current_minor

    @property
    def cei(self) -> Decimal | None:
        if self.collectible_minor <= 0:
            return None
        return Decimal(self.collected_minor) * 100 / Decimal(self.collectible_minor)


def cei(mart: Mart, scope: Scope, period: Period, today: date, *, timezone: str,
        include_backdated: bool = False, selection: Slice = EVERYTHING,
        ar_at: Mapping[Moment, Mapping[str, int]] | None = None) -> Cei | None:
    """The CEI of ``period`` (module docstring); None when it starts after ``today``. A
    caller that has the ``ar_totals`` at both ``cei_moments(...)`` already (same scope,
    slice and rule) passes them as ``ar_at``, and they are not computed again."""
    moments = cei_moments(period, today, timezone=timezone,
                          include_backdated=include_backdated)
    if moments is None:
        return None
    if ar_at is None:
        ar_at = dict(zip(moments, ar_totals_at(mart, scope, moments, selection),
                         strict=True))
    beginning, ending = ar_at[moments[0]], ar_at[moments[1]]
    end = min(period.end, today)
    sales = credit_sales(mart, scope, Period(period.start, end), timezone=timezone,
                         include_backdated=include_backdated, selection=selection)
    return Cei(beginning["total_ar_minor"], sales, ending["total_ar_minor"],
               ending["current_minor"], end)
