"""One row per sales order (``fct_order``) and one row per sales order line
(``fct_order_line``), current state: bookings base, backlog and on-time delivery.

Drafts are included (``status`` says which); they carry no attribution. Amounts are integer
minor units of the base currency, converted from the order's document currency at the
order's own rate (``sales_order.fx_rate``, the rate of the order date), half-up per row:

- cancelled quantity: the line's ``cancelled_quantity``; on an order whose status is
  ``cancelled`` every line counts as cancelled in full (the service cancels the whole
  quantity; the demo data records only the order's status), so its amounts are 0;
- line net (document currency) = round_half_up((quantity − cancelled) × unit price
  × (1 − discount)) to the currency's minor unit — ``core.catalog.pricing.line_net_amount``;
  ``fct_order_line.net_minor`` is that, converted; it is before the order discount, as
  bookings are (Σ a confirmed line's ``fct_booking`` rows = its ``net_minor``;
  drafts book nothing);
- order discount, pro rata: cancelled quantities forfeit their share, as when invoicing
  (``core.billing.invoicing._discount_share``): discount × Σ line net / Σ ``net_amount``
  of the lines (the amount ordered before cancellations), rounded half-up;
  ``fct_order.net_minor`` = (Σ line net − that share), converted once per order. So
  ``fct_order.net_minor`` ≠ Σ line ``net_minor`` − discount by up to the per-line
  conversion rounding;
- ``invoiced_quantity`` / ``invoiced_minor``: Σ quantity / ``base_net_amount`` (after the
  invoice's document discount, at the invoice's rate: what ``fct_sales_line`` carries) of
  posted invoice lines of the order line. Milestone invoice lines have no order line and
  are left out here (KPIS: they reduce backlog by their net amount — not modelled per line;
  the demo has no milestones);
- ``backlog_minor`` (confirmed orders only, else 0; never negative): the open quantity
  (quantity − cancelled − invoiced) at the line's net price, less the share of the order
  discount its invoice will take (discount × open net / amount ordered, half-up, the
  invoicing rule), converted at the order's rate. Computed from quantities and in document
  currency, so FX differences between order and invoice rates never leave backlog on a
  fully invoiced line. (That is why it is not ``net_minor − invoiced_minor``, which mixes
  rates and before/after-discount amounts.) Per order it equals
  ``core.billing.balances.order_uninvoiced_amount`` at the order rate, up to rounding per
  line, except that the core subtracts the whole order discount even when lines were
  cancelled. ``backlog_doc_minor`` is the same amount in minor units of the order's own
  currency (the customer's), before conversion: credit exposure compares it with the
  credit limit.

Delivery: shipments with status ``shipped`` that are not replacements. ``shipped_quantity``
Σ their lines; first/last shipped dates per order and last per line.
``is_shipped_complete``: something was shipped and every line has shipped ≥ quantity −
cancelled (so drafts and wholly cancelled orders are never complete). ``is_on_time``:
shipped complete and the last shipped date ≤ the promised ship date; null while not
complete or without a promise.

Attribution (KPIS.md): rep, channel and region as fixed on the order at confirmation
(``-1`` for drafts); ``customer_key`` = the ``dim_customer`` version valid at the order
date. ``confirmed_date_key`` is the UTC date of ``confirmed_at``. Missing dates are ``-1``.
"""

from __future__ import annotations

from decimal import Decimal

import polars as pl

from core.types import (
    AMOUNT_SCALE,
    PERCENT_SCALE,
    PRICE_SCALE,
    QUANTITY_SCALE,
    RATE_SCALE,
    currency_digits,
)
from etl.conform import conform
from etl.dims.dim_customer import version_at
from etl.extract import CoreFrames
from etl.facts.lookups import key_of
from etl.keys import date_key, month_key
from etl.money import minor, minor_rounded, wide
from etl.schema import fct_order, fct_order_line

