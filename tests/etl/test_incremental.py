"""Incremental runs: after changes made through the core services, an incremental run
publishes exactly what a full run on the same core data publishes (every table, every row,
in Parquet and in the mart database — the derived fct_customer_month and agg_sales_month
and fct_target included) while rebuilding only the touched customers and rewriting only the
changed month partitions; with no change it publishes nothing, on a new date it rebuilds
the date-dependent tables only."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

import polars as pl
import pytest
from sqlalchemy import Engine, select, text, update

from core.audit import set_actor
from core.billing.allocation import allocate
from core.billing.credit_notes import CreditLineInput, issue_credit_note
from core.billing.invoicing import invoice_order, set_dispute
from core.billing.models import CreditReason, Invoice, PaymentMethod
from core.billing.payments import record_payment
from core.company.services import set_fx_rate
from core.customers.services import take_ownership
from core.db import make_session_factory, transaction
from core.sales.models import OpportunityStage, SalesOrder
from core.sales.opportunities import create_opportunity, update_opportunity
from core.sales.orders import amend_order_line
from core.sales.targets import set_target
from etl import publish
from etl import run as etl_run
from etl.batch_folder import PARTITIONED
from etl.checks import CheckFailed
from etl.facts import forecast_backtest
from etl.publish import MartTarget
from etl.schema import dim_customer
from etl.schema import etl_run as run_log
from tests.core.documents import posted_invoice, ship_lines, widget_order
from tests.core.world import FINANCE, World, build_world
from tests.etl.conftest import MakeTarget
from tests.etl.marts import assert_same_batch, mart_rows, parquet_tables, published_state

D = Decimal


@dataclass(frozen=True)
class Seeded:
    """What ``seed`` made (records detached, ids loaded): Acme (changed later) and Euro
    GmbH (never changed)."""

    world: World
    january_invoice: int
    february_invoice: int
    february_line: int
    open_order: int
    opportunity: int


def seed(engine: Engine) -> Seeded:
    """Documents of two customers; Euro GmbH's only sale is in December 2024."""
    with transaction(make_session_factory(engine)) as session:
        set_actor(session, "test")
        world = build_world(session)
        # Acme was recorded long before today's change of account manager.
        world.customer.created_at = datetime(2024, 1, 2, 9)
        euro = widget_order(session, world, world.bob, 3, customer_id=world.eur_customer.id,
                            on=date(2024, 12, 5))
        ship_lines(session, world.bob, euro, {euro.lines[0].id: D(3)}, date(2024, 12, 5),
                   freight_cost=D("8.50"))
        invoice_order(session, world.bob, euro.id, date(2024, 12, 5))
        january = posted_invoice(session, world, 5, date(2025, 1, 10))
        february = posted_invoice(session, world, 8, date(2025, 2, 10))
        open_order = widget_order(session, world, world.alice, 20, on=date(2025, 2, 20))
        opportunity = create_opportunity(
            session, world.alice, world.customer.id, name="Expansion", amount=D("5000"),
            expected_close_date=date(2025, 6, 30), created_date=date(2025, 1, 5))
        return Seeded(world, january.id, february.id, february.lines[0].id, open_order.id,
                      opportunity.id)


def change_acme(engine: Engine, seeded: Seeded) -> None:
    """Changes to Acme only, each through its service: a new invoice in March, a payment
    allocated to January's invoice, a credit note on February's, a dispute, an amended open
    order partly shipped with a freight cost, an opportunity moving on, and Acme taken over
    by the sales manager; and a sales target (no customer's: ``fct_target`` is rebuilt
    whole)."""
    world, acme = seeded.world, seeded.world.customer.id
    with transaction(make_session_factory(engine)) as session:
        set_actor(session, "test")
        posted_invoice(session, world, 2, date(2025, 3, 3))
        payment = record_payment(session, FINANCE, acme, amount=D("20.00"), currency="USD",
                                 received_date=date(2025, 2, 1),
                                 method=PaymentMethod.BANK_TRANSFER)
        allocate(session, FINANCE, invoice_id=seeded.january_invoice, amount=D("20.00"),
                 on=date(2025, 2, 1), payment_id=payment.id)
        issue_credit_note(session, FINANCE, acme, reason=CreditReason.PRICE_ADJUSTMENT,
                          credit_date=date(2025, 2, 15), invoice_id=seeded.february_invoice,
                          lines=[CreditLineInput(invoice_line_id=seeded.february_line,
                                                 amount=D("5.00"), description="goodwill")])
        set_dispute(session, FINANCE, seeded.february_invoice, True)
        amend_order_line(session, world.alice, seeded.open_order, 1, D(25),
                         today=date(2025, 2, 21))
        open_order = session.get_one(SalesOrder, seeded.open_order)
        ship_lines(session, world.alice, open_order, {open_order.lines[0].id: D(5)},
                   date(2025, 2, 22), freight_cost=D("6.25"))
        update_opportunity(session, world.alice, seeded.opportunity,
                           stage=OpportunityStage.PROPOSAL, amount=D("7500"))
        take_ownership(session, world.manager, acme)
        set_target(session, world.manager, world.rep_a.id, date(2025, 3, 1), D("12000"))


