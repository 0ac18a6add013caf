"""An incremental run rebuilds only the facts whose builders read something that changed
(``etl.run.facts_seeing``, ``etl.changes.sees``) and extracts only what those facts, the
dimensions and the whole tables read — and still publishes what a full run publishes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from functools import partial

import polars as pl
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from core.audit import set_actor
from core.billing.invoicing import set_dispute
from core.customers.services import take_ownership
from core.db import make_session_factory, transaction
from core.demo import generate_demo
from core.fulfilment.models import Shipment
from core.sales.models import OpportunityStage, SalesOrder
from core.sales.opportunities import update_opportunity
from etl import run as etl_run
from etl.changes import Changes, sees
from etl.checks import CheckFailed
from etl.dims import build_dimensions
from etl.extract import CoreFrames, CoreReader, CustomerRows, RowFilter, extract
from tests.core.world import FINANCE
from tests.etl.conftest import MakeTarget
from tests.etl.marts import assert_same_batch
from tests.etl.test_incremental import Seeded, change_acme, seed

AUDIT_ROWS = {"audit_log": ("entity", "field")}


@pytest.mark.parametrize(("changed", "seen"), [
    ({"invoice": {"is_disputed"}}, True),  # a column it reads
    ({"invoice": {"notes"}}, False),  # a column it does not read
    ({"invoice": {None}}, True),  # a row came or went
    ({"payment": {"amount"}}, False),  # a table it does not read
])
def test_a_builder_sees_the_columns_and_rows_it_reads(
    changed: dict[str, set[str | None]], seen: bool
) -> None:
    assert sees({"invoice": ("id", "is_disputed")}, {}, changed) is seen


@pytest.mark.parametrize(("row_filter", "seen"), [
    (RowFilter("entity", ("sales_order_line",)), True),
    (RowFilter("entity", ("opportunity",)), False),
    (None, True),  # the whole audit log
])
def test_a_builder_reading_the_audit_log_sees_the_changes_its_filter_lets_through(
    row_filter: RowFilter | None, seen: bool
) -> None:
    filters = {} if row_filter is None else {"audit_log": row_filter}
    # A column no builder reads: still a new audit row of that table.
    assert sees(AUDIT_ROWS, filters, {"sales_order_line": {"note"}}) is seen


def test_a_changed_customer_record_rebuilds_every_fact() -> None:
    changes = Changes(0, 1, frozenset({7}), {"customer": frozenset({"credit_limit"})}, None)
    assert etl_run.facts_seeing(changes) == tuple(etl_run.FACTS)


def test_each_fact_is_built_from_what_its_module_declares(isolated_engine: Engine) -> None:
    """``facts_seeing`` trusts each builder module's ``CORE_COLUMNS`` and ``ROW_FILTERS``:
    a fact built from only those columns and rows equals the fact built from everything a
    run extracts (a column read but declared by another module only would go unseen)."""
    generate_demo(isolated_engine, customers=40, lines=2000, seed=5)
    columns, row_filters = etl_run.core_reads(etl_run.FACTS)
    core = extract(isolated_engine, columns, row_filters)
    dims = build_dimensions(core, start=date(2020, 1, 1), end=date(2027, 12, 31),
                            fiscal_year_start_month=1, timezone="UTC", previous=None)
    context = etl_run.Context("USD", "UTC", date(2025, 3, 15))
    for name, builder in etl_run.FACTS.items():
        own_filters = getattr(builder.module, "ROW_FILTERS", {})
        own = {}
        for table, read in builder.module.CORE_COLUMNS.items():
            frame = core[table].select(read)
            if table in own_filters:
                kept = own_filters[table]
                frame = frame.filter(pl.col(kept.column).is_in(kept.values))
            own[table] = frame
        everything = builder.build(core, dict(dims), context)
        assert everything.height > 0, name
        assert builder.build(CoreFrames(own), dict(dims), context).equals(everything), name


def dispute(session: Session, seeded: Seeded) -> None:
    set_dispute(session, FINANCE, seeded.february_invoice, True)


def move_opportunity(session: Session, seeded: Seeded) -> None:
    update_opportunity(session, seeded.world.alice, seeded.opportunity,
                       stage=OpportunityStage.PROPOSAL, amount=Decimal("7500"))


def hand_over(session: Session, seeded: Seeded) -> None:
    take_ownership(session, seeded.world.manager, seeded.world.customer.id)


def track(session: Session, seeded: Seeded) -> None:
    """A shipment's tracking number: no fact reads it."""
    shipment = session.scalars(select(Shipment).join(SalesOrder).where(
        SalesOrder.customer_id == seeded.world.customer.id)).first()
    assert shipment is not None
    shipment.tracking_number = "TRK-1"