# The core tables and columns ``build_orders`` and ``build_order_lines`` read.
CORE_COLUMNS: dict[str, tuple[str, ...]] = {
    "sales_order": ("id", "number", "quote_id", "customer_id", "status", "order_date",
                    "promised_ship_date", "confirmed_at", "cancelled_date", "currency",
                    "fx_rate", "is_cash_sale", "rep_id", "channel_code", "region_code",
                    "discount_amount"),
    "sales_order_line": ("id", "order_id", "product_id", "quantity", "cancelled_quantity",
                         "unit_price", "discount_pct", "net_amount"),
    "shipment": ("id", "order_id", "status", "is_replacement", "shipped_date"),
    "shipment_line": ("shipment_id", "order_line_id", "quantity"),
    "invoice": ("id", "status"),
    "invoice_line": ("invoice_id", "order_line_id", "quantity", "base_net_amount"),
}
CORE_TABLES = tuple(CORE_COLUMNS)
DIMENSIONS = ("dim_customer", "dim_product", "dim_rep", "dim_channel", "dim_region")

CONFIRMED = "confirmed"
CANCELLED = "cancelled"
SHIPPED = "shipped"
POSTED = "posted"

# quantity × unit price × (1 − discount) before rounding.
LINE_SCALE = QUANTITY_SCALE + PRICE_SCALE + PERCENT_SCALE


# --- document arithmetic on scaled integers ---------------------------------------------

def _minor_unit(currencies: list[str], scale: int = AMOUNT_SCALE) -> pl.Expr:
    """Per row: 10^(``scale`` − digits of the row's ``currency``), an Int128 — one minor
    unit of that currency as an integer of ``scale``."""
    return pl.col("currency").replace_strict(
        {c: 10 ** (scale - currency_digits(c)) for c in currencies}, return_dtype=pl.Int128)


