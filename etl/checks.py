"""Checks a batch must pass before it is published (DESIGN D4).

Structure: dimension keys unique with the unknown member; every fact key resolves; the
type-2 customer dimension has unique (customer_id, valid_from), no overlapping intervals and
exactly one current row per customer. Money: the facts reconcile with the core's own
totals to the cent, computed by SQL on the core (an independent path from the transform)
in the snapshot the run extracted (``core_totals``):
net sales and cost, and freight cost (grand totals every run; per customer and month for
every customer on a full run, for the rebuilt customers on an incremental run), open
invoices and payments (per currency), sales targets (per month). Derived tables: the
pre-aggregated and per-customer tables add up to the facts they summarise, to the cent (every
run, on the merged facts).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

import polars as pl
from sqlalchemy import ColumnElement, Integer, Select, cast, func, select

from core.billing.models import (
    Allocation,
    CreditNote,
    CreditNoteLine,
    DocumentStatus,
    Invoice,
    InvoiceLine,
    Payment,
    PaymentKind,
)
from core.fulfilment.models import Shipment, ShipmentStatus
from core.sales.models import SalesOrder, SalesTarget
from core.types import AMOUNT_SCALE
from etl.extract import CoreReader
from etl.facts.customer_month import COUNTED_ORDER_STATUSES
from etl.facts.open_ar import open_items_now
from etl.increment import Increment, of_customers, of_months
from etl.money import minor_rounded
from etl.schema import UNKNOWN_KEY

DIMENSION_KEYS = {
    "dim_region": "region_key", "dim_channel": "channel_key", "dim_rep": "rep_key",
    "dim_product": "product_key", "dim_location": "location_key",
    "dim_customer": "customer_key",
}
_ATTRIBUTION = {"customer_key": "dim_customer", "rep_key": "dim_rep",
                "channel_key": "dim_channel", "region_key": "dim_region"}
FACT_KEYS = {
    "fct_sales_line": {**_ATTRIBUTION, "product_key": "dim_product", "date_key": "dim_date"},
    "fct_freight_cost": {**_ATTRIBUTION, "product_key": "dim_product", "date_key": "dim_date"},
    "fct_order": {**_ATTRIBUTION, "date_key": "dim_date"},
    "fct_order_line": {**_ATTRIBUTION, "product_key": "dim_product", "date_key": "dim_date"},
    "fct_booking": {**_ATTRIBUTION, "product_key": "dim_product", "date_key": "dim_date"},
    "fct_ar_item": {**_ATTRIBUTION, "document_date_key": "dim_date"},
    "fct_ar_allocation": {"customer_key": "dim_customer", "allocation_date_key": "dim_date"},
    "fct_quote": {"customer_key": "dim_customer", "rep_key": "dim_rep",
                  "quote_date_key": "dim_date"},
    "fct_opportunity_history": {"customer_key": "dim_customer", "rep_key": "dim_rep",
                                "created_date_key": "dim_date"},
    # Months and targets may lie outside dim_date's range: their month keys are not checked.
    "fct_customer_month": {"customer_key": "dim_customer"},
    "fct_target": {"rep_key": "dim_rep"},
    "agg_sales_month": {key: dim for key, dim in _ATTRIBUTION.items() if key != "customer_key"},
}


class CheckFailed(Exception):
    """A batch failed a check; it is not published. The message lists every failure."""


@dataclass(frozen=True)
class CoreTotals:
    """The core's own totals, by SQL in the run's snapshot (``core_totals``), in minor units:
    ``sales`` (customer_id, month_key, net_minor, cost_minor: base currency) and ``freight``
    (customer_id, month_key, freight_cost_minor: base) per customer and month — of the
    customers ``core_totals`` was given, else of all — and their grand totals over every
    customer, ``sales_total`` (net_minor, cost_minor) and ``freight_total``;
    ``receivables`` (measure, currency, amount_minor: document currency) and ``targets``
    (month_key, target_minor: base)."""

    sales: pl.DataFrame
    sales_total: dict[str, int]
    freight: pl.DataFrame
    freight_total: int
    receivables: pl.DataFrame
    targets: pl.DataFrame


def structure_failures(tables: dict[str, pl.DataFrame]) -> list[str]:
    """Key, foreign-key and type-2 problems of a batch."""
    failures = []
    for name, key in DIMENSION_KEYS.items():
        keys = tables[name][key]
        if keys.n_unique() != keys.len():
            failures.append(f"{name}.{key} is not unique")
        if UNKNOWN_KEY not in keys:
            failures.append(f"{name} has no unknown member {UNKNOWN_KEY}")
    for fact, references in FACT_KEYS.items():
        if fact not in tables:
            continue
        unresolved = []  # per key column, the count of its rows that do not resolve
        for column, dim in references.items():
            dim_key = "date_key" if dim == "dim_date" else DIMENSION_KEYS[dim]
            known = tables[dim][dim_key]
            if dim == "dim_date":
                known = pl.concat([known, pl.Series([UNKNOWN_KEY], dtype=known.dtype)])
            unresolved.append((~pl.col(column).is_in(known.implode())).sum().alias(column))
        counts = tables[fact].lazy().select(unresolved).collect().row(0, named=True)
        failures += [f"{fact}.{column}: {missing} rows do not resolve in {references[column]}"
                     for column, missing in counts.items() if missing]
    failures += type2_failures(tables["dim_customer"])
    return failures


def type2_failures(dim: pl.DataFrame) -> list[str]:
    """Unique (customer_id, valid_from), no overlaps, exactly one current row per customer."""
    real = dim.filter(pl.col("customer_key") != UNKNOWN_KEY)
    failures = []
    if real.select("customer_id", "valid_from").is_duplicated().any():
        failures.append("dim_customer: (customer_id, valid_from) is not unique")
    overlaps = (
        real.sort("customer_id", "valid_from")
        .with_columns(pl.col("valid_from").shift(-1).over("customer_id").alias("next_from"))
        .filter(pl.col("next_from").is_not_null() & (pl.col("valid_to") != pl.col("next_from")))
    )
    if overlaps.height:
        failures.append(f"dim_customer: {overlaps.height} versions overlap or leave gaps")
    current = real.group_by("customer_id").agg(pl.col("is_current").sum().alias("n"))
    if current.filter(pl.col("n") != 1).height:
        failures.append("dim_customer: some customers do not have exactly one current row")
    return failures


def core_totals(reader: CoreReader, base_currency: str,
                customers: Collection[int] | None = None) -> CoreTotals:
    """The core's totals the checks compare the batch with (see ``CoreTotals``), read
    through ``reader`` so they see exactly the rows the run extracted; per customer and
    month of ``customers`` only when given (an incremental run's rebuilt customers: their
    rows come by index, and the grand totals by a plain SUM, instead of grouping the whole
    core).

    Net sales and cost: Σ posted invoice line base net and cost − Σ posted credit-note line
    base net and restocked cost, per customer and month of the posting date. Freight cost:
    Σ shipped shipments' freight cost per customer of the order and month of the shipped
    date. Receivables per document currency: ``open_invoices`` (posted invoice totals −
    allocations to them) and ``payments`` (Σ receipts). Targets: Σ per month. Core amounts
    are whole minor units (``core.types.to_minor``), so the grand totals of a full run are
    the sums of its groups.
    """
    scaled = reader.scaled_sum
    month = _month(reader.dialect.name)
    documents = {  # kind → customer, posting date, lines' net, cost, sign, the lines with
        # their document, the document's status
        "invoice": (Invoice.customer_id, Invoice.invoice_date, InvoiceLine.base_net_amount,
                    InvoiceLine.cost_amount, 1,
                    select().select_from(InvoiceLine)
                    .join(Invoice, Invoice.id == InvoiceLine.invoice_id), Invoice.status),
        "credit_note": (CreditNote.customer_id, CreditNote.credit_date,
                        CreditNoteLine.base_net_amount, CreditNoteLine.cost_amount, -1,
                        select().select_from(CreditNoteLine)
                        .join(CreditNote, CreditNote.id == CreditNoteLine.credit_note_id),
                        CreditNote.status),
    }
    shipped = select().select_from(Shipment).where(Shipment.status == ShipmentStatus.SHIPPED,
                                                   Shipment.shipped_date.is_not(None))

    def grouped(lines: Select[Any], customer: Any, day: Any, *sums: Any) -> Select[Any]:
        keys = (customer.label("customer_id"), month(day).label("month_key"))
        if customers is not None:
            lines = lines.where(customer.in_(sorted(customers)))
        return lines.add_columns(*keys, *sums).group_by(*keys)

    posted = Invoice.status == DocumentStatus.POSTED
    queries: dict[str, Select[Any]] = {
        **{f"sales_{kind}": grouped(lines.where(status == DocumentStatus.POSTED), customer, day,
                                    (sign * scaled(net)).label("net"),
                                    (sign * scaled(cost)).label("cost"))
           for kind, (customer, day, net, cost, sign, lines, status) in documents.items()},
        "freight": grouped(shipped.join(SalesOrder, SalesOrder.id == Shipment.order_id),
                           SalesOrder.customer_id, Shipment.shipped_date,
                           scaled(Shipment.freight_cost).label("freight")),
        "targets": select(month(SalesTarget.month).label("month_key"),
                          scaled(SalesTarget.amount).label("target"))
        .group_by(month(SalesTarget.month)),
        "invoiced": select(Invoice.currency, scaled(Invoice.total_amount).label("amount"))
        .where(posted).group_by(Invoice.currency),
        "applied": select(Invoice.currency, (-scaled(Allocation.amount)).label("amount"))
        .join(Invoice, Invoice.id == Allocation.target_invoice_id).where(posted)
        .group_by(Invoice.currency),
        "payments": select(Payment.currency, scaled(Payment.amount).label("amount"))
        .where(Payment.kind == PaymentKind.RECEIPT).group_by(Payment.currency),
    }
    if customers is not None:  # grand totals of everyone, by plain sums: every line's,
        # less the lines of documents not posted (few), spares joining every line to its
        # document (10M invoice lines: 1.9 → 0.9 s)
        for kind, (_, _, net, cost, sign, lines, status) in documents.items():
            sums = ((sign * scaled(net)).label("net_minor"),
                    (sign * scaled(cost)).label("cost_minor"))
            queries[f"total_{kind}"] = select(*sums)
            queries[f"unposted_{kind}"] = lines.where(
                status != DocumentStatus.POSTED).add_columns(*sums)
        queries["total_freight"] = shipped.add_columns(
            scaled(Shipment.freight_cost).label("freight_cost_minor"))
    # One after another: beside the extract, concurrent queries only starve it (2 cores).
    read = {name: reader.query(statement) for name, statement in queries.items()}
    sales = _by_month(pl.concat([read[f"sales_{kind}"] for kind in documents]),
                      ["customer_id", "month_key"], {"net": "net_minor", "cost": "cost_minor"},
                      base_currency)
    freight = _by_month(read["freight"], ["customer_id", "month_key"],
                        {"freight": "freight_cost_minor"}, base_currency)
    if customers is None:
        sales_total = {c: int(sales[c].sum()) for c in ("net_minor", "cost_minor")}
        freight_total = int(freight["freight_cost_minor"].sum())
    else:
        sales_total = _total(pl.concat(
            [read[f"total_{kind}"] for kind in documents]
            + [read[f"unposted_{kind}"].select(-pl.all()) for kind in documents]),
            base_currency)
        freight_total = _total(read["total_freight"], base_currency)["freight_cost_minor"]
    open_invoices = pl.concat([read["invoiced"], read["applied"]]).with_columns(
        pl.lit("open_invoices").alias("measure"))
    payments = read["payments"].with_columns(pl.lit("payments").alias("measure"))
    return CoreTotals(
        sales=sales, sales_total=sales_total, freight=freight, freight_total=freight_total,
        receivables=_per_currency(pl.concat([open_invoices, payments], how="diagonal")),
        targets=_by_month(read["targets"], ["month_key"], {"target": "target_minor"},
                          base_currency),
    )


def _total(frame: pl.DataFrame, currency: str) -> dict[str, int]:
    """Each column's scaled sum (nulls: SUM of no rows) in minor units of ``currency``."""
    return frame.select(
        minor_rounded(pl.col(c).sum(), AMOUNT_SCALE, currency) for c in frame.columns
    ).fill_null(0).row(0, named=True)


