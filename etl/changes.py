"""What changed in the core since a watermark, and which part of the mart it touches.

The watermark is the audit log's ``seq`` (``core.audit``: one row per inserted or deleted
record and per changed column). ``watermark`` reads it so that every change at or below it
is committed; ``changes_since`` turns the audit rows in (previous watermark, watermark] into
a ``Changes``: the customers whose fact rows must be rebuilt, or the reason the run must be
full.

The unit of an incremental rebuild is the customer. Every fact row belongs to exactly one
customer (its ``customer_id``) and is computed from that customer's documents plus tables
that every run reads whole (the dimensions' sources). So the rows of the touched customers,
rebuilt from their documents, replace their previous rows exactly; every other row stays as
it was. ``CUSTOMER_OF`` says how each document table leads to its customer; a changed
record of such a table touches that customer (an update of the column it leads through —
its ``customer_id``, or its parent's id such as a shipment's ``order_id`` — touches the
customer it left too). Changed tables are classified by what reads them:

- a document table (``CUSTOMER_OF``) → its customers' fact rows are rebuilt;
- a table only the dimensions or the tables rebuilt whole on every run read
  (``whole_only``, e.g. ``sales_target``) → those are rebuilt anyway;
- any other table the run reads (e.g. ``fx_rate``, read by quotes and opportunities of every
  customer; ``company_settings``) → a full run; so is a deleted document record, whose
  customer can no longer be looked up;
- tables the run does not read → nothing.

``Changes.changed_columns`` also keeps which columns changed (and where rows came or went),
so a run rebuilds only the facts whose builders read something that changed (``sees``): an
invoice's dispute flag is read by the receivables facts alone.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl
from sqlalchemy import Engine, func, select, text

from core.audit import AuditLog
from core.models import Base

if TYPE_CHECKING:
    from etl.extract import RowFilter

# In ``Changes.changed_columns``: a row of the table was inserted or deleted.
ROW = None
IN_CHUNK = 5_000  # ids per IN list: well below SQLite's and psycopg's parameter limits
# Core tables the run reads outside the builders' declarations (``etl.run``).
RUN_TABLES = frozenset({"company_settings"})


@dataclass(frozen=True)
class Direct:
    """The table's column ``column`` is the customer id."""

    column: str


@dataclass(frozen=True)
class Via:
    """The table's column ``column`` references ``parent.id``; the parent leads on."""

    column: str
    parent: str


# Document table → how one of its rows leads to its customer (alternatives: any of them).
# An allocation links documents of one customer; every side is listed so either finds it.
CUSTOMER_OF: dict[str, tuple[Direct | Via, ...]] = {
    "customer": (Direct("id"),),
    "opportunity": (Direct("customer_id"),),
    "quote": (Direct("customer_id"),),
    "sales_order": (Direct("customer_id"),),
    "sales_order_line": (Via("order_id", "sales_order"),),
    "shipment": (Via("order_id", "sales_order"),),
    "shipment_line": (Via("shipment_id", "shipment"),),
    "rma": (Direct("customer_id"),),
    "rma_line": (Via("rma_id", "rma"),),
    "invoice": (Direct("customer_id"),),
    "invoice_line": (Via("invoice_id", "invoice"),),
    "credit_note": (Direct("customer_id"),),
    "credit_note_line": (Via("credit_note_id", "credit_note"),),
    "payment": (Direct("customer_id"),),
    "allocation": (Via("target_invoice_id", "invoice"), Via("target_payment_id", "payment"),
                   Via("source_payment_id", "payment"),
                   Via("source_credit_note_id", "credit_note")),
}


@dataclass(frozen=True)
class Changes:
    """Audit rows in (``after_seq``, ``upto_seq``]: ``customers`` to rebuild,
    ``changed_columns``: table → the columns changed in it (``ROW`` among them where a
    row was inserted or deleted), and ``full_reason`` when only a full run is correct (else
    ``None``)."""

    after_seq: int
    upto_seq: int
    customers: frozenset[int]
    changed_columns: Mapping[str, frozenset[str | None]]
    full_reason: str | None

    @property
    def empty(self) -> bool:
        """No audit row past the watermark: nothing to do."""
        return self.upto_seq <= self.after_seq

    @property
    def tables(self) -> frozenset[str]:
        """The tables changed."""
        return frozenset(self.changed_columns)


