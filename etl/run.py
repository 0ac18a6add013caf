"""One ETL run: extract → dimensions and facts → checks → publish, as one batch.

Every run currently rebuilds the whole mart (``mode`` is recorded as asked); incremental
runs from the audit-log watermark are the next step (see issue 4). A failed run is logged
as failed and leaves the published batch exactly as it was.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import polars as pl
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from core.audit import AuditLog
from core.company.models import CompanySettings
from core.company.services import company_today
from etl import dims
from etl.checks import (
    CheckFailed,
    core_receivables,
    core_sales_totals,
    core_targets,
    derived_failures,
    receivable_failures,
    reconciliation_failures,
    structure_failures,
    target_failures,
)
from etl.dims import build_dimensions
from etl.extract import extract, merge_columns, merge_row_filters
from etl.facts import (
    ar,
    bookings,
    customer_month,
    opportunity_history,
    orders,
    quotes,
    sales_line,
    sales_month,
    targets,
)
from etl.publish import MartTarget, ensure_mart, fail_run, new_batch_id, publish, start_run

log = logging.getLogger(__name__)
Progress = Callable[[str], None]

# What the run reads itself (``_date_range``); the builders declare the rest.
RUN_COLUMNS: dict[str, tuple[str, ...]] = {
    "invoice": ("invoice_date",), "sales_order": ("order_date",), "credit_note": ("credit_date",)}
_BUILDERS = (dims, sales_line, orders, bookings, ar, quotes, opportunity_history, targets,
             customer_month, sales_month)
# Core table → the union of the columns the run and the builders read; only those are
# extracted, and of a table every reader filters (audit_log), only the rows they use.
CORE_COLUMNS = dict(sorted(merge_columns(
    RUN_COLUMNS, *(builder.CORE_COLUMNS for builder in _BUILDERS)).items()))
CORE_TABLES = tuple(CORE_COLUMNS)
ROW_FILTERS = merge_row_filters(
    [(RUN_COLUMNS, {})]
    + [(builder.CORE_COLUMNS, getattr(builder, "ROW_FILTERS", {})) for builder in _BUILDERS])


@dataclass(frozen=True)
class RunResult:
    """What a published run produced."""

    batch_id: str
    watermark_seq: int
    rows: dict[str, int]


def _date_range(frames: dict[str, pl.DataFrame]) -> tuple[date, date]:
    dates = [frames["invoice"]["invoice_date"], frames["sales_order"]["order_date"],
             frames["credit_note"]["credit_date"]]
    known = [d.min() for d in dates if d.len() and d.min() is not None]
    start = min(known, default=date.today())  # type: ignore[type-var]
    return date(start.year, 1, 1), date(date.today().year + 1, 12, 31)  # type: ignore[union-attr]


def run_etl(core_engine: Engine, target: MartTarget, *, full: bool = True,
            progress: Progress | None = None) -> RunResult:
    """Build and publish one batch; raise ``CheckFailed`` (nothing published) on bad data."""
    step = progress or (lambda _stage: None)
    ensure_mart(target)
    batch_id = new_batch_id()
    start_run(target, batch_id, "full" if full else "incremental")
    try:
        with Session(core_engine) as session:
            watermark = session.scalar(select(func.coalesce(func.max(AuditLog.seq), 0))) or 0
            settings = session.get_one(CompanySettings, 1)
            base_currency, fiscal_start = settings.base_currency, settings.fiscal_year_start_month
            timezone = settings.timezone
            today = company_today(session)
        step("extract")
        core = extract(core_engine, CORE_COLUMNS, ROW_FILTERS)
        start, end = _date_range(core.frames)
        step("dimensions")
        tables = build_dimensions(core, start=start, end=end,
                                  fiscal_year_start_month=fiscal_start, timezone=timezone)
        step("facts")
        tables["fct_sales_line"] = sales_line.build(core, tables, base_currency)
        tables["fct_order"] = orders.build_orders(core, tables, base_currency)
        tables["fct_order_line"] = orders.build_order_lines(core, tables, base_currency)
        tables["fct_booking"] = bookings.build(core, tables, base_currency)
        tables["fct_ar_item"] = ar.build_items(core, tables, base_currency)
        tables["fct_ar_allocation"] = ar.build_allocations(core, tables, base_currency)
        tables["fct_quote"] = quotes.build(core, tables, base_currency)
        tables["fct_opportunity_history"] = opportunity_history.build(
            core, tables, base_currency, timezone=timezone)
        tables["fct_target"] = targets.build(core, tables, base_currency)
        tables["fct_customer_month"] = customer_month.build(core, tables, base_currency,
                                                            today=today)
        tables["agg_sales_month"] = sales_month.build(core, tables, base_currency)
        step("checks")
        failures = structure_failures(tables) + reconciliation_failures(
            tables["fct_sales_line"], core_sales_totals(core_engine, base_currency),
            per_month=full) + receivable_failures(
            tables["fct_ar_item"], tables["fct_ar_allocation"], core_receivables(core_engine))
        failures += derived_failures(tables)
        failures += target_failures(tables["fct_target"], core_targets(core_engine, base_currency))
        if failures:
            raise CheckFailed("; ".join(failures))
        publish(target, batch_id, tables, watermark, progress=step)
    except Exception as exc:
        fail_run(target, batch_id, f"{type(exc).__name__}: {exc}")
        raise
    rows = {name: frame.height for name, frame in tables.items()}
    log.info("published batch %s (watermark %s): %s", batch_id, watermark, rows)
    return RunResult(batch_id, watermark, rows)



