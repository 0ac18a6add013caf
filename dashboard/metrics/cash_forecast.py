"""Cash-flow forecast (KPIS "Cash-flow forecast"): weekly P10/P50/P90 of receipts for the 13
weeks after the batch's run date, expected (mean) receipts by week and by customer, the
naive due-date forecast, the backtest's WAPE, and scenarios — from the tables the ETL
simulated once per batch (``etl.facts.cash_forecast``; the method is in
``etl.facts.forecast_simulation``). Amounts are integer minor units of the base currency.

**Scope**: customers managed now by reps in scope (``Scope.customer_ids``); finance,
executives and admins see every customer. Quantiles do not add up, so the scoped bands come
from the simulations: ``fct_cash_forecast_sim`` holds each cell's (current account manager
× customer on hold × invoice disputed) receipts per simulation and week; a scope is the sum
of its account managers' cells per simulation, plus the items of customers it holds through
a ship-to override only, re-simulated here with the batch's draws (an item's draws depend
only on the batch's seed and the item).

**Scenarios** (``Scenario``), each exact, answered from the same draws:

- *exclude customers on hold* / *exclude disputed invoices*: leave those cells out (and
  those customers' or invoices' expected amounts);
- *customer X pays N days later*: X's items are re-simulated with every payment date N days
  later (earlier for negative N, never before the day after the run date), and replace
  X's own contribution in every simulation. The naive forecast moves X's due dates too.

**Backtest** (``fct_forecast_backtest``): computed over every customer, so shown only to
roles that see every customer. WAPE = Σ|actual − P50| / Σ actual over (origin, week) pairs
whose week has ended, and the same with the naive forecast; blank when nothing was
received.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl

from dashboard.metrics.mart import Mart
from dashboard.metrics.scope import Scope
from etl.facts.forecast_simulation import (
    ALL_POOL,
    CUSTOMER_POOL,
    HORIZON_WEEKS,
    SEGMENT_POOL,
    SIMULATIONS,
    attach_pools,
    bands,
    naive_by_week,
    naive_weeks,
    round_minor,
    simulate,
    simulation_frame,
)

WEEKS = tuple(f"week_{week:02d}_minor" for week in range(1, HORIZON_WEEKS + 1))
NEAR_WEEKS = 4  # "next 4 weeks" on the by-customer table
MIN_SHIFT_DAYS, MAX_SHIFT_DAYS = -90, 180
TABLES = ("fct_cash_forecast_item", "fct_cash_forecast", "fct_cash_forecast_week",
          "fct_cash_forecast_sim", "fct_payment_days_late", "fct_forecast_backtest")


@dataclass(frozen=True)
class Scenario:
    """What-if inputs: ``shift_customer_id`` pays ``shift_days`` later; customers on hold
    and disputed invoices left out."""

    shift_customer_id: int | None = None
    shift_days: int = 0
    exclude_on_hold: bool = False
    exclude_disputed: bool = False

    @property
    def shifts(self) -> bool:
        return self.shift_customer_id is not None and self.shift_days != 0

    @property
    def is_baseline(self) -> bool:
        return not (self.shifts or self.exclude_on_hold or self.exclude_disputed)


BASELINE = Scenario()


@dataclass(frozen=True)
class Forecast:
    """One scope's forecast under one scenario: ``weeks`` (``week_no``, ``week_start``,
    ``p10_minor``, ``p50_minor``, ``p90_minor``, ``expected_minor``, ``naive_minor``),
    ``customers`` (``forecast_by_customer`` columns), ``horizon`` (P10/P50/P90 of the
    13-week total and its expected amount) and the run date it is made as of."""

    as_of: date | None
    weeks: pl.DataFrame
    customers: pl.DataFrame
    horizon: dict[str, int]


def _date(key: int) -> date:
    return date(key // 10_000, key // 100 % 100, key % 100)


def has_forecast(mart: Mart) -> bool:
    """Whether the batch holds a forecast (a batch built before it existed does not)."""
    return all(name in mart.tables for name in TABLES) \
        and not mart.frame("fct_cash_forecast_week").is_empty()


def _in_scope(mart: Mart, scope: Scope, frame: pl.DataFrame) -> pl.DataFrame:
    customers = scope.customer_ids(mart.frame("dim_customer"), mart.frame("dim_location"))
    if customers is None:
        return frame
    return frame.filter(pl.col("customer_id").is_in(customers.implode()))


def _kept(scenario: Scenario) -> pl.Expr:
    """Items (or cells) the scenario keeps."""
    keep = pl.lit(True)
    if scenario.exclude_on_hold:
        keep &= ~pl.col("is_on_hold")
    if scenario.exclude_disputed:
        keep &= ~pl.col("is_disputed")
    return keep


def shift_candidates(mart: Mart, scope: Scope) -> pl.DataFrame:
    """The in-scope customers with forecast items (``customer_id``, ``name``), by name:
    whom the "pays N days later" scenario may name."""
    if not has_forecast(mart):
        return pl.DataFrame(schema={"customer_id": pl.Int32, "name": pl.String})
    ids = _in_scope(mart, scope, mart.frame("fct_cash_forecast_item")).select(
        "customer_id").unique()
    names = mart.frame("dim_customer").filter(pl.col("is_current")).select("customer_id",
                                                                           "name")
    return ids.join(names, on="customer_id", how="left").sort("name", "customer_id")


def _resimulate(mart: Mart, items: pl.DataFrame, as_of: date, seed: int,
                groups: np.ndarray, group_count: int, shift: np.ndarray) -> tuple[
                    np.ndarray, np.ndarray]:
    """Simulate ``items`` (rows of ``fct_cash_forecast_item``) again with the batch's
    pools, seed and draws: (totals[group, sim, week], expected[item, week])."""
    if items.is_empty():
        return (np.zeros((group_count, SIMULATIONS, HORIZON_WEEKS)),
                np.zeros((0, HORIZON_WEEKS)))
    pools = mart.frame("fct_payment_days_late").filter(
        ((pl.col("pool") == CUSTOMER_POOL)
         & pl.col("customer_id").is_in(items["customer_id"].unique().implode()))
        | ((pl.col("pool") == SEGMENT_POOL)
           & pl.col("segment_code").is_in(items["segment_code"].drop_nulls().unique()
                                          .implode()))
        | (pl.col("pool") == ALL_POOL))
    sim_items, sim_pools = attach_pools(simulation_frame(items).collect(), pools)
    result = simulate(sim_items, sim_pools, as_of, seed, groups=groups,
                      group_count=group_count, shift_days=shift)
    return result.totals, result.expected


def _cells(mart: Mart, scope: Scope, scenario: Scenario) -> np.ndarray:
    """Σ per simulation and week of the cells of the scope's account managers that the
    scenario keeps: (simulations, weeks)."""
    cells = mart.frame("fct_cash_forecast_sim").filter(_kept(scenario))
    if not scope.all_reps:
        cells = cells.filter(pl.col("account_manager_id").is_in(list(scope.rep_ids)))
    summed = (cells.lazy().group_by("sim_no").agg(pl.col(list(WEEKS)).sum())
              .collect())
    matrix = np.zeros((SIMULATIONS, HORIZON_WEEKS))
    if summed.height:
        matrix[summed["sim_no"].to_numpy()] = summed.select(WEEKS).to_numpy()
    return matrix


def forecast(mart: Mart, scope: Scope, scenario: Scenario = BASELINE) -> Forecast:
    """The scope's forecast under ``scenario`` (rules in the module docstring)."""
    if not has_forecast(mart):
        return Forecast(None, _empty_weeks(), _empty_customers(), {})
    week_table = mart.frame("fct_cash_forecast_week").sort("week_no")
    as_of = _date(int(week_table["as_of_date_key"][0]))
    seed = int(week_table["seed"][0])
    items = _in_scope(mart, scope, mart.frame("fct_cash_forecast_item")).filter(
        _kept(scenario))
    shifted = scenario.shift_customer_id if scenario.shifts else None
    covered = pl.lit(True) if scope.all_reps else pl.col("account_manager_id").is_in(
        list(scope.rep_ids))
    mine = pl.lit(False) if shifted is None else pl.col("customer_id") == shifted
    # Re-simulated: group 0 = customers in scope through a ship-to override only (added),
    # group 1 = X's items already in the cells (taken out), group 2 = X's items moved.
    parts = [items.filter(~covered & ~mine), items.filter(covered & mine), items.filter(mine)]
    again = pl.concat(parts)
    groups = np.repeat(np.arange(3), [p.height for p in parts])
    shift = np.where(groups == 2, scenario.shift_days, 0).astype(np.int64)
    totals, expected = _resimulate(mart, again, as_of, seed, groups, 3, shift)
    matrix = _cells(mart, scope, scenario) + totals[0] - totals[1] + totals[2]

    moved = parts[2]
    by_customer = _customer_weeks(mart, scope, scenario, shifted)
    if shifted is not None and moved.height:
        first = parts[0].height + parts[1].height
        moved_expected = expected[first:].sum(axis=0)
        due = simulation_frame(moved).collect()["due_day"].to_numpy()
        naive = naive_by_week(moved["amount_minor"].to_numpy().astype(np.float64),
                              naive_weeks(due, as_of, shift_days=np.full(
                                  moved.height, scenario.shift_days)))
        by_customer = pl.concat([by_customer, pl.DataFrame({
            "customer_id": [shifted] * HORIZON_WEEKS,
            "week_no": list(range(1, HORIZON_WEEKS + 1)),
            "expected_minor": round_minor(moved_expected),
            "naive_minor": round_minor(naive),
        }, schema=by_customer.schema)])
    weeks = _weeks(week_table, matrix, by_customer)
    totals_13 = matrix.sum(axis=1)
    horizon = {name: int(value[0]) for name, value in
               bands(totals_13[:, None]).items()} | {
        "expected": int(weeks["expected_minor"].sum()),
        "naive": int(weeks["naive_minor"].sum()),
        "amount": int(items["amount_minor"].sum()),
    }
    return Forecast(as_of, weeks, _customers(mart, items, by_customer), horizon)


