"""One row per customer version (type 2), plus the unknown member -1.

A new version starts whenever the account manager, region, segment or channel changes.
History comes from ``audit_log`` (entity ``customer``, action ``update``, one of those four
fields; values as text), in ``seq`` order:

- the first version starts on the customer's created date with the values before the first
  change of each attribute (that change's ``old_value``; the current value when the
  attribute never changed);
- each day with changes starts a version holding the state at the end of that day (several
  changes on one day make one version); a day whose changes leave every tracked attribute
  as it was starts none; changes dated before the created date count from the created date;
- ``valid_to`` is exclusive: the next version's ``valid_from``, 9999-12-31 for the current
  version (``is_current``).

Dates are the company's local dates of the naive-UTC ``created_at``/``occurred_at``. Ref,
name and currency are type 1 (current values on every version). ``customer_key`` numbers
the versions 1..n by (customer_id, valid_from); versions already in the previously
published dimension keep their key. Facts find their version with ``version_at``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import TypeVar

import polars as pl

from etl.dims.surrogate import UNKNOWN_CODE, UNKNOWN_NAME, assign_keys, with_unknown
from etl.extract import CoreFrames, RowFilter
from etl.schema import UNKNOWN_KEY, dim_customer

TRACKED = ("account_manager_id", "region_code", "segment_code", "channel_code")
ENTITY = "customer"  # the audit_log entity of the history
OPEN_END = date(9999, 12, 31)
UNKNOWN_FROM = date(1900, 1, 1)
UNKNOWN_CURRENCY = "XXX"  # ISO 4217: "no currency"

# The core columns ``build`` (``versions``) reads, and the only audit rows it uses.
CORE_COLUMNS: dict[str, tuple[str, ...]] = {
    "customer": ("id", "created_at", "account_manager_id", "region_code", "segment_code",
                 "channel_code", "ref", "name", "currency"),
    "audit_log": ("seq", "occurred_at", "entity", "entity_id", "action", "field",
                  "old_value", "new_value"),
}
ROW_FILTERS = {"audit_log": RowFilter("entity", (ENTITY,))}

Frame = TypeVar("Frame", pl.DataFrame, pl.LazyFrame)


def _local_date(column: str, timezone: str) -> pl.Expr:
    stamp = pl.col(column)
    if timezone != "UTC":
        stamp = stamp.dt.replace_time_zone("UTC").dt.convert_time_zone(timezone)
    return stamp.dt.date()


def versions(core: CoreFrames, timezone: str = "UTC") -> pl.LazyFrame:
    """``customer_id``, ``valid_from``, ``valid_to``, ``is_current`` and the four tracked
    attributes: one row per customer version, by the rules of the module docstring."""
    customers = core["customer"].lazy().select(
        pl.col("id").alias("customer_id"),
        _local_date("created_at", timezone).alias("created_on"),
        pl.col("account_manager_id").cast(pl.String), "region_code", "segment_code",
        "channel_code")
    changes = (
        core["audit_log"].lazy()
        .filter((pl.col("entity") == ENTITY) & (pl.col("action") == "update")
                & pl.col("field").is_in(TRACKED))
        .select(pl.col("entity_id").alias("customer_id"), "field", "seq",
                _local_date("occurred_at", timezone).alias("changed_on"),
                "old_value", "new_value")
        .join(customers.select("customer_id", "created_on"), on="customer_id", how="inner")
        .with_columns(pl.max_horizontal("changed_on", "created_on").alias("changed_on"))
    )
    # Each attribute's value before its first change: that change's old value, else current.
    current = customers.unpivot(on=list(TRACKED), index="customer_id", variable_name="field",
                                value_name="current")
    first_change = changes.group_by("customer_id", "field").agg(
        pl.col("seq").min().alias("first_seq"),
        pl.col("old_value").sort_by("seq").first().alias("first_old"))
    initial = current.join(first_change, on=["customer_id", "field"], how="left").select(
        "customer_id", "field",
        pl.when(pl.col("first_seq").is_not_null()).then(pl.col("first_old"))
        .otherwise(pl.col("current")).alias("initial"))
    # Each attribute's value at the end of each day it changed.
    end_of_day = changes.group_by("customer_id", "field", "changed_on").agg(
        pl.col("new_value").sort_by("seq").last().alias("value"),
        pl.col("seq").max().alias("last_seq"),
    ).sort("changed_on")
    starts = pl.concat([
        customers.select("customer_id", pl.col("created_on").alias("valid_from")),
        changes.select("customer_id", pl.col("changed_on").alias("valid_from")),
    ]).unique()
    state = (
        starts.join(pl.LazyFrame({"field": TRACKED}), how="cross")
        .join(initial, on=["customer_id", "field"], how="left")
        .sort("valid_from")
        .join_asof(end_of_day, left_on="valid_from", right_on="changed_on",
                   by=["customer_id", "field"], strategy="backward",
                   # Both sides are sorted on the whole column, so within every group too.
                   check_sortedness=False)
        .select("customer_id", "valid_from", "field",
                pl.when(pl.col("last_seq").is_not_null()).then(pl.col("value"))
                .otherwise(pl.col("initial")).alias("value"))
    )
    wide = state.group_by("customer_id", "valid_from").agg(
        pl.col("value").filter(pl.col("field") == name).first().alias(name)
        for name in TRACKED
    ).sort("customer_id", "valid_from")
    starts_version = pl.any_horizontal(
        pl.col(name).ne_missing(pl.col(name).shift(1).over("customer_id")) for name in TRACKED
    ) | (pl.col("valid_from") == pl.col("valid_from").min().over("customer_id"))
    return (
        wide.filter(starts_version)
        .with_columns(pl.col("valid_from").shift(-1).over("customer_id").fill_null(OPEN_END)
                      .alias("valid_to"),
                      pl.col("account_manager_id").str.to_integer())
        .with_columns((pl.col("valid_to") == OPEN_END).alias("is_current"))
    )


def build(core: CoreFrames, previous: pl.DataFrame | None = None,
          timezone: str = "UTC") -> pl.DataFrame:
    """The type-2 customer dimension; ``previous`` is the last published one (keys kept),
    ``timezone`` the company's, for the dates of the UTC timestamps."""
    attributes = core["customer"].lazy().select(
        pl.col("id").alias("customer_id"), "ref", "name", "currency")
    frame = versions(core, timezone).join(attributes, on="customer_id", how="inner")
    keyed = assign_keys(frame, ["customer_id", "valid_from"], "customer_key", previous)
    unknown = {"customer_id": UNKNOWN_KEY, "ref": UNKNOWN_CODE, "name": UNKNOWN_NAME,
               "currency": UNKNOWN_CURRENCY, "valid_from": UNKNOWN_FROM,
               "valid_to": OPEN_END, "is_current": True}
    return with_unknown(keyed, dim_customer, unknown).collect()