@pytest.mark.parametrize("read", ["whole", "filtered"])
@pytest.mark.parametrize(("change", "rebuilt", "unread"), [
    (dispute, {"fct_ar_item", "fct_ar_allocation"},
     {"invoice_line", "sales_order_line", "shipment_line", "quote", "opportunity"}),
    (move_opportunity, {"fct_opportunity_history"},
     {"invoice", "invoice_line", "sales_order_line", "payment", "allocation", "quote"}),
    (hand_over, set(etl_run.FACTS), set()),
    (track, set(), {"invoice", "shipment", "sales_order_line", "payment", "opportunity"}),
], ids=["dispute", "opportunity", "account manager", "tracking number"])
def test_an_incremental_run_rebuilds_only_the_facts_that_read_what_changed(
    isolated_engine: Engine, make_target: MakeTarget, monkeypatch: pytest.MonkeyPatch,
    change: Callable[[Session, Seeded], None], rebuilt: set[str], unread: set[str],
    read: str
) -> None:
    # One customer of two is above the share read whole; "filtered": the database filters.
    if read == "filtered":
        monkeypatch.setattr(etl_run, "CustomerRows", partial(CustomerRows, whole_share=1.0))
    seeded = seed(isolated_engine)
    incremental, full = make_target("incremental"), make_target("full")
    etl_run.run_etl(isolated_engine, incremental, full=True)
    etl_run.run_etl(isolated_engine, full, full=True)  # the same keys in both marts
    with transaction(make_session_factory(isolated_engine)) as session:
        set_actor(session, "test")
        change(session, seeded)
    extracted: list[set[str]] = []  # the tables of each run's extract
    real_extract = CoreReader.extract

    def spied(self, columns, *args, **kwargs):  # type: ignore[no-untyped-def]
        extracted.append(set(columns))
        return real_extract(self, columns, *args, **kwargs)

    monkeypatch.setattr(CoreReader, "extract", spied)
    stages: list[str] = []

    result = etl_run.run_etl(isolated_engine, incremental, progress=stages.append)
    reference = etl_run.run_etl(isolated_engine, full, full=True)

    assert (result.mode, result.customers) == ("incremental", 1 if rebuilt else 0)
    built = {stage.removeprefix("facts: ") for stage in stages} & set(etl_run.FACTS)
    assert built == rebuilt
    assert not unread & extracted[0]
    assert "sales_order" in extracted[0]  # the chunks' customer ids
    assert_same_batch(incremental, result.batch_id, full, reference.batch_id)


def test_a_document_moved_to_another_customers_parent_rebuilds_both_customers(
    isolated_engine: Engine, make_target: MakeTarget
) -> None:
    seeded = seed(isolated_engine)
    incremental, full = make_target("incremental"), make_target("full")
    etl_run.run_etl(isolated_engine, incremental, full=True)
    etl_run.run_etl(isolated_engine, full, full=True)
    with transaction(make_session_factory(isolated_engine)) as session:
        set_actor(session, "test")  # Acme's shipment corrected onto Euro GmbH's order
        euro_order = session.scalars(select(SalesOrder).where(
            SalesOrder.customer_id == seeded.world.eur_customer.id)).one()
        shipment = session.scalars(select(Shipment).join(SalesOrder).where(
            SalesOrder.customer_id == seeded.world.customer.id)).first()
        assert shipment is not None
        shipment.order_id = euro_order.id

    result = etl_run.run_etl(isolated_engine, incremental)
    reference = etl_run.run_etl(isolated_engine, full, full=True)

    assert (result.mode, result.customers) == ("incremental", 2)
    assert_same_batch(incremental, result.batch_id, full, reference.batch_id)