def _half_up_to_currency(exact: pl.Expr, from_scale: int, currencies: list[str]) -> pl.Expr:
    """``exact`` (an Int128 of scale ``from_scale``) rounded half-up to the minor unit of
    the row's ``currency`` column, returned as an amount of ``AMOUNT_SCALE`` (Int64)."""
    factor = _minor_unit(currencies, from_scale)
    back = _minor_unit(currencies)
    rounded = ((exact.abs() + factor // 2) // factor) * exact.sign()
    return (rounded * back).cast(pl.Int64)


def line_net(quantity: pl.Expr, currencies: list[str]) -> pl.Expr:
    """round_half_up(``quantity`` × ``unit_price`` × (1 − ``discount_pct``)) in the row's
    document ``currency``, as an amount of ``AMOUNT_SCALE`` (``line_net_amount``)."""
    exact = (quantity.cast(pl.Int128) * wide("unit_price")
             * (10 ** PERCENT_SCALE - pl.col("discount_pct")).cast(pl.Int128))
    return _half_up_to_currency(exact, LINE_SCALE, currencies)


def discount_share(amount: pl.Expr, currencies: list[str]) -> pl.Expr:
    """round_half_up(``discount_amount`` × ``amount`` / ``ordered_amount``) in the row's
    document currency (amounts of ``AMOUNT_SCALE``): the part of the order discount that
    goes with ``amount`` (0 when nothing was ordered)."""
    unit = _minor_unit(currencies)
    numerator = wide("discount_amount") * amount.cast(pl.Int128)
    denominator = wide("ordered_amount") * unit
    # Non-negative operands: half-up is (2n + d) // 2d, back to AMOUNT_SCALE.
    share = (2 * numerator + denominator) // (2 * denominator) * unit
    return pl.when(pl.col("ordered_amount") > 0).then(share).otherwise(0).cast(pl.Int64)


def doc_minor(amount: pl.Expr, currencies: list[str]) -> pl.Expr:
    """A document amount (``AMOUNT_SCALE``, rounded to the row's ``currency``) in minor
    units of that currency (exact)."""
    return (amount.cast(pl.Int128) // _minor_unit(currencies)).cast(pl.Int64)


def to_base(amount: pl.Expr, base_currency: str) -> pl.Expr:
    """A document amount (``AMOUNT_SCALE``) at the row's ``fx_rate``, half-up, in minor
    units of the base currency."""
    return minor_rounded(amount.cast(pl.Int128) * pl.col("fx_rate"),
                         AMOUNT_SCALE + RATE_SCALE, base_currency)


def quantity_decimal(column: str) -> pl.Expr:
    """A scaled Int64 quantity (value × 10^4) as an exact Decimal, no float on the way."""
    return (pl.col(column).cast(pl.Decimal(18, 0))
            * pl.lit(Decimal(1).scaleb(-QUANTITY_SCALE))).alias(column)


def order_currencies(core: CoreFrames) -> list[str]:
    """The document currencies of the orders (for the per-row rounding tables)."""
    return core["sales_order"]["currency"].unique().drop_nulls().to_list()


def attributed(frame: pl.LazyFrame, dims: dict[str, pl.DataFrame]) -> pl.LazyFrame:
    """``frame`` (with ``customer_id``, ``order_date``, ``rep_id``, ``channel_code``,
    ``region_code``) plus ``customer_key`` at the order date and rep/channel/region keys."""
    frame = version_at(frame, dims["dim_customer"], customer_id="customer_id", on="order_date",
                       columns={"customer_key": "customer_key"})
    frame = key_of(frame, dims["dim_rep"], on="rep_id", natural="rep_id", key="rep_key")
    frame = key_of(frame, dims["dim_channel"], on="channel_code", natural="channel_code",
                   key="channel_key")
    return key_of(frame, dims["dim_region"], on="region_code", natural="region_code",
                  key="region_key")


# --- the shared line frame ----------------------------------------------------------------

def _orders(core: CoreFrames) -> pl.LazyFrame:
    ordered = core["sales_order_line"].lazy().group_by("order_id").agg(
        pl.col("net_amount").sum().alias("ordered_amount"), pl.len().alias("line_count"))
    return (
        core["sales_order"].lazy()
        .select(pl.col("id").alias("order_id"), pl.col("number").alias("order_number"),
                "quote_id", "customer_id", "status", "order_date", "promised_ship_date",
                "confirmed_at", "cancelled_date", "currency", "fx_rate", "is_cash_sale",
                "rep_id", "channel_code", "region_code", "discount_amount")
        .join(ordered, on="order_id", how="left")
        .with_columns(pl.col("ordered_amount").fill_null(0), pl.col("line_count").fill_null(0))
    )


def _shipped(core: CoreFrames) -> pl.LazyFrame:
    """Lines of shipped, non-replacement shipments with their order and shipped date."""
    shipments = core["shipment"].lazy().filter(
        (pl.col("status") == SHIPPED) & ~pl.col("is_replacement")
    ).select(pl.col("id").alias("shipment_id"), "order_id", "shipped_date")
    return core["shipment_line"].lazy().join(shipments, on="shipment_id", how="inner")


def _invoiced(core: CoreFrames, base_currency: str) -> pl.LazyFrame:
    invoices = core["invoice"].lazy().filter(pl.col("status") == POSTED).select(
        pl.col("id").alias("invoice_id"))
    return (
        core["invoice_line"].lazy().filter(pl.col("order_line_id").is_not_null())
        .join(invoices, on="invoice_id", how="inner")
        .group_by("order_line_id").agg(
            pl.col("quantity").sum().alias("invoiced_quantity"),
            minor("base_net_amount", base_currency).sum().alias("invoiced_minor"))
    )


def order_lines(core: CoreFrames, base_currency: str) -> pl.LazyFrame:
    """Every order line with its order's header columns, effective cancelled quantity,
    shipped and invoiced quantities (scaled Int64) and its amounts (see the docstring)."""
    currencies = order_currencies(core)
    shipped = _shipped(core).group_by("order_line_id").agg(
        pl.col("quantity").sum().alias("shipped_quantity"),
        pl.col("shipped_date").max().alias("last_shipped_date"))
    lines = (
        core["sales_order_line"].lazy()
        .select(pl.col("id").alias("order_line_id"), "order_id", "product_id", "quantity",
                "cancelled_quantity", "unit_price", "discount_pct")
        .join(_orders(core), on="order_id", how="inner")
        .join(shipped, on="order_line_id", how="left")
        .join(_invoiced(core, base_currency), on="order_line_id", how="left")
        .with_columns(
            pl.when(pl.col("status") == CANCELLED).then(pl.col("quantity"))
            .otherwise(pl.col("cancelled_quantity")).alias("cancelled_quantity"),
            pl.col("shipped_quantity").fill_null(0),
            pl.col("invoiced_quantity").fill_null(0),
            pl.col("invoiced_minor").fill_null(0),
        )
        .with_columns(
            (pl.col("quantity") - pl.col("cancelled_quantity")).alias("booked_quantity"),
            (pl.col("quantity") - pl.col("cancelled_quantity") - pl.col("invoiced_quantity"))
            .clip(lower_bound=0).alias("open_quantity"),
        )
        .with_columns(
            line_net(pl.col("booked_quantity"), currencies).alias("net_doc"),
            line_net(pl.col("open_quantity"), currencies).alias("open_doc"),
        )
    )
    open_after_discount = (pl.col("open_doc") - discount_share(pl.col("open_doc"), currencies))
    confirmed = pl.col("status") == CONFIRMED
    return lines.with_columns(
        to_base(pl.col("net_doc"), base_currency).alias("net_minor"),
        pl.when(confirmed)
        .then(to_base(open_after_discount, base_currency).clip(lower_bound=0))
        .otherwise(0).alias("backlog_minor"),
        pl.when(confirmed)
        .then(doc_minor(open_after_discount.clip(lower_bound=0), currencies))
        .otherwise(0).alias("backlog_doc_minor"),
    )


def _date_keys(**columns: str) -> list[pl.Expr]:
    return [date_key(source).alias(target) for target, source in columns.items()]


def build_order_lines(core: CoreFrames, dims: dict[str, pl.DataFrame],
                      base_currency: str) -> pl.DataFrame:
    """One row per sales order line (current state): ``fct_order_line`` from
    ``CORE_TABLES`` and ``DIMENSIONS``, amounts in minor units of ``base_currency``; sorted
    by order line id."""
    frame = attributed(order_lines(core, base_currency), dims)
    frame = key_of(frame, dims["dim_product"], on="product_id", natural="product_id",
                   key="product_key").with_columns(
        *_date_keys(date_key="order_date", promised_ship_date_key="promised_ship_date",
                    last_shipped_date_key="last_shipped_date"),
        month_key("order_date").alias("month_key"),
        pl.col("status").alias("order_status"),
        *(quantity_decimal(c) for c in ("quantity", "cancelled_quantity", "shipped_quantity",
                                        "invoiced_quantity")),
    )
    return conform(frame, fct_order_line).sort("order_line_id").collect()


def build_orders(core: CoreFrames, dims: dict[str, pl.DataFrame],
                 base_currency: str) -> pl.DataFrame:
    """One row per sales order (drafts included): ``fct_order`` from ``CORE_TABLES`` and
    ``DIMENSIONS``, amounts in minor units of ``base_currency``; sorted by order id."""
    currencies = order_currencies(core)
    per_order = order_lines(core, base_currency).group_by("order_id").agg(
        pl.col("net_doc").sum().alias("lines_net_doc"),
        (pl.col("shipped_quantity") >= pl.col("booked_quantity")).all()
        .alias("every_line_shipped"))
    shipped_dates = _shipped(core).group_by("order_id").agg(
        pl.col("shipped_date").min().alias("first_shipped_date"),
        pl.col("shipped_date").max().alias("last_shipped_date"))
    frame = (
        _orders(core)
        .join(per_order, on="order_id", how="left")
        .join(shipped_dates, on="order_id", how="left")
        .with_columns(pl.col("lines_net_doc").fill_null(0))
        .with_columns(
            (pl.col("lines_net_doc") - discount_share(pl.col("lines_net_doc"), currencies))
            .alias("net_doc"))
        .with_columns(
            to_base(pl.col("net_doc"), base_currency).alias("net_minor"),
            (pl.col("first_shipped_date").is_not_null()
             & pl.col("every_line_shipped").fill_null(False)).alias("is_shipped_complete"),
        )
        .with_columns(
            pl.when(pl.col("is_shipped_complete") & pl.col("promised_ship_date").is_not_null())
            .then(pl.col("last_shipped_date") <= pl.col("promised_ship_date"))
            .otherwise(None).alias("is_on_time"),
            pl.col("confirmed_at").dt.date().alias("confirmed_date"),
        )
    )
    frame = attributed(frame, dims).with_columns(
        *_date_keys(date_key="order_date", confirmed_date_key="confirmed_date",
                    promised_ship_date_key="promised_ship_date",
                    cancelled_date_key="cancelled_date",
                    first_shipped_date_key="first_shipped_date",
                    last_shipped_date_key="last_shipped_date"),
        month_key("order_date").alias("month_key"),
    )
    return conform(frame, fct_order).sort("order_id").collect()
