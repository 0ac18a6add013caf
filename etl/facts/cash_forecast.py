"""The cash-flow forecast as of the run date (KPIS "Cash-flow forecast", DESIGN D8):
``fct_cash_forecast_item``, ``fct_cash_forecast``, ``fct_cash_forecast_week``,
``fct_cash_forecast_sim`` and ``fct_payment_days_late``, from one simulation.

Items (``fct_cash_forecast_item``, one row each):

- every open invoice (``etl.facts.open_ar.open_items`` over everything recorded): its open
  amount in base currency at the invoice's rate, its due date, dispute flag and promise to
  pay (kept when dated after the run date: an earlier promise was broken, the draw applies);
- every backlog order line (``fct_order_line.backlog_minor`` > 0, confirmed orders) except
  of cash sales (prepaid before confirmation): expected invoice date = max(run date,
  promised ship date), due date = that + the customer's current payment terms (net days).
  Backlog is net of tax, as KPIS defines it.

Unapplied cash and open credits are not receipts and are left out.

Pools (``fct_payment_days_late``, ``payment_history``): one observation per invoice dated
by the run date, cash sales excluded — a paid one (settled in full, at least one receipt
applied) at its days late = the latest of its receipts (max ``days_late`` of its cash
allocations), an open one censored at its days overdue (Kaplan–Meier). A customer's own
pool holds its observations; a segment's pool those of every customer whose current version
has that segment; customers without a segment use the all-customers pool instead.

Simulation: ``etl.facts.forecast_simulation`` (1,000 simulations, seed = a hash of the run
date), summed per cell = (current account manager, customer on hold, invoice disputed) into
``fct_cash_forecast_sim``: any scope (who manages a customer now) and the exclusion
scenarios are sums of cells per simulation, and quantiles are taken after the sum. The
weekly bands of everything are ``fct_cash_forecast_week``; expected (mean) receipts per
customer and week ``fct_cash_forecast``, with the disputed part apart.

Depends on every customer and on the run date: built after the merged facts on every run
(``etl.run`` ``WHOLE_SETS``), from them and the core's ``customer`` (terms, hold state) and
``payment_terms`` tables, which every run reads whole. On a same-day incremental run whose
segment pools did not change, only the changed customers' items are simulated again
(``_resimulated``); the tables equal a whole rebuild's.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime

import numpy as np
import polars as pl

from etl.conform import conform
from etl.extract import CoreFrames
from etl.facts.forecast_simulation import (
    ALL_POOL,
    BACKLOG,
    CUSTOMER_POOL,
    HORIZON_WEEKS,
    SEGMENT_POOL,
    SIMULATIONS,
    attach_pools,
    bands,
    day_number,
    forecast_seed,
    naive_weeks,
    round_minor,
    simulate,
    simulation_frame,
    week_starts,
)
from etl.facts.open_ar import (
    INVOICE,
    PAYMENT,
    Moment,
    open_items,
    open_items_at,
    open_items_now,
)
from etl.increment import Increment, changed_customers, merge_customers, of_customers
from etl.keys import date_of_key
from etl.schema import (
    UNKNOWN_KEY,
    fct_cash_forecast,
    fct_cash_forecast_item,
    fct_cash_forecast_sim,
    fct_cash_forecast_week,
    fct_payment_days_late,
    row_key,
)

CORE_COLUMNS: dict[str, tuple[str, ...]] = {
    "customer": ("id", "terms_code", "hold_state"),
    "payment_terms": ("code", "net_days"),
}
CORE_TABLES = tuple(CORE_COLUMNS)
TABLES = ("fct_cash_forecast_item", "fct_cash_forecast", "fct_cash_forecast_week",
          "fct_cash_forecast_sim", "fct_payment_days_late")
ON_HOLD = "on_hold"  # core.customers.models.HoldState
WEEK_COLUMNS = tuple(f"week_{week:02d}_minor" for week in range(1, HORIZON_WEEKS + 1))
CELL = ("account_manager_id", "is_on_hold", "is_disputed")
FORECAST_ITEM_ORDER = ("item_type", "document_id")


def _key_of(day: date) -> int:
    return day.year * 10_000 + day.month * 100 + day.day


def _as_of(date_column: str, stamp_column: str, as_of: date | None,
           known_by: datetime | None) -> pl.Expr:
    condition = pl.lit(True)
    if as_of is not None:
        condition &= pl.col(date_column) <= _key_of(as_of)
    if known_by is not None:
        condition &= pl.col(stamp_column) < known_by
    return condition


def invoice_state(items: pl.DataFrame, allocations: pl.DataFrame, as_of: date | None,
                  known_by: datetime | None) -> pl.DataFrame:
    """Every invoice as of ``as_of`` (documents and allocations dated ≤ it, recorded before
    ``known_by``; None: no limit): its ``fct_ar_item`` columns plus ``open_doc_minor`` and
    ``open_minor`` (``etl.facts.open_ar.open_items``). With no limit the rows are not sorted
    (every reader sorts what it makes; at 10M lines sorting 2.8M invoices took 0.8 s)."""
    if as_of is None and known_by is None:
        return open_items_now(_invoices(items), allocations).collect()
    return open_items(_invoices(items), allocations, as_of, known_by)


def invoice_states(items: pl.DataFrame, allocations: pl.DataFrame,
                   moments: Sequence[Moment]) -> Iterator[pl.DataFrame]:
    """``invoice_state`` at each of ``moments`` (as of, known by), from one join, one
    moment at a time (``open_items_at``)."""
    return open_items_at(_invoices(items), allocations, moments)


def _invoices(items: pl.DataFrame) -> pl.LazyFrame:
    return items.lazy().filter(pl.col("item_type") == INVOICE)


def open_invoices(state: pl.DataFrame) -> pl.DataFrame:
    """The open ones of ``invoice_state``."""
    return state.filter(pl.col("open_doc_minor") > 0)


def payment_history(state: pl.DataFrame, allocations: pl.DataFrame, as_of: date,
                    known_by: datetime | None) -> pl.DataFrame:
    """One row per invoice of ``state`` (``invoice_state`` as of ``as_of``) that is not a
    cash sale and is either paid — settled in full with at least one receipt applied (dated
    ≤ ``as_of``, recorded before ``known_by``): ``days_late`` of its latest receipt,
    ``is_paid`` — or still open: ``days_late`` = its days overdue at ``as_of``, not
    ``is_paid`` (a censored observation). ``customer_id`` with each."""
    invoices = state.lazy().filter(~pl.col("is_cash_sale"))
    receipts = (
        allocations.lazy()
        .filter((pl.col("source_type") == PAYMENT) & (pl.col("target_type") == INVOICE)
                & pl.col("days_late").is_not_null() & (pl.col("amount_doc_minor") > 0)
                & _as_of("allocation_date_key", "created_at", as_of, known_by))
        .group_by("target_id").agg(pl.col("days_late").max())
        .rename({"target_id": "document_id"})
    )
    paid = (invoices.filter(pl.col("open_doc_minor") == 0)
            .join(receipts, on="document_id", how="inner")
            .select("customer_id", "days_late", pl.lit(True).alias("is_paid")))
    overdue = pl.lit(day_number(as_of)) - _day("due_date_key")
    still_open = (invoices.filter((pl.col("open_doc_minor") > 0)
                                  & (pl.col("due_date_key") != UNKNOWN_KEY))
                  .select("customer_id", overdue.alias("days_late"),
                          pl.lit(False).alias("is_paid")))
    return (pl.concat([paid, still_open], how="vertical_relaxed")
            .select(pl.col("customer_id").cast(pl.Int32), pl.col("days_late").cast(pl.Int32),
                    "is_paid")
            .collect())


def customers_at(dim_customer: pl.DataFrame, day: date | None) -> pl.DataFrame:
    """Per customer: the ``dim_customer`` version valid at ``day`` (None: the current one;
    a customer created later: its first version) — ``customer_id``, ``customer_key``,
    ``segment_code``, ``account_manager_id``."""
    real = dim_customer.lazy().filter(pl.col("customer_key") != UNKNOWN_KEY)
    if day is None:
        chosen = real.filter(pl.col("is_current"))
    else:
        chosen = (real.sort("customer_id", "valid_from")
                  .filter((pl.col("valid_from") <= day)
                          | (pl.col("valid_from") == pl.col("valid_from").min()
                             .over("customer_id")))
                  .group_by("customer_id").last())
    return chosen.select("customer_id", "customer_key", "segment_code",
                         "account_manager_id").sort("customer_id").collect()


def pool_rows(history: pl.DataFrame, segments: pl.DataFrame,
              customers: pl.Series) -> pl.DataFrame:
    """``fct_payment_days_late``: the own pools of ``customers``, every segment's pool and
    the all-customers pool, from ``history`` (``payment_history``) and ``segments``
    (``customer_id``, ``segment_code``)."""
    counts = [pl.col("is_paid").sum().cast(pl.Int32).alias("paid_invoices"),
              (~pl.col("is_paid")).sum().cast(pl.Int32).alias("open_invoices")]
    rows = history.lazy()
    own = (rows.filter(pl.col("customer_id").is_in(customers.implode()))
           .group_by("customer_id", "days_late").agg(*counts)
           .select(pl.lit(CUSTOMER_POOL).alias("pool"), "customer_id",
                   pl.lit(None, pl.String).alias("segment_code"), "days_late",
                   "paid_invoices", "open_invoices"))
    segment = (rows.join(segments.lazy().select("customer_id", "segment_code"),
                         on="customer_id", how="inner")
               .filter(pl.col("segment_code").is_not_null())
               .group_by("segment_code", "days_late").agg(*counts)
               .select(pl.lit(SEGMENT_POOL).alias("pool"),
                       pl.lit(UNKNOWN_KEY, pl.Int32).alias("customer_id"), "segment_code",
                       "days_late", "paid_invoices", "open_invoices"))
    everyone = (rows.group_by("days_late").agg(*counts)
                .select(pl.lit(ALL_POOL).alias("pool"),
                        pl.lit(UNKNOWN_KEY, pl.Int32).alias("customer_id"),
                        pl.lit(None, pl.String).alias("segment_code"), "days_late",
                        "paid_invoices", "open_invoices"))
    return conform(pl.concat([own, segment, everyone], how="vertical_relaxed"),
                   fct_payment_days_late).sort(
        "pool", "customer_id", "segment_code", "days_late", nulls_last=True).collect()


def _invoice_items(state: pl.DataFrame, today: date) -> pl.LazyFrame:
    return open_invoices(state).lazy().select(
        pl.lit(INVOICE).alias("item_type"), "document_id", "customer_id",
        pl.col("open_minor").alias("amount_minor"), "document_date_key", "due_date_key",
        pl.when(pl.col("promise_to_pay_date_key") > _key_of(today))
        .then(pl.col("promise_to_pay_date_key")).otherwise(UNKNOWN_KEY)
        .alias("promise_to_pay_date_key"),
        "is_disputed")


def _backlog_items(tables: dict[str, pl.DataFrame], terms: pl.LazyFrame,
                   today: date) -> pl.LazyFrame:
    cash = tables["fct_order"].lazy().select("order_id", "is_cash_sale")
    promised = date_of_key("promised_ship_date_key")
    invoice_date = pl.max_horizontal(pl.lit(today), promised.fill_null(pl.lit(today)))
    return (
        tables["fct_order_line"].lazy().filter(pl.col("backlog_minor") > 0)
        .join(cash, on="order_id", how="left")
        .filter(~pl.col("is_cash_sale").fill_null(False))
        .join(terms, on="customer_id", how="left")
        .with_columns(invoice_date.alias("_invoice_date"))
        .select(pl.lit(BACKLOG).alias("item_type"),
                pl.col("order_line_id").alias("document_id"), "customer_id",
                pl.col("backlog_minor").alias("amount_minor"),
                _date_key(pl.col("_invoice_date")).alias("document_date_key"),
                _date_key(pl.col("_invoice_date")
                          + pl.duration(days=pl.col("net_days").fill_null(0)))
                .alias("due_date_key"),
                pl.lit(UNKNOWN_KEY).alias("promise_to_pay_date_key"),
                pl.lit(False).alias("is_disputed"))
    )


def _date_key(expr: pl.Expr) -> pl.Expr:
    return (expr.dt.year().cast(pl.Int32) * 10_000 + expr.dt.month().cast(pl.Int32) * 100
            + expr.dt.day().cast(pl.Int32))


def _day(key_column: str) -> pl.Expr:
    """Day number (days since 1970-01-01) of a YYYYMMDD key column; null for -1."""
    return date_of_key(key_column).cast(pl.Int32).cast(pl.Int64)


def forecast_items(core: CoreFrames, tables: dict[str, pl.DataFrame],
                   state: pl.DataFrame, today: date) -> pl.DataFrame:
    """Every item to simulate with its customer's current account manager, segment and
    hold state (``fct_cash_forecast_item`` columns but ``expected_minor``), by item."""
    accounts = core["customer"].lazy().select(
        pl.col("id").cast(pl.Int32).alias("customer_id"),
        (pl.col("hold_state") == ON_HOLD).alias("is_on_hold"), "terms_code")
    terms = accounts.join(
        core["payment_terms"].lazy().select(pl.col("code").alias("terms_code"), "net_days"),
        on="terms_code", how="left").select("customer_id", "net_days")
    versions = customers_at(tables["dim_customer"], None).lazy().select(
        "customer_id", pl.col("account_manager_id").fill_null(UNKNOWN_KEY), "segment_code")
    items = pl.concat([_invoice_items(state, today), _backlog_items(tables, terms, today)],
                      how="vertical_relaxed")
    return (
        items.with_columns(pl.col("customer_id").cast(pl.Int32))
        .join(versions, on="customer_id", how="left")
        .join(accounts.select("customer_id", "is_on_hold"), on="customer_id", how="left")
        .with_columns(pl.col("account_manager_id").fill_null(UNKNOWN_KEY),
                      pl.col("is_on_hold").fill_null(False),
                      (pl.lit(day_number(today)) - _day("due_date_key")).alias("days_overdue"))
        .sort(FORECAST_ITEM_ORDER)
        .collect()
    )


def build(core: CoreFrames, tables: dict[str, pl.DataFrame], *, today: date,
          increment: Increment | None = None) -> dict[str, pl.DataFrame]:
    """The forecast tables (``TABLES``) as of ``today`` from the merged facts and
    dimensions (``tables``) and the core's customer and payment terms frames. With an
    ``increment`` that kept the segment pools, only the changed customers' items are
    simulated (``_changed_customers``)."""
    allocations = tables["fct_ar_allocation"]
    state = invoice_state(tables["fct_ar_item"], allocations, None, None)
    items = forecast_items(core, tables, state, today)
    history = payment_history(state.filter(pl.col("document_date_key") <= _key_of(today)),
                              allocations, today, None)
    segments = customers_at(tables["dim_customer"], None)
    pools = pool_rows(history, segments, items["customer_id"].unique())
    seed = forecast_seed(today)
    cells = items.select(CELL).unique().sort(CELL)
    changed = None if increment is None else _changed_customers(increment, items, pools,
                                                                today)
    if increment is None or changed is None:
        simulated = _simulated(items, pools, cells, today, seed, tables)
    else:
        simulated = _resimulated(increment, changed, items, pools, cells, today, seed,
                                 tables)
    totals = simulated.totals
    return {
        "fct_cash_forecast_item": simulated.items,
        "fct_cash_forecast": simulated.by_customer,
        "fct_cash_forecast_week": _by_week(totals.sum(axis=0), simulated.by_customer,
                                           today, seed),
        "fct_cash_forecast_sim": _by_cell(cells, totals),
        "fct_payment_days_late": pools,
    }


@dataclass(frozen=True)
class _Simulated:
    """Simulated items: ``items`` (``fct_cash_forecast_item``), ``by_customer``
    (``fct_cash_forecast``) and ``totals[cell, simulation, week]`` (Σ amounts received, in
    whole minor units: sums of integer amounts, so exact in any order)."""

    items: pl.DataFrame
    by_customer: pl.DataFrame
    totals: np.ndarray


def _simulated(items: pl.DataFrame, pools: pl.DataFrame, cells: pl.DataFrame, today: date,
               seed: int, tables: dict[str, pl.DataFrame]) -> _Simulated:
    """Simulate ``items`` with ``pools``, their totals summed per cell of ``cells``."""
    frame = simulation_frame(items).collect()
    sim_items, sim_pools = attach_pools(frame, pools)
    cell_of = items.select(pl.col(c).cast(cells.schema[c]) for c in CELL).join(
        cells.with_row_index("_cell"), on=list(CELL), how="left", maintain_order="left")["_cell"]
    result = simulate(sim_items, sim_pools, today, seed, groups=cell_of.to_numpy(),
                      group_count=cells.height)
    naive = naive_weeks(sim_items.due, today)
    items = items.with_columns(pl.Series("expected_minor",
                                         round_minor(result.expected.sum(axis=1))))
    return _Simulated(conform(items.lazy(), fct_cash_forecast_item).collect(),
                      _by_customer(items, result.expected, naive, tables, today),
                      result.totals)


def _resimulated(increment: Increment, changed: frozenset[int], items: pl.DataFrame,
                 pools: pl.DataFrame, cells: pl.DataFrame, today: date, seed: int,
                 tables: dict[str, pl.DataFrame]) -> _Simulated:
    """The published forecast with the ``changed`` customers' items simulated again: their
    published items' receipts taken out of the cells' totals (drawn again with the
    published pools: the same draws), their new items' put in, their rows replaced."""
    previous = increment.previous
    published = previous["fct_cash_forecast_sim"]
    if not changed:  # every item and pool as published: so are the cells
        return _Simulated(previous["fct_cash_forecast_item"], previous["fct_cash_forecast"],
                          _published_totals(published, cells))
    # Every cell of now or of the published batch (whose cells may have lost items).
    union = pl.concat([cells, published.select(
        pl.col(c).cast(cells.schema[c]) for c in CELL)]).unique().sort(CELL)
    mine = of_customers(changed)
    now = _simulated(items.filter(mine), pools, union, today, seed, tables)
    before = _simulated(previous["fct_cash_forecast_item"].filter(mine),
                        previous["fct_payment_days_late"], union, today, seed, tables)
    kept = union.with_row_index("_cell").join(cells, on=list(CELL), how="semi")["_cell"]
    totals = (_published_totals(published, union) + now.totals - before.totals)
    return _Simulated(
        merge_customers(previous["fct_cash_forecast_item"], now.items, changed,
                        FORECAST_ITEM_ORDER),
        merge_customers(previous["fct_cash_forecast"], now.by_customer, changed,
                        ("customer_id", "week_no")),
        totals[kept.to_numpy()])