@pytest.mark.parametrize("sales", [False, True], ids=["dispute", "new invoice"])
def test_the_core_sums_per_customer_month_are_compared_for_rebuilt_sales_facts_only(
    isolated_engine: Engine, make_target: MakeTarget, monkeypatch: pytest.MonkeyPatch,
    sales: bool
) -> None:
    """Sales and freight facts not rebuilt are the published batch's, compared when they
    were built: a dispute reads no core sums per customer and month (the grand totals
    only); a new invoice does, and a line counted in the wrong month fails the run."""
    seeded = seed(isolated_engine)
    target = make_target("mart")
    etl_run.run_etl(isolated_engine, target, full=True)
    if sales:
        change_acme(isolated_engine, seeded)
    else:
        with transaction(make_session_factory(isolated_engine)) as session:
            set_actor(session, "test")
            dispute(session, seeded)
    asked: list[object] = []
    real_totals, real_sales = etl_run.core_totals, etl_run.sales_line.build

    def totals(*args, **kwargs):  # type: ignore[no-untyped-def]
        asked.append(kwargs["customers"])
        return real_totals(*args, **kwargs)

    def misdated(*args, **kwargs):  # type: ignore[no-untyped-def]
        lines = real_sales(*args, **kwargs)  # the first line moved to another month
        return lines.with_columns(month_key=pl.when(pl.int_range(pl.len()) == 0)
                                  .then(199001).otherwise(pl.col("month_key")))

    monkeypatch.setattr(etl_run, "core_totals", totals)
    monkeypatch.setattr(etl_run.sales_line, "build", misdated)
    if sales:
        with pytest.raises(CheckFailed, match="net sales and cost: 2 customer-months differ"):
            etl_run.run_etl(isolated_engine, target)
    else:
        assert etl_run.run_etl(isolated_engine, target).mode == "incremental"
    assert asked == [frozenset({seeded.world.customer.id}) if sales else frozenset()]


@pytest.mark.parametrize(("change", "recomputed"), [(dispute, False), (change_acme, True)],
                         ids=["dispute", "new invoice"])
def test_customer_months_are_computed_again_only_where_their_facts_differ(
    isolated_engine: Engine, make_target: MakeTarget, monkeypatch: pytest.MonkeyPatch,
    change: Callable[..., None], recomputed: bool
) -> None:
    """``fct_customer_month`` reads sales lines, freight, orders, allocations and the
    customer versions, not the AR items: a dispute changes none of its inputs."""
    seeded = seed(isolated_engine)
    incremental, full = make_target("incremental"), make_target("full")
    etl_run.run_etl(isolated_engine, incremental, full=True)
    etl_run.run_etl(isolated_engine, full, full=True)
    if change is change_acme:
        change_acme(isolated_engine, seeded)
    else:
        with transaction(make_session_factory(isolated_engine)) as session:
            set_actor(session, "test")
            dispute(session, seeded)
    customers: list[set[int]] = []  # whose months each run computed
    real = etl_run.customer_month.customer_months

    def spied(sales, *args, **kwargs):  # type: ignore[no-untyped-def]
        customers.append(set(sales.select("customer_id").collect()["customer_id"]))
        return real(sales, *args, **kwargs)

    monkeypatch.setattr(etl_run.customer_month, "customer_months", spied)
    result = etl_run.run_etl(isolated_engine, incremental)
    monkeypatch.undo()
    reference = etl_run.run_etl(isolated_engine, full, full=True)

    assert result.mode == "incremental"
    # A dispute computes nobody's months: the published table stands.
    assert customers == ([{seeded.world.customer.id}] if recomputed else [])
    assert_same_batch(incremental, result.batch_id, full, reference.batch_id)
