"""One row per opportunity version: the state of an opportunity from ``valid_from``
(inclusive) to ``valid_to`` (exclusive), so the pipeline as of any time T is the range
filter ``valid_from <= T < valid_to`` and movement between two times is exact.

Versions are rebuilt from ``audit_log`` (entity ``opportunity``; values as text, see
``core.audit.as_text``), in time order (``occurred_at``, then ``seq`` within an instant):

- the first version starts when the opportunity was recorded: its ``insert`` row's
  ``occurred_at``, or the core row's ``created_at`` when the log has no insert row (the
  demo data and rows loaded in bulk); it holds each tracked field's value before its first
  change (that change's ``old_value``; the current value when the field never changed);
- every distinct ``occurred_at`` of an ``update`` of a tracked field (``TRACKED``) starts a
  version holding the state after all the changes at that instant (several fields changed
  together make one version); a change stamped before the start counts from the start;
  updates of other fields (name, lost reason) start none;
- ``valid_to`` is the next version's ``valid_from``; the last version is current
  (``is_current``, ``valid_to`` 9999-12-31 00:00) and equals the core's current row.

When the log holds several insert rows for one id (an id reused after a delete), only the
last insert and the changes after it count. Opportunities no longer in the core (deleted)
have no rows: their audit rows carry no values to rebuild them from.

Per version: ``amount_minor`` is the amount in minor units of the base currency at the
rate of the ``valid_from`` date (``etl.facts.fx.rate_at``), rounded half-up;
``probability`` is the opportunity's own (null: the stage default applies);
``effective_probability`` is that, else the stage's default
(``core.sales.opportunities.STAGE_PROBABILITY``), what weighted pipeline multiplies by;
``customer_key`` is the ``dim_customer`` version valid at the ``valid_from`` date;
``rep_key`` is the version's rep; ``expected_close_date_key``/``closed_date_key`` are the
version's dates (``-1`` while not closed); ``created_date_key`` is the opportunity's
created date. Dates of the naive-UTC timestamps are local dates in ``timezone``.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import polars as pl

from core.sales.opportunities import STAGE_PROBABILITY
from core.types import AMOUNT_SCALE, PERCENT_SCALE
from etl.conform import conform, polars_schema
from etl.dims.dim_customer import version_at
from etl.extract import CoreFrames, RowFilter
from etl.facts.fx import base_minor, rate_at
from etl.facts.lookups import key_of
from etl.keys import date_key
from etl.schema import fct_opportunity_history

SCHEMA = polars_schema(fct_opportunity_history)
DIMENSIONS = ("dim_customer", "dim_rep")

ENTITY = "opportunity"
# The core tables and columns ``build`` reads, and the only audit rows it uses.
CORE_COLUMNS: dict[str, tuple[str, ...]] = {
    "opportunity": ("id", "customer_id", "rep_id", "stage", "state", "probability", "amount",
                    "currency", "expected_close_date", "closed_date", "created_date",
                    "created_at"),
    "audit_log": ("seq", "occurred_at", "entity", "entity_id", "action", "field",
                  "old_value", "new_value"),
    "fx_rate": ("currency", "rate_date", "rate"),
}
CORE_TABLES = tuple(CORE_COLUMNS)
ROW_FILTERS = {"audit_log": RowFilter("entity", (ENTITY,))}
TRACKED = ("stage", "state", "amount", "probability", "expected_close_date", "rep_id",
           "closed_date")
OPEN_END = datetime(9999, 12, 31)
_ID = "opportunity_id"


def _local_date(column: str, timezone: str) -> pl.Expr:
    stamp = pl.col(column)
    if timezone != "UTC":
        stamp = stamp.dt.replace_time_zone("UTC").dt.convert_time_zone(timezone)
    return stamp.dt.date()


def _scaled_text(column: str, scale: int) -> pl.Expr:
    """A scaled Int64 (value × 10^scale) as decimal text, the way the audit log writes it."""
    exact = pl.col(column).cast(pl.Decimal(18, 0)) * pl.lit(Decimal(1).scaleb(-scale))
    return exact.cast(pl.String)


def _current(core: CoreFrames) -> pl.LazyFrame:
    """Each opportunity's current tracked values, as text."""
    return core["opportunity"].lazy().select(
        pl.col("id").alias(_ID),
        pl.col("stage").cast(pl.String), pl.col("state").cast(pl.String),
        _scaled_text("amount", AMOUNT_SCALE).alias("amount"),
        _scaled_text("probability", PERCENT_SCALE).alias("probability"),
        pl.col("expected_close_date").cast(pl.String),
        pl.col("rep_id").cast(pl.String),
        pl.col("closed_date").cast(pl.String),
    )


