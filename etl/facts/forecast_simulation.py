"""The cash-flow forecast's simulation (KPIS "Cash-flow forecast"): when each open item is
paid, drawn from the empirical days-late distributions of its customer and segment.

Shared by the ETL (``etl.facts.cash_forecast``, ``etl.facts.forecast_backtest``) and the
metric layer's scenarios (``dashboard.metrics.cash_forecast``), so a scenario re-simulates
a few items with exactly the draws the batch used. Only numpy and Polars here (no core
import).

An item (open invoice or backlog line) has an amount, a due date, maybe a promise-to-pay
date, its customer's own pool of days late and its segment's pool. A pool's distribution is
the empirical distribution of days late of the invoices its customers paid (n of them for
the customer's own pool), with the invoices still open as censored observations ("not paid
after as many days as they are overdue") — the Kaplan–Meier estimate, DESIGN D8 — so the
share of invoices that were never paid stays "not paid" instead of being spread over the
paid ones' days late. As of day D:

- a promise to pay dated after D replaces the draw: the item is paid on that date;
- otherwise days late comes from the own pool with probability n / (n + 5), else from the
  segment's, **conditioned on payment after D** (days late > D − due date: more than the
  current days overdue; for an item not yet due, not paid early already). The condition
  applies to the blend, so the own pool's weight becomes w·S_own / (w·S_own + (1 − w)·S_seg)
  with S = the pool's probability of days late above the threshold. Probability left beyond
  a pool's last observation (never paid so far) is a receipt outside the horizon;
- the payment date is the due date + days late; receipts are bucketed by ISO week (Monday)
  over ``HORIZON_WEEKS`` weeks from the week holding D + 1.

Only the week matters, so each item's probability of each week is computed exactly
(``week_probabilities``; expected amounts = amount × probability, no sampling noise), and
each of the ``SIMULATIONS`` simulations draws the week from them (``_add_draws``) — the same
in distribution as drawing days late and bucketing. Random numbers are counter based
(splitmix64 of the seed, the item's key and the simulation number), so an item's draws
depend only on the seed and its key: the same in a full run, an incremental run and a
scenario that re-simulates that item alone. The seed is ``forecast_seed(D)``, a hash of the
as-of date: batches of the same date and data are equal.

The naive baseline pays every item on its due date, so an item already past due at D is
not expected within the horizon.
"""

from __future__ import annotations

import hashlib
import itertools
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta

import numba
import numpy as np
import polars as pl

SIMULATIONS = 1_000
HORIZON_WEEKS = 13
PRIOR_INVOICES = 5  # the own pool's weight is n / (n + PRIOR_INVOICES)
OUTSIDE = -1  # week index of a receipt outside the horizon
NO_PROMISE = np.iinfo(np.int64).min  # day number of an item without a promise to pay
# Pools of fct_payment_days_late: a customer's own, a segment's, all customers' (used as the
# segment pool of customers without a segment).
CUSTOMER_POOL, SEGMENT_POOL, ALL_POOL = "customer", "segment", "all"
# Item types of fct_cash_forecast_item; an item's key (its draw stream) = document id × 2 +
# the type's code.
INVOICE, BACKLOG = "invoice", "backlog"
ITEM_CODES = {INVOICE: 0, BACKLOG: 1}
_EPOCH = date(1970, 1, 1)
# Pool keys for the vectorised search: pool × _SPAN + days late + _OFFSET.
_OFFSET = 1 << 20
_SPAN = 1 << 21
# splitmix64 constants
_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_UNIT = 1.0 / (1 << 53)  # a 53-bit integer → [0, 1)
# Threads the draws are spread over (each a range of simulations), when there are at least
# _THREADED_DRAWS of them (a scenario's few items are drawn on one thread).
DRAW_THREADS = min(4, os.cpu_count() or 1)
_THREADED_DRAWS = 1_000_000