def _published_totals(sims: pl.DataFrame, cells: pl.DataFrame) -> np.ndarray:
    """The published ``fct_cash_forecast_sim`` as totals[cell, simulation, week] over
    ``cells`` (0 for a cell it does not hold)."""
    totals = np.zeros((cells.height, SIMULATIONS, HORIZON_WEEKS))
    rows = sims.with_columns(pl.col(c).cast(cells.schema[c]) for c in CELL).join(
        cells.with_row_index("_cell"), on=list(CELL), how="inner")
    totals[rows["_cell"].to_numpy(), rows["sim_no"].to_numpy()] = rows.select(
        WEEK_COLUMNS).to_numpy()
    return totals


def _changed_customers(increment: Increment, items: pl.DataFrame, pools: pl.DataFrame,
                       today: date) -> frozenset[int] | None:
    """The customers whose items must be simulated again on an incremental run: those whose
    items (hold, account manager, dispute, open amount, …), own pool or current
    ``dim_customer`` version changed — nothing else of a customer's rows depends on it. None
    — simulate everything — when a segment's or the all-customers pool changed (the draws
    of every item of the segment change), when payment terms changed (every backlog line's
    due date may) or when the published batch holds no forecast of this date."""
    previous = increment.previous
    week = previous.get("fct_cash_forecast_week")
    if ("payment_terms" in increment.tables or week is None or week.is_empty()
            or int(week["as_of_date_key"][0]) != _key_of(today)):
        return None
    shared = pl.col("pool") != CUSTOMER_POOL
    if not pools.filter(shared).equals(previous["fct_payment_days_late"].filter(shared)):
        return None
    # Only the increment's customers' AR facts, hence pools, may have changed; a pool that
    # came or went with its customer's items is seen in the items.
    own = ~shared & of_customers(increment.customers)
    pool_key = row_key(fct_payment_days_late)
    before = previous["fct_cash_forecast_item"].drop("expected_minor")
    now = items.select(pl.col(c).cast(before.schema[c]) for c in before.columns)
    return (changed_customers(before, now, FORECAST_ITEM_ORDER)
            | changed_customers(previous["fct_payment_days_late"].filter(own),
                                pools.filter(own), pool_key)
            | increment.customers_of(("dim_customer",)))