def _month(dialect: str) -> Callable[[Any], ColumnElement[Any]]:
    """The SQL of a date column's YYYYMM as an integer."""
    if dialect == "sqlite":
        return lambda column: cast(func.strftime("%Y%m", column), Integer)
    return lambda column: cast(func.to_char(column, "YYYYMM"), Integer)


def _by_month(frame: pl.DataFrame, keys: list[str], measures: dict[str, str],
              currency: str) -> pl.DataFrame:
    """Scaled sums per ``keys`` rounded half-up to minor units of ``currency`` (as
    ``core.types.to_minor``), renamed per ``measures``."""
    return frame.group_by(keys).agg(
        minor_rounded(pl.col(scaled).sum(), AMOUNT_SCALE, currency).alias(name)
        for scaled, name in measures.items())


def _per_currency(frame: pl.DataFrame) -> pl.DataFrame:
    """(measure, currency, scaled amount) rows → Σ per measure and currency in the
    currency's minor units."""
    summed = frame.group_by("measure", "currency").agg(pl.col("amount").sum())
    return pl.concat([
        group.with_columns(minor_rounded(pl.col("amount"), AMOUNT_SCALE, currency)
                           .alias("amount_minor")).drop("amount")
        for (currency,), group in summed.group_by("currency")
    ]) if summed.height else summed.rename({"amount": "amount_minor"})


