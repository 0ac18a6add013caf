"""Receivables: ``fct_ar_item`` and ``fct_ar_allocation``.

``fct_ar_item`` — one row per receivable document, signed from the customer's side
(+ the customer owes, − credit in its favour), ``document_id`` the id in its core table:

- ``invoice``: a posted invoice, + total (incl. tax and freight); base = + its base total
  fixed at posting; due date, dispute flag, promise-to-pay date and cash-sale flag; and the
  rep, channel and region its sales lines are attributed to (``fct_sales_line``'s rule:
  its order's, else the customer version's at the invoice date) — -1 on other items.
- ``credit_note``: a posted credit note, − total; base = − its base total.
- ``payment``: a receipt, − amount; base = − its base amount (at the receipt's own rate).
- ``refund`` / ``reversal``: a payment of customer credit back out, + amount; base + its
  base amount.

Every item has ``settled_date_key``: when the allocations of which it is the target (an
invoice, refund or reversal) or the source (a receipt or credit note), reversals included,
add up to its amount as of the batch, the date of the latest of them — its open amount is 0
from that date on; -1 otherwise (open, or reopened by a reversal). So as of a date D only the
items with -1 or a date after D can be open (``etl.facts.open_ar`` need not look at others).

``fct_ar_allocation`` — one row per core allocation row: a receipt (``source_type``
``payment``) or credit note applied to an invoice, or to a refund / reversal payment
(``target_type`` = the payment's kind). A reversal is its own row with the negative amount
and ``reversal_of_id``. ``amount_minor`` is the allocated amount in base currency at the
TARGET's rate, rounded half-up — an invoice's rate for allocations to invoices (KPIS: the
open amount of an invoice is converted at the invoice's rate; the difference from the
payment's rate is an FX gain or loss, never AR), the refund's or reversal's own rate
otherwise. ``days_to_pay`` (payment received date − invoice date) and ``days_late``
(received date − due date, signed) are set for cash allocations to invoices only (reversal
rows too, so amount-weighted averages cancel), null for credit-note allocations.
``settled_date_key`` is the later of its two documents' ``settled_date_key``, -1 while either
is not settled: as of a date D an allocation with a settled date ≤ D only touches closed
documents, so AR as of D need not read it (unless a later back-dated entry reopens one).

Both facts: ``amount_doc_minor`` in minor units of the row's own currency (each row's
currency digits: JPY 0, USD 2, KWD 3); ``*_minor`` in base-currency minor units;
``customer_key`` is the ``dim_customer`` version valid at the document date (items) or at
the allocation date (allocations), ``-1`` when there is none.

AR as of any date: ``etl.facts.open_ar``.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

import polars as pl

from core.types import AMOUNT_SCALE, RATE_SCALE, currency_digits
from etl.conform import conform, polars_schema
from etl.dims.dim_customer import version_at
from etl.extract import CoreFrames
from etl.facts.open_ar import CREDIT_NOTE, INVOICE, PAYMENT
from etl.facts.sales_line import attributed
from etl.keys import date_key
from etl.money import minor, minor_rounded, wide
from etl.schema import UNKNOWN_KEY, fct_ar_allocation, fct_ar_item

ITEM_SCHEMA = polars_schema(fct_ar_item)
ALLOCATION_SCHEMA = polars_schema(fct_ar_allocation)
# The core tables and columns ``build_items`` and ``build_allocations`` read.
CORE_COLUMNS: dict[str, tuple[str, ...]] = {
    "invoice": ("id", "number", "order_id", "customer_id", "status", "invoice_date",
                "due_date", "currency", "fx_rate", "total_amount", "base_total_amount",
                "is_disputed", "is_cash_sale", "promise_to_pay_date", "posted_at"),
    "credit_note": ("id", "number", "customer_id", "status", "credit_date", "currency",
                    "fx_rate", "total_amount", "base_total_amount", "posted_at"),
    "payment": ("id", "number", "customer_id", "kind", "received_date", "amount", "currency",
                "fx_rate", "base_amount", "posted_at"),
    "allocation": ("id", "source_payment_id", "source_credit_note_id", "target_invoice_id",
                   "target_payment_id", "amount", "allocation_date", "reversal_of_id",
                   "created_at"),
    "sales_order": ("id", "customer_id", "order_date", "rep_id", "channel_code",
                    "region_code"),
}
CORE_TABLES = tuple(CORE_COLUMNS)
DIMENSIONS = ("dim_customer", "dim_rep", "dim_channel", "dim_region", "dim_product")

RECEIPT = "receipt"  # core.billing.models.PaymentKind
POSTED = "posted"

_ITEM_COLUMNS = ("item_type", "document_id", "document_number", "customer_id",
                 "document_date", "due_date", "posted_at", "currency", "fx_rate",
                 "amount_doc_minor", "amount_minor", "is_disputed", "is_cash_sale",
                 "promise_to_pay_date", "stored_amount")


# --- currencies that vary per row -------------------------------------------------------

def _currencies(columns: Iterable[pl.Series]) -> list[str]:
    return sorted({c for column in columns for c in column.drop_nulls().unique().to_list()})


def _factor(currencies: Iterable[str]) -> pl.Expr:
    """Per row: 10^(AMOUNT_SCALE − digits of the row's ``currency``) — stored (scaled)
    amount = minor units × factor. An unknown currency fails rather than turning null."""
    factors = {c: 10 ** (AMOUNT_SCALE - currency_digits(c)) for c in currencies}
    return pl.col("currency").replace_strict(factors, return_dtype=pl.Int64)


def _doc_minor(column: str, factor: pl.Expr) -> pl.Expr:
    """A stored amount in minor units of each row's own currency (exact: stored amounts are
    rounded to their currency's digits)."""
    return (pl.col(column) // factor).cast(pl.Int64)


def _rate_decimal(column: str) -> pl.Expr:
    """A scaled rate (value × 10^10) as an exact Decimal, no float on the way."""
    return pl.col(column).cast(pl.Decimal(18, 0)) * pl.lit(Decimal(1).scaleb(-RATE_SCALE))


def _days(later: str, earlier: str) -> pl.Expr:
    return (pl.col(later) - pl.col(earlier)).dt.total_days()


# --- fct_ar_item ------------------------------------------------------------------------

def _invoices(core: CoreFrames, base: str, factor: pl.Expr) -> pl.LazyFrame:
    return core["invoice"].lazy().filter(pl.col("status") == POSTED).select(
        pl.lit(INVOICE).alias("item_type"),
        pl.col("id").alias("document_id"),
        pl.col("number").alias("document_number"),
        "customer_id",
        pl.col("invoice_date").alias("document_date"),
        "due_date", "posted_at", "currency", "fx_rate",
        _doc_minor("total_amount", factor).alias("amount_doc_minor"),
        minor("base_total_amount", base).alias("amount_minor"),
        "is_disputed", "is_cash_sale", "promise_to_pay_date",
        pl.col("total_amount").alias("stored_amount"),
    )


def _credit_notes(core: CoreFrames, base: str, factor: pl.Expr) -> pl.LazyFrame:
    return core["credit_note"].lazy().filter(pl.col("status") == POSTED).select(
        pl.lit(CREDIT_NOTE).alias("item_type"),
        pl.col("id").alias("document_id"),
        pl.col("number").alias("document_number"),
        "customer_id",
        pl.col("credit_date").alias("document_date"),
        pl.lit(None, pl.Date).alias("due_date"),
        "posted_at", "currency", "fx_rate",
        (-_doc_minor("total_amount", factor)).alias("amount_doc_minor"),
        (-minor("base_total_amount", base)).alias("amount_minor"),
        pl.lit(False).alias("is_disputed"),
        pl.lit(False).alias("is_cash_sale"),
        pl.lit(None, pl.Date).alias("promise_to_pay_date"),
        pl.col("total_amount").alias("stored_amount"),
    )


def _payments(core: CoreFrames, base: str, factor: pl.Expr) -> pl.LazyFrame:
    """Receipts (−) and refunds / reversals (+) of customer credit."""
    receipt = pl.col("kind") == RECEIPT
    sign = pl.when(receipt).then(-1).otherwise(1)
    return core["payment"].lazy().select(
        pl.when(receipt).then(pl.lit(PAYMENT)).otherwise(pl.col("kind")).alias("item_type"),
        pl.col("id").alias("document_id"),
        pl.col("number").alias("document_number"),
        "customer_id",
        pl.col("received_date").alias("document_date"),
        pl.lit(None, pl.Date).alias("due_date"),
        "posted_at", "currency", "fx_rate",
        (sign * _doc_minor("amount", factor)).alias("amount_doc_minor"),
        (sign * minor("base_amount", base)).alias("amount_minor"),
        pl.lit(False).alias("is_disputed"),
        pl.lit(False).alias("is_cash_sale"),
        pl.lit(None, pl.Date).alias("promise_to_pay_date"),
        pl.col("amount").alias("stored_amount"),
    )


def _applied(core: CoreFrames) -> pl.LazyFrame:
    """Per allocated item (``item_type``, ``document_id``): ``applied`` (Σ allocated, stored
    document amounts, reversals negative) and ``last_allocation_date``, counting both the
    allocations of which it is the target and those of which it is the source."""
    allocations = core["allocation"].lazy()
    kinds = core["payment"].lazy().select(pl.col("id").alias("target_payment_id"),
                                          pl.col("kind").alias("target_kind"))
    targets = allocations.join(kinds, on="target_payment_id", how="left").select(
        pl.when(pl.col("target_invoice_id").is_not_null()).then(pl.lit(INVOICE))
        .otherwise(pl.col("target_kind")).alias("item_type"),
        pl.coalesce("target_invoice_id", "target_payment_id").alias("document_id"),
        "amount", "allocation_date")
    sources = allocations.select(
        pl.when(pl.col("source_payment_id").is_not_null()).then(pl.lit(PAYMENT))
        .otherwise(pl.lit(CREDIT_NOTE)).alias("item_type"),
        pl.coalesce("source_payment_id", "source_credit_note_id").alias("document_id"),
        "amount", "allocation_date")
    return pl.concat([targets, sources]).group_by("item_type", "document_id").agg(
        pl.col("amount").sum().alias("applied"),
        pl.col("allocation_date").max().alias("last_allocation_date"))


def _items(core: CoreFrames, base: str, factor: pl.Expr) -> pl.LazyFrame:
    """Every receivable document with the ``_ITEM_COLUMNS``."""
    return pl.concat([source(core, base, factor).select(_ITEM_COLUMNS)
                      for source in (_invoices, _credit_notes, _payments)],
                     how="vertical_relaxed")


def _settlements(core: CoreFrames, base: str, factor: pl.Expr) -> pl.LazyFrame:
    """Per item (``item_type``, ``document_id``): ``settled_date_key``, the date of its
    latest allocation when its allocations add up to its amount, -1 otherwise (module
    docstring)."""
    return _items(core, base, factor).join(
        _applied(core), on=["item_type", "document_id"], how="left").select(
        "item_type", "document_id",
        pl.when(pl.col("applied") == pl.col("stored_amount"))
        .then(date_key("last_allocation_date")).otherwise(UNKNOWN_KEY)
        .alias("settled_date_key"))


def _invoice_attribution(core: CoreFrames, dims: dict[str, pl.DataFrame]) -> pl.LazyFrame:
    """Per posted invoice: the ``rep_key``, ``channel_key`` and ``region_key`` of its sales
    lines (``etl.facts.sales_line.attributed``)."""
    invoices = core["invoice"].lazy().filter(pl.col("status") == POSTED).select(
        pl.col("id").alias("document_id"), "order_id", "customer_id",
        pl.col("invoice_date").alias("posting_date"), pl.lit(None, pl.Int64).alias("product_id"))
    return attributed(invoices, core, dims).select(
        pl.lit(INVOICE).alias("item_type"), "document_id", "rep_key", "channel_key",
        "region_key")


def build_items(core: CoreFrames, dims: dict[str, pl.DataFrame],
                base_currency: str) -> pl.DataFrame:
    """``fct_ar_item``: one row per posted invoice (+), posted credit note (−), receipt (−),
    refund or reversal (+), from the extracted core tables (``CORE_TABLES``) and the
    dimensions (``DIMENSIONS``); base amounts in minor units of ``base_currency``. Rows
    sorted by document date, item type and document id."""
    factor = _factor(_currencies([core["invoice"]["currency"], core["credit_note"]["currency"],
                                  core["payment"]["currency"]]))
    items = _items(core, base_currency, factor)
    frame = version_at(
        items, dims["dim_customer"], customer_id="customer_id", on="document_date",
        columns={"customer_key": "customer_key"},
    ).join(_settlements(core, base_currency, factor), on=["item_type", "document_id"],
           how="left").join(
        _invoice_attribution(core, dims), on=["item_type", "document_id"], how="left",
    ).with_columns(
        date_key("document_date").alias("document_date_key"),
        date_key("due_date").alias("due_date_key"),
        date_key("promise_to_pay_date").alias("promise_to_pay_date_key"),
        _rate_decimal("fx_rate").alias("fx_rate"),
        pl.col("rep_key", "channel_key", "region_key").fill_null(UNKNOWN_KEY),
    )
    return (
        conform(frame, fct_ar_item)
        .sort("document_date_key", "item_type", "document_id")
        .collect()
    )


# --- fct_ar_allocation ------------------------------------------------------------------

def build_allocations(core: CoreFrames, dims: dict[str, pl.DataFrame],
                      base_currency: str) -> pl.DataFrame:
    """``fct_ar_allocation``: one row per core allocation row (reversals included, negative),
    from the extracted core tables (``CORE_TABLES``) and ``dim_customer``; base amounts at
    the target's rate in minor units of ``base_currency``. Rows sorted by allocation id."""
    factor = _factor(_currencies([core["invoice"]["currency"], core["credit_note"]["currency"],
                                  core["payment"]["currency"]]))
    invoices = core["invoice"].lazy().select(
        pl.col("id").alias("target_invoice_id"),
        pl.col("customer_id").alias("invoice_customer_id"),
        pl.col("currency").alias("invoice_currency"),
        pl.col("fx_rate").alias("invoice_fx_rate"),
        "invoice_date", "due_date")
    target_payments = core["payment"].lazy().select(
        pl.col("id").alias("target_payment_id"),
        pl.col("kind").alias("target_kind"),
        pl.col("customer_id").alias("payment_customer_id"),
        pl.col("currency").alias("payment_currency"),
        pl.col("fx_rate").alias("payment_fx_rate"))
    source_payments = core["payment"].lazy().select(
        pl.col("id").alias("source_payment_id"), "received_date")
    to_invoice = pl.col("target_invoice_id").is_not_null()
    cash_to_invoice = pl.col("source_payment_id").is_not_null() & to_invoice
    frame = (
        core["allocation"].lazy()
        .join(invoices, on="target_invoice_id", how="left")
        .join(target_payments, on="target_payment_id", how="left")
        .join(source_payments, on="source_payment_id", how="left")
        .with_columns(
            pl.when(pl.col("source_payment_id").is_not_null()).then(pl.lit(PAYMENT))
            .otherwise(pl.lit(CREDIT_NOTE)).alias("source_type"),
            pl.coalesce("source_payment_id", "source_credit_note_id").alias("source_id"),
            pl.when(to_invoice).then(pl.lit(INVOICE)).otherwise(pl.col("target_kind"))
            .alias("target_type"),
            pl.coalesce("target_invoice_id", "target_payment_id").alias("target_id"),
            pl.coalesce("invoice_customer_id", "payment_customer_id").alias("customer_id"),
            pl.coalesce("invoice_currency", "payment_currency").alias("currency"),
            pl.coalesce("invoice_fx_rate", "payment_fx_rate").alias("target_fx_rate"),
            pl.col("id").alias("allocation_id"),
            pl.when(cash_to_invoice).then(_days("received_date", "invoice_date"))
            .alias("days_to_pay"),
            pl.when(cash_to_invoice).then(_days("received_date", "due_date"))
            .alias("days_late"),
        )
        .with_columns(
            _doc_minor("amount", factor).alias("amount_doc_minor"),
            minor_rounded(wide("amount") * pl.col("target_fx_rate"), AMOUNT_SCALE + RATE_SCALE,
                          base_currency).alias("amount_minor"),
        )
    )
    frame = version_at(
        frame, dims["dim_customer"], customer_id="customer_id", on="allocation_date",
        columns={"customer_key": "customer_key"},
    ).with_columns(date_key("allocation_date").alias("allocation_date_key"))
    settlements = _settlements(core, base_currency, factor)
    for side in ("source", "target"):
        frame = frame.join(settlements.rename({
            "item_type": f"{side}_type", "document_id": f"{side}_id",
            "settled_date_key": f"{side}_settled"}), on=[f"{side}_type", f"{side}_id"],
            how="left")
    open_side = (pl.col("source_settled").fill_null(UNKNOWN_KEY) == UNKNOWN_KEY) | (
        pl.col("target_settled").fill_null(UNKNOWN_KEY) == UNKNOWN_KEY)
    frame = frame.with_columns(
        pl.when(open_side).then(UNKNOWN_KEY)
        .otherwise(pl.max_horizontal("source_settled", "target_settled"))
        .alias("settled_date_key"))
    return conform(frame, fct_ar_allocation).sort("allocation_id").collect()
