"""Customer engagement status as of a date (KPIS.md "Customers"), its counts, its trend at
month ends and the at-risk / lapsed list.

Grain: one row per customer managed now by a rep in scope (current account manager or a
ship-to override; customers are scoped by who manages them now, and a customer's status
uses all its orders, whoever they are attributed to). As of D:

- customers created after D are left out. The created date is the ``valid_from`` of the
  customer's first ``dim_customer`` version, which the dimension starts on the customer's
  created date (company-local date of ``created_at``);
- orders: confirmed, not cancelled (status ``confirmed`` or ``closed``, their current
  state), by order date, dated ≤ D;
- ``never``: no orders by D; ``new``: the first order at most ``NEW_DAYS`` (90) days before
  D (D − first order date ≤ 90); otherwise, with s = days since the last order and E the
  expected interval: ``active`` s ≤ E, ``at_risk`` E < s ≤ 365, ``lapsed`` s > 365;
- E = 1.5 × the median gap in days between consecutive distinct order dates, clamped to
  [30, 365], when the customer has ≥ 3 orders by D (orders, not distinct dates); 365
  otherwise — also when ≥ 3 orders fall on one date, so there is no gap. E is in days and
  may be fractional (a median of an even count of gaps).
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from datetime import date

import polars as pl

from dashboard.metrics.mart import Mart
from dashboard.metrics.orders import ORDER_STATUSES
from dashboard.metrics.period import month_ends
from dashboard.metrics.scope import Scope
from dashboard.metrics.selection import managed, of_everyone

NEVER, NEW, ACTIVE, AT_RISK, LAPSED = "never", "new", "active", "at_risk", "lapsed"
STATUSES = (NEVER, NEW, ACTIVE, AT_RISK, LAPSED)
NEW_DAYS = 90
LAPSED_DAYS = 365
INTERVAL_FACTOR = 1.5
INTERVAL_MIN_DAYS, INTERVAL_MAX_DAYS = 30, 365
DEFAULT_INTERVAL_DAYS = 365
MIN_ORDERS_FOR_INTERVAL = 3


def classify(customers: pl.LazyFrame, orders: pl.LazyFrame, as_of: date) -> pl.LazyFrame:
    """The engagement rule on plain frames: ``customers`` (``customer_id``,
    ``created_date``) and ``orders`` (``customer_id``, ``order_date``; one row per order
    that counts) → one row per customer created on or before ``as_of`` with
    ``first_order_date``, ``last_order_date``, ``orders``, ``days_since_last_order``,
    ``expected_interval_days`` (Float64) and ``status`` (rules in the module docstring)."""
    return _classified(customers, order_history(orders.filter(pl.col("order_date") <= as_of)),
                       as_of)


def order_history(orders: pl.LazyFrame) -> pl.LazyFrame:
    """Per customer with ``orders`` (``classify``'s): ``first_order_date``,
    ``last_order_date``, ``orders`` and ``median_gap_days`` (between consecutive distinct
    order dates)."""
    return history_of_days(order_days(orders))


def order_days(orders: pl.LazyFrame) -> pl.LazyFrame:
    """One row per customer and distinct order date of ``orders`` (``classify``'s):
    ``orders`` that day and ``gap_days`` since the customer's previous order date (null on
    its first). A date's gap does not depend on later orders, so the days up to any D
    give the history as of D (``history_of_days``)."""
    return (
        orders.group_by("customer_id", "order_date").agg(pl.len().alias("orders"))
        .sort("customer_id", "order_date")
        .with_columns(pl.col("order_date").diff().over("customer_id").dt.total_days()
                      .alias("gap_days"))
    )


def history_of_days(days: pl.LazyFrame) -> pl.LazyFrame:
    """``order_history`` from ``order_days`` rows."""
    return days.group_by("customer_id").agg(
        pl.col("order_date").min().alias("first_order_date"),
        pl.col("order_date").max().alias("last_order_date"),
        pl.col("orders").sum().cast(pl.Int64).alias("orders"),
        pl.col("gap_days").median().alias("median_gap_days"),
    )


def _classified(customers: pl.LazyFrame, history: pl.LazyFrame, as_of: date) -> pl.LazyFrame:
    """``classify`` from the ``order_history`` of the orders dated ≤ ``as_of``."""
    day = pl.lit(as_of)
    interval = (
        pl.when((pl.col("orders") >= MIN_ORDERS_FOR_INTERVAL)
                & pl.col("median_gap_days").is_not_null())
        .then((pl.col("median_gap_days") * INTERVAL_FACTOR)
              .clip(INTERVAL_MIN_DAYS, INTERVAL_MAX_DAYS))
        .otherwise(float(DEFAULT_INTERVAL_DAYS))
    )
    since_last = pl.col("days_since_last_order")
    status = (
        pl.when(pl.col("last_order_date").is_null()).then(pl.lit(NEVER))
        .when((day - pl.col("first_order_date")).dt.total_days() <= NEW_DAYS).then(pl.lit(NEW))
        .when(since_last <= pl.col("expected_interval_days")).then(pl.lit(ACTIVE))
        .when(since_last <= LAPSED_DAYS).then(pl.lit(AT_RISK))
        .otherwise(pl.lit(LAPSED))
    )
    return (
        customers.filter(pl.col("created_date") <= day).select("customer_id")
        .join(history, on="customer_id", how="left")
        .with_columns(pl.col("orders").fill_null(0),
                      (day - pl.col("last_order_date")).dt.total_days()
                      .alias("days_since_last_order"),
                      pl.when(pl.col("last_order_date").is_not_null()).then(interval)
                      .alias("expected_interval_days"))
        .with_columns(status.alias("status"))
        .drop("median_gap_days")
    )


def _customers(mart: Mart, scope: Scope, customer_id: int | None) -> pl.LazyFrame:
    """In-scope customers with their created date (first version's ``valid_from``)."""
    versions = managed(mart, "dim_customer", scope)
    if customer_id is not None:
        versions = versions.filter(pl.col("customer_id") == customer_id)
    return _created(versions)


def _created(versions: pl.LazyFrame) -> pl.LazyFrame:
    """Customers of ``dim_customer`` ``versions`` with their created date (the unknown
    member left out)."""
    return versions.filter(pl.col("customer_id") >= 0).group_by("customer_id").agg(
        pl.col("valid_from").min().alias("created_date"))


def _orders(mart: Mart) -> pl.LazyFrame:
    """The orders that count (``customer_id``, ``order_date``)."""
    key = pl.col("date_key")
    return mart.lazy("fct_order").filter(pl.col("status").is_in(ORDER_STATUSES)).select(
        "customer_id", pl.date(key // 10_000, key // 100 % 100, key % 100).alias("order_date"))


def _batch_days(mart: Mart) -> pl.DataFrame:
    """``order_days`` of every counted order of the batch (per batch: ``Mart.derive``)."""
    return order_days(_orders(mart)).collect()


def _batch_history(mart: Mart) -> pl.DataFrame:
    """``order_history`` of every counted order of the batch (per batch: ``Mart.derive``)."""
    return history_of_days(mart.derive("engagement_order_days", _batch_days).lazy()).collect()


def _classify(mart: Mart, scope: Scope, customers: pl.LazyFrame,
              as_of: date) -> pl.LazyFrame:
    """``classify`` of ``customers`` (of ``scope``) as of ``as_of``. Every customer's
    classification as of a day is kept with the batch (``Mart.derive_each``: the pages of
    every user ask for the same few days), computed when a scope that sees every customer
    asks and read by any scope once kept; until then a narrower scope classifies its own
    customers."""
    everyone = of_everyone(mart, scope, "engagement", [as_of], _classified_everyone)
    if everyone is None:
        return _classified_of(mart, customers, as_of)
    return everyone[0].lazy().join(customers.select("customer_id"), on="customer_id",
                                   how="semi")


def _classified_everyone(mart: Mart, days: list[date]) -> list[pl.DataFrame]:
    """``classify`` of every customer as of each of ``days``."""
    customers = _created(mart.lazy("dim_customer"))
    return [_classified_of(mart, customers, as_of).collect() for as_of in days]


def _classified_of(mart: Mart, customers: pl.LazyFrame, as_of: date) -> pl.LazyFrame:
    """``classify`` of ``customers`` as of ``as_of``: from the batch's order history when no
    order of the batch is dated after ``as_of`` (the history as of then is the whole one —
    today, usually), else from the batch's order days up to ``as_of``."""
    history = mart.derive("engagement_order_history", _batch_history)
    latest = history["last_order_date"].max()
    if latest is None or as_of >= latest:  # type: ignore[operator]
        return _classified(customers, history.lazy(), as_of)
    days = mart.derive("engagement_order_days", _batch_days).lazy().filter(
        pl.col("order_date") <= as_of).join(customers.select("customer_id"),
                                            on="customer_id", how="semi")
    return _classified(customers, history_of_days(days), as_of)


def engagement(mart: Mart, scope: Scope, as_of: date,
               customer_id: int | None = None) -> pl.DataFrame:
    """Every in-scope customer (or just ``customer_id``, if in scope) created by ``as_of``:
    the ``classify`` columns plus ``name``, ``account_manager_id`` and ``account_manager``
    (who manages it now). Sorted by status (``STATUSES`` order), then longest since the
    last order first."""
    customers = _customers(mart, scope, customer_id)
    current = mart.lazy("dim_customer").filter(pl.col("is_current")).select(
        "customer_id", "name", "account_manager_id")
    managers = mart.lazy("dim_rep").select(pl.col("rep_id").alias("account_manager_id"),
                                           pl.col("name").alias("account_manager"))
    return (
        _classify(mart, scope, customers, as_of)
        .join(current, on="customer_id", how="left")
        .join(managers, on="account_manager_id", how="left")
        .sort(pl.col("status").replace_strict(STATUSES, list(range(len(STATUSES)))),
              pl.col("days_since_last_order"), "customer_id",
              descending=[False, True, False], nulls_last=True)
        .collect()
    )


def status_counts(mart: Mart, scope: Scope, as_of: date) -> dict[str, int]:
    """Number of in-scope customers in each status as of ``as_of`` (every status, 0 when
    none); at the last day of a month the batch has closed, from ``fct_customer_month``
    (the same rule, as ``status_trend`` reads it)."""
    customers = _customers(mart, scope, None)
    key = _closed_month_key(as_of, mart.frame("fct_customer_month")["month_key"].max())
    counts = (_stored(mart, scope, customers, {as_of: key}) if key is not None
              else _classify(mart, scope, customers, as_of).group_by("status").len())
    found = dict(counts.select("status", "len").collect().iter_rows())
    return {status: int(found.get(status, 0)) for status in STATUSES}


def _stored(mart: Mart, scope: Scope, customers: pl.LazyFrame,
            points: Mapping[date, int]) -> pl.LazyFrame:
    """Customers per status at each of ``points`` (month-end dates → their closed month's
    YYYYMM, ``_closed_month_key``) from ``fct_customer_month``: ``status``, ``len`` and
    ``as_of``."""
    month_dates = pl.LazyFrame({"month_key": list(points.values()), "as_of": list(points)},
                               schema={"month_key": pl.Int32, "as_of": pl.Date})
    return (
        managed(mart, "fct_customer_month", scope)
        .filter(pl.col("month_key").is_in(list(points.values()))
                & pl.col("engagement_status").is_not_null())
        .join(customers.select("customer_id"), on="customer_id", how="semi")
        .group_by("month_key", pl.col("engagement_status").alias("status")).len()
        .join(month_dates, on="month_key").select("status", "len", "as_of"))


def status_trend(mart: Mart, scope: Scope, as_of: date, months: int = 12, *,
                 current: Mapping[str, int] | None = None) -> pl.DataFrame:
    """Customers per status at each point of ``month_ends(as_of, months)``: one row per
    (``as_of`` date, ``status``), every status at every point (0 when none), in date and
    ``STATUSES`` order. A caller that has the counts at ``as_of`` already
    (``status_counts``, ``counts_by_status``; same scope) passes them as ``current``.

    A point that is the last day of a month before the batch's current month is read from
    ``fct_customer_month`` (its ``engagement_status`` is the same rule as of that month's
    last day, over the same orders and created dates; null before the customer existed);
    the others (``as_of`` itself, and months the batch has not closed) are classified by
    ``_classify``, side by side in one query."""
    customers = _customers(mart, scope, None)
    points = month_ends(as_of, months)
    batch_month = mart.frame("fct_customer_month")["month_key"].max()
    stored = {point: key for point in points
              if (key := _closed_month_key(point, batch_month)) is not None}
    parts = []
    if stored:
        parts.append(_stored(mart, scope, customers, stored))
    if current is not None:
        parts.append(pl.LazyFrame({"status": list(current), "len": list(current.values()),
                                   "as_of": [as_of] * len(current)},
                                  schema={"status": pl.String, "len": pl.UInt32,
                                          "as_of": pl.Date}))
    live = [point for point in points
            if point not in stored and (current is None or point != as_of)]
    parts.extend(_classify(mart, scope, customers, point).group_by("status").len()
                 .with_columns(pl.lit(point).alias("as_of")) for point in live)
    grid = pl.LazyFrame({"as_of": points}).join(
        pl.LazyFrame({"status": STATUSES, "rank": range(len(STATUSES))}), how="cross")
    return (
        grid.join(pl.concat(parts), on=["as_of", "status"], how="left")
        .select("as_of", "status", pl.col("len").fill_null(0).cast(pl.Int64)
                .alias("customers"), "rank")
        .sort("as_of", "rank").drop("rank")
        .collect()
    )


def _closed_month_key(point: date, current_month_key: int | None) -> int | None:
    """``point``'s YYYYMM when it is its month's last day and the month is before the
    batch's current month (``fct_customer_month`` then holds the status as of it)."""
    key = point.year * 100 + point.month
    is_month_end = point.day == calendar.monthrange(point.year, point.month)[1]
    if current_month_key is None or not is_month_end or key >= current_month_key:
        return None
    return key


def at_risk_and_lapsed(mart: Mart, scope: Scope, as_of: date) -> pl.DataFrame:
    """The ``engagement`` rows whose status is ``at_risk`` or ``lapsed``: at-risk first,
    then longest since the last order first."""
    return at_risk_and_lapsed_of(engagement(mart, scope, as_of))


def at_risk_and_lapsed_of(rows: pl.DataFrame) -> pl.DataFrame:
    """``at_risk_and_lapsed`` of ``engagement`` rows the caller has already."""
    return rows.filter(pl.col("status").is_in([AT_RISK, LAPSED]))


def counts_by_status(rows: pl.DataFrame) -> dict[str, int]:
    """``status_counts`` of ``engagement`` rows the caller has already."""
    found = dict(rows.group_by("status").len().iter_rows())
    return {status: int(found.get(status, 0)) for status in STATUSES}