def receivable_failures(items: pl.DataFrame, allocations: pl.DataFrame,
                        core: CoreTotals) -> list[str]:
    """Open invoices and payments in the AR facts equal the core's, per currency."""
    invoices = items.lazy().filter(pl.col("item_type") == "invoice")
    applied = allocations.lazy().filter(pl.col("target_type") == "invoice").join(
        invoices.select(pl.col("document_id").alias("target_id"), "currency"),
        on="target_id")
    mart = pl.concat([
        invoices.select("currency", pl.col("amount_doc_minor").alias("amount_minor"),
                        measure=pl.lit("open_invoices")),
        applied.select("currency", -pl.col("amount_doc_minor").alias("amount_minor"),
                       measure=pl.lit("open_invoices")),
        items.lazy().filter(pl.col("item_type") == "payment").select(  # receipts: negative
            "currency", -pl.col("amount_doc_minor").alias("amount_minor"),
            measure=pl.lit("payments")),
    ]).group_by("measure", "currency").agg(pl.col("amount_minor").sum()).collect()
    compared = mart.join(core.receivables, on=["measure", "currency"], how="full",
                         coalesce=True, suffix="_core").fill_null(0).sort("measure", "currency")
    return [f"{measure} in {currency}: mart {ours} ≠ core {theirs} (minor units)"
            for measure, currency, ours, theirs in compared.select(
                "measure", "currency", "amount_minor", "amount_minor_core").iter_rows()
            if ours != theirs]


