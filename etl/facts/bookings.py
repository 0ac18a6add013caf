"""One row per booking event of a sales order line: + on confirmation, ± on amendment or
cancellation, dated at the change (KPIS bookings).

Only orders that were confirmed (``confirmed_at`` set) book; drafts, and drafts cancelled
before confirmation, book nothing. The booked quantity of a line is quantity − cancelled
quantity; events come from ``audit_log`` rows of entity ``sales_order_line``, action
``update``, that occurred at or after the order's confirmation (earlier ones shaped the
draft, so they are part of what was confirmed), in ``seq`` order:

- ``confirmed`` (``event_seq`` 0), dated at the UTC date of ``confirmed_at``: the booked
  quantity at confirmation — the quantity before the first such ``quantity`` change
  (its ``old_value``, else the current quantity) less the cancelled quantity before the
  first such ``cancelled_quantity`` change (else the current one);
- ``amended``: one per ``quantity`` change, delta = new − old;
- ``cancelled``: one per ``cancelled_quantity`` change, delta = −(new − old);
- a confirmed order later cancelled as a whole (status ``cancelled``; the demo records
  only the order's ``status`` change, the service also the lines'): one ``cancelled``
  event per line for what is still booked after the line's own events, dated at the
  order's ``cancelled_date`` (else the date of the status change), ``event_seq`` = the seq
  of the ``status`` → ``cancelled`` row (0 when the log has none).

Amendment and cancellation dates are the UTC dates of ``occurred_at``. Net deltas are at
the line's net price in base currency at the order's rate: each event's net is
B(booked after) − B(booked before), with B(q) = the line net of q (``line_net_amount``,
half-up to the document currency) converted at the order's rate, half-up. So a line's
events add up exactly to its ``fct_order_line.net_minor`` (before the order discount; the
discount is not booked), and every event is a whole number of minor units.

Attribution as ``fct_order``: the order's rep, channel and region, the customer version at
the order date; ``product_key`` from the line.
"""

from __future__ import annotations

import polars as pl

from core.types import QUANTITY_SCALE
from etl.conform import conform
from etl.extract import CoreFrames, RowFilter
from etl.facts.lookups import key_of
from etl.facts.orders import (
    CANCELLED,
    attributed,
    line_net,
    order_currencies,
    quantity_decimal,
    to_base,
)
from etl.keys import date_key, month_key, week_key
from etl.schema import fct_booking

LINE_ENTITY = "sales_order_line"  # audit rows of line quantity changes
ORDER_ENTITY = "sales_order"  # audit rows of order status changes
# The core tables and columns ``build`` reads, and the only audit rows it uses.
CORE_COLUMNS: dict[str, tuple[str, ...]] = {
    "sales_order": ("id", "customer_id", "status", "order_date", "confirmed_at",
                    "cancelled_date", "currency", "fx_rate", "rep_id", "channel_code",
                    "region_code"),
    "sales_order_line": ("id", "order_id", "product_id", "quantity", "cancelled_quantity",
                         "unit_price", "discount_pct"),
    "audit_log": ("seq", "occurred_at", "entity", "entity_id", "action", "field",
                  "old_value", "new_value"),
}
CORE_TABLES = tuple(CORE_COLUMNS)
ROW_FILTERS = {"audit_log": RowFilter("entity", (LINE_ENTITY, ORDER_ENTITY))}
DIMENSIONS = ("dim_customer", "dim_product", "dim_rep", "dim_channel", "dim_region")

CONFIRMED_EVENT = "confirmed"
AMENDED_EVENT = "amended"
CANCELLED_EVENT = "cancelled"
QUANTITY_FIELDS = ("quantity", "cancelled_quantity")


def _scaled_quantity(column: str) -> pl.Expr:
    """An audit text value ("12.0000") as a scaled Int64 quantity (value × 10^4)."""
    return (pl.col(column).cast(pl.Decimal(18, QUANTITY_SCALE))
            * pl.lit(10 ** QUANTITY_SCALE)).cast(pl.Int64)


def _confirmed_lines(core: CoreFrames) -> pl.LazyFrame:
    orders = core["sales_order"].lazy().filter(pl.col("confirmed_at").is_not_null()).select(
        pl.col("id").alias("order_id"), "customer_id", "status", "order_date", "confirmed_at",
        "cancelled_date", "currency", "fx_rate", "rep_id", "channel_code", "region_code")
    return core["sales_order_line"].lazy().select(
        pl.col("id").alias("order_line_id"), "order_id", "product_id", "quantity",
        "cancelled_quantity", "unit_price", "discount_pct",
    ).join(orders, on="order_id", how="inner")