def _weeks(today: date) -> pl.DataFrame:
    return pl.DataFrame({"week_no": range(1, HORIZON_WEEKS + 1),
                         "week_start_date_key": [_key_of(d) for d in week_starts(today)]},
                        schema={"week_no": pl.Int32, "week_start_date_key": pl.Int32})


def _by_customer(items: pl.DataFrame, expected: np.ndarray, naive: np.ndarray,
                 tables: dict[str, pl.DataFrame], today: date) -> pl.DataFrame:
    """Expected and naive receipts per customer and week, the disputed part apart (summed
    in item order by numpy, so every run rounds the same sums)."""
    customers, index = np.unique(items["customer_id"].to_numpy(), return_inverse=True)
    amount = items["amount_minor"].to_numpy().astype(np.float64)
    disputed = items["is_disputed"].to_numpy()
    naive_amount = np.zeros(expected.shape)
    inside = naive >= 0
    naive_amount[np.flatnonzero(inside), naive[inside]] = amount[inside]
    cells = (index[:, None] * HORIZON_WEEKS + np.arange(HORIZON_WEEKS)[None, :]).reshape(-1)
    size = customers.size * HORIZON_WEEKS

    def summed(values: np.ndarray, only: np.ndarray | None = None) -> np.ndarray:
        weights = values if only is None else values * only[:, None]
        return round_minor(np.bincount(cells, weights=weights.reshape(-1), minlength=size))

    current = customers_at(tables["dim_customer"], None).select("customer_id", "customer_key")
    hold = items.select("customer_id", "is_on_hold").unique()
    frame = (
        pl.DataFrame({
            "customer_id": np.repeat(customers, HORIZON_WEEKS),
            "week_no": np.tile(np.arange(1, HORIZON_WEEKS + 1, dtype=np.int32),
                               customers.size),
            "expected_minor": summed(expected),
            "disputed_expected_minor": summed(expected, disputed),
            "naive_minor": summed(naive_amount),
            "disputed_naive_minor": summed(naive_amount, disputed),
        }).lazy()
        .filter((pl.col("expected_minor") != 0) | (pl.col("naive_minor") != 0))
        .join(_weeks(today).lazy(), on="week_no", how="left")
        .join(current.lazy(), on="customer_id", how="left")
        .join(hold.lazy(), on="customer_id", how="left")
        .with_columns(pl.col("customer_key").fill_null(UNKNOWN_KEY))
        .sort("customer_id", "week_no")
    )
    return conform(frame, fct_cash_forecast).collect()


