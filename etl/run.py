"""One ETL run: extract → dimensions and facts → checks → publish, as one batch.

Runs of one mart are serialised (``etl.lock``). Each starts by marking runs that died as
failed and sweeping their folders, then reads the audit-log watermark
(``etl.changes.watermark``) and the published batch.

- Full run (``full=True``; also when nothing is published yet, when the published batch's
  folder is gone, or when ``etl.changes`` finds a change only a full run handles): every
  table from every core row, every mart table replaced.
- Incremental run: the audit rows past the published watermark name the customers to
  rebuild and what changed (``etl.changes``). The facts whose builders read something that
  changed are rebuilt (``facts_seeing``; every fact when a customer record changed): what
  those facts read of the document tables is extracted for those customers only (of many
  customers, from the document tables kept whole between runs where they are:
  ``etl.kept_core``), every other table they, the dimensions and the whole tables read
  whole; all dimensions are rebuilt, those facts are rebuilt for those customers and
  merged into the published batch's rows in place of theirs; the batch folder rewrites
  only the tables and month partitions that changed, and the mart rewrites the fact rows
  that differ from the published ones (by each table's row key), in one transaction with
  the switch. Its content equals a full run's on the same core data.
- No audit row past the watermark and the same run date (company time zone) as the
  published batch: nothing is built or published; the run is logged as ``unchanged``. On a
  new date with no change, an incremental run rebuilds no customer but the tables that
  depend on the date (``fct_customer_month``'s current month, ``dim_date``).

Tables of ``WHOLE`` are rebuilt whole on every run, full or incremental, after the facts:
``fct_target`` from the core's targets (read whole), the derived ``fct_customer_month``,
``agg_sales_month`` and ``fct_payment_risk`` from the merged facts and dimensions; so are
the tables of ``WHOLE_SETS``, several from one builder: the cash forecast as of the run date
(``etl.facts.cash_forecast``: one simulation gives all its tables) and its backtest
(``etl.facts.forecast_backtest``). They are published whole (or linked, when equal to the
previous batch's; in the mart of an incremental run, only their rows that differ when they
are few and the table has a row key that cannot be null: ``_row_rewrites``). On an
incremental run of the published batch's own run date their builders get an
``etl.increment.Increment`` and recompute only what it says changed, keeping the published
rows of the rest (the result equals a whole rebuild).

Surrogate keys stay stable from batch to batch (``build_dimensions(previous=…)``) in both
modes. Checks run before publishing: structure of the whole batch, money grand totals
(net sales, cost, freight cost, receivables), per customer-month of every customer (full)
or of the rebuilt customers (incremental), and on every run the derived tables against the
merged facts (``derived_failures``), the cash forecast against the AR and order-line facts
(``forecast_failures``) and ``fct_target`` against the core (``target_failures``). A failed
run is logged as failed and leaves the published batch exactly as it was.

Memory: every large frame of a run (core tables, the previous batch's tables, facts, whole
tables) is held as a memory-mapped file of the run's spill folder (``etl.spill``), the facts
are built a chunk of customers at a time (``etl.chunks``: every customer on a full run, the
rebuilt ones on an incremental run), and the run's queries use Polars' streaming engine
(``ENGINE``). A published run's tables stay mapped files for the next run (``etl.prior``),
which then reads the previous batch without decoding its Parquet.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from types import ModuleType
from typing import Final
from zoneinfo import ZoneInfo

import polars as pl
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from core.billing.models import CreditNote, Invoice
from core.company.models import CompanySettings
from core.sales.models import SalesOrder
from etl import chunks, dims, kept_core
from etl.batch_folder import PARTITIONED, has_tables, read_batch
from etl.changes import CUSTOMER_OF, Changes, changes_since, sees, watermark
from etl.checks import (
    CheckFailed,
    core_totals,
    derived_failures,
    forecast_failures,
    freight_cost_failures,
    receivable_failures,
    reconciliation_failures,
    structure_failures,
    target_failures,
)
from etl.chunks import customer_chunks, in_order, rows_of
from etl.dims import build_dimensions
from etl.extract import (
    CoreFrames,
    CustomerRows,
    RowFilter,
    core_reader,
    merge_columns,
    merge_row_filters,
)
from etl.facts import (
    ar,
    bookings,
    cash_forecast,
    customer_month,
    forecast_backtest,
    freight_cost,
    opportunity_history,
    orders,
    payment_risk,
    quotes,
    sales_line,
    sales_month,
    targets,
)
from etl.increment import (
    Difference,
    Increment,
    Rewrite,
    differing,
    of_customers,
    patched,
    rewrite,
)
from etl.lock import run_lock
from etl.prior import hand_over
from etl.prior import load as load_prior
from etl.publish import (
    Delta,
    MartTarget,
    PublishedBatch,
    ensure_mart,
    fail_run,
    new_batch_id,
    prepare_run,
    publish,
    published_batch,
    record_unchanged,
    run_started_at,
    start_run,
)
from etl.schema import DIMENSIONS, mart, row_key
from etl.spill import Spill, trim_heap

log = logging.getLogger(__name__)
Progress = Callable[[str], None]


@dataclass(frozen=True)
class Context:
    """What every builder may need besides the core frames and the dimensions: ``today``
    is the run date in the company time zone (``run_date``); ``previous``, on an
    incremental run only, the published batch's tables it builds on; ``increment``, on an
    incremental run of the published batch's run date only, what changed
    (``etl.increment``)."""

    base_currency: str
    timezone: str
    today: date
    previous: dict[str, pl.DataFrame] | None = None
    increment: Increment | None = None


@dataclass(frozen=True)
class FactBuilder:
    """How a fact table is built, the row order its builder returns (kept when an
    incremental run merges rebuilt rows into the previous ones) and the ``module`` that
    builds it (its ``CORE_COLUMNS`` and ``ROW_FILTERS`` say what it reads). Every fact row
    belongs to one customer (column ``customer_id``): the unit of an incremental rebuild."""

    build: Callable[[CoreFrames, dict[str, pl.DataFrame], Context], pl.DataFrame]
    order: tuple[str, ...]
    module: ModuleType


# Fact table → its builder; the lambdas look the builder up at call time.
FACTS: dict[str, FactBuilder] = {
    "fct_sales_line": FactBuilder(
        lambda core, d, c: sales_line.build(core, d, c.base_currency),
        ("date_key", "source_type", "source_id"), sales_line),
    "fct_freight_cost": FactBuilder(
        lambda core, d, c: freight_cost.build(core, d, c.base_currency),
        ("date_key", "shipment_line_id"), freight_cost),
    "fct_order": FactBuilder(
        lambda core, d, c: orders.build_orders(core, d, c.base_currency), ("order_id",),
        orders),
    "fct_order_line": FactBuilder(
        lambda core, d, c: orders.build_order_lines(core, d, c.base_currency),
        ("order_line_id",), orders),
    "fct_booking": FactBuilder(
        lambda core, d, c: bookings.build(core, d, c.base_currency),
        ("date_key", "order_line_id", "event_seq"), bookings),
    "fct_ar_item": FactBuilder(
        lambda core, d, c: ar.build_items(core, d, c.base_currency),
        ("document_date_key", "item_type", "document_id"), ar),
    "fct_ar_allocation": FactBuilder(
        lambda core, d, c: ar.build_allocations(core, d, c.base_currency),
        ("allocation_id",), ar),
    "fct_quote": FactBuilder(
        lambda core, d, c: quotes.build(core, d, c.base_currency), ("quote_id",), quotes),
    "fct_opportunity_history": FactBuilder(
        lambda core, d, c: opportunity_history.build(core, d, c.base_currency,
                                                     timezone=c.timezone),
        ("opportunity_id", "version_no"), opportunity_history),
}
_FACT_MODULES = tuple(dict.fromkeys(builder.module for builder in FACTS.values()))

# Tables rebuilt whole on every run, after the facts (see the module docstring); the
# lambdas look the builder up at call time.
WHOLE: dict[str, Callable[[CoreFrames, dict[str, pl.DataFrame], Context], pl.DataFrame]] = {
    "fct_target": lambda core, t, c: targets.build(core, t, c.base_currency),
    "fct_customer_month": lambda core, t, c: customer_month.build(
        core, t, c.base_currency, today=c.today, increment=c.increment),
    "agg_sales_month": lambda core, t, c: sales_month.build(core, t, c.base_currency,
                                                            increment=c.increment),
    payment_risk.TABLE: lambda core, t, c: payment_risk.build(t, increment=c.increment),
}
# Tables rebuilt whole together, by one builder that returns them all (one simulation
# gives every cash-forecast table), after ``WHOLE``.
WHOLE_SETS: dict[tuple[str, ...], Callable[[CoreFrames, dict[str, pl.DataFrame], Context],
                                           dict[str, pl.DataFrame]]] = {
    cash_forecast.TABLES: lambda core, t, c: cash_forecast.build(core, t, today=c.today,
                                                                 increment=c.increment),
    (forecast_backtest.TABLE,): lambda core, t, c: {
        forecast_backtest.TABLE: forecast_backtest.build(
            t, today=c.today, timezone=c.timezone,
            previous=c.previous[forecast_backtest.TABLE] if c.previous else None,
            increment=c.increment)},
}
_WHOLE_NAMES = (*WHOLE, *(name for names in WHOLE_SETS for name in names))
_WHOLE_MODULES = (targets, customer_month, sales_month, payment_risk, cash_forecast,
                  forecast_backtest)


def core_reads(facts: Collection[str]) -> tuple[dict[str, tuple[str, ...]],
                                                dict[str, RowFilter]]:
    """What a run that builds ``facts`` reads of the core: table → the union of the
    columns its builders read (the dimensions', the whole tables', ``etl.chunks``' and
    those facts'), and of a table every reader filters (audit_log) the rows they use."""
    readers = (dims, chunks, *dict.fromkeys(FACTS[name].module for name in facts),
               *_WHOLE_MODULES)
    columns = dict(sorted(merge_columns(*(module.CORE_COLUMNS for module in readers)).items()))
    return columns, merge_row_filters(
        [(module.CORE_COLUMNS, getattr(module, "ROW_FILTERS", {})) for module in readers])


# What a full run extracts: only those columns (and of the audit log only the rows its
# readers filter for).
CORE_COLUMNS, _FULL_ROW_FILTERS = core_reads(FACTS)
CORE_TABLES = tuple(CORE_COLUMNS)
_FACT_TABLES = frozenset(merge_columns(*(module.CORE_COLUMNS for module in _FACT_MODULES)))
# Core tables the whole tables read: all a run keeps of the core once the facts are built.
_WHOLE_CORE_TABLES = frozenset(merge_columns(
    *(module.CORE_COLUMNS for module in _WHOLE_MODULES)))
# Tables only the dimensions and the whole tables read (e.g. sales_target): every run
# rebuilds those anyway, so a change there needs no fact rebuilt.
WHOLE_ONLY = frozenset(merge_columns(
    dims.CORE_COLUMNS, *(module.CORE_COLUMNS for module in _WHOLE_MODULES))) - _FACT_TABLES
# Document tables an incremental run reads for the rebuilt customers only (the dimensions
# read theirs whole).
SCOPED = tuple(t for t in CORE_TABLES if t in CUSTOMER_OF and t not in dims.CORE_TABLES)
# Of those, the ones a full run reads whole (no row filter): kept between runs with these
# columns (``etl.kept_core``).
KEPT_COLUMNS = {t: CORE_COLUMNS[t] for t in SCOPED if t not in _FULL_ROW_FILTERS}
_DIMENSION_NAMES = tuple(t.name for t in DIMENSIONS)
# Polars engine of a run's queries. The streaming engine builds the same frames in less
# time and memory (standard dataset, each fact alone, in-memory → streaming: fct_booking
# 14.4 s / 5.7 GiB → 10.8 s / 4.2 GiB; fct_sales_line 5.9 → 4.4 s; fct_ar_item 6.0 s /
# 3.2 GiB → 3.7 s / 1.9 GiB); what it cannot stream it runs in memory.
ENGINE: Final = "streaming"
# Facts the month-grain tables sum (``Increment.months``: the months where they changed);
# the checks compare them with the core's sums per customer and month.
_MONTHLY = ("fct_sales_line", "fct_freight_cost")


@dataclass(frozen=True)
class RunResult:
    """What a run did: ``mode`` full, incremental or unchanged (nothing published:
    ``batch_id`` is then the batch still published); rows per table of the batch;
    ``customers``: how many customers an incremental run rebuilt."""

    batch_id: str
    watermark_seq: int
    rows: dict[str, int]
    mode: str
    customers: int | None = None

    @property
    def published(self) -> bool:
        """Whether this run published a new batch."""
        return self.mode != "unchanged"


def _date_range(engine: Engine) -> tuple[date, date]:
    """``dim_date``'s span: 1 January of the first document's year to the end of next
    year."""
    with Session(engine) as session:
        firsts = [session.scalar(select(func.min(column))) for column in
                  (Invoice.invoice_date, SalesOrder.order_date, CreditNote.credit_date)]
    start = min((d for d in firsts if d is not None), default=date.today())
    return date(start.year, 1, 1), date(date.today().year + 1, 12, 31)


def utc_now() -> datetime:
    """Now, naive UTC: when a run starts (its run date is taken from it; tests move it)."""
    return datetime.now(UTC).replace(tzinfo=None)


def run_date(instant: datetime, timezone: str) -> date:
    """The date in ``timezone`` at ``instant`` (naive UTC, as ``etl_run`` stores it)."""
    return instant.replace(tzinfo=UTC).astimezone(ZoneInfo(timezone)).date()


def _context(engine: Engine, started_at: datetime) -> tuple[Context, int]:
    with Session(engine) as session:
        settings = session.get_one(CompanySettings, 1)
        return (Context(settings.base_currency, settings.timezone,
                        run_date(started_at, settings.timezone)),
                settings.fiscal_year_start_month)


def run_etl(core_engine: Engine, target: MartTarget, *, full: bool = False,
            queue: bool = False, progress: Progress | None = None,
            connections: int = 2) -> RunResult:
    """Build and publish one batch, incrementally unless ``full`` (see the module
    docstring), reading a PostgreSQL core over ``connections`` connections at once; raise
    ``CheckFailed`` (nothing published) on bad data and ``etl.lock.RunInProgress`` when
    another run holds the mart — or, with ``queue``, wait for that run, and raise
    ``etl.lock.AlreadyQueued`` when another run already waits."""
    step = progress or (lambda _stage: None)
    ensure_mart(target)
    with run_lock(target.parquet_dir, queue=queue):
        prepare_run(target)
        started_at = utc_now()
        context, fiscal_start = _context(core_engine, started_at)
        step("changes")
        upto = watermark(core_engine)
        previous = published_batch(target.engine)
        same_date = previous is not None and _same_date(target, previous, context)
        changes = None
        if not full and previous is not None:
            changes = changes_since(core_engine, previous.watermark_seq, upto, CORE_TABLES,
                                    WHOLE_ONLY)
            if changes.empty and same_date:
                record_unchanged(target, new_batch_id(), previous.watermark_seq)
                log.info("no change past watermark %s: batch %s stays published",
                         previous.watermark_seq, previous.batch_id)
                return RunResult(previous.batch_id, previous.watermark_seq, {}, "unchanged")
            if changes.full_reason:
                log.info("full run: %s", changes.full_reason)
                changes = None
        batch_id = new_batch_id()
        with Spill(target.parquet_dir, batch_id) as spill, pl.Config(engine_affinity=ENGINE):
            names = _DIMENSION_NAMES + (tuple(FACTS) + _WHOLE_NAMES if changes else ())
            prior = None
            # As its run left it, else from its Parquet; an incremental batch links to the
            # previous folder, so without it whole the run is full.
            if previous is not None and has_tables(target.parquet_dir, previous.batch_id,
                                                   names):
                prior = load_prior(spill, target.parquet_dir, previous.batch_id, names) \
                    or read_batch(target.parquet_dir, previous.batch_id, names,
                                  keep=_prefixed(spill, "prior."))
            if prior is None:
                changes = None
            start_run(target, batch_id, "incremental" if changes else "full",
                      started_at=started_at)
            try:
                result = _run(core_engine, target, batch_id, upto, previous, prior, changes,
                              context, fiscal_start, step, connections, spill,
                              same_date=same_date)
            except Exception as exc:
                fail_run(target, batch_id, f"{type(exc).__name__}: {exc}")
                raise
    log.info("published batch %s (%s, watermark %s): %s", batch_id, result.mode, upto,
             result.rows)
    return result


def facts_seeing(changes: Changes) -> tuple[str, ...]:
    """The facts an incremental run rebuilds for ``changes.customers``: every fact when a
    customer record changed (its ``dim_customer`` versions, whose keys every fact carries,
    may change), else those whose builder reads something that changed
    (``etl.changes.sees``); the others cannot differ from the published ones."""
    if "customer" in changes.changed_columns:
        return tuple(FACTS)
    return tuple(name for name, builder in FACTS.items()
                 if sees(builder.module.CORE_COLUMNS, getattr(builder.module, "ROW_FILTERS", {}),
                         changes.changed_columns))


def _same_date(target: MartTarget, previous: PublishedBatch, context: Context) -> bool:
    """Whether the published batch was built on this run's date (company time zone)."""
    started = run_started_at(target.engine, previous.batch_id)
    return started is not None and run_date(started, context.timezone) == context.today


def _run(core_engine: Engine, target: MartTarget, batch_id: str, upto: int,
         previous: PublishedBatch | None, prior: dict[str, pl.DataFrame] | None,
         changes: Changes | None, context: Context, fiscal_start: int,
         step: Progress, connections: int, spill: Spill, *, same_date: bool) -> RunResult:
    step("extract")
    facts = tuple(FACTS) if changes is None or prior is None else facts_seeing(changes)
    rebuilt = None if changes is None or prior is None else (
        changes.customers if facts else frozenset[int]())
    selection = None if rebuilt is None else CustomerRows(rebuilt, frozenset(SCOPED))
    columns, row_filters = core_reads(facts)
    # The core's sums per customer and month are compared with the sales and freight facts
    # of the customers those were rebuilt for; facts not rebuilt are the published
    # batch's, compared when they were built (grand totals are compared on every run).
    compared = rebuilt if rebuilt is None or set(_MONTHLY) & set(facts) else frozenset[int]()
    made_under = kept_core.stamp(core_engine)
    kept = {} if rebuilt is None else kept_core.load(spill, target.parquet_dir, KEPT_COLUMNS,
                                                      made_under, upto)
    # One snapshot for the frames and the totals; the totals' queries run beside the
    # extract, on whichever of the reader's connections is free.
    with (core_reader(core_engine, connections) as reader,
          ThreadPoolExecutor(max_workers=1) as beside):
        pending = beside.submit(core_totals, reader, context.base_currency, customers=compared)
        refresh = kept_core.Refresh(kept, reader, spill)
        core = reader.extract(columns, row_filters, customers=selection,
                              keep=_prefixed(spill, "core."), whole=refresh)
        step("checks: core totals")
        totals = pending.result()
    trim_heap()  # the drivers' freed read buffers
    kept_core.hand_over(spill, refresh.refreshed if rebuilt is not None else {
        name: core[name] for name in KEPT_COLUMNS}, upto, target.parquet_dir, KEPT_COLUMNS,
        made_under)
    start, end = _date_range(core_engine)
    step("dimensions")
    tables = build_dimensions(core, start=start, end=end, fiscal_year_start_month=fiscal_start,
                              timezone=context.timezone, previous=prior)
    step("facts")
    delta = None
    if rebuilt is None or prior is None:
        _build_facts(core, tables, context, spill, step)
    else:
        delta, months, differ = _merge(core, tables, context, prior, rebuilt, facts, spill,
                                       step)
        increment = None
        if same_date and changes is not None:
            differ["dim_customer"] = differing(prior["dim_customer"], tables["dim_customer"],
                                               row_key(mart.tables["dim_customer"]))
            increment = Increment(rebuilt | differ["dim_customer"].customers(), months,
                                  changes.tables, prior, differ)
        context = replace(context, previous=prior, increment=increment)
    # The document frames are no longer needed: their files go.
    core = CoreFrames({name: core[name] for name in _WHOLE_CORE_TABLES})
    for name in set(CORE_TABLES) - _WHOLE_CORE_TABLES:
        spill.discard(f"core.{name}")
    for name, build in WHOLE.items():
        step(f"facts: {name}")
        tables[name] = _held(spill, name, build(core, tables, context))
    for names, build_set in WHOLE_SETS.items():
        step(f"facts: {', '.join(names)}")
        tables.update((name, _held(spill, name, frame))
                      for name, frame in build_set(core, tables, context).items())
    if delta is not None and prior is not None:
        same = {name for name in _WHOLE_NAMES if tables[name].equals(prior[name])}
        changed = [name for name in _WHOLE_NAMES if name not in same]
        delta = replace(delta, unchanged=delta.unchanged | same,
                        rows={**delta.rows, **_row_rewrites(changed, prior, tables)})
    step("checks")
    failures = structure_failures(tables)
    step("checks: money")
    failures += reconciliation_failures(
        tables["fct_sales_line"], totals, customers=compared) + freight_cost_failures(
        tables["fct_freight_cost"], totals, customers=compared) + receivable_failures(
        tables["fct_ar_item"], tables["fct_ar_allocation"], totals)
    failures += target_failures(tables["fct_target"], totals)
    step("checks: derived tables")
    failures += derived_failures(tables, context.increment)
    step("checks: cash forecast")
    failures += forecast_failures(tables)
    if failures:
        raise CheckFailed("; ".join(failures))
    publish(target, batch_id, tables, upto, delta=delta,
            based_on=previous.batch_id if previous else None, progress=step)
    step("kept for the next run")
    hand_over(spill, tables, target.parquet_dir, batch_id)
    rows = {name: frame.height for name, frame in tables.items()}
    if delta is None:
        return RunResult(batch_id, upto, rows, "full")
    return RunResult(batch_id, upto, rows, "incremental", len(delta.customers))


def _row_rewrites(names: Collection[str], prior: dict[str, pl.DataFrame],
                  tables: dict[str, pl.DataFrame]) -> dict[str, Rewrite]:
    """How the published rows of the whole tables ``names`` become ``tables``' row by row,
    for those with a row key that cannot be null (a null never matches the mart's DELETE)
    — the publish rewrites only the rows that differ when they are few
    (``etl.publish.RESTAGE_SHARE``)."""
    rewrites = {}
    for name in names:
        table = mart.tables[name]
        try:
            key = row_key(table)
        except ValueError:  # no key (agg_sales_month): written whole
            continue
        if any(table.c[column].nullable for column in key):
            continue
        before, after = prior[name], tables[name]
        rewrites[name] = rewrite(differing(before, after, key), before, after)
    return rewrites


def _build_facts(core: CoreFrames, tables: dict[str, pl.DataFrame], context: Context,
                 spill: Spill, step: Progress, facts: Collection[str] = FACTS) -> None:
    """The ``facts`` (default every one) of the customers ``core`` holds into ``tables``,
    built a chunk of customers at a time (``etl.chunks``), each chunk's piece spilled, then
    the pieces in the builder's order."""
    ranges = customer_chunks(core["sales_order"])
    builders = {name: builder for name, builder in FACTS.items() if name in facts}
    pieces: dict[str, list[pl.DataFrame]] = {name: [] for name in builders}

    def build_chunk(part: CoreFrames, number: int) -> None:
        for name, builder in builders.items():
            step(f"facts: {name}" + (f" ({number}/{len(ranges)})" if len(ranges) > 1 else ""))
            pieces[name].append(spill.keep(f"{name}.{number}",
                                           builder.build(part, tables, context)))

    for number, customers in enumerate(ranges, start=1):  # one chunk's rows held at a time
        build_chunk(rows_of(core, customers) if len(ranges) > 1 else core, number)
    if len(ranges) > 1:
        step("facts: in order")
    for name, builder in builders.items():
        if len(ranges) == 1:
            tables[name] = pieces.pop(name)[0]
            continue
        tables[name] = in_order(pieces.pop(name), builder.order, spill.keep, name,
                                spill.joined)
        for number in range(1, len(ranges) + 1):
            spill.discard(f"{name}.{number}")


def _held(spill: Spill, name: str, frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` held by files: as it is when it already is (a published table a builder
    kept), else written to ``spill`` (at 10M lines ``fct_customer_month`` 0.5 s)."""
    return frame if spill.files_of(frame) is not None else spill.keep(name, frame)


def _prefixed(spill: Spill,
              prefix: str) -> Callable[[str, pl.DataFrame | pl.LazyFrame], pl.DataFrame]:
    """``spill.keep`` under file names that start with ``prefix``."""
    return lambda name, frame: spill.keep(prefix + name, frame)


def _merge(core: CoreFrames, tables: dict[str, pl.DataFrame], context: Context,
           prior: dict[str, pl.DataFrame], customers: frozenset[int], facts: Collection[str],
           spill: Spill, step: Progress,
           ) -> tuple[Delta, frozenset[int], dict[str, Difference]]:
    """Rebuild ``facts`` for ``customers`` (``core`` holds their documents) and put the
    merged facts into ``tables``: the previous rows of every other customer plus the
    rebuilt ones, in the builder's order (the previous rows with values changed in place
    when no row came, went or moved: ``etl.increment.patched``); every other fact as it
    was. The ``Delta`` names what changed (the tables of ``WHOLE`` are left to the
    caller); with it, the months (YYYYMM) in which sales lines or freight cost rows differ
    from the previous ones, and per rebuilt fact its rows that differ."""
    mine = of_customers(customers)
    rebuilt_facts: dict[str, Rewrite] = {}
    months: dict[str, frozenset[int]] = {}
    partitions: dict[str, frozenset[int]] = {}  # the months of partitioned facts to write
    differ: dict[str, Difference] = {}
    unchanged = {name for name in _DIMENSION_NAMES if tables[name].equals(prior[name])}
    fresh = dict(tables)  # the dimensions, then the customers' facts (in chunks when many)
    if customers:
        _build_facts(core, fresh, context, spill, step, facts)
    for name, builder in FACTS.items():
        if name not in fresh:  # not rebuilt (e.g. a new date without changes)
            unchanged.add(name)
            tables[name] = prior[name]
            continue
        step(f"facts: {name} merged")
        rebuilt = fresh.pop(name).filter(mine)
        before = prior[name].filter(mine)
        if rebuilt.equals(before):
            unchanged.add(name)
            tables[name] = prior[name]
            continue
        changed = differing(before, rebuilt, row_key(mart.tables[name]))
        rebuilt_facts[name] = rewrite(changed, before, rebuilt)
        differ[name] = changed
        patch = patched(prior[name], changed, builder.order)
        if patch is not None:  # values changed in place: no sort
            tables[name] = spill.keep_patch(f"{name}.merged", patch.frame, prior[name],
                                            patch.rows, chunks.SLICE_ROWS)
        else:
            kept = prior[name].filter(~mine)
            tables[name] = in_order([kept, rebuilt.select(kept.columns)], builder.order,
                                    spill.keep, f"{name}.merged", spill.joined)  # in slices
        if name in PARTITIONED:
            partitions[name] = frozenset(
                changed.rows.select(PARTITIONED[name].months()).to_series().to_list())
        if name in _MONTHLY:
            months[name] = frozenset(changed.rows["month_key"].to_list())
    delta = Delta(customers, rebuilt_facts, partitions, frozenset(unchanged))
    return delta, frozenset().union(*months.values()), differ