def _line_changes(core: CoreFrames, lines: pl.LazyFrame) -> pl.LazyFrame:
    """Audited quantity and cancelled-quantity changes after confirmation, with their
    effect on the booked quantity (``quantity_delta``)."""
    return (
        core["audit_log"].lazy()
        .filter((pl.col("entity") == LINE_ENTITY) & (pl.col("action") == "update")
                & pl.col("field").is_in(QUANTITY_FIELDS))
        .select(pl.col("entity_id").alias("order_line_id"), "seq", "occurred_at", "field",
                _scaled_quantity("old_value").alias("old"),
                _scaled_quantity("new_value").alias("new"))
        .join(lines.select("order_line_id", "confirmed_at"), on="order_line_id", how="inner")
        .filter(pl.col("occurred_at") >= pl.col("confirmed_at"))
        .select(
            pl.when(pl.col("field") == "quantity").then(pl.lit(AMENDED_EVENT))
            .otherwise(pl.lit(CANCELLED_EVENT)).alias("event_type"),
            pl.col("seq").alias("event_seq"), "order_line_id", "field", "old",
            pl.col("occurred_at").dt.date().alias("event_date"),
            pl.when(pl.col("field") == "quantity").then(pl.col("new") - pl.col("old"))
            .otherwise(pl.col("old") - pl.col("new")).alias("quantity_delta"),
        )
    )


def _first_old(changes: pl.LazyFrame, field: str, alias: str) -> pl.LazyFrame:
    return changes.filter(pl.col("field") == field).group_by("order_line_id").agg(
        pl.col("old").sort_by("event_seq").first().alias(alias))


def _order_cancellations(core: CoreFrames) -> pl.LazyFrame:
    """The seq and date of each order's last status change to ``cancelled``."""
    return (
        core["audit_log"].lazy()
        .filter((pl.col("entity") == ORDER_ENTITY) & (pl.col("action") == "update")
                & (pl.col("field") == "status") & (pl.col("new_value") == CANCELLED))
        .group_by(pl.col("entity_id").alias("order_id")).agg(
            pl.col("seq").max().alias("cancel_seq"),
            pl.col("occurred_at").sort_by("seq").last().dt.date().alias("cancel_logged_on"))
    )


def events(core: CoreFrames) -> pl.LazyFrame:
    """Booking events with ``quantity_before`` and ``quantity_delta`` (scaled Int64, booked
    quantities) and the order and line columns needed to price and attribute them."""
    lines = _confirmed_lines(core)
    changes = _line_changes(core, lines)
    confirmations = (
        lines
        .join(_first_old(changes, "quantity", "first_quantity"), on="order_line_id",
              how="left")
        .join(_first_old(changes, "cancelled_quantity", "first_cancelled"),
              on="order_line_id", how="left")
        .select(
            pl.lit(CONFIRMED_EVENT).alias("event_type"),
            pl.lit(0, pl.Int64).alias("event_seq"), "order_line_id",
            pl.col("confirmed_at").dt.date().alias("event_date"),
            (pl.coalesce("first_quantity", "quantity")
             - pl.coalesce("first_cancelled", "cancelled_quantity")).alias("quantity_delta"),
        )
    )
    columns = ["event_type", "event_seq", "order_line_id", "event_date", "quantity_delta"]
    line_events = pl.concat([confirmations.select(columns), changes.select(columns)]).sort(
        "order_line_id", "event_seq")
    line_events = line_events.with_columns(
        (pl.col("quantity_delta").cum_sum().over("order_line_id") - pl.col("quantity_delta"))
        .alias("quantity_before"))
    # Whatever a cancelled order's lines still hold after their own events is cancelled.
    remaining = line_events.group_by("order_line_id").agg(
        pl.col("quantity_delta").sum().alias("quantity_before"))
    whole_order = (
        lines.filter(pl.col("status") == CANCELLED)
        .join(_order_cancellations(core), on="order_id", how="left")
        .join(remaining, on="order_line_id", how="inner")
        .filter(pl.col("quantity_before") != 0)
        .select(
            pl.lit(CANCELLED_EVENT).alias("event_type"),
            pl.col("cancel_seq").fill_null(0).alias("event_seq"), "order_line_id",
            pl.coalesce("cancelled_date", "cancel_logged_on").alias("event_date"),
            (-pl.col("quantity_before")).alias("quantity_delta"), "quantity_before",
        )
    )
    return pl.concat([line_events, whole_order.select(line_events.collect_schema().names())]
                     ).join(lines, on="order_line_id", how="inner")


def build(core: CoreFrames, dims: dict[str, pl.DataFrame], base_currency: str) -> pl.DataFrame:
    """One row per booking event of an order line: ``fct_booking`` from ``CORE_TABLES``
    and ``DIMENSIONS``, in minor units of ``base_currency``; sorted by date, order line and
    event seq."""
    currencies = order_currencies(core)
    after = pl.col("quantity_before") + pl.col("quantity_delta")
    frame = events(core).with_columns(
        (to_base(line_net(after, currencies), base_currency)
         - to_base(line_net(pl.col("quantity_before"), currencies), base_currency))
        .alias("net_delta_minor"))
    frame = attributed(frame, dims)
    frame = key_of(frame, dims["dim_product"], on="product_id", natural="product_id",
                   key="product_key").with_columns(
        date_key("event_date").alias("date_key"),
        month_key("event_date").alias("month_key"),
        week_key("event_date").alias("week_key"),
        quantity_decimal("quantity_delta"),
    )
    return conform(frame, fct_booking).sort("date_key", "order_line_id", "event_seq").collect()