def _by_week(totals: np.ndarray, by_customer: pl.DataFrame, today: date,
             seed: int) -> pl.DataFrame:
    """P10/P50/P90 of the simulated weekly totals of everything, and the expected (mean)
    and naive receipts: the sums of the customers' (``fct_cash_forecast``), so the two
    tables add up to the cent."""
    band = bands(totals)
    starts = week_starts(today)
    sums = by_customer.group_by("week_no").agg(pl.col("expected_minor").sum(),
                                               pl.col("naive_minor").sum())
    frame = _weeks(today).with_columns(
        pl.Series("week_key", [d.isocalendar()[0] * 100 + d.isocalendar()[1] for d in starts]),
        pl.lit(_key_of(today)).alias("as_of_date_key"),
        pl.lit(seed, pl.Int64).alias("seed"),
        *(pl.Series(f"{name}_minor", values) for name, values in band.items()),
    ).join(sums.with_columns(pl.col("week_no").cast(pl.Int32)), on="week_no",
           how="left").with_columns(pl.col("expected_minor", "naive_minor").fill_null(0))
    return conform(frame.lazy(), fct_cash_forecast_week).collect()


def _by_cell(cells: pl.DataFrame, totals: np.ndarray) -> pl.DataFrame:
    """One row per cell and simulation with its weekly totals."""
    count = cells.height
    wide = round_minor(totals.reshape(count * SIMULATIONS, HORIZON_WEEKS))
    frame = pl.DataFrame({
        **{c: np.repeat(cells[c].to_numpy(), SIMULATIONS) for c in CELL},
        "sim_no": np.tile(np.arange(SIMULATIONS, dtype=np.int32), count),
        **{name: wide[:, w] for w, name in enumerate(WEEK_COLUMNS)},
    })
    return conform(frame.lazy(), fct_cash_forecast_sim).collect()
