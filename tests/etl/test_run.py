"""A full ETL run on generated demo data: checks pass, the batch is published, and a run
whose facts or derived tables do not reconcile publishes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import Engine, func, select, text, update

from core.billing.models import CreditNote, DocumentStatus, Invoice
from core.demo import generate_demo
from etl import run as etl_run
from etl.checks import CheckFailed, core_totals
from etl.extract import core_reader
from etl.publish import MartTarget, mart_target, published_batch
from etl.schema import agg_sales_month, fct_customer_month, fct_sales_line, fct_target
from etl.schema import etl_run as run_log
from tests.conftest import PG_URL, drop_pg_schema
from tests.etl.conftest import unique_schema


@pytest.fixture
def demo_target(isolated_engine: Engine, dialect: str, tmp_path: Path,
                request: pytest.FixtureRequest) -> Iterator[MartTarget]:
    generate_demo(isolated_engine, customers=80, lines=4000, seed=11)
    if dialect == "sqlite":
        target = mart_target(f"sqlite:///{tmp_path / 'mart.db'}", tmp_path / "parquet")
        yield target
        target.engine.dispose()
        return
    schema = unique_schema("run")
    target = mart_target(PG_URL, tmp_path / "parquet", schema=schema)
    yield target
    target.engine.dispose()
    drop_pg_schema(request.getfixturevalue("pg_admin_engine"), schema)


def test_full_run_publishes_a_reconciled_batch(isolated_engine: Engine,
                                               demo_target: MartTarget) -> None:
    result = etl_run.run_etl(isolated_engine, demo_target, full=True)
    batch = published_batch(demo_target.engine)
    assert batch is not None and batch.batch_id == result.batch_id
    with demo_target.engine.connect() as conn:
        rows = conn.scalar(select(func.count()).select_from(fct_sales_line))
    assert rows == result.rows["fct_sales_line"] > 4000
    parquet = pl.read_parquet(demo_target.parquet_dir / result.batch_id / "fct_sales_line")
    assert parquet.height == rows
    for table in (fct_customer_month, fct_target, agg_sales_month):
        with demo_target.engine.connect() as conn:
            published = conn.scalar(select(func.count()).select_from(table))
        parquet = pl.read_parquet(
            demo_target.parquet_dir / result.batch_id / f"{table.name}.parquet")
        assert published == parquet.height == result.rows[table.name] > 0, table.name
    # Every demo customer has its months, in each of several engagement states.
    months = pl.read_parquet(demo_target.parquet_dir / result.batch_id
                             / "fct_customer_month.parquet")
    assert months["customer_id"].n_unique() == 80
    assert set(months["engagement_status"].drop_nulls()) >= {"new", "active", "lapsed"}
    again = etl_run.run_etl(isolated_engine, demo_target, full=True)
    assert again.rows == result.rows


def test_a_batch_that_does_not_reconcile_is_not_published(
    isolated_engine: Engine, demo_target: MartTarget, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = etl_run.run_etl(isolated_engine, demo_target, full=True)
    real_build = etl_run.sales_line.build

    def lossy(*args, **kwargs):  # type: ignore[no-untyped-def]
        return real_build(*args, **kwargs).slice(1)  # one invoice line goes missing

    monkeypatch.setattr(etl_run.sales_line, "build", lossy)
    with pytest.raises(CheckFailed, match="net sales: mart"):
        etl_run.run_etl(isolated_engine, demo_target, full=True)
    batch = published_batch(demo_target.engine)
    assert batch is not None and batch.batch_id == first.batch_id
    with demo_target.engine.connect() as conn:
        statuses = [s for (s,) in conn.execute(select(run_log.c.status)
                                                .order_by(run_log.c.started_at))]
    assert statuses == ["published", "failed"]
    if demo_target.engine.dialect.name == "postgresql":  # nothing staged before the checks
        with demo_target.engine.connect() as conn:
            staging = conn.scalar(text("SELECT current_schema()")) + "_load"
            assert conn.scalar(text("SELECT count(*) FROM pg_namespace WHERE nspname = :n"),
                               {"n": staging}) == 0, "the failed run left its staging schema"


def test_freight_cost_that_does_not_reconcile_is_not_published(
    isolated_engine: Engine, demo_target: MartTarget, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = etl_run.run_etl(isolated_engine, demo_target, full=True)
    assert first.rows["fct_freight_cost"] > 0
    real_build = etl_run.freight_cost.build

    def shifted(*args, **kwargs):  # type: ignore[no-untyped-def]
        # The first line's share moved to the last line's month: the grand total matches.
        freight = real_build(*args, **kwargs)
        first_row = pl.int_range(pl.len()) == 0
        return freight.with_columns(
            pl.when(first_row).then(pl.col("month_key").last())
            .otherwise(pl.col("month_key")).alias("month_key"))

    monkeypatch.setattr(etl_run.freight_cost, "build", shifted)
    with pytest.raises(CheckFailed, match="freight cost: 2 customer-months differ"):
        etl_run.run_etl(isolated_engine, demo_target, full=True)
    monkeypatch.setattr(etl_run.freight_cost, "build",
                        lambda *a, **k: real_build(*a, **k).slice(1))
    with pytest.raises(CheckFailed, match="freight cost: mart"):
        etl_run.run_etl(isolated_engine, demo_target, full=True)
    batch = published_batch(demo_target.engine)
    assert batch is not None and batch.batch_id == first.batch_id


def test_receivables_that_do_not_reconcile_are_not_published(
    isolated_engine: Engine, demo_target: MartTarget, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_build = etl_run.ar.build_allocations

    def lossy(*args, **kwargs):  # type: ignore[no-untyped-def]
        allocations = real_build(*args, **kwargs)
        return allocations.filter(pl.col("target_type") != "invoice").vstack(
            allocations.filter(pl.col("target_type") == "invoice").slice(1))

    monkeypatch.setattr(etl_run.ar, "build_allocations", lossy)
    with pytest.raises(CheckFailed, match="open_invoices in USD: mart"):
        etl_run.run_etl(isolated_engine, demo_target, full=True)
    assert published_batch(demo_target.engine) is None


def test_a_cube_that_does_not_add_up_is_not_published(
    isolated_engine: Engine, demo_target: MartTarget, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_build = etl_run.sales_month.build

    def lossy(*args, **kwargs):  # type: ignore[no-untyped-def]
        return real_build(*args, **kwargs).slice(1)  # one cell of the cube goes missing

    monkeypatch.setattr(etl_run.sales_month, "build", lossy)
    with pytest.raises(CheckFailed, match="agg_sales_month: 1 group"):
        etl_run.run_etl(isolated_engine, demo_target, full=True)
    assert published_batch(demo_target.engine) is None


@pytest.mark.parametrize("chosen", [(), (3, 17, 42)])
def test_core_totals_of_some_customers_keep_the_grand_totals_of_all(
        isolated_engine: Engine, demo_target: MartTarget, chosen: tuple[int, ...]) -> None:
    with isolated_engine.begin() as conn:  # lines of documents not posted count nowhere
        for document in (Invoice, CreditNote):
            first = conn.scalar(select(func.min(document.id)))
            conn.execute(update(document).where(document.id == first).values(
                status=DocumentStatus.DRAFT if document is Invoice else DocumentStatus.CANCELLED))
    with core_reader(isolated_engine) as reader:
        every = core_totals(reader, "USD")
        some = core_totals(reader, "USD", customers=frozenset(chosen))
    assert some.sales_total == every.sales_total
    assert every.sales_total["net_minor"] > 0
    assert some.freight_total == every.freight_total > 0
    ids = pl.col("customer_id").is_in(list(chosen))
    for scoped, whole in ((some.sales, every.sales), (some.freight, every.freight)):
        keys = ["customer_id", "month_key"]
        assert scoped.sort(keys).equals(whole.filter(ids).sort(keys))
        assert (scoped.height > 0) == bool(chosen)