# The first version of a customer reaches back to this date (see ``version_at``).
BEGINNING_OF_TIME = date(1, 1, 1)


def version_at(frame: pl.LazyFrame, dim_customer: pl.DataFrame | pl.LazyFrame, *,
                        customer_id: str, on: str,
                        columns: Mapping[str, str]) -> pl.LazyFrame:
    """``frame`` plus the ``dim_customer`` columns named in ``columns`` (dimension column →
    output name) of the customer version valid at date ``frame[on]``: the one with
    ``valid_from <= on < valid_to`` (``valid_to`` exclusive).

    A customer's first version reaches back indefinitely: a document dated before the
    customer was first recorded (back-dated entries, or history loaded later) takes the
    first known version rather than the unknown member. Rows with no version at all (null
    customer or date, unknown customer, or a date in a gap between versions) get
    ``customer_key`` ``-1`` and nulls elsewhere.

    The interval join runs on the distinct (customer, date) pairs of ``frame``, which are
    far fewer than its rows, then joins back.
    """
    id_dtype = frame.collect_schema()[customer_id]
    versions = dim_customer.lazy().filter(pl.col("customer_key") != UNKNOWN_KEY).select(
        pl.col("customer_id").cast(id_dtype).alias(customer_id),
        pl.when(pl.col("valid_from") == pl.col("valid_from").min().over("customer_id"))
        .then(pl.lit(BEGINNING_OF_TIME)).otherwise(pl.col("valid_from")).alias("_valid_from"),
        pl.col("valid_to").alias("_valid_to"),
        *(pl.col(source).alias(target) for source, target in columns.items()),
    )
    matched = (
        frame.select(customer_id, on).unique().drop_nulls()
        .join(versions, on=customer_id, how="inner")
        .filter((pl.col("_valid_from") <= pl.col(on)) & (pl.col(on) < pl.col("_valid_to")))
        .drop("_valid_from", "_valid_to")
    )
    joined = frame.join(matched, on=[customer_id, on], how="left")
    if "customer_key" in columns:
        key = columns["customer_key"]
        joined = joined.with_columns(pl.col(key).cast(pl.Int64).fill_null(UNKNOWN_KEY))
    return joined