def reconciliation_failures(sales: pl.DataFrame, core: CoreTotals, *,
                            customers: Collection[int] | None) -> list[str]:
    """Documents' net and cost in ``fct_sales_line`` equal the core's, to the cent: the
    grand totals, then per customer and month — of every customer when ``customers`` is
    ``None`` (full runs), else of those customers (the ones an incremental run rebuilt,
    so every month it touched).

    RMA cost events (net 0, no document line in the core totals) are left out of the cost
    comparison; their own test covers them.
    """
    documents = sales.lazy().filter(pl.col("source_type").is_in(["invoice", "credit_note"]))
    sums = documents.select(pl.col("net_minor", "cost_minor").sum()).collect().row(
        0, named=True)
    failures = []
    for what, column in (("net sales", "net_minor"), ("cost of sales", "cost_minor")):
        ours, theirs = int(sums[column]), core.sales_total[column]
        if ours != theirs:
            failures.append(f"{what}: mart {ours} ≠ core {theirs} (minor units)")
    if failures:
        return failures
    return _customer_month_failures("net sales and cost", documents, core.sales, customers)


def freight_cost_failures(freight: pl.DataFrame, core: CoreTotals, *,
                          customers: Collection[int] | None) -> list[str]:
    """``fct_freight_cost`` equals the core's shipments' freight cost to the cent: the grand
    total, then per customer and month (of ``customers`` only, unless ``None``), as
    ``reconciliation_failures``."""
    ours = int(freight["freight_cost_minor"].sum())
    theirs = core.freight_total
    if ours != theirs:
        return [f"freight cost: mart {ours} ≠ core {theirs} (minor units)"]
    return _customer_month_failures("freight cost", freight, core.freight, customers)


def _customer_month_failures(what: str, facts: pl.DataFrame | pl.LazyFrame, core: pl.DataFrame,
                             customers: Collection[int] | None) -> list[str]:
    """(customer_id, month_key) groups — of ``customers`` only, unless ``None`` — whose
    sums of ``core``'s measure columns differ between ``facts`` and ``core`` (a group
    missing on one side counts as zeros)."""
    keys = ["customer_id", "month_key"]
    measures = [c for c in core.columns if c not in keys]
    mine = pl.lit(True) if customers is None else pl.col("customer_id").is_in(
        pl.Series(sorted(customers), dtype=pl.Int64).implode())
    ours = facts.lazy().with_columns(pl.col(keys).cast(pl.Int64)).filter(mine).group_by(
        keys).agg(pl.col(measures).sum())
    wrong = ours.join(core.lazy().filter(mine), on=keys, how="full", coalesce=True,
                      suffix="_core").filter(pl.any_horizontal(
                          pl.col(m).fill_null(0) != pl.col(f"{m}_core").fill_null(0)
                          for m in measures)).select(keys).sort(keys).collect()
    return [f"{what}: {wrong.height} customer-months differ, e.g. {wrong.head(3).rows()}"] \
        if wrong.height else []