def partition_file(target: MartTarget, batch_id: str, month: int,
                   table: str = "fct_sales_line") -> os.stat_result:
    column = PARTITIONED[table].column
    folder = target.parquet_dir / batch_id / table / f"{column}={month}"
    return next(folder.iterdir()).stat()


def test_an_incremental_run_publishes_what_a_full_run_publishes(
    isolated_engine: Engine, make_target: MakeTarget
) -> None:
    seeded = seed(isolated_engine)
    incremental, full = make_target("incremental"), make_target("full")
    first = etl_run.run_etl(isolated_engine, incremental, full=True)
    etl_run.run_etl(isolated_engine, full, full=True)
    change_acme(isolated_engine, seeded)

    result = etl_run.run_etl(isolated_engine, incremental)
    reference = etl_run.run_etl(isolated_engine, full, full=True)

    assert (result.mode, result.customers, reference.mode) == ("incremental", 1, "full")
    assert result.rows == reference.rows
    ours = assert_same_batch(incremental, result.batch_id, full, reference.batch_id)
    # The derived tables and the targets were rebuilt whole from the merged facts.
    previous = parquet_tables(incremental, first.batch_id)
    for name in ("fct_customer_month", "agg_sales_month", "fct_target"):
        assert ours[name].height > 0, name
        assert not ours[name].equals(previous[name]), f"{name} was not rebuilt"
    # Euro GmbH's freight cost kept, Acme's new shipment's added.
    assert ours["fct_freight_cost"]["freight_cost_minor"].to_list() == [850, 625]
    # Euro GmbH's month was linked from the previous batch, Acme's months were rewritten.
    assert (partition_file(incremental, result.batch_id, 202412).st_ino
            == partition_file(incremental, first.batch_id, 202412).st_ino)
    assert (partition_file(incremental, result.batch_id, 202502).st_ino
            != partition_file(incremental, first.batch_id, 202502).st_ino)
    # So were the AR items' months (Acme's February invoice disputed).
    ar_months = sorted(int(p.name.split("=")[1]) for p in (
        incremental.parquet_dir / result.batch_id / "fct_ar_item").iterdir())
    assert len(ar_months) > 1, ar_months
    now, then = ours["fct_ar_item"], previous["fct_ar_item"]
    changed = pl.concat([now.join(then, on=now.columns, how="anti", nulls_equal=True),
                         then.join(now, on=now.columns, how="anti", nulls_equal=True)])
    changed_months = set((changed["document_date_key"] // 100).to_list())
    assert 202502 in changed_months
    for month in ar_months:
        same = month in previous["fct_ar_item"]["document_date_key"] // 100 and (
            partition_file(incremental, result.batch_id, month, "fct_ar_item").st_ino
            == partition_file(incremental, first.batch_id, month, "fct_ar_item").st_ino)
        assert same == (month not in changed_months), month
    # Type 2: Acme's first version closed (same key), a current one opened for the manager.
    acme_id = seeded.world.customer.id
    acme = ours["dim_customer"].filter(pl.col("customer_id") == acme_id).sort("valid_from")
    before = parquet_tables(incremental, first.batch_id)["dim_customer"].filter(
        pl.col("customer_id") == acme_id)
    assert acme["customer_key"][0] == before["customer_key"][0]
    assert acme["is_current"].to_list() == [False, True]
    assert acme["account_manager_id"].to_list() == [seeded.world.rep_a.id,
                                                    seeded.world.head.id]
    versions = ours["fct_opportunity_history"].filter(
        pl.col("opportunity_id") == seeded.opportunity)
    assert versions["version_no"].to_list() == [1, 2]
    assert versions["stage"].to_list() == ["prospecting", "proposal"]


def _table_oid(engine: Engine, name: str) -> int | None:
    """PostgreSQL: the table's oid (a fresh table gets a new one); SQLite: None."""
    if engine.dialect.name != "postgresql":
        return None
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT CAST(:t AS regclass)::oid"), {"t": name})
                   .scalar_one())