def _customer_weeks(mart: Mart, scope: Scope, scenario: Scenario,
                    shifted: int | None) -> pl.DataFrame:
    """Expected and naive receipts per in-scope customer and week from
    ``fct_cash_forecast``, under the exclusions, without the shifted customer's rows."""
    rows = _in_scope(mart, scope, mart.frame("fct_cash_forecast"))
    if scenario.exclude_on_hold:
        rows = rows.filter(~pl.col("is_on_hold"))
    if shifted is not None:
        rows = rows.filter(pl.col("customer_id") != shifted)
    disputed = scenario.exclude_disputed
    return rows.select(
        pl.col("customer_id").cast(pl.Int64), pl.col("week_no").cast(pl.Int64),
        (pl.col("expected_minor") - (pl.col("disputed_expected_minor") if disputed else 0))
        .cast(pl.Int64).alias("expected_minor"),
        (pl.col("naive_minor") - (pl.col("disputed_naive_minor") if disputed else 0))
        .cast(pl.Int64).alias("naive_minor"))


def _weeks(week_table: pl.DataFrame, matrix: np.ndarray,
           by_customer: pl.DataFrame) -> pl.DataFrame:
    band = bands(matrix)
    sums = by_customer.group_by("week_no").agg(pl.col("expected_minor").sum(),
                                               pl.col("naive_minor").sum())
    return (week_table.select(
        pl.col("week_no").cast(pl.Int64),
        pl.col("week_start_date_key").map_elements(_date, return_dtype=pl.Date)
        .alias("week_start"),
        *(pl.Series(f"{name}_minor", values) for name, values in band.items()))
        .join(sums, on="week_no", how="left")
        .with_columns(pl.col("expected_minor").fill_null(0), pl.col("naive_minor").fill_null(0))
        .sort("week_no"))