def target_failures(targets: pl.DataFrame, core: CoreTotals) -> list[str]:
    """``fct_target`` equals the core's targets per month."""
    ours = targets.group_by("month_key").agg(pl.col("target_minor").sum())
    wrong = ours.join(core.targets, on="month_key", how="full", coalesce=True,
                      suffix="_core").filter(
        pl.col("target_minor").fill_null(0) != pl.col("target_minor_core").fill_null(0),
    ).sort("month_key")["month_key"].to_list()
    return [f"targets: {len(wrong)} month(s) differ from the core, e.g. {wrong[:3]}"] if wrong \
        else []


def _sum_failures(name: str, derived: pl.LazyFrame, facts: pl.LazyFrame,
                  by: list[str]) -> list[str]:
    """Groups ``by`` whose sums in ``derived`` differ from those in ``facts`` (same columns;
    a group missing on one side counts as zeros)."""
    measures = [c for c in facts.collect_schema().names() if c not in by]
    joined = derived.join(facts, on=by, how="full", coalesce=True, suffix="_facts")
    wrong = joined.filter(pl.any_horizontal(
        pl.col(m).fill_null(0) != pl.col(f"{m}_facts").fill_null(0) for m in measures
    )).select(by).sort(by).collect()
    if wrong.is_empty():
        return []
    return [f"{name}: {wrong.height} group(s) ({', '.join(by)}) differ from the facts, "
            f"e.g. {wrong.head(3).rows()}"]


