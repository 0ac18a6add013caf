"""Extraction reads exact integers for every scaled numeric, on both databases."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from decimal import Decimal

import polars as pl
import pytest
from sqlalchemy import Engine, func, insert, select

from core.audit import set_actor
from core.company.models import Region
from core.db import make_session_factory, transaction
from core.models import Base
from etl.extract import READ_WORK_MEM, CustomerRows, core_reader, extract, scaled_columns
from tests.core.documents import posted_invoice
from tests.core.world import build_world


def test_no_extract_has_a_float_column_and_money_is_exact(isolated_engine: Engine) -> None:
    with transaction(make_session_factory(isolated_engine)) as session:
        set_actor(session, "test")
        world = build_world(session)
        invoice = posted_invoice(session, world, 7, date(2025, 3, 3))
        expected = {line.id: line.net_amount for line in invoice.lines}
        total = invoice.total_amount
    frames = extract(isolated_engine, Base.metadata.tables)
    for name, frame in frames.frames.items():
        floats = [c for c, t in frame.schema.items() if t.is_float()]
        assert floats == [], f"{name} has float columns {floats}"
        for column in scaled_columns(Base.metadata.tables[name]):
            assert frame.schema[column] == pl.Int64
    lines = frames["invoice_line"]
    assert dict(zip(lines["id"], lines["net_amount"], strict=True)) == {
        k: int(v * 1000) for k, v in expected.items()}
    assert frames["invoice"]["total_amount"].to_list() == [int(total * Decimal(1000))]
    assert frames["invoice"]["invoice_date"].to_list() == [date(2025, 3, 3)]
    assert frames["invoice"].schema["is_disputed"] == pl.Boolean


def test_empty_and_all_null_columns_keep_their_declared_types(isolated_engine: Engine) -> None:
    frames = extract(isolated_engine, ["audit_log", "invoice", "customer"])
    audit = frames["audit_log"]  # only the seed rows: field and old_value are all null
    assert audit.schema["field"] == pl.String and audit.schema["old_value"] == pl.String
    assert audit.schema["occurred_at"] == pl.Datetime("us")
    invoice = frames["invoice"]  # no rows at all
    assert invoice.is_empty()
    assert (invoice.schema["number"], invoice.schema["invoice_date"],
            invoice.schema["is_disputed"]) == (pl.String, pl.Date, pl.Boolean)


def _add_region_elsewhere(engine: Engine, code: str) -> None:
    """Commit a region from another connection (SQLite: another process — two SQLite
    copies must not open one file in a process, see ``etl.extract.core_reader``)."""
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(insert(Region).values(code=code, name=code))
        return
    script = ("import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
              "c.execute('INSERT INTO region (code, name) VALUES (?, ?)', (sys.argv[2],) * 2);"
              " c.commit()")
    subprocess.run([sys.executable, "-c", script, str(engine.url.database), code],  # noqa: S603
                   check=True, timeout=60)


def test_a_reader_sees_one_snapshot_while_others_commit(isolated_engine: Engine) -> None:
    with core_reader(isolated_engine) as reader:
        before = reader.extract(["region"])["region"].height
        _add_region_elsewhere(isolated_engine, "LATE")
        again = reader.extract(["region"])["region"]
        counted = reader.query(select(func.count().label("n")).select_from(Region))["n"][0]
    assert (again.height, counted) == (before, before)
    assert "LATE" not in again["code"].to_list()
    assert "LATE" in extract(isolated_engine, ["region"])["region"]["code"].to_list()


def test_every_connection_of_a_reader_shares_its_snapshot(isolated_engine: Engine) -> None:
    with core_reader(isolated_engine, connections=3) as reader:
        count = select(func.count().label("n")).select_from(Region)
        before = reader.query(count)["n"][0]
        _add_region_elsewhere(isolated_engine, "LATE")
        # The reader hands out its free connections in turn: these use each of them.
        counts = [reader.query(count)["n"][0] for _ in range(3)]
        frames = reader.extract(["region", "channel", "sales_rep", "customer"])
        if isolated_engine.dialect.name == "postgresql":  # subqueries hashed, not rescanned
            memory = select(func.current_setting("work_mem").label("w"))
            assert [reader.query(memory)["w"][0] for _ in range(3)] == [READ_WORK_MEM] * 3
    assert counts == [before] * 3
    assert frames["region"].height == before
    assert list(frames.frames) == ["region", "channel", "sales_rep", "customer"]


def test_the_customer_ids_are_written_into_the_sql_as_integers_only() -> None:
    # PostgreSQL reads them from an array literal (a query with bound parameters is not
    # read by COPY); anything but an int is refused before it reaches the SQL.
    rows = CustomerRows(frozenset({12, 3}), {})
    assert rows.ids_sql("postgresql") == "(SELECT unnest(CAST('{3,12}' AS integer[])))"
    assert rows.parameters("postgresql") == ()
    assert rows.parameters("sqlite") == ("[3, 12]",)
    with pytest.raises(TypeError):
        CustomerRows(frozenset({"1}') OR 1=1 --"}), {}).ids_sql("postgresql")  # type: ignore[arg-type]