def forecast_seed(as_of: date) -> int:
    """The simulations' seed for a forecast as of ``as_of``: the first 63 bits of
    SHA-256("salesbi-cash-forecast:" + ISO date). Deterministic, different every day."""
    digest = hashlib.sha256(f"salesbi-cash-forecast:{as_of.isoformat()}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def horizon_start(as_of: date) -> date:
    """Monday of the ISO week that holds the day after ``as_of`` (week 1 of the horizon)."""
    first = as_of + timedelta(days=1)
    return first - timedelta(days=first.weekday())


def week_starts(as_of: date, weeks: int = HORIZON_WEEKS) -> list[date]:
    """The Mondays of the horizon's weeks, in order."""
    start = horizon_start(as_of)
    return [start + timedelta(weeks=w) for w in range(weeks)]


def day_number(day: date) -> int:
    """Days since 1970-01-01 (the unit of the simulation's dates)."""
    return (day - _EPOCH).days


@dataclass(frozen=True)
class Pools:
    """Days-late distributions, one per pool, estimated by Kaplan–Meier from paid invoices
    (events at their days late) and still-open ones (censored at their current days
    overdue): ``cdf[i]`` is P(days late ≤ ``days[i]``) in pool ``pool_of[i]``; rows sorted
    by pool then days; pool ``p`` holds rows ``start[p]:start[p] + size[p]`` and ``paid[p]``
    paid invoices. The probability left above a pool's last row (1 − its last ``cdf``) is
    that of never being paid as far as the pool has seen."""

    days: np.ndarray
    cdf: np.ndarray
    start: np.ndarray
    size: np.ndarray
    paid: np.ndarray
    keys: np.ndarray  # pool × _SPAN + days + _OFFSET, ascending (for the lookup)

    @classmethod
    def from_counts(cls, pool: np.ndarray, days_late: np.ndarray, paid: np.ndarray,
                    still_open: np.ndarray, pools: int) -> Pools:
        """Pools ``0 … pools − 1`` from rows (pool, days late, paid invoices with that days
        late, open invoices with that many days overdue)."""
        frame = (pl.DataFrame({"pool": np.asarray(pool, np.int64),
                               "days": np.asarray(days_late, np.int64),
                               "paid": np.asarray(paid, np.int64),
                               "open": np.asarray(still_open, np.int64)})
                 .group_by("pool", "days").agg(pl.col("paid").sum(), pl.col("open").sum())
                 .sort("pool", "days")
                 .with_columns((pl.col("paid") + pl.col("open")).reverse().cum_sum().reverse()
                               .over("pool").alias("at_risk"))
                 .with_columns((1 - (1 - pl.col("paid") / pl.col("at_risk")).cum_prod()
                                .over("pool")).alias("cdf")))
        owner = frame["pool"].to_numpy()
        size = np.bincount(owner, minlength=pools).astype(np.int64)
        start = np.concatenate([[0], np.cumsum(size)[:-1]]).astype(np.int64)
        paid_total = np.bincount(owner, weights=frame["paid"].to_numpy(),
                                 minlength=pools).astype(np.int64)
        days = frame["days"].to_numpy()
        keys = owner * _SPAN + np.clip(days, -_OFFSET, _OFFSET - 1) + _OFFSET
        return cls(days, frame["cdf"].to_numpy(), start, size, paid_total, keys)

    def cdf_at(self, pool: np.ndarray, x: np.ndarray) -> np.ndarray:
        """P(days late ≤ x) in ``pool`` per row (``pool`` −1, no pool: 0)."""
        if self.days.size == 0:
            return np.zeros(np.broadcast(pool, x).shape)
        known = pool >= 0
        p = np.where(known, pool, 0)
        at = np.searchsorted(self.keys, p * _SPAN + np.clip(x, -_OFFSET, _OFFSET - 1)
                             + _OFFSET, side="right") - 1
        inside = known & (at >= self.start[p]) & (at >= 0)
        return np.where(inside, self.cdf[np.maximum(at, 0)], 0.0)

    def paid_invoices(self, pool: np.ndarray) -> np.ndarray:
        """n: how many paid invoices each pool holds (0 for pool −1)."""
        if self.paid.size == 0:
            return np.zeros(pool.size, np.int64)
        return np.where(pool >= 0, self.paid[np.maximum(pool, 0)], 0)


@dataclass(frozen=True)
class Items:
    """The items to simulate, as arrays of equal length: ``key`` (the draw stream),
    ``amount`` (minor units), ``due`` and ``promise`` (day numbers; ``NO_PROMISE``),
    ``own_pool`` and ``segment_pool`` (−1: none)."""

    key: np.ndarray
    amount: np.ndarray
    due: np.ndarray
    promise: np.ndarray
    own_pool: np.ndarray
    segment_pool: np.ndarray

    @classmethod
    def from_frame(cls, frame: pl.DataFrame) -> Items:
        """From a frame with ``item_key``, ``amount_minor``, ``due_day``, ``promise_day``
        (null: none), ``own_pool`` and ``segment_pool`` (null: none)."""
        return cls(
            frame["item_key"].cast(pl.UInt64).to_numpy(),
            frame["amount_minor"].cast(pl.Float64).to_numpy(),
            frame["due_day"].cast(pl.Int64).to_numpy(),
            frame["promise_day"].cast(pl.Int64).fill_null(NO_PROMISE).to_numpy(),
            frame["own_pool"].cast(pl.Int64).fill_null(-1).to_numpy(),
            frame["segment_pool"].cast(pl.Int64).fill_null(-1).to_numpy(),
        )

    def __len__(self) -> int:
        return int(self.key.size)

    def take(self, index: np.ndarray | slice) -> Items:
        return Items(self.key[index], self.amount[index], self.due[index],
                     self.promise[index], self.own_pool[index], self.segment_pool[index])


def _day_of_key(column: str) -> pl.Expr:
    """Day number of a YYYYMMDD key column; null for the unknown key -1."""
    key = pl.when(pl.col(column) > 0).then(pl.col(column))
    return pl.date(key // 10_000, key // 100 % 100, key % 100).cast(pl.Int32).cast(pl.Int64)


def simulation_frame(items: pl.LazyFrame | pl.DataFrame) -> pl.LazyFrame:
    """Item rows (``fct_cash_forecast_item`` columns: ``item_type``, ``document_id``,
    ``due_date_key``, ``promise_to_pay_date_key``, …) plus what ``attach_pools`` needs:
    ``item_key``, ``due_day``, ``promise_day``."""
    return items.lazy().with_columns(
        (pl.col("document_id").cast(pl.Int64) * 2
         + pl.col("item_type").replace_strict(ITEM_CODES, return_dtype=pl.Int64))
        .alias("item_key"),
        _day_of_key("due_date_key").alias("due_day"),
        _day_of_key("promise_to_pay_date_key").alias("promise_day"),
    )


def attach_pools(items: pl.DataFrame, pools: pl.DataFrame) -> tuple[Items, Pools]:
    """``Items`` and ``Pools`` for item rows (``item_key``, ``amount_minor``, ``due_day``,
    ``promise_day``, ``customer_id``, ``segment_code``) and pool rows
    (``fct_payment_days_late``): each item's own pool is its customer's, its segment pool
    the segment's, or the all-customers pool when it has no segment. The numbering of the
    pools does not change any draw (only the pools' contents do)."""
    names = (pools.select("pool", "customer_id", "segment_code").unique()
             .sort("pool", "customer_id", "segment_code", nulls_last=True)
             .with_row_index("pool_id").with_columns(pl.col("pool_id").cast(pl.Int64)))
    own = names.filter(pl.col("pool") == CUSTOMER_POOL).select(
        pl.col("customer_id").cast(pl.Int64), pl.col("pool_id").alias("own_pool"))
    segment = names.filter(pl.col("pool") == SEGMENT_POOL).select(
        "segment_code", pl.col("pool_id").alias("segment_pool"))
    everyone = names.filter(pl.col("pool") == ALL_POOL)["pool_id"]
    all_pool = int(everyone[0]) if everyone.len() else -1
    frame = (items.with_columns(pl.col("customer_id").cast(pl.Int64),
                                pl.col("segment_code").cast(pl.String))
             .join(own, on="customer_id", how="left", maintain_order="left")
             .join(segment, on="segment_code", how="left", maintain_order="left")
             .with_columns(pl.when(pl.col("segment_code").is_null()).then(pl.lit(all_pool))
                           .otherwise(pl.col("segment_pool")).alias("segment_pool")))
    rows = pools.join(names, on=["pool", "customer_id", "segment_code"], how="left",
                      nulls_equal=True)
    return (Items.from_frame(frame),
            Pools.from_counts(rows["pool_id"].to_numpy(), rows["days_late"].to_numpy(),
                              rows["paid_invoices"].to_numpy(),
                              rows["open_invoices"].to_numpy(), names.height))


def week_probabilities(items: Items, pools: Pools, as_of: date,
                       weeks: int = HORIZON_WEEKS,
                       shift_days: np.ndarray | None = None) -> np.ndarray:
    """(items, weeks) probability that each item is paid in each horizon week (the rest:
    not within the horizon), as the module docstring says; ``shift_days`` (per item)
    moves every payment that many days later, never before ``as_of`` + 1 (a scenario)."""
    today = day_number(as_of)
    shift = np.zeros(len(items), np.int64) if shift_days is None else shift_days
    threshold = today - items.due  # paid after today ⇔ days late > today − due
    n_own = pools.paid_invoices(items.own_pool).astype(np.float64)
    weight = n_own / (n_own + PRIOR_INVOICES)

    def blended(x: np.ndarray) -> np.ndarray:
        """P(days late ≤ max(x, threshold)) under the blend, per (item, point)."""
        at = np.maximum(x, threshold[:, None])
        own = pools.cdf_at(items.own_pool[:, None], at)
        segment = pools.cdf_at(items.segment_pool[:, None], at)
        mixed: np.ndarray = weight[:, None] * own + (1 - weight[:, None]) * segment
        return mixed

    # Week k holds the payments on day start + 7k … start + 7k + 6, i.e. days late
    # ≤ start + 7(k + 1) − 1 − due − shift (week 0 also those moved before today).
    first = day_number(horizon_start(as_of))
    ends = (first - 1 - items.due - shift)[:, None] + 7 * np.arange(1, weeks + 1)[None, :]
    base = blended(threshold[:, None])[:, 0]
    tail = 1 - base
    inside = tail > 1e-12
    cumulative = np.divide(blended(ends) - base[:, None], tail[:, None],
                           out=np.zeros((len(items), weeks)), where=inside[:, None])
    cumulative = np.clip(cumulative, 0.0, 1.0)
    promised = items.promise > today
    if promised.any():
        day = np.maximum(items.promise[promised] + shift[promised], today + 1)
        week = week_index(day, as_of, weeks)
        cumulative[promised] = (np.arange(weeks)[None, :] >= np.where(
            week == OUTSIDE, weeks, week)[:, None]).astype(np.float64)
    return np.diff(cumulative, axis=1, prepend=0.0)


def week_index(days: np.ndarray, as_of: date, weeks: int = HORIZON_WEEKS) -> np.ndarray:
    """The horizon week (0-based) of each day number; ``OUTSIDE`` when outside it."""
    offset = days - day_number(horizon_start(as_of))
    week = np.floor_divide(offset, 7)
    return np.where((offset >= 0) & (week < weeks), week, OUTSIDE)


@numba.njit(cache=True, nogil=True)
def _add_draws(cumulative: np.ndarray, keys: np.ndarray, amounts: np.ndarray,
               groups: np.ndarray, seed: np.uint64, totals: np.ndarray,
               first_simulation: int, end_simulation: int) -> None:
    """Each item's draws of simulations ``first_simulation`` ≤ s < ``end_simulation`` added
    to ``totals[group, s, week]`` (week ``weeks`` = not within the horizon). Draw ``s`` of
    the item with key ``k`` is uniform number ``k × simulations + s`` of the splitmix64
    stream that starts at ``seed`` (53 bits → [0, 1); simulations = ``totals.shape[1]``);
    its week is how many of the item's cumulative week probabilities (``cumulative[item]``,
    non-decreasing) are ≤ it — the inverse of its distribution. Compiled (numba) because
    it is one pass over items × simulations: at 10M lines 300,000 open invoices per
    backtest origin, 3.3 s in array steps, ~1 s here; without the GIL, so ranges of
    simulations run on threads of their own."""
    items, weeks = cumulative.shape
    simulations = totals.shape[1]
    for i in range(items):
        first = keys[i] * np.uint64(simulations) + np.uint64(1)
        for s in range(first_simulation, end_simulation):
            z = seed + (first + np.uint64(s)) * _GAMMA
            z = (z ^ (z >> np.uint64(30))) * _MIX1
            z = (z ^ (z >> np.uint64(27))) * _MIX2
            z ^= z >> np.uint64(31)
            u = np.float64(z >> np.uint64(11)) * _UNIT
            week = 0
            for k in range(weeks):
                if u >= cumulative[i, k]:
                    week += 1
            totals[groups[i], s, week] += amounts[i]


def load_draws() -> None:
    """Compile ``_add_draws`` for the types ``simulate`` passes, or load it from numba's
    cache, now rather than in the first scenario a process simulates (~0.4 s from the
    cache; the app's batch warm-up calls it)."""
    _add_draws(np.zeros((0, HORIZON_WEEKS)), np.zeros(0, np.uint64), np.zeros(0),
               np.zeros(0, np.int64), np.uint64(0), np.zeros((1, 1, HORIZON_WEEKS + 1)), 0, 0)


@dataclass(frozen=True)
class Simulation:
    """Simulated weekly receipts: ``totals[group, simulation, week]`` (Σ amounts of each
    group's items received that week in that simulation) and ``expected[item, week]`` (the
    item's expected receipt per week: amount × probability), both in minor units
    (floats)."""

    totals: np.ndarray
    expected: np.ndarray


def simulate(items: Items, pools: Pools, as_of: date, seed: int, *,
             groups: np.ndarray | None = None, group_count: int = 1,
             simulations: int = SIMULATIONS, weeks: int = HORIZON_WEEKS,
             shift_days: np.ndarray | None = None) -> Simulation:
    """Each item's week probabilities (``week_probabilities``), then ``simulations`` draws
    per item summed per group (``groups``: each item's group 0 … group_count − 1; all in
    group 0 when None), simulation and horizon week. Items whose week is certain (a
    promise, or nothing to expect) are added without drawing."""
    n = len(items)
    group = np.zeros(n, np.int64) if groups is None else groups.astype(np.int64)
    if n and not 0 <= group.min() <= group.max() < group_count:  # (the loop does not check)
        raise ValueError(f"groups must be 0 … {group_count - 1}")
    probabilities = week_probabilities(items, pools, as_of, weeks, shift_days)
    expected = probabilities * items.amount[:, None]
    totals = np.zeros((group_count, simulations, weeks + 1), np.float64)
    certain = (probabilities >= 1 - 1e-12).any(axis=1) | (probabilities.sum(axis=1) <= 1e-12)
    if certain.any():
        week = np.where(probabilities[certain].sum(axis=1) > 0.5,
                        probabilities[certain].argmax(axis=1), weeks)
        fixed = np.bincount(group[certain] * (weeks + 1) + week,
                            weights=items.amount[certain], minlength=group_count * (weeks + 1))
        totals += fixed.reshape(group_count, 1, weeks + 1)
    drawn = ~certain
    arguments = (np.cumsum(probabilities[drawn], axis=1), items.key[drawn].astype(np.uint64),
                 items.amount[drawn].astype(np.float64), group[drawn], np.uint64(seed),
                 totals)
    threads = DRAW_THREADS if drawn.sum() * simulations >= _THREADED_DRAWS else 1
    bounds = np.linspace(0, simulations, threads + 1).astype(int).tolist()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for done in [pool.submit(_add_draws, *arguments, first, end)
                     for first, end in itertools.pairwise(bounds)]:
            done.result()
    return Simulation(totals[:, :, :weeks], expected)


def naive_weeks(due: np.ndarray, as_of: date, weeks: int = HORIZON_WEEKS,
                shift_days: np.ndarray | None = None) -> np.ndarray:
    """The naive baseline's week per item: paid on its due date (moved by ``shift_days``
    when given); ``OUTSIDE`` when that is on or before ``as_of`` (an item already past due
    is, by this rule, paid before the horizon) or beyond the horizon."""
    days = due + (0 if shift_days is None else shift_days)
    return np.where(days > day_number(as_of), week_index(days, as_of, weeks), OUTSIDE)


def naive_by_week(amount: np.ndarray, naive: np.ndarray,
                  weeks: int = HORIZON_WEEKS) -> np.ndarray:
    """Σ amounts per horizon week of the items' naive weeks (``OUTSIDE`` left out)."""
    inside = naive >= 0
    return np.bincount(naive[inside], weights=amount[inside], minlength=weeks)


def bands(totals: np.ndarray) -> dict[str, np.ndarray]:
    """P10, P50 and P90 per week of ``totals[simulation, week]`` (linear interpolation,
    rounded half up to whole minor units)."""
    quantiles = round_minor(np.quantile(totals, [0.1, 0.5, 0.9], axis=0))
    return {"p10": quantiles[0], "p50": quantiles[1], "p90": quantiles[2]}


def round_minor(values: np.ndarray) -> np.ndarray:
    """Floats of minor units rounded half up to whole minor units."""
    return np.floor(values + 0.5).astype(np.int64)