def _customers(mart: Mart, items: pl.DataFrame, by_customer: pl.DataFrame) -> pl.DataFrame:
    """One row per customer with forecast items (after the exclusions)."""
    near = pl.col("week_no") <= NEAR_WEEKS
    expected = by_customer.group_by("customer_id").agg(
        pl.col("expected_minor").sum(), pl.col("expected_minor").filter(near).sum()
        .alias("expected_near_minor"), pl.col("naive_minor").sum())
    names = mart.frame("dim_customer").filter(pl.col("is_current")).select(
        pl.col("customer_id").cast(pl.Int64), "name")
    return (
        items.group_by("customer_id").agg(
            pl.len().alias("items"), pl.col("amount_minor").sum(),
            (pl.col("amount_minor") * pl.col("is_disputed")).sum().alias("disputed_minor"),
            pl.col("is_on_hold").any())
        .with_columns(pl.col("customer_id").cast(pl.Int64))
        .join(expected, on="customer_id", how="left")
        .join(names, on="customer_id", how="left")
        .with_columns(pl.col(c).fill_null(0) for c in ("expected_minor",
                                                        "expected_near_minor",
                                                        "naive_minor"))
        .select("customer_id", "name", "is_on_hold", "items", "amount_minor",
                "disputed_minor", "expected_near_minor", "expected_minor", "naive_minor")
        .sort(["expected_minor", "customer_id"], descending=[True, False])
    )