def watermark(engine: Engine) -> int:
    """The highest audit ``seq`` such that every change up to it is committed.

    SQLite commits writers one at a time in ``seq`` order. On PostgreSQL a sequence value
    is taken before its transaction commits, so a slow transaction may commit a ``seq``
    below one already visible; a brief SHARE lock on ``audit_log`` waits for the writers in
    flight (and holds new ones back for the moment of the read), so none is left behind.
    """
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SET LOCAL lock_timeout = '60s'"))
            conn.execute(text("LOCK TABLE audit_log IN SHARE MODE"))
        return int(conn.scalar(select(func.coalesce(func.max(AuditLog.seq), 0))) or 0)


def changes_since(engine: Engine, after_seq: int, upto_seq: int,
                  read_tables: Collection[str], whole_only: Collection[str]) -> Changes:
    """Classify the audit rows in (``after_seq``, ``upto_seq``] (see the module docstring);
    ``read_tables`` are the core tables the run extracts, ``whole_only`` those of them only
    the dimensions and the tables rebuilt whole on every run read."""
    touched: dict[str, set[int]] = defaultdict(set)
    left: dict[str, set[int]] = defaultdict(set)  # table → rows a moved record led to
    columns: dict[str, set[str | None]] = defaultdict(set)
    customers: set[int] = set()
    reasons: list[str] = []
    log = AuditLog.__table__
    with engine.connect() as conn:
        rows = conn.execute(
            select(log.c.entity, log.c.entity_id, log.c.action, log.c.field,
                   log.c.old_value)
            .where(log.c.seq > after_seq, log.c.seq <= upto_seq)
        )
        for entity, entity_id, action, field, old in rows:
            columns[entity].add(field if action == "update" else ROW)
            if entity not in CUSTOMER_OF:
                touched[entity].add(entity_id)
                continue
            if action == "delete" and entity != "customer":
                reasons.append(f"a {entity} record was deleted")
                continue
            touched[entity].add(entity_id)
            for path in CUSTOMER_OF[entity]:  # moved: the customer it left too
                if field == path.column and old is not None:
                    left[path.parent if isinstance(path, Via) else "customer"].add(int(old))
        for table, ids in (*touched.items(), *left.items()):
            if table in CUSTOMER_OF:
                customers |= customers_of(conn, table, ids)
            elif table in RUN_TABLES or (table in read_tables and table not in whole_only):
                reasons.append(f"{table} changed")
    return Changes(after_seq, upto_seq, frozenset(customers),
                   {table: frozenset(names) for table, names in columns.items()},
                   "; ".join(sorted(set(reasons))) or None)


def sees(columns: Mapping[str, Iterable[str]], row_filters: Mapping[str, RowFilter],
         changed: Mapping[str, Collection[str | None]]) -> bool:
    """Whether a builder reading ``columns`` of the core (its ``CORE_COLUMNS``), with
    ``row_filters``, can build anything else after the changes ``changed``
    (``Changes.changed_columns``): a row came or went in a table it reads, a column it reads
    changed, or it reads the audit log and its filter lets a changed table's rows through
    (every change is itself an audit row)."""
    audit = AuditLog.__tablename__
    for table, read in columns.items():
        if table == audit:
            shown = row_filters.get(audit)
            if shown is None or shown.column != "entity" or set(shown.values) & set(changed):
                return True
        elif set(changed.get(table, ())) & {ROW, *read}:
            return True
    return False


def customers_of(conn, table: str, ids: Iterable[int]) -> set[int]:  # type: ignore[no-untyped-def]
    """The customer ids the rows ``ids`` of document ``table`` lead to (rows that no longer
    exist lead nowhere)."""
    found: set[int] = set()
    core = Base.metadata.tables[table]
    wanted = sorted(set(ids))
    for path in CUSTOMER_OF[table]:
        if path == Direct("id"):  # the customer itself, deleted or not
            found |= set(wanted)
            continue
        for start in range(0, len(wanted), IN_CHUNK):
            chunk = wanted[start:start + IN_CHUNK]
            values = set(conn.scalars(
                select(core.c[path.column]).where(core.c.id.in_(chunk))
                .where(core.c[path.column].is_not(None)).distinct()))
            if isinstance(path, Direct):
                found |= values
            elif values:
                found |= customers_of(conn, path.parent, values)
    return found


def leads_to(table: str, customer: Callable[[str], pl.Expr],
             parent_ids: Callable[[str], pl.Series]) -> pl.Expr:
    """Polars condition on ``table``'s rows: the row leads to a selected customer by one
    of its ``CUSTOMER_OF`` paths — ``customer(column)`` where the column is the customer,
    the column among ``parent_ids(parent)`` (the parent's kept rows) where it goes through
    a parent. A null reference leads nowhere."""
    return pl.any_horizontal([
        customer(path.column) if isinstance(path, Direct)
        else pl.col(path.column).is_in(parent_ids(path.parent).implode())
        for path in CUSTOMER_OF[table]])