@pytest.mark.parametrize("share", [0.0, 1.0], ids=["built fresh", "rows replaced"])
def test_a_rebuilt_fact_is_built_fresh_above_its_share_of_the_rows(
    isolated_engine: Engine, make_target: MakeTarget, monkeypatch: pytest.MonkeyPatch,
    share: float
) -> None:
    seeded = seed(isolated_engine)
    incremental, full = make_target("incremental"), make_target("full")
    etl_run.run_etl(isolated_engine, incremental, full=True)
    etl_run.run_etl(isolated_engine, full, full=True)  # the same keys in both marts
    before = _table_oid(incremental.engine, "fct_sales_line")
    change_acme(isolated_engine, seeded)
    monkeypatch.setattr(publish, "RESTAGE_SHARE", share)

    result = etl_run.run_etl(isolated_engine, incremental)
    etl_run.run_etl(isolated_engine, full, full=True)

    assert result.mode == "incremental"
    assert mart_rows(incremental.engine) == mart_rows(full.engine)
    after = _table_oid(incremental.engine, "fct_sales_line")
    if before is not None:  # PostgreSQL: Acme's sales lines are more than none of them
        assert (after != before) == (share == 0.0)


def test_a_run_without_changes_publishes_nothing(
    isolated_engine: Engine, make_target: MakeTarget
) -> None:
    seed(isolated_engine)
    target = make_target("mart")
    first = etl_run.run_etl(isolated_engine, target)  # nothing published yet: a full run
    assert first.mode == "full"
    state = published_state(target)
    folders = sorted(p.name for p in target.parquet_dir.iterdir())

    again = etl_run.run_etl(isolated_engine, target)

    assert (again.mode, again.published, again.batch_id) == ("unchanged", False,
                                                               first.batch_id)
    assert published_state(target) == state
    assert sorted(p.name for p in target.parquet_dir.iterdir()) == folders
    with target.engine.connect() as conn:
        statuses = list(conn.scalars(select(run_log.c.status).order_by(run_log.c.started_at)))
    assert statuses == ["published", "unchanged"]


def test_a_change_only_a_full_run_handles_runs_full(
    isolated_engine: Engine, make_target: MakeTarget
) -> None:
    seed(isolated_engine)
    target = make_target("mart")
    etl_run.run_etl(isolated_engine, target, full=True)
    with transaction(make_session_factory(isolated_engine)) as session:
        set_actor(session, "test")
        set_fx_rate(session, FINANCE, "EUR", date(2025, 2, 1), D("1.1500000000"))

    assert etl_run.run_etl(isolated_engine, target).mode == "full"


def test_an_incremental_batch_that_does_not_reconcile_is_not_published(
    isolated_engine: Engine, make_target: MakeTarget, monkeypatch: pytest.MonkeyPatch
) -> None:
    seeded = seed(isolated_engine)
    target = make_target("mart")
    etl_run.run_etl(isolated_engine, target, full=True)
    state = published_state(target)
    change_acme(isolated_engine, seeded)
    real_build = etl_run.sales_line.build

    def lossy(*args, **kwargs):  # type: ignore[no-untyped-def]
        return real_build(*args, **kwargs).slice(1)  # one of Acme's lines goes missing

    monkeypatch.setattr(etl_run.sales_line, "build", lossy)
    with pytest.raises(CheckFailed, match="net sales: mart"):
        etl_run.run_etl(isolated_engine, target)
    assert published_state(target) == state
    with target.engine.connect() as conn:
        keys = conn.scalars(select(dim_customer.c.customer_id)).all()
    assert sorted(set(keys)) == sorted({-1, seeded.world.customer.id,
                                        seeded.world.eur_customer.id})
    with target.engine.connect() as conn:
        statuses = list(conn.scalars(select(run_log.c.status).order_by(run_log.c.started_at)))
    assert statuses == ["published", "failed"]