def _empty_weeks() -> pl.DataFrame:
    return pl.DataFrame(schema={"week_no": pl.Int64, "week_start": pl.Date,
                                "p10_minor": pl.Int64, "p50_minor": pl.Int64,
                                "p90_minor": pl.Int64, "expected_minor": pl.Int64,
                                "naive_minor": pl.Int64})


def _empty_customers() -> pl.DataFrame:
    return pl.DataFrame(schema={"customer_id": pl.Int64, "name": pl.String,
                                "is_on_hold": pl.Boolean, "items": pl.UInt32,
                                "amount_minor": pl.Int64, "disputed_minor": pl.Int64,
                                "expected_near_minor": pl.Int64, "expected_minor": pl.Int64,
                                "naive_minor": pl.Int64})


# --- backtest ---------------------------------------------------------------------------

def backtest(mart: Mart, scope: Scope) -> pl.DataFrame | None:
    """``fct_forecast_backtest`` with dates (``origin``, ``week_start``); None for a scope
    that does not see every customer (the backtest is company-wide) or a batch without
    one."""
    if not scope.all_reps or "fct_forecast_backtest" not in mart.tables:
        return None
    return mart.frame("fct_forecast_backtest").with_columns(
        pl.col("origin_date_key").map_elements(_date, return_dtype=pl.Date).alias("origin"),
        pl.col("week_start_date_key").map_elements(_date, return_dtype=pl.Date)
        .alias("week_start"),
    ).sort("origin_date_key", "week_no")


def _wape(error: pl.Expr, actual: pl.Expr) -> pl.Expr:
    return pl.when(actual.sum() > 0).then(error.abs().sum() / actual.sum())


def backtest_wape(rows: pl.DataFrame, by_origin: bool = False) -> pl.DataFrame:
    """WAPE of the behaviour forecast's P50 (``wape``) and of the naive forecast
    (``naive_wape``) over the completed (origin, week) pairs of ``backtest`` rows, with
    ``pairs`` and ``actual_minor``; one row, or one per origin (``origin``)."""
    done = rows.filter(pl.col("is_complete"))
    actual = pl.col("actual_minor")
    measures = [_wape(actual - pl.col("p50_minor"), actual).alias("wape"),
                _wape(actual - pl.col("naive_minor"), actual).alias("naive_wape"),
                pl.len().alias("pairs"), actual.sum().alias("actual_minor")]
    if by_origin:
        return done.group_by("origin").agg(*measures).sort("origin")
    return done.select(*measures)


def week_label(start: date, separator: str = " · ") -> str:
    """'W48 · 23 Nov' for the ISO week starting on ``start``."""
    return f"W{start.isocalendar()[1]:02d}{separator}{start.day} {start:%b}"
