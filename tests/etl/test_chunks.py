"""A full run builds its facts a chunk of customers at a time (``etl.chunks``): the chunks
cover every customer once, each chunk's core rows are exactly its customers' documents, and
the batch is the same whatever the chunk size."""

from __future__ import annotations

import polars as pl
import pytest
from sqlalchemy import Engine, select

from core.actor import Actor, Role
from core.audit import set_actor
from core.billing.invoicing import set_dispute
from core.billing.models import Invoice
from core.db import make_session_factory, transaction
from core.demo import generate_demo
from etl import chunks
from etl import run as etl_run
from etl.chunks import CustomerRange, customer_chunks, in_order, rows_of
from etl.extract import CoreFrames
from tests.etl.conftest import MakeTarget
from tests.etl.marts import mart_rows, parquet_tables


def test_chunks_cover_every_customer_once_with_about_the_orders_asked() -> None:
    # Customers 3, 5, 8, 9 with 2, 1, 3, 1 orders.
    orders = pl.DataFrame({"customer_id": [8, 3, 5, 8, 3, 9, 8]})
    # A chunk starts at the customer whose orders begin past a multiple of per_chunk;
    # a customer's orders are never split.
    assert customer_chunks(orders, 3) == [CustomerRange(None, 8), CustomerRange(8, 9),
                                          CustomerRange(9, None)]
    assert customer_chunks(orders, 2) == [CustomerRange(None, 5), CustomerRange(5, 9),
                                          CustomerRange(9, None)]
    assert customer_chunks(orders, 7) == [CustomerRange(None, None)]
    ids = pl.DataFrame({"customer_id": range(0, 12)})
    for per_chunk in (1, 2, 3, 5):
        ranges = customer_chunks(orders, per_chunk)
        held = [ids.filter(r.holds("customer_id"))["customer_id"].to_list() for r in ranges]
        assert sorted(sum(held, [])) == list(range(12)), per_chunk


def test_a_chunk_holds_its_customers_documents_through_every_path() -> None:
    core = CoreFrames({
        "customer": pl.DataFrame({"id": [1, 2]}),
        "invoice": pl.DataFrame({"id": [10, 20], "customer_id": [1, 2]}),
        "invoice_line": pl.DataFrame({"id": [100, 200, 201], "invoice_id": [10, 20, 20]}),
        "payment": pl.DataFrame({"id": [30, 40], "customer_id": [1, 2]}),
        "credit_note": pl.DataFrame({"id": [50], "customer_id": [2]}),
        "allocation": pl.DataFrame({
            "id": [1, 2, 3],
            "source_payment_id": [30, None, 40],
            "source_credit_note_id": [None, 50, None],
            "target_invoice_id": [10, None, None],
            "target_payment_id": [None, 40, None]}),
        "product": pl.DataFrame({"id": [7, 8]}),
    })
    second = rows_of(core, CustomerRange(2, None))
    assert second["customer"]["id"].to_list() == [2]
    assert second["invoice_line"]["id"].to_list() == [200, 201]
    assert second["allocation"]["id"].to_list() == [2, 3]
    assert second["product"]["id"].to_list() == [7, 8]  # not a document: whole
    first = rows_of(core, CustomerRange(None, 2))
    assert first["allocation"]["id"].to_list() == [1]
    with pytest.raises(KeyError, match="invoice_line leads to its customer through invoice"):
        rows_of(CoreFrames({"invoice_line": core["invoice_line"]}), CustomerRange(1, 2))


def test_pieces_are_put_in_order_slice_by_slice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(chunks, "SLICE_ROWS", 2)
    pieces = [pl.DataFrame({"day": [1, 3, 3], "id": [5, 1, 2], "v": ["a", "b", "c"]}),
              pl.DataFrame({"day": [2, 3], "id": [4, 0], "v": ["d", "e"]})]
    kept: dict[str, int] = {}

    def keep(name: str, frame: pl.DataFrame) -> pl.DataFrame:
        kept[name] = frame.height
        return frame

    ordered = in_order(pieces, ("day", "id"), keep, "fct")
    assert ordered.rows() == [(1, 5, "a"), (2, 4, "d"), (3, 0, "e"), (3, 1, "b"),
                              (3, 2, "c")]
    assert kept == {"fct.sorted.0": 2, "fct.sorted.1": 2, "fct.sorted.2": 1}
    empty = in_order([pieces[0].clear()], ("day", "id"), keep, "none")
    assert empty.height == 0 and empty.schema == pieces[0].schema


def test_a_full_run_in_chunks_publishes_the_same_batch(
    isolated_engine: Engine, make_target: MakeTarget, monkeypatch: pytest.MonkeyPatch,
) -> None:
    generate_demo(isolated_engine, customers=60, lines=3000, seed=5)
    whole = etl_run.run_etl(isolated_engine, one := make_target("one"), full=True)
    monkeypatch.setattr(chunks, "CHUNK_ORDERS", 90)
    monkeypatch.setattr(chunks, "SLICE_ROWS", 700)  # facts put in order in several slices
    stages: list[str] = []
    chunked = etl_run.run_etl(isolated_engine, many := make_target("many"), full=True,
                              progress=stages.append)
    assert "facts: in order" in stages
    assert sum(stage.startswith("facts: fct_sales_line (") for stage in stages) >= 4
    one_tables = parquet_tables(one, whole.batch_id)
    many_tables = parquet_tables(many, chunked.batch_id)
    assert set(one_tables) == set(many_tables)
    for name, frame in one_tables.items():
        assert frame.height > 0 or name == "fct_forecast_backtest", name
        assert many_tables[name].equals(frame), name
    assert mart_rows(many.engine) == mart_rows(one.engine)

    # An incremental run of many customers rebuilds their facts in chunks too.
    with transaction(make_session_factory(isolated_engine)) as session:
        set_actor(session, "test")
        finance = Actor(user_id=None, role=Role.FINANCE, name="test")
        for invoice_id in session.scalars(select(Invoice.id).where(
                Invoice.status == "posted").order_by(Invoice.id)).all()[::4]:
            set_dispute(session, finance, invoice_id, True)
    stages.clear()
    chunked = etl_run.run_etl(isolated_engine, many, progress=stages.append)
    assert chunked.mode == "incremental" and "facts: fct_ar_item (2/" in " ".join(stages)
    monkeypatch.setattr(chunks, "CHUNK_ORDERS", 10**9)
    whole = etl_run.run_etl(isolated_engine, one)
    assert whole.mode == "incremental" and whole.customers == chunked.customers
    one_tables = parquet_tables(one, whole.batch_id)
    many_tables = parquet_tables(many, chunked.batch_id)
    for name, frame in one_tables.items():
        assert many_tables[name].equals(frame), name
    assert mart_rows(many.engine) == mart_rows(one.engine)