def versions(core: CoreFrames) -> pl.LazyFrame:
    """``opportunity_id``, ``valid_from``, the tracked fields as text, ``version_no``,
    ``valid_to`` and ``is_current``: one row per version, by the rules of the module
    docstring, sorted by opportunity and ``valid_from``."""
    audit = core["audit_log"].lazy().filter(pl.col("entity") == ENTITY).select(
        pl.col("entity_id").alias(_ID), "seq", "occurred_at", "action", "field",
        "old_value", "new_value")
    inserted = audit.filter(pl.col("action") == "insert").group_by(_ID).agg(
        pl.col("seq").max().alias("insert_seq"),
        pl.col("occurred_at").sort_by("seq").last().alias("inserted_at"))
    opened = (
        core["opportunity"].lazy().select(pl.col("id").alias(_ID), "created_at")
        .join(inserted, on=_ID, how="left")
        .select(_ID, "insert_seq", pl.coalesce("inserted_at", "created_at").alias("opened_at"))
    )
    changes = (
        audit.filter((pl.col("action") == "update") & pl.col("field").is_in(TRACKED))
        .join(opened, on=_ID, how="inner")
        .filter(pl.col("insert_seq").is_null() | (pl.col("seq") > pl.col("insert_seq")))
        .select(_ID, "field", "seq", "old_value", "new_value",
                pl.max_horizontal("occurred_at", "opened_at").alias("valid_from"))
    )
    # Each field's value before its first change: that change's old value, else current.
    first_old = changes.group_by(_ID, "field").agg(
        pl.col("old_value").sort_by("seq").first()
    ).group_by(_ID).agg(
        *(pl.col("old_value").filter(pl.col("field") == name).first().alias(f"_old_{name}")
          for name in TRACKED),
        *((pl.col("field") == name).any().alias(f"_changed_{name}") for name in TRACKED),
    )
    opening = (
        _current(core)
        .join(opened.select(_ID, pl.col("opened_at").alias("valid_from")), on=_ID)
        .join(first_old, on=_ID, how="left")
        .select(_ID, "valid_from", pl.lit(0, pl.Int64).alias("seq"),
                *(pl.when(pl.col(f"_changed_{name}")).then(pl.col(f"_old_{name}"))
                  .otherwise(pl.col(name)).alias(name) for name in TRACKED),
                *(pl.lit(True).alias(f"_set_{name}") for name in TRACKED))
    )
    steps = changes.select(
        _ID, "valid_from", "seq",
        *(pl.when(pl.col("field") == name).then(pl.col("new_value")).alias(name)
          for name in TRACKED),
        *((pl.col("field") == name).alias(f"_set_{name}") for name in TRACKED))
    # One row per opening and per change, in time order; each opportunity's first row is
    # its opening (changes never precede it), which sets every field. A field's value on a
    # row is the one of the latest row that set it (a forward fill of row numbers, so a
    # change to null stays null); the last row of an instant is that instant's version.
    row = pl.int_range(pl.len(), dtype=pl.Int64)
    events = pl.concat([opening, steps]).sort(_ID, "valid_from", "seq").with_columns(
        row.alias("_row"))
    ends_instant = ((pl.col(_ID) != pl.col(_ID).shift(-1))
                    | (pl.col("valid_from") != pl.col("valid_from").shift(-1))).fill_null(True)
    state = events.with_columns(
        pl.col(name).gather(
            pl.when(pl.col(f"_set_{name}")).then(pl.col("_row")).forward_fill())
        for name in TRACKED
    ).filter(ends_instant).select(_ID, "valid_from", *TRACKED)
    first = (pl.col(_ID) != pl.col(_ID).shift(1)).fill_null(True)
    has_next = (pl.col(_ID) == pl.col(_ID).shift(-1)).fill_null(False)
    return state.with_columns(
        (row - pl.when(first).then(row).forward_fill() + 1).alias("version_no"),
        pl.when(has_next).then(pl.col("valid_from").shift(-1)).otherwise(pl.lit(OPEN_END))
        .alias("valid_to"),
        (~has_next).alias("is_current"),
    )


