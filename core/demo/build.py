"""``generate_demo``: a deterministic three-year history generated in frames and bulk
loaded into an initialised, empty core database."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import polars as pl
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from core.actor import Role
from core.audit import AuditLog, set_actor
from core.company.models import PaymentTerms, TaxCode
from core.company.services import company_today, get_settings
from core.customers.contact_state import states_of
from core.customers.models import Customer
from core.db import make_session_factory
from core.demo.activity import build_interactions, build_targets
from core.demo.billing import build_ledger
from core.demo.calendar import Calendar
from core.demo.context import DemoContext, NumberSeries
from core.demo.history import audit_frame, customer_history
from core.demo.load import load_frames
from core.demo.master import (
    build_contacts,
    build_customer_prices,
    build_customers,
    build_fx,
    build_locations,
    build_price_lists,
    build_products,
    build_reps,
)
from core.demo.orders import build_orders
from core.demo.pipeline import build_pipeline
from core.errors import DomainError, InvalidInput
from core.numbering import DocumentSequence
from core.types import currency_digits
from core.users.services import create_user

Progress = Callable[[str, int], None]
# Bump when generated data changes meaning, so cached benchmark datasets are rebuilt.
DEMO_FORMAT = 4
DEMO_PASSWORD = "demo"  # noqa: S105 - documented demo logins
# number series and the table whose ids are their numbers
SERIES_TABLES = {"customer": "customer", "opportunity": "opportunity", "quote": "quote",
                 "order": "sales_order", "shipment": "shipment", "invoice": "invoice",
                 "credit_note": "credit_note", "payment": "payment", "rma": "rma"}


@dataclass
class DemoSummary:
    """Rows loaded per table and where the time went (seconds)."""

    rows: dict[str, int]
    seconds: float
    generate_seconds: float
    load_seconds: float
    table_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def invoice_lines(self) -> int:
        return self.rows.get("invoice_line", 0)


def demo_context(engine: Engine, *, customers: int, lines: int, seed: int,
                 end_date: date | None) -> tuple[DemoContext, int]:
    """The generation inputs read from the target database, and the next audit seq.
    Refuses a database that already has customers."""
    if customers < 10 or lines < customers:
        raise InvalidInput("the demo needs at least 10 customers and one line per customer")
    with Session(engine) as session:
        if session.scalar(select(func.count()).select_from(Customer)):
            raise DomainError("the database already has customers; the demo only fills an "
                              "empty database (create a new one or drop this one first)")
        settings = get_settings(session)
        if currency_digits(settings.base_currency) != 2:
            raise DomainError("the demo supports base currencies with 2 decimals only")
        end = end_date or company_today(session)
        terms = {t.code: (t.net_days, t.is_cash) for t in session.scalars(select(PaymentTerms))}
        taxes = {t.code: int(t.rate * 10_000) for t in session.scalars(select(TaxCode))}
        series = {s.doc_type: NumberSeries(s.prefix, s.padding)
                  for s in session.scalars(select(DocumentSequence))}
        next_seq = (session.scalar(select(func.max(AuditLog.seq))) or 0) + 1
    ctx = DemoContext(seed=seed, customers=customers, lines=lines,
                      calendar=Calendar.ending(end), base_currency=settings.base_currency,
                      terms=terms, tax_rates=taxes, series=series)
    return ctx, next_seq


def generate_frames(ctx: DemoContext, first_seq: int = 1,
                    progress: Progress | None = None) -> dict[str, pl.DataFrame]:
    """Every demo table as a frame (see ``core.demo.frames``), keyed by table name."""
    def step(name: str, frame: pl.DataFrame) -> pl.DataFrame:
        if progress:
            progress(f"generated {name}", frame.height)
        return frame

    reps = step("sales_rep", build_reps(ctx))
    products = step("product", build_products(ctx))
    fx_rates, fx = build_fx(ctx)
    price_lists, items = build_price_lists(ctx, products, fx)
    customers = build_customers(ctx, reps)
    locations = build_locations(ctx, customers)
    contacts = build_contacts(ctx, customers)
    deals = build_customer_prices(ctx, customers, items)
    step("customer", customers)
    book = build_orders(ctx, customers, locations, products, items, deals, fx)
    step("sales_order_line", book.lines)
    ledger = build_ledger(ctx, customers, products, book, fx)
    step("invoice_line", ledger.invoice_lines)
    pipeline = build_pipeline(ctx, customers, products, items, book)
    step("quote", pipeline.quotes)
    orders = book.orders.with_columns(
        pl.Series("quote_id", pipeline.order_quote_id).replace(0, None))
    orders_per_customer = np.bincount(orders["_cust"].to_numpy(), minlength=customers.height)
    interactions = build_interactions(ctx, customers, contacts, orders_per_customer,
                                      ledger.invoices)
    targets = build_targets(ctx, reps, ledger.invoice_lines, ledger.invoices, orders)
    customers = customers.with_columns(
        pl.when(pl.col("id").is_in(pl.Series(ledger.written_off_customers).implode()))
        .then(pl.lit("written_off")).otherwise(pl.col("billing_status"))
        .alias("billing_status"))
    audit = audit_frame([book.history, ledger.history, pipeline.history,
                         customer_history(customers)], first_seq)
    step("audit_log", audit)
    return {
        "fx_rate": fx_rates,
        "sales_rep": reps,
        "product": products,
        "price_list": price_lists,
        "price_list_item": items,
        "customer": customers,
        "customer_location": locations,
        "contact": contacts,
        "customer_price": deals,
        "interaction": interactions,
        "customer_contact_state": states_of(interactions),
        "opportunity": pipeline.opportunities,
        "quote": pipeline.quotes,
        "quote_line": pipeline.quote_lines,
        "sales_order": orders,
        "sales_order_line": book.lines,
        "sales_target": targets,
        "shipment": pl.concat([book.shipments.select(ledger.replacement_shipments.columns),
                               ledger.replacement_shipments], how="vertical_relaxed"),
        "shipment_line": pl.concat([book.shipment_lines.select(
            ledger.replacement_lines.columns), ledger.replacement_lines],
            how="vertical_relaxed"),
        "invoice": ledger.invoices,
        "invoice_line": ledger.invoice_lines,
        "rma": ledger.rmas,
        "rma_line": ledger.rma_lines,
        "credit_note": ledger.credit_notes,
        "credit_note_line": ledger.credit_note_lines,
        "payment": ledger.payments,
        "allocation": ledger.allocations,
        "audit_log": audit,
    }


def generate_demo(engine: Engine, *, customers: int, lines: int, seed: int,
                  end_date: date | None = None,
                  progress: Progress | None = None) -> DemoSummary:
    """Fill an initialised, empty database with a three-year demo history ending on
    ``end_date`` (default: today in the company time zone).

    ``lines`` is the approximate number of invoice lines (within a few per cent); the same
    arguments always produce the same data. Also creates the demo logins ``rep``,
    ``manager``, ``finance``, ``exec`` and ``admin`` (password ``demo``) and moves every
    number series past the numbers issued.
    """
    t0 = time.perf_counter()
    ctx, first_seq = demo_context(engine, customers=customers, lines=lines, seed=seed,
                                  end_date=end_date)
    frames = generate_frames(ctx, first_seq, progress)
    t1 = time.perf_counter()
    table_seconds = load_frames(engine, frames, progress)
    _finish(engine, frames)
    t2 = time.perf_counter()
    return DemoSummary(rows={name: f.height for name, f in frames.items()},
                       seconds=t2 - t0, generate_seconds=t1 - t0, load_seconds=t2 - t1,
                       table_seconds=table_seconds)


def _finish(engine: Engine, frames: dict[str, pl.DataFrame]) -> None:
    """Number series continue after the loaded documents; demo logins exist."""
    factory = make_session_factory(engine)
    with factory() as session, session.begin():
        set_actor(session, "demo")
        for doc_type, table in SERIES_TABLES.items():
            last = int(frames[table].select(pl.col("id").max()).item() or 0)
            session.execute(update(DocumentSequence)
                            .where(DocumentSequence.doc_type == doc_type)
                            .values(last_value=last))
        customers = frames["customer"]
        reps = frames["sales_rep"]
        busiest = customers.filter(pl.col("_never").not_()).group_by("account_manager_id") \
            .len().join(reps.filter(pl.col("_level") == 2).select(
                pl.col("id").alias("account_manager_id"), "manager_id", "name"),
                on="account_manager_id").sort(["len", "account_manager_id"],
                                               descending=[True, False]).row(0, named=True)
        manager = reps.filter(pl.col("id") == busiest["manager_id"]).row(0, named=True)
        users = [
            ("rep", busiest["name"], Role.REP, busiest["account_manager_id"]),
            ("manager", manager["name"], Role.SALES_MANAGER, manager["id"]),
            ("finance", "Finance Demo", Role.FINANCE, None),
            ("exec", "Executive Demo", Role.EXECUTIVE, None),
            ("admin", "Admin Demo", Role.ADMIN, None),
        ]
        for username, full_name, role, rep_id in users:
            create_user(session, username=username, full_name=full_name, role=role,
                        password=DEMO_PASSWORD, rep_id=rep_id)