def test_the_same_run_twice_changes_nothing(
    isolated_engine: Engine, make_target: MakeTarget
) -> None:
    seeded = seed(isolated_engine)
    target = make_target("mart")
    etl_run.run_etl(isolated_engine, target, full=True)
    change_acme(isolated_engine, seeded)
    incremental = etl_run.run_etl(isolated_engine, target)
    state = published_state(target)

    again = etl_run.run_etl(isolated_engine, target)
    full = etl_run.run_etl(isolated_engine, target, full=True)

    assert (incremental.mode, again.mode, full.mode) == ("incremental", "unchanged", "full")
    assert published_state(target).rows == state.rows
    ours, theirs = (parquet_tables(target, incremental.batch_id),
                    parquet_tables(target, full.batch_id))
    assert sorted(ours) == sorted(theirs)
    for name, frame in ours.items():
        assert frame.equals(theirs[name]), f"{name} changed on a second run"


def test_a_new_date_without_changes_rebuilds_the_date_dependent_tables(
    isolated_engine: Engine, make_target: MakeTarget, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(isolated_engine)
    target, full = make_target("mart"), make_target("full")
    first = etl_run.run_etl(isolated_engine, target, full=True)
    later = etl_run.utc_now() + timedelta(days=40)  # at least one month boundary later
    monkeypatch.setattr(etl_run, "utc_now", lambda: later)

    result = etl_run.run_etl(isolated_engine, target)
    reference = etl_run.run_etl(isolated_engine, full, full=True)

    assert (result.mode, result.customers, result.published) == ("incremental", 0, True)
    ours = assert_same_batch(target, result.batch_id, full, reference.batch_id)
    months = ours["fct_customer_month"]
    before = parquet_tables(target, first.batch_id)["fct_customer_month"]
    assert months["month_key"].max() > before["month_key"].max()
    assert ours["fct_sales_line"].equals(parquet_tables(target, first.batch_id)["fct_sales_line"])
    assert etl_run.run_etl(isolated_engine, target).mode == "unchanged"  # same date again


def test_an_incremental_run_keeps_the_backtest_forecasts_it_already_made(
    isolated_engine: Engine, make_target: MakeTarget, monkeypatch: pytest.MonkeyPatch
) -> None:
    seeded = seed(isolated_engine)
    with isolated_engine.begin() as conn:  # posted long before the backtest's origins
        conn.execute(update(Invoice).values(posted_at=datetime(2025, 3, 1, 12)))
    target, full = make_target("mart"), make_target("full")
    first = etl_run.run_etl(isolated_engine, target, full=True)
    with transaction(make_session_factory(isolated_engine)) as session:  # paid this week
        set_actor(session, "test")
        today = date.today()
        payment = record_payment(session, FINANCE, seeded.world.customer.id,
                                 amount=D("30.00"), currency="USD", received_date=today,
                                 method=PaymentMethod.BANK_TRANSFER)
        allocate(session, FINANCE, invoice_id=seeded.january_invoice, amount=D("30.00"),
                 on=today, payment_id=payment.id)
    later = etl_run.utc_now() + timedelta(days=7)  # the backtest's origins move by a week
    monkeypatch.setattr(etl_run, "utc_now", lambda: later)
    simulated: list[date] = []
    real_simulate = forecast_backtest.simulate

    def counted(items, pools, as_of, seed):  # type: ignore[no-untyped-def]
        simulated.append(as_of)
        return real_simulate(items, pools, as_of, seed)

    monkeypatch.setattr(forecast_backtest, "simulate", counted)

    result = etl_run.run_etl(isolated_engine, target)
    reference = etl_run.run_etl(isolated_engine, full, full=True)

    assert result.mode == "incremental"
    # Only the new origin was simulated by the incremental run; the full run made all eight.
    assert len(simulated) == 1 + forecast_backtest.ORIGINS
    assert simulated[0] == simulated[-1]
    table = forecast_backtest.TABLE
    ours = parquet_tables(target, result.batch_id)[table]
    assert ours.equals(parquet_tables(full, reference.batch_id)[table])
    # The kept origins took this week's receipt into their actuals.
    before = parquet_tables(target, first.batch_id)[table]
    kept = before.join(ours, on=["origin_date_key", "week_no"], suffix="_now")
    assert kept["origin_date_key"].n_unique() == forecast_backtest.ORIGINS - 1
    assert kept["p50_minor"].equals(kept["p50_minor_now"], check_names=False)
    assert kept["actual_minor_now"].sum() - kept["actual_minor"].sum() > 0