def derived_failures(tables: dict[str, pl.DataFrame],
                     increment: Increment | None = None) -> list[str]:
    """``agg_sales_month`` per month and ``fct_customer_month`` per customer and month add
    up to ``fct_sales_line``, ``fct_freight_cost``, ``fct_order`` (counted orders) and
    ``fct_ar_allocation`` (cash applied to invoices). With an ``increment`` (whose builders
    kept the published rows of the rest) the months and customers it recomputed, and both
    tables' grand totals."""
    line_sums = [pl.col("net_minor").sum(), pl.col("cost_minor").sum(),
                 pl.col("freight_charged_minor").sum()]
    # Σ net_minor of the lines = net sales − settlement discounts − bad debt.
    net = (pl.col("net_sales_minor") - pl.col("settlement_discount_minor")
           - pl.col("bad_debt_minor")).sum().alias("net_minor")
    derived_sums = [net, pl.col("cost_minor").sum(), pl.col("freight_charged_minor").sum(),
                    pl.col("freight_cost_minor").sum()]
    cube_sums = [pl.col("discount_minor").sum(), pl.col("quantity").sum()]
    everything = pl.lit(True)
    months = customers = everything
    if increment is not None:
        months = of_months(increment.months)
        customers = of_customers(increment.customers)

    def facts_by(keys: list[str], rows: pl.Expr, *sums: pl.Expr) -> pl.LazyFrame:
        return _grouped(tables["fct_sales_line"], keys, rows, *line_sums, *sums).join(
            _grouped(tables["fct_freight_cost"], keys, rows,
                     pl.col("freight_cost_minor").sum()),
            on=keys, how="full", coalesce=True)

    def cube_by(keys: list[str], rows: pl.Expr) -> list[str]:
        return _sum_failures(
            "agg_sales_month",
            _grouped(tables["agg_sales_month"], keys, rows, *derived_sums, *cube_sums,
                     pl.col("line_count").sum()),
            facts_by(keys, rows, *cube_sums, pl.len().alias("line_count")), keys)

    customer_month = ["customer_id", "month_key"]
    counted = tables["fct_order"].lazy().filter(pl.col("status").is_in(COUNTED_ORDER_STATUSES))
    cash = tables["fct_ar_allocation"].lazy().filter(pl.col("days_late").is_not_null()
                                                     ).with_columns(
        (pl.col("allocation_date_key") // 100).alias("month_key"))

    def customers_by(keys: list[str], rows: pl.Expr) -> list[str]:
        facts = (facts_by(keys, rows)
                 .join(_grouped(counted, keys, rows, pl.len().alias("orders")), on=keys,
                       how="full", coalesce=True)
                 .join(_grouped(cash, keys, rows, pl.col("amount_minor").sum().alias("cash")),
                       on=keys, how="full", coalesce=True))
        derived = _grouped(tables["fct_customer_month"], keys, rows, *derived_sums,
                           pl.col("order_count").sum().alias("orders"),
                           pl.col("cash_applied_minor").sum().alias("cash"))
        return _sum_failures("fct_customer_month", derived, facts, keys)

    failures = cube_by(["month_key"], months) + customers_by(customer_month, customers)
    if increment is not None:
        failures += cube_by([_ALL], everything) + customers_by([_ALL], everything)
    return failures


_ALL = "all_rows"  # the one group of a grand total


def _grouped(frame: pl.DataFrame | pl.LazyFrame, keys: list[str], rows: pl.Expr,
             *sums: pl.Expr) -> pl.LazyFrame:
    """Sums of ``frame``'s ``rows`` by ``keys`` (``[_ALL]``: one group of every row)."""
    selected = frame.lazy().filter(rows)
    if keys == [_ALL]:
        selected = selected.with_columns(pl.lit(1).alias(_ALL))
    return selected.group_by(keys).agg(*sums)


def forecast_failures(tables: dict[str, pl.DataFrame]) -> list[str]:
    """The cash forecast (``etl.facts.cash_forecast``, ``forecast_backtest``): its items are
    exactly the open invoices and the backlog of orders on credit (Σ per kind, against the
    AR and order-line facts); no more is expected over the horizon, nor received in any
    simulation, than they amount to; the per-customer table adds up to the weekly one to
    the cent; every week has P10 ≤ P50 ≤ P90."""
    failures = []
    items = tables["fct_cash_forecast_item"]
    amounts = dict(items.group_by("item_type").agg(pl.col("amount_minor").sum()).iter_rows())
    open_now = int(open_items_now(
        tables["fct_ar_item"].filter(pl.col("item_type") == "invoice"),
        tables["fct_ar_allocation"]).filter(pl.col("open_doc_minor") > 0).select(
        pl.col("open_minor").sum()).collect().item())
    cash_orders = tables["fct_order"].filter(pl.col("is_cash_sale"))["order_id"]
    backlog = tables["fct_order_line"].filter(
        (pl.col("backlog_minor") > 0) & ~pl.col("order_id").is_in(cash_orders.implode()))
    for kind, facts in (("invoice", open_now),
                        ("backlog", int(backlog["backlog_minor"].sum()))):
        if amounts.get(kind, 0) != facts:
            failures.append(f"cash forecast: {kind} items {amounts.get(kind, 0)} ≠ facts "
                            f"{facts} (minor units)")
    total = int(items["amount_minor"].sum())
    weeks = tables["fct_cash_forecast_week"].sort("week_no")
    expected = int(weeks["expected_minor"].sum())
    if expected > total:
        failures.append(f"cash forecast: {expected} expected over the horizon > open "
                        f"invoices + backlog {total} (minor units)")
    sims = tables["fct_cash_forecast_sim"]
    week_columns = [c for c in sims.columns if c.startswith("week_")]
    most = sims.group_by("sim_no").agg(pl.sum_horizontal(week_columns).sum().alias("all"))
    if most.height and most.filter(pl.col("all") > total).height:
        failures.append("cash forecast: a simulation receives more than the items amount to")
    by_customer = tables["fct_cash_forecast"].group_by("week_no").agg(
        pl.col("expected_minor").sum(), pl.col("naive_minor").sum())
    joined = weeks.join(by_customer, on="week_no", how="left", suffix="_customers").fill_null(0)
    if joined.filter(pl.col("naive_minor") != pl.col("naive_minor_customers")).height:
        failures.append("cash forecast: naive receipts by customer do not add up to the weeks")
    if joined.filter(pl.col("expected_minor") != pl.col("expected_minor_customers")).height:
        failures.append("cash forecast: expected receipts by customer do not add up to the "
                        "weeks")
    for name in ("fct_cash_forecast_week", "fct_forecast_backtest"):
        bands = tables[name]
        if bands.filter((pl.col("p10_minor") > pl.col("p50_minor"))
                        | (pl.col("p50_minor") > pl.col("p90_minor"))).height:
            failures.append(f"{name}: some week has not P10 ≤ P50 ≤ P90")
    return failures
