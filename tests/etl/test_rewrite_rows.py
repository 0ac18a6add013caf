"""An incremental publish rewrites only the mart rows that differ (``etl.increment.rewrite``,
``etl.load.rewrite_rows``): rows changed, gone, new or moved to another customer come out
as the new batch has them, and rows equal on both sides stay where they are."""

from __future__ import annotations

import polars as pl
import pytest
from sqlalchemy import (
    BigInteger,
    Column,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    select,
    text,
)

from etl.increment import differing, rewrite
from etl.load import append_rows, rewrite_rows
from etl.run import FACTS
from etl.schema import mart, row_key
from tests.etl.conftest import MakeTarget

ITEMS = Table(
    "t_items", MetaData(),
    Column("item_type", String(16), nullable=False),
    Column("document_id", Integer, nullable=False),
    Column("customer_id", Integer, nullable=False),
    Column("open_minor", BigInteger, nullable=False),
    Column("note", String(32)),
    Index("ix_t_items_document", "item_type", "document_id", unique=True),
)

BEFORE = pl.DataFrame({
    "item_type": ["invoice", "invoice", "invoice", "payment", "payment"],
    "document_id": [1, 2, 3, 1, 2],
    "customer_id": [10, 10, 11, 10, 11],
    "open_minor": [1_000, 2_000, 3_000, -500, -700],
    "note": [None, "kept", None, None, "x"],
})
AFTER = pl.DataFrame({
    "item_type": ["invoice", "invoice", "invoice", "payment", "credit_note"],
    "document_id": [1, 2, 3, 1, 1],
    "customer_id": [10, 10, 12, 10, 11],  # invoice 3 moved to customer 12
    "open_minor": [1_000, 1_500, 3_000, -500, -250],  # invoice 2 part paid
    "note": [None, "kept", None, "disputed", None],  # payment 1's note set
})  # payment 2 gone, credit note 1 new


def _table_rows(engine: Engine) -> list[tuple[object, ...]]:
    with engine.connect() as conn:
        return sorted(conn.execute(select(ITEMS)), key=repr)


def _row_places(engine: Engine) -> dict[tuple[str, int], str]:
    """Where each row is stored (PostgreSQL's ``ctid``: a row deleted and inserted again
    gets a new one)."""
    with engine.connect() as conn:
        return {(kind, doc): at for kind, doc, at in conn.execute(text(
            "SELECT item_type, document_id, ctid::text FROM t_items"))}


def test_rows_that_differ_are_rewritten_and_the_rest_stay(make_target: MakeTarget) -> None:
    engine = make_target("rewrite").engine
    with engine.begin() as conn:
        ITEMS.create(conn)
        append_rows(conn, ITEMS, BEFORE)
    postgres = engine.dialect.name == "postgresql"  # (SQLite reuses a deleted rowid)
    places = _row_places(engine) if postgres else {}
    change = rewrite(differing(BEFORE, AFTER, row_key(ITEMS)), BEFORE, AFTER)

    with engine.begin() as conn:
        rewrite_rows(conn, ITEMS, change)

    assert _table_rows(engine) == sorted(AFTER.rows(), key=repr)
    assert sorted(change.keys.rows()) == [("credit_note", 1), ("invoice", 2), ("invoice", 3),
                                          ("payment", 1), ("payment", 2)]
    assert change.deleted == 4  # the credit note is new
    if postgres:
        now = _row_places(engine)
        assert now[("invoice", 1)] == places[("invoice", 1)]
        assert now[("invoice", 2)] != places[("invoice", 2)]


def test_a_failed_rewrite_leaves_the_rows_as_they_were(make_target: MakeTarget) -> None:
    engine = make_target("rewrite_fails").engine
    with engine.begin() as conn:
        ITEMS.create(conn)
        append_rows(conn, ITEMS, BEFORE)
    twice = AFTER.filter(pl.col("document_id") == 1).with_columns(
        pl.lit("invoice").alias("item_type"))  # two new rows of one key
    change = rewrite(differing(BEFORE, twice, row_key(ITEMS)), BEFORE, twice)

    with pytest.raises(Exception, match="(?i)unique"), engine.begin() as conn:
        rewrite_rows(conn, ITEMS, change)

    assert _table_rows(engine) == sorted(BEFORE.rows(), key=repr)


def test_a_table_without_the_rows_the_change_was_made_from_is_left_as_it_was(
        make_target: MakeTarget) -> None:
    engine = make_target("rewrite_drifted").engine
    held = BEFORE.filter(pl.col("document_id") != 2)  # payment 2 and invoice 2 are missing
    with engine.begin() as conn:
        ITEMS.create(conn)
        append_rows(conn, ITEMS, held)
    change = rewrite(differing(BEFORE, AFTER, row_key(ITEMS)), BEFORE, AFTER)

    with pytest.raises(ValueError, match="t_items: 2 rows to rewrite where the published "
                                         "batch has 4"), engine.begin() as conn:
        rewrite_rows(conn, ITEMS, change)

    assert _table_rows(engine) == sorted(held.rows(), key=repr)


def test_every_fact_an_incremental_run_rebuilds_has_a_row_key() -> None:
    assert {name: row_key(mart.tables[name]) for name in FACTS} == {
        "fct_sales_line": ("source_type", "source_id"),
        "fct_freight_cost": ("shipment_line_id",),
        "fct_order": ("order_id",),
        "fct_order_line": ("order_line_id",),
        "fct_booking": ("order_line_id", "event_type", "event_seq"),
        "fct_quote": ("quote_id",),
        "fct_opportunity_history": ("opportunity_id", "version_no"),
        "fct_ar_item": ("item_type", "document_id"),
        "fct_ar_allocation": ("allocation_id",),
    }
    with pytest.raises(ValueError, match="no primary key and no unique index"):
        row_key(Table("t_heap", MetaData(), Column("a", Integer)))
