"""``fct_forecast_backtest``: the cash forecast made as of each of the last ``ORIGINS`` week
starts, against what its items actually received (KPIS "Cash-flow forecast", backtest).

Origin O = the Monday ``k`` weeks before the run date's week (k = 1 … 8); the forecast is
made as of O − 1 (a Sunday), so its horizon weeks are the 13 full weeks from O. As of that
day it knows only what was dated on or before it and recorded before its end (company time
zone): the open invoices then, their customers' and segments' paid invoices then
(``etl.facts.cash_forecast.payment_history``), the customer versions valid then. The method
is the live one (``etl.facts.forecast_simulation``, seed = ``forecast_seed(O − 1)``), on
open invoices only: backlog turns into new invoices whose receipts cannot be told apart
from the backlog's, and promise-to-pay dates are kept as current values only (which of them
were recorded by the origin is not known), so neither is in the backtest.

Per origin and week: P10/P50/P90 of the simulated weekly totals and the expected (mean)
receipts, the naive forecast (each invoice paid on its due date: one already past due is
not expected within the horizon), and ``actual_minor`` = cash received that week (payment
received date = due date + days late of the allocation; reversals negative) applied to the
invoices open at the origin, in base currency at the invoice's rate. ``is_complete``: the
week ended before the run date — WAPE is taken over those (origin, week) pairs only:
Σ|actual − P50| / Σ actual, and the same for the naive.

Built from the merged facts only, whole on every run. An incremental run keeps the
forecast of each origin the published batch already holds (P10/P50/P90, expected, naive):
it was made from what was known by the end of the origin's eve, which no later posting can
change (postings are recorded now; a back-dated one is known from now on, and a deleted
row makes the run full). Only the origin's actual receipts and ``is_complete`` are
recomputed — on a run of the published batch's own date only for the customers whose AR
rows differ in the columns the count reads (``RECOUNT_COLUMNS``, ``etl.increment``). A
change to the forecast method therefore needs ``salesbi etl run --full``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl

from etl.conform import conform
from etl.facts.cash_forecast import (
    customers_at,
    invoice_states,
    open_invoices,
    payment_history,
    pool_rows,
)
from etl.facts.forecast_simulation import (
    HORIZON_WEEKS,
    attach_pools,
    bands,
    day_number,
    forecast_seed,
    naive_by_week,
    naive_weeks,
    round_minor,
    simulate,
    simulation_frame,
    week_index,
    week_starts,
)
from etl.facts.open_ar import INVOICE, PAYMENT
from etl.increment import Increment, of_customers
from etl.keys import date_of_key
from etl.schema import UNKNOWN_KEY, fct_forecast_backtest

CORE_COLUMNS: dict[str, tuple[str, ...]] = {}
CORE_TABLES = tuple(CORE_COLUMNS)
# What an incremental recount reads of the merged facts (``_recounted`` keeps only these
# columns, so reading another fails): a change elsewhere (a dispute flag) recounts nothing.
RECOUNT_COLUMNS: dict[str, tuple[str, ...]] = {
    "fct_ar_item": ("item_type", "document_id", "customer_id", "document_date_key",
                    "posted_at", "due_date_key", "amount_doc_minor", "amount_minor"),
    "fct_ar_allocation": ("allocation_id", "customer_id", "source_type", "source_id",
                          "target_type", "target_id", "allocation_date_key", "created_at",
                          "days_late", "amount_doc_minor", "amount_minor"),
}
TABLE = "fct_forecast_backtest"
ORIGINS = 8


def origins(today: date, count: int = ORIGINS) -> list[date]:
    """The last ``count`` week starts before the run date's week, oldest first."""
    this_week = today - timedelta(days=today.weekday())
    return [this_week - timedelta(weeks=k) for k in range(count, 0, -1)]


def _day_end_utc(day: date, timezone: str) -> datetime:
    midnight = datetime.combine(day + timedelta(days=1), time(), tzinfo=ZoneInfo(timezone))
    return midnight.astimezone(UTC).replace(tzinfo=None)


def _key_of(day: date) -> int:
    return day.year * 10_000 + day.month * 100 + day.day


def _actuals(allocations: pl.DataFrame, invoices: pl.DataFrame, as_of: date) -> np.ndarray:
    """Cash received per horizon week on ``invoices``."""
    received = (
        allocations.lazy()
        .filter((pl.col("source_type") == PAYMENT) & (pl.col("target_type") == INVOICE)
                & pl.col("days_late").is_not_null())
        .join(invoices.lazy().select(pl.col("document_id").alias("target_id"),
                                     "due_date_key"), on="target_id", how="inner")
        .select("amount_minor",
                (date_of_key("due_date_key").cast(pl.Int32).cast(pl.Int64)
                 + pl.col("days_late")).alias("received_day"))
        .collect()
    )
    week = week_index(received["received_day"].to_numpy(), as_of)
    inside = week >= 0
    return np.bincount(week[inside], weights=received["amount_minor"].to_numpy()[inside],
                       minlength=HORIZON_WEEKS)


def _moment(origin: date, timezone: str) -> tuple[date, datetime]:
    """(as of, known by) of an origin's forecast: the day before it, as known at its end."""
    as_of = origin - timedelta(days=1)
    return as_of, _day_end_utc(as_of, timezone)


def _origin_invoices(state: pl.DataFrame) -> pl.DataFrame:
    """The invoices open at an origin's moment that have a due date."""
    return open_invoices(state).filter(pl.col("due_date_key") != UNKNOWN_KEY)