def _stage_default() -> pl.Expr:
    """The default probability of the version's stage, as Decimal(9, 4)."""
    defaults = {str(stage): str(p) for stage, p in STAGE_PROBABILITY.items()}
    return pl.col("stage").replace_strict(defaults, return_dtype=pl.String).cast(
        pl.Decimal(9, PERCENT_SCALE))


def _typed(frame: pl.LazyFrame) -> pl.LazyFrame:
    """The tracked fields from text: amount as scaled Int64 (× 10^3), probability as
    Decimal(9, 4), dates as Date, rep id as Int64."""
    return frame.with_columns(
        (pl.col("amount").cast(pl.Decimal(38, AMOUNT_SCALE)) * 10 ** AMOUNT_SCALE)
        .cast(pl.Int64).alias("amount"),
        pl.col("probability").cast(pl.Decimal(9, PERCENT_SCALE)),
        pl.col("expected_close_date").str.to_date("%Y-%m-%d"),
        pl.col("closed_date").str.to_date("%Y-%m-%d"),
        pl.col("rep_id").str.to_integer(),
    )


def build(core: CoreFrames, dims: dict[str, pl.DataFrame], base_currency: str, *,
          timezone: str = "UTC") -> pl.DataFrame:
    """``fct_opportunity_history`` from the extracted core tables (``CORE_TABLES``) and the
    built dimensions (``DIMENSIONS``); amounts in minor units of ``base_currency``;
    ``timezone`` (the company's) dates the versions. Rows sorted by opportunity and version.
    Raises ``ValueError`` when an opportunity's currency has no exchange rate."""
    constants = core["opportunity"].lazy().select(
        pl.col("id").alias(_ID), "customer_id", "currency", "created_date")
    frame = (
        _typed(versions(core)).join(constants, on=_ID, how="inner")
        .with_columns(_local_date("valid_from", timezone).alias("valid_on"))
    )
    frame = rate_at(frame, core["fx_rate"], currency="currency", on="valid_on",
                    base_currency=base_currency)
    frame = version_at(frame, dims["dim_customer"], customer_id="customer_id", on="valid_on",
                       columns={"customer_key": "customer_key"})
    frame = key_of(frame, dims["dim_rep"], on="rep_id", natural="rep_id", key="rep_key")
    frame = frame.with_columns(
        base_minor("amount", "fx_rate", base_currency).alias("amount_minor"),
        date_key("expected_close_date").alias("expected_close_date_key"),
        date_key("created_date").alias("created_date_key"),
        date_key("closed_date").alias("closed_date_key"),
        pl.coalesce("probability", _stage_default()).alias("effective_probability"),
    )
    fact = conform(frame, fct_opportunity_history).sort(_ID, "version_no").collect()
    unconverted = fact.filter(pl.col("amount_minor").is_null())[_ID].unique().sort()
    if unconverted.len():
        raise ValueError(f"fct_opportunity_history: no exchange rate to {base_currency} for "
                         f"opportunities {unconverted.head(10).to_list()} (their currency "
                         "has no fx_rate)")
    return fact
