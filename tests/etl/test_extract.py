"""Extraction reads exact integers for every scaled numeric, on both databases."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from decimal import Decimal

import polars as pl
import pytest
from sqlalchemy import Engine, func, insert, select, text

from core.audit import set_actor
from core.company.models import Region
from core.db import make_session_factory, transaction
from core.demo import generate_demo
from core.models import Base
from etl import extract as extract_module
from etl.changes import CUSTOMER_OF, Direct
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
    rows = CustomerRows(frozenset({12, 3}), frozenset())
    assert rows.ids_sql("postgresql") == "(SELECT unnest(CAST('{3,12}' AS integer[])))"
    assert rows.parameters("postgresql") == ()
    assert rows.parameters("sqlite") == ("[3, 12]",)
    with pytest.raises(TypeError):
        CustomerRows(frozenset({"1}') OR 1=1 --"}), frozenset()).ids_sql("postgresql")  # type: ignore[arg-type]


def _customers_of_rows(whole: dict[str, pl.DataFrame]) -> dict[str, list[set[int]]]:
    """Per document table, each row's customers (in ``id`` order), found by walking
    ``CUSTOMER_OF`` over every row in plain Python."""
    found: dict[str, dict[int, set[int]]] = {}

    def of(table: str) -> dict[int, set[int]]:
        if table not in found:
            rows = whole[table].sort("id").to_dicts()
            found[table] = {row["id"]: set() for row in rows}
            for path in CUSTOMER_OF[table]:
                parent = None if isinstance(path, Direct) else of(path.parent)
                for row in rows:
                    value = row[path.column]
                    if value is not None:
                        found[table][row["id"]] |= {value} if parent is None else parent[value]
        return found[table]

    return {table: list(of(table).values()) for table in whole}


@pytest.mark.parametrize("share", [0.0, 1.0], ids=["read whole, cut here", "cut by SQL"])
def test_the_selected_customers_rows_are_the_same_read_either_way(
    isolated_engine: Engine, share: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    generate_demo(isolated_engine, customers=40, lines=2500, seed=5)
    documents = ["sales_order", "sales_order_line", "shipment", "shipment_line", "invoice",
                 "invoice_line", "payment", "credit_note", "allocation", "rma", "rma_line"]
    whole = extract(isolated_engine, documents).frames
    chosen = frozenset(range(3, 40, 3))  # 13 of 40: broad at share 0, narrow at share 1
    # rma_line without its parent rma: always cut by SQL; shipment_line two parents away.
    spec = {**{t: None for t in documents if t != "rma"}, "customer": ["id"]}
    rows = CustomerRows(chosen, frozenset(documents), whole_share=share)
    monkeypatch.setattr(extract_module, "READ_BATCH_ROWS", 1000)  # rows cut in several parts
    reads: dict[str, tuple[str, bool]] = {}
    real_read = extract_module.CoreReader._read

    def spy(self, sql, options=None, each=None):  # type: ignore[no-untyped-def]
        if ' FROM "' in sql:  # a table's read (not the planner's estimates)
            reads[sql.split(' FROM "')[1].split('"')[0]] = (sql, each is not None)
        return real_read(self, sql, options, each)

    monkeypatch.setattr(extract_module.CoreReader, "_read", spy)
    with core_reader(isolated_engine, connections=2) as reader:  # children wait for parents
        frames = reader.extract(spec, customers=rows).frames

    expected = _customers_of_rows(whole)
    for table in spec.keys() - {"customer"}:
        keep = [bool(customers & chosen) for customers in expected[table]]
        wanted = whole[table].sort("id").filter(pl.Series(keep))
        assert wanted.height > 0, table
        assert frames[table].sort("id").equals(wanted), table
        sql, cut_here = reads[table]
        assert cut_here == (share == 0.0 and table != "rma_line"), table
        assert ("WHERE" not in sql) == cut_here, table
    assert frames["customer"].height == 40  # not a selected table: every row
    assert list(frames) == list(spec)


def test_a_broad_selection_of_empty_tables_keeps_every_column_and_type(
    isolated_engine: Engine
) -> None:
    documents = ["invoice", "invoice_line", "allocation"]
    whole = extract(isolated_engine, documents).frames  # no documents at all
    nobody = CustomerRows(frozenset({999_999}), frozenset(documents), whole_share=0.0)

    frames = extract(isolated_engine, documents, customers=nobody).frames

    for table in documents:
        assert frames[table].is_empty(), table
        assert frames[table].schema == whole[table].schema, table


def _plan(engine: Engine, sql: str, parameters: tuple[str, ...]) -> str:
    """The database's plan of ``sql`` with every table scan it can avoid avoided
    (PostgreSQL: ``enable_seqscan`` off, so a full scan means no index could answer)."""
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SET LOCAL enable_seqscan = off"))
            rows = conn.exec_driver_sql(f"EXPLAIN {sql}").scalars()
        else:
            rows = (row[-1] for row in conn.exec_driver_sql(
                f"EXPLAIN QUERY PLAN {sql}", parameters))
        return "\n".join(rows)


@pytest.mark.parametrize("table", ["allocation", "shipment_line"])
def test_a_few_customers_rows_are_found_by_index_through_every_parent(
    isolated_engine: Engine, table: str
) -> None:
    # At 10M lines one customer's allocations took 0.54 s by a scan of the whole table
    # (``IN (subquery)`` ORed over four parents); by the indexes, 4 ms.
    dialect = isolated_engine.dialect.name
    rows = CustomerRows(frozenset({7}), frozenset(CUSTOMER_OF))
    sql = f'SELECT "id" FROM "{table}" WHERE {rows.condition(table, dialect)}'  # noqa: S608

    plan = _plan(isolated_engine, sql, rows.parameters(dialect))

    scans = {"postgresql": f"Seq Scan on {table}", "sqlite": f"SCAN {table}"}[dialect]
    assert scans not in plan, plan