def _observed(allocations: pl.DataFrame, invoices: pl.DataFrame, as_of: date,
              today: date) -> list[pl.Series]:
    """The columns an origin's rows take from what happened after it: the cash
    ``invoices`` received per horizon week and whether each week has ended."""
    return [
        pl.Series("actual_minor", round_minor(_actuals(allocations, invoices, as_of))),
        pl.Series("is_complete",
                  [day_number(d) + 7 <= day_number(today) for d in week_starts(as_of)]),
    ]


def backtest_origin(tables: dict[str, pl.DataFrame], origin: date, state: pl.DataFrame,
                    today: date, timezone: str) -> pl.DataFrame:
    """The backtest rows of one origin (see the module docstring), given ``state``: the
    invoices as of its moment (``etl.facts.cash_forecast.invoice_state``)."""
    as_of, known_by = _moment(origin, timezone)
    allocations = tables["fct_ar_allocation"]
    invoices = _origin_invoices(state)
    versions = customers_at(tables["dim_customer"], as_of)
    history = payment_history(state, allocations, as_of, known_by)
    pools = pool_rows(history, versions, invoices["customer_id"].unique())
    frame = simulation_frame(
        invoices.lazy().join(versions.lazy().select("customer_id", "segment_code"),
                             on="customer_id", how="left")
        .select("document_id", "customer_id", "segment_code",
                pl.lit(INVOICE).alias("item_type"),
                pl.col("open_minor").alias("amount_minor"), "due_date_key",
                pl.lit(UNKNOWN_KEY).alias("promise_to_pay_date_key"))
        .sort("document_id")
    ).collect()
    sim_items, sim_pools = attach_pools(frame, pools)
    result = simulate(sim_items, sim_pools, as_of, forecast_seed(as_of))
    band = bands(result.totals[0]) | {"expected": round_minor(result.expected.sum(axis=0))}
    naive = naive_by_week(sim_items.amount, naive_weeks(sim_items.due, as_of))
    return pl.DataFrame({
        "origin_date_key": [_key_of(origin)] * HORIZON_WEEKS,
        "week_no": range(1, HORIZON_WEEKS + 1),
        "week_start_date_key": [_key_of(d) for d in week_starts(as_of)],
        **{f"{name}_minor": values for name, values in band.items()},
        "naive_minor": round_minor(naive),
    }).with_columns(_observed(allocations, invoices, as_of, today))


def _kept_origin(kept: pl.DataFrame, tables: dict[str, pl.DataFrame], origin: date,
                 state: pl.DataFrame, today: date, timezone: str) -> pl.DataFrame:
    """An origin's rows of the previous batch (``kept``, by week) with their actual
    receipts and completeness recomputed."""
    as_of, _known_by = _moment(origin, timezone)
    observed = _observed(tables["fct_ar_allocation"], _origin_invoices(state), as_of, today)
    return kept.sort("week_no").with_columns(observed)


def build(tables: dict[str, pl.DataFrame], *, today: date, timezone: str,
          previous: pl.DataFrame | None = None,
          increment: Increment | None = None) -> pl.DataFrame:
    """``fct_forecast_backtest``: ``ORIGINS`` × 13 rows, by origin and week; the forecasts
    of origins ``previous`` (the published batch's table, on an incremental run) holds are
    kept (see the module docstring). With an ``increment`` (same run date: the same
    origins, all kept) only its customers' receipts are counted again."""
    starts = origins(today)
    moments = [_moment(origin, timezone) for origin in starts]
    if previous is not None and increment is not None and previous.height == len(
            starts) * HORIZON_WEEKS and set(previous["origin_date_key"].to_list()) == {
            _key_of(origin) for origin in starts}:
        return _recounted(previous, increment, tables, moments)
    states = invoice_states(tables["fct_ar_item"], tables["fct_ar_allocation"], moments)
    frames = []
    for origin, state in zip(starts, states, strict=True):
        kept = (None if previous is None
                else previous.filter(pl.col("origin_date_key") == _key_of(origin)))
        if kept is not None and kept.height == HORIZON_WEEKS:
            frames.append(_kept_origin(kept, tables, origin, state, today, timezone))
        else:
            frames.append(backtest_origin(tables, origin, state, today, timezone))
    return conform(pl.concat(frames, how="diagonal_relaxed").lazy(),
                   fct_forecast_backtest).sort("origin_date_key", "week_no").collect()


def _recounted(previous: pl.DataFrame, increment: Increment,
               tables: dict[str, pl.DataFrame],
               moments: list[tuple[date, datetime]]) -> pl.DataFrame:
    """``previous`` (every origin kept) with the receipts counted again of the customers
    whose AR rows differ in ``RECOUNT_COLUMNS``: their published receipts taken out, their
    merged ones put in (whole minor units, so exact)."""
    recounted = previous.sort("origin_date_key", "week_no")
    customers = increment.customers_reading(RECOUNT_COLUMNS)
    if not customers:
        return recounted
    mine = of_customers(customers)
    change = np.zeros((len(moments), HORIZON_WEEKS))
    for facts, sign in ((tables, 1), (increment.previous, -1)):
        items, allocations = (facts[name].filter(mine).select(columns)
                              for name, columns in RECOUNT_COLUMNS.items())
        states = invoice_states(items, allocations, moments)
        for i, ((as_of, _), state) in enumerate(zip(moments, states, strict=True)):
            change[i] += sign * _actuals(allocations, _origin_invoices(state), as_of)
    return recounted.with_columns(
        (pl.col("actual_minor") + pl.Series(round_minor(change.reshape(-1))))
        .cast(recounted.schema["actual_minor"]))
