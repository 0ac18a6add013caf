"""Receivables: ``fct_ar_item`` and ``fct_ar_allocation``, and open AR as of any date.

``fct_ar_item`` — one row per receivable document, signed from the customer's side
(+ the customer owes, − credit in its favour), ``document_id`` the id in its core table:

- ``invoice``: a posted invoice, + total (incl. tax and freight); base = + its base total
  fixed at posting; due date, dispute flag, promise-to-pay date and cash-sale flag.
- ``credit_note``: a posted credit note, − total; base = − its base total.
- ``payment``: a receipt, − amount; base = − its base amount (at the receipt's own rate).
- ``refund`` / ``reversal``: a payment of customer credit back out, + amount; base + its
  base amount.

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

Both facts: ``amount_doc_minor`` in minor units of the row's own currency (each row's
currency digits: JPY 0, USD 2, KWD 3); ``*_minor`` in base-currency minor units;
``customer_key`` is the ``dim_customer`` version valid at the document date (items) or at
the allocation date (allocations), ``-1`` when there is none.

AR as of D (``open_items``/``open_ar_by_customer``): a document's open amount is its amount
minus the allocations dated ≤ D of which it is the target (an invoice, refund or reversal)
plus those of which it is the source (a receipt or credit note, whose amounts are
negative). Σ open amounts per customer = open invoices − unapplied cash − open credits, as
``core.billing.balances.customer_balance``; it also equals the statement balance
(``core.billing.statements.balance``), because every allocation takes from one document
what it gives to another. In base currency each open amount is converted at its own
document's rate (the invoice's for an invoice, the receipt's for unapplied cash).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal

import polars as pl

from core.types import AMOUNT_SCALE, RATE_SCALE, currency_digits
from etl.conform import conform, polars_schema
from etl.dims.dim_customer import version_at
from etl.extract import CoreFrames
from etl.keys import date_key
from etl.money import minor, minor_rounded, wide
from etl.schema import fct_ar_allocation, fct_ar_item

ITEM_SCHEMA = polars_schema(fct_ar_item)
ALLOCATION_SCHEMA = polars_schema(fct_ar_allocation)
# The core tables and columns ``build_items`` and ``build_allocations`` read.
CORE_COLUMNS: dict[str, tuple[str, ...]] = {
    "invoice": ("id", "number", "customer_id", "status", "invoice_date", "due_date",
                "currency", "fx_rate", "total_amount", "base_total_amount", "is_disputed",
                "is_cash_sale", "promise_to_pay_date", "posted_at"),
    "credit_note": ("id", "number", "customer_id", "status", "credit_date", "currency",
                    "fx_rate", "total_amount", "base_total_amount", "posted_at"),
    "payment": ("id", "number", "customer_id", "kind", "received_date", "amount", "currency",
                "fx_rate", "base_amount", "posted_at"),
    "allocation": ("id", "source_payment_id", "source_credit_note_id", "target_invoice_id",
                   "target_payment_id", "amount", "allocation_date", "reversal_of_id",
                   "created_at"),
}
CORE_TABLES = tuple(CORE_COLUMNS)
DIMENSIONS = ("dim_customer",)

INVOICE = "invoice"
CREDIT_NOTE = "credit_note"
PAYMENT = "payment"  # a receipt (item_type and source_type)
RECEIPT = "receipt"  # core.billing.models.PaymentKind
DEBITS = (INVOICE, "refund", "reversal")
POSTED = "posted"

_ITEM_COLUMNS = ("item_type", "document_id", "document_number", "customer_id",
                 "document_date", "due_date", "posted_at", "currency", "fx_rate",
                 "amount_doc_minor", "amount_minor", "is_disputed", "is_cash_sale",
                 "promise_to_pay_date")


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
    )


def build_items(core: CoreFrames, dims: dict[str, pl.DataFrame],
                base_currency: str) -> pl.DataFrame:
    """``fct_ar_item``: one row per posted invoice (+), posted credit note (−), receipt (−),
    refund or reversal (+), from the extracted core tables (``CORE_TABLES``) and
    ``dim_customer``; base amounts in minor units of ``base_currency``. Rows sorted by
    document date, item type and document id."""
    factor = _factor(_currencies([core["invoice"]["currency"], core["credit_note"]["currency"],
                                  core["payment"]["currency"]]))
    items = pl.concat([
        source(core, base_currency, factor).select(_ITEM_COLUMNS)
        for source in (_invoices, _credit_notes, _payments)
    ], how="vertical_relaxed")
    frame = version_at(
        items, dims["dim_customer"], customer_id="customer_id", on="document_date",
        columns={"customer_key": "customer_key"},
    ).with_columns(
        date_key("document_date").alias("document_date_key"),
        date_key("due_date").alias("due_date_key"),
        date_key("promise_to_pay_date").alias("promise_to_pay_date_key"),
        _rate_decimal("fx_rate").alias("fx_rate"),
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
    factor = _factor(_currencies([core["invoice"]["currency"], core["payment"]["currency"]]))
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
    return conform(frame, fct_ar_allocation).sort("allocation_id").collect()


# --- AR as of a date --------------------------------------------------------------------

def _as_of_filter(date_column: str, stamp_column: str, as_of: date | None,
                  known_by: datetime | None) -> pl.Expr:
    """Dated on or before ``as_of`` (a YYYYMMDD key column) and recorded before
    ``known_by`` (KPIS "as of D": posted before the end of D)."""
    condition = pl.lit(True)
    if as_of is not None:
        key = as_of.year * 10_000 + as_of.month * 100 + as_of.day
        condition &= pl.col(date_column) <= key
    if known_by is not None:
        condition &= pl.col(stamp_column) < known_by
    return condition


def _scaled_half_up(value: pl.Expr, numerator: pl.Expr, denominator: pl.Expr) -> pl.Expr:
    """round half-up (away from zero) of value × numerator / denominator, in Int128 (the
    product of two amounts in minor units can pass Int64)."""
    product = value.cast(pl.Int128) * numerator.cast(pl.Int128)
    den = denominator.cast(pl.Int128)
    magnitude = (product.abs() * 2 + den.abs()) // (den.abs() * 2)
    return (magnitude * product.sign() * den.sign()).cast(pl.Int64)


def open_items(items: pl.DataFrame | pl.LazyFrame, allocations: pl.DataFrame | pl.LazyFrame,
               as_of: date | None = None, known_by: datetime | None = None) -> pl.DataFrame:
    """The ``fct_ar_item`` rows dated ≤ ``as_of`` (and posted before ``known_by``) plus
    ``open_doc_minor`` and ``open_minor``: each document's open amount, counting the
    allocations dated ≤ ``as_of`` (and created before ``known_by``). ``None``: no limit.

    Signed like the items (debits +, receipts and credit notes −). ``open_minor`` converts
    the open amount at the document's own rate, as fixed in its stored base amount:
    base × open / amount, rounded half-up — the stored base while nothing is applied, 0
    once closed. So an invoice's open amount is converted at the invoice's rate and
    unapplied cash at the receipt's (KPIS: FX differences are never AR). Sorted by
    customer, document date, item type and document id.
    """
    return _open_items(items, allocations, as_of, known_by).sort(
        "customer_id", "document_date_key", "item_type", "document_id").collect()


def _open_items(items: pl.DataFrame | pl.LazyFrame, allocations: pl.DataFrame | pl.LazyFrame,
                as_of: date | None, known_by: datetime | None) -> pl.LazyFrame:
    items = items.lazy().filter(_as_of_filter("document_date_key", "posted_at", as_of,
                                              known_by))
    applied = allocations.lazy().filter(_as_of_filter("allocation_date_key", "created_at",
                                                      as_of, known_by))
    # A target (debit) is reduced by what is applied to it; a source (credit) is used up
    # by what it applies. Allocations of documents outside the selection drop out.
    to_target = applied.group_by("target_type", "target_id").agg(
        pl.col("amount_doc_minor").sum().alias("applied_to")
    ).rename({"target_type": "item_type", "target_id": "document_id"})
    from_source = applied.group_by("source_type", "source_id").agg(
        pl.col("amount_doc_minor").sum().alias("applied_from")
    ).rename({"source_type": "item_type", "source_id": "document_id"})
    open_doc = (pl.col("amount_doc_minor") - pl.col("applied_to").fill_null(0)
                + pl.col("applied_from").fill_null(0))
    return (
        items.join(to_target, on=["item_type", "document_id"], how="left")
        .join(from_source, on=["item_type", "document_id"], how="left")
        .with_columns(open_doc.cast(pl.Int64).alias("open_doc_minor"))
        .with_columns(
            pl.when(pl.col("open_doc_minor") == pl.col("amount_doc_minor"))
            .then(pl.col("amount_minor"))
            .otherwise(_scaled_half_up(pl.col("amount_minor"), pl.col("open_doc_minor"),
                                       pl.col("amount_doc_minor")))
            .alias("open_minor"))
        .drop("applied_to", "applied_from")
    )


def open_ar_by_customer(items: pl.DataFrame | pl.LazyFrame,
                        allocations: pl.DataFrame | pl.LazyFrame,
                        as_of: date | None = None,
                        known_by: datetime | None = None) -> pl.DataFrame:
    """Total AR per customer as of ``as_of`` (``None``: everything), counting only what was
    posted / created before ``known_by`` when given (KPIS "as of D": pass the end of D in
    the company time zone as naive UTC, or ``None`` to include later back-dated entries).

    One row per customer (and currency — a customer has one) with a document: in minor
    units of the document currency (``*_doc_minor``) and of the base currency (``*_minor``),
    ``open_invoices`` (invoices, and refunds / reversals not yet covered by credit),
    ``unapplied_cash`` (receipts not applied), ``open_credits`` (credit notes not applied),
    both positive, and ``ar`` = open_invoices − unapplied_cash − open_credits, as
    ``core.billing.balances.CustomerBalance``. Sorted by customer.
    """
    kind = pl.col("item_type")
    parts = {"open_invoices": (kind.is_in(DEBITS), 1),
             "unapplied_cash": (kind == PAYMENT, -1),
             "open_credits": (kind == CREDIT_NOTE, -1)}
    sums = [
        (sign * column.filter(which).sum()).alias(f"{name}{suffix}")
        for suffix, column in (("_doc_minor", pl.col("open_doc_minor")),
                               ("_minor", pl.col("open_minor")))
        for name, (which, sign) in parts.items()
    ]
    totals = [pl.col("open_doc_minor").sum().alias("ar_doc_minor"),
              pl.col("open_minor").sum().alias("ar_minor")]
    return (
        _open_items(items, allocations, as_of, known_by)
        .group_by("customer_id", "currency")
        .agg(*sums, *totals)
        .select("customer_id", "currency",
                *(f"{name}_doc_minor" for name in (*parts, "ar")),
                *(f"{name}_minor" for name in (*parts, "ar")))
        .sort("customer_id", "currency")
        .collect()
    )
