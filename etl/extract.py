"""Extract core tables into Polars frames, fast and exact.

Both databases are read through ADBC (Arrow, no Python rows), a run's tables and the
checks' core totals in one snapshot (``core_reader``) — on PostgreSQL over several
connections at once that share it (``pg_export_snapshot``), the largest tables first.
Every ``ScaledNumeric`` column arrives as an Int64 of value × 10^scale — on SQLite that is
the stored integer, on PostgreSQL ``(x × 10^scale)::bigint`` — because the drivers
would otherwise turn NUMERIC into floats or strings. Amount columns (scale 3) are
therefore in thousandths of their currency; ``etl.money`` converts them to minor units.

An incremental run reads the document tables for some customers only: ``CustomerRows``
(a few customers: a SQL condition through ``etl.changes.CUSTOMER_OF``, the ids one
parameter — a JSON array on SQLite, an array literal on PostgreSQL; many: every row, cut
here, parents before children).

Only what the builders read is extracted: each builder module declares ``CORE_COLUMNS``
(core table → the columns it reads) and, where it uses only some rows, ``ROW_FILTERS``
(core table → ``RowFilter``); ``etl.run`` merges them with ``merge_columns`` and
``merge_row_filters``. A column left out of a declaration fails loudly in the builder
(Polars ``ColumnNotFoundError``) rather than reading something else.
"""

from __future__ import annotations

import json
import operator
import queue
import re
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

import polars as pl
import pyarrow as pa
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ColumnElement,
    Date,
    DateTime,
    Dialect,
    Engine,
    Integer,
    Numeric,
    Select,
    String,
    Table,
    cast,
    func,
    type_coerce,
)

from core.models import Base
from core.types import ScaledNumeric
from etl.changes import CUSTOMER_OF, Direct, Via, leads_to

# Table name → the columns to read (``None`` or the ``Table`` itself: all of them).
ColumnSpec = Mapping[str, Iterable[str] | Table | None]

# What a frame is held as once read: table name, frame → the frame to keep.
Keep = Callable[[str, pl.DataFrame], pl.DataFrame]

# Every row of a table from elsewhere than the database (table name → frame), or None.
Whole = Callable[[str], pl.DataFrame | None]

_PLAIN = re.compile(r"[A-Za-z0-9_]+")
_SNAPSHOT_ID = re.compile(r"[0-9A-F]+(-[0-9A-F]+)+")
# Memory per sort or hash of the reader's queries (PostgreSQL). An incremental run's
# customer conditions are ``IN (subquery)`` tests; the planner hashes a subquery only when
# its rows fit in work_mem, else it rescans them for every row: with the default 4 MB, the
# allocations of 20,000 customers of the standard dataset took over 4 minutes (estimated
# cost 3·10^11 against 3·10^5 hashed).
READ_WORK_MEM = "256MB"
# Above this share of all customers an incremental run reads the document tables whole and
# filters them itself (``CustomerRows``).
WHOLE_READ_SHARE = 0.25
# Rows cut at a time when a table is read whole for some customers (``CoreReader._read``).
READ_BATCH_ROWS = 250_000


@dataclass(frozen=True)
class RowFilter:
    """Rows whose ``column`` is one of ``values``: a SQL ``IN`` list written from code
    constants only (plain identifiers and words, never user input)."""

    column: str
    values: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.values:
            raise ValueError(f"row filter on {self.column}: no values")
        for word in (self.column, *self.values):
            if not _PLAIN.fullmatch(word):
                raise ValueError(f"row filter: {word!r} is not a plain word")

    def sql(self) -> str:
        """The condition as SQL (safe to inline: see ``__post_init__``)."""
        values = ", ".join(f"'{v}'" for v in self.values)
        return f'"{self.column}" IN ({values})'


def merge_columns(*specs: Mapping[str, Iterable[str]]) -> dict[str, tuple[str, ...]]:
    """The union of the columns per table of ``specs`` (tables and columns in first-seen
    order)."""
    merged: dict[str, dict[str, None]] = {}
    for spec in specs:
        for table, columns in spec.items():
            merged.setdefault(table, {}).update(dict.fromkeys(columns))
    return {table: tuple(columns) for table, columns in merged.items()}


def merge_row_filters(readers: Iterable[tuple[Mapping[str, Iterable[str]],
                                              Mapping[str, RowFilter]]],
                      ) -> dict[str, RowFilter]:
    """One filter per table for ``readers`` ((``CORE_COLUMNS``, ``ROW_FILTERS``) of each
    builder): the union of their values when every reader of the table filters it on the
    same column; no filter (every row) when one reads it whole or they filter on different
    columns."""
    filters: dict[str, RowFilter] = {}
    whole: set[str] = set()
    for columns, row_filters in readers:
        stray = set(row_filters) - set(columns)
        if stray:
            raise ValueError(f"row filters for tables not read: {sorted(stray)}")
        for table in columns:
            wanted = row_filters.get(table)
            known = filters.get(table)
            if wanted is None or (known is not None and known.column != wanted.column):
                whole.add(table)
            elif known is None:
                filters[table] = wanted
            else:
                filters[table] = RowFilter(
                    known.column, tuple(dict.fromkeys(known.values + wanted.values)))
    return {table: f for table, f in filters.items() if table not in whole}


def ids_sql(ids: Collection[int], dialect: str) -> str:
    """The subquery of ``ids``. PostgreSQL: an array literal of the ids, not a bound
    parameter — the ADBC driver reads a query with bound parameters without COPY, the whole
    result held in libpq first (3.5M invoice lines of 35 % of the customers at 10M: 22.1 s,
    3.9 GiB against 14.0 s, 1.7 GiB); the literal is written from Python ints only, so it
    holds nothing but digits and commas. SQLite: the one bound parameter
    (``ids_parameters``)."""
    if dialect == "postgresql":
        listed = ",".join(str(operator.index(i)) for i in sorted(ids))
        return f"(SELECT unnest(CAST('{{{listed}}}' AS integer[])))"
    return "(SELECT value FROM json_each(?1))"


def ids_parameters(ids: Collection[int], dialect: str) -> tuple[str, ...]:
    """The bound parameters of ``ids_sql``."""
    return () if dialect == "postgresql" else (json.dumps(sorted(ids)),)


@dataclass(frozen=True)
class CustomerRows:
    """Only the rows of ``customer_ids`` in the document ``tables`` (each leads to its
    customer as ``etl.changes.CUSTOMER_OF`` says).

    A narrow selection is filtered by the database: a condition around ``ids_sql``, which
    an index answers for a few customers. A broad one (``broad``: more than
    ``whole_share`` of all customers) is read whole and filtered here, each table by its
    customer or by its parent's rows already kept: the database's semi-joins over millions
    of rows cost more than sending every row (standard dataset, the eight largest tables
    one after the other: 35 % of the customers 62.7 s by condition against 40.3 s whole;
    20 %: 34.7 s against 40.3; 10 %: 20.4 s)."""

    customer_ids: frozenset[int]
    tables: frozenset[str]
    whole_share: float = WHOLE_READ_SHARE

    def ids_sql(self, dialect: str) -> str:
        """The subquery of the selected ids (``ids_sql``)."""
        return ids_sql(self.customer_ids, dialect)

    def parameters(self, dialect: str) -> tuple[str, ...]:
        """The bound parameters of ``ids_sql``."""
        return ids_parameters(self.customer_ids, dialect)

    def condition(self, table: str, dialect: str) -> str:
        """SQL keeping ``table``'s rows of the selected customers (names from
        ``CUSTOMER_OF``: code constants; ids from ``ids_sql``).

        On PostgreSQL a parent's ids are an array (``= ANY(ARRAY(…))``), which the
        column's index answers even where paths are ORed: ``IN (subquery)`` ORed over
        ``allocation``'s four parents scanned the whole table (standard dataset, one
        customer 0.54 s → 4 ms; 5,000 customers 4.3 → 3.3 s), and a single path is faster
        too (``shipment_line`` of 5,000 customers 3.1 → 1.5 s; 12,500, the most read by
        condition, 9.3 → 8.6 s for allocations). The planner cannot see an array's size,
        so it always takes the indexes: that stays fast while the bitmap of rows fits in
        the reader's ``READ_WORK_MEM`` (else it goes lossy and every row of a lossy page is
        checked against the arrays one id at a time)."""
        parts = []
        for path in CUSTOMER_OF[table]:
            if isinstance(path, Direct):
                parts.append(f'"{path.column}" IN {self.ids_sql(dialect)}')
                continue
            parents = (f'SELECT "id" FROM "{path.parent}" '  # noqa: S608
                       f"WHERE {self.condition(path.parent, dialect)}")
            parts.append(f'"{path.column}" = ANY(ARRAY({parents}))' if dialect == "postgresql"
                         else f'"{path.column}" IN ({parents})')
        return " OR ".join(f"({p})" for p in parts) if len(parts) > 1 else parts[0]

    def broad(self, customer_count: int) -> bool:
        """Whether the selection is read whole and filtered here, of ``customer_count``."""
        return len(self.customer_ids) > self.whole_share * customer_count

    def parents(self, table: str) -> list[str]:
        """The tables whose kept rows decide which of ``table``'s rows are kept."""
        return [path.parent for path in CUSTOMER_OF[table] if isinstance(path, Via)]

    def filterable(self, tables: Collection[str]) -> set[str]:
        """The selected tables of ``tables`` that can be filtered here: every parent is
        selected and filterable too (else the database filters them)."""
        done: set[str] = set()
        growing = True
        while growing:
            more = {t for t in self.tables & set(tables) - done
                    if all(p in done for p in self.parents(t))}
            done |= more
            growing = bool(more)
        return done

    def cut(self, table: str, frame: pl.DataFrame,
            kept_ids: Mapping[str, pl.Series]) -> pl.DataFrame:
        """``frame`` (every row of ``table``, with its ``cut_columns``) cut to the selected
        customers' rows; ``kept_ids`` holds the ids of the parents' kept rows."""
        ids = pl.Series(sorted(self.customer_ids), dtype=pl.Int64).implode()
        return frame.filter(leads_to(table, lambda column: pl.col(column).is_in(ids),
                                     kept_ids.__getitem__))

    def cut_columns(self, table: str) -> set[str]:
        """The columns ``cut`` reads of ``table`` (and ``id``, which its children read)."""
        return {path.column for path in CUSTOMER_OF[table]} | {"id"}

    def depth(self, table: str, here: Collection[str]) -> int:
        """How many parents away from a customer-keyed table ``table`` is, of the tables
        filtered ``here``."""
        if table not in here:
            return 0
        return 1 + max((self.depth(p, here) for p in self.parents(table)), default=-1)


@dataclass(frozen=True)
class CoreFrames:
    """Extracted core tables by name; scaled numerics as Int64 (value × 10^scale)."""

    frames: dict[str, pl.DataFrame]

    def __getitem__(self, table: str) -> pl.DataFrame:
        return self.frames[table]


def scaled_columns(table: Table) -> dict[str, int]:
    """Column name → scale of the table's ``ScaledNumeric`` columns."""
    return {c.name: c.type.scale for c in table.columns if isinstance(c.type, ScaledNumeric)}


def _columns(table: Table, wanted: Iterable[str] | Table | None) -> list[Column[object]]:
    """The columns of ``table`` named in ``wanted`` (all for ``None`` or a ``Table``), in
    the table's order; a name the table lacks raises ``ValueError``."""
    if wanted is None or isinstance(wanted, Table):
        return list(table.columns)
    names = set(wanted)
    unknown = names - set(table.columns.keys())
    if unknown:
        raise ValueError(f"core table {table.name} has no columns {sorted(unknown)}")
    return [c for c in table.columns if c.name in names]


def _select_sql(table: Table, dialect: str, columns: list[Column[object]] | None = None,
                row_filter: RowFilter | None = None, condition: str | None = None) -> str:
    scaled = scaled_columns(table)
    parts = []
    for column in table.columns if columns is None else columns:
        name = f'"{column.name}"'
        if column.name in scaled and dialect == "postgresql":
            # Exact: the column holds ``scale`` decimals, so the product is whole (a ROUND
            # would only cost time: 10M invoice lines 12.0 → 10.9 s).
            parts.append(f"CAST({name} * {10 ** scaled[column.name]} AS BIGINT) AS {name}")
        else:
            parts.append(name)
    conditions = [] if condition is None else [f"({condition})"]
    if row_filter is not None:
        if row_filter.column not in table.columns:
            raise ValueError(f"core table {table.name} has no column {row_filter.column}")
        conditions.append(row_filter.sql())
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    # Names from the metadata, filter values from code constants (RowFilter checks them),
    # customer ids bound as a parameter (CustomerRows).
    return f'SELECT {", ".join(parts)} FROM "{table.name}"{where}'  # noqa: S608


def _normalise(frame: pl.DataFrame, table: Table,
               columns: list[Column[object]] | None = None) -> pl.DataFrame:
    """Same dtypes on both databases, decided by the declared column type: Int64 numbers,
    Date, Datetime(us), Boolean, String. (SQLite's driver guesses types from the rows, so an
    empty or all-null column may arrive as an integer.)"""
    casts = []
    for column in table.columns if columns is None else columns:
        name, dtype, declared = column.name, frame.schema[column.name], column.type
        if isinstance(declared, Boolean):
            casts.append(pl.col(name).cast(pl.Boolean))
        elif isinstance(declared, ScaledNumeric | Integer):
            casts.append(pl.col(name).cast(pl.Int64))
        elif isinstance(declared, DateTime) and dtype == pl.String:
            casts.append(pl.col(name).str.to_datetime("%Y-%m-%d %H:%M:%S%.f", time_unit="us"))
        elif isinstance(declared, DateTime):
            casts.append(pl.col(name).cast(pl.Datetime("us")))
        elif isinstance(declared, Date) and dtype == pl.String:
            casts.append(pl.col(name).str.to_date("%Y-%m-%d"))
        elif isinstance(declared, Date):
            casts.append(pl.col(name).cast(pl.Date))
        elif isinstance(declared, String) and dtype != pl.String:
            casts.append(pl.col(name).cast(pl.String))
    return frame.with_columns(casts) if casts else frame


def adbc_uri(engine: Engine) -> str:
    """The engine's database as a URI the ADBC drivers accept."""
    url = engine.url
    if url.get_backend_name() == "sqlite":
        return f"sqlite:///{url.database}"
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def _adbc_connect(engine: Engine):  # type: ignore[no-untyped-def]
    if engine.url.get_backend_name() == "sqlite":
        import adbc_driver_sqlite.dbapi

        return adbc_driver_sqlite.dbapi.connect(engine.url.database)
    import adbc_driver_postgresql.dbapi

    return adbc_driver_postgresql.dbapi.connect(adbc_uri(engine))


class CoreReader:
    """Reads the core in one consistent snapshot: every table and query of a run sees the
    same committed rows, whatever users post meanwhile (on SQLite one read transaction on
    one connection; on PostgreSQL REPEATABLE READ, READ ONLY transactions that share one
    exported snapshot — there a READ COMMITTED statement would see its own). Reads run on
    whichever of its connections is free: ``extract`` reads several tables at once, and
    other threads may ``query`` meanwhile. Open with ``core_reader``."""

    def __init__(self, connections: list[Any], dialect: Dialect) -> None:
        self._free: queue.Queue[Any] = queue.Queue()
        for conn in connections:
            self._free.put(conn)
        self._count = len(connections)
        self.dialect = dialect

    def _read(self, sql: str, parameters: tuple[str, ...] = (),
              each: Callable[[pl.DataFrame], pl.DataFrame] | None = None) -> pl.DataFrame:
        """The rows of ``sql`` with its bound ``parameters``; with ``each``, what it makes of
        every batch of rows as the batch arrives (the whole result is never held)."""
        options = {"parameters": parameters} if parameters else None
        conn = self._free.get()
        try:
            if each is None:
                return pl.read_database(sql, conn, execute_options=options)
            with conn.cursor() as cursor:
                cursor.execute(sql, **(options or {}))
                batches = cursor.fetch_record_batch()
                parts, waiting, rows = [], [], 0
                for batch in batches:  # SQLite's driver sends 1,024 rows at a time
                    waiting.append(batch)
                    rows += batch.num_rows
                    if rows >= READ_BATCH_ROWS:
                        parts.append(each(pl.DataFrame(pa.Table.from_batches(waiting))))
                        waiting, rows = [], 0
                parts.append(each(pl.DataFrame(pa.Table.from_batches(waiting, batches.schema))))
                return pl.concat(parts)
        finally:
            self._free.put(conn)

    def _largest_first(self, names: list[str]) -> list[str]:
        """``names`` by the planner's row estimate, largest first (PostgreSQL), so that
        the last table read is not a large one read alone."""
        if self.dialect.name != "postgresql" or self._count == 1:
            return names
        estimates = self._read(
            "SELECT relname AS name, reltuples::bigint AS estimate FROM pg_class "
            "WHERE relkind = 'p' OR relkind = 'r'")
        rows = dict(zip(estimates["name"], estimates["estimate"], strict=True))
        return sorted(names, key=lambda name: rows.get(name, 0), reverse=True)

    def _customer_count(self) -> int:
        return int(self._read('SELECT count(*) AS n FROM "customer"')["n"][0])

    def extract(self, tables: ColumnSpec | Iterable[str],
                row_filters: Mapping[str, RowFilter] | None = None,
                customers: CustomerRows | None = None,
                keep: Keep | None = None, whole: Whole | None = None) -> CoreFrames:
        """Read ``tables``: a mapping of table name → the columns to read (``None`` or a
        ``Table``: all), or table names (all columns). ``row_filters`` (table name →
        ``RowFilter``) keeps only some rows; ``customers`` keeps only the selected customers'
        rows of its tables; ``keep`` (e.g. ``etl.spill.Spill.keep``) is given each table's
        frame as soon as it is read and returns the frame to hold instead; ``whole``
        (``etl.kept_core.Refresh``) may give every row of a table that is cut here instead
        of the database."""
        dialect = self.dialect.name
        spec = tables if isinstance(tables, Mapping) else dict.fromkeys(tables)
        filters = row_filters or {}
        stray = set(filters) - set(spec)
        if stray:
            raise ValueError(f"row filters for tables not extracted: {sorted(stray)}")
        names = self._largest_first(list(spec))
        here: set[str] = set()
        if customers is not None and customers.broad(self._customer_count()):
            # A table read with a row filter is cut by SQL: its children would lose rows.
            here = customers.filterable(set(spec) - set(filters))
            # Parents before their children: a child waits for its parents' rows, which
            # started first (the pool takes tasks in order).
            names.sort(key=lambda name: customers.depth(name, here))
        kept_ids: dict[str, pl.Series] = {}

        def read(name: str, parents: list[Future[pl.DataFrame]]) -> pl.DataFrame:
            table = Base.metadata.tables[name]
            columns = _columns(table, spec[name])
            if customers is not None and name in here:  # every row, cut here (no row filter)
                needed = _columns(table, {c.name for c in columns} | customers.cut_columns(name))
                for parent in parents:
                    parent.result()  # its kept ids are in kept_ids
                every = whole(name) if whole else None
                if every is not None:
                    frame = customers.cut(name, every.select(c.name for c in needed), kept_ids)
                else:
                    frame = self._read(_select_sql(table, dialect, needed), each=lambda rows:
                                       customers.cut(name, _normalise(rows, table, needed),
                                                     kept_ids))
                kept_ids[name] = frame["id"]
                frame = frame.select(c.name for c in columns)
            else:
                condition, parameters = None, tuple[str, ...]()
                if customers is not None and name in customers.tables:
                    condition = customers.condition(name, dialect)
                    parameters = customers.parameters(dialect)
                sql = _select_sql(table, dialect, columns, filters.get(name), condition)
                frame = _normalise(self._read(sql, parameters), table, columns)
            return keep(name, frame) if keep else frame

        futures: dict[str, Future[pl.DataFrame]] = {}
        with ThreadPoolExecutor(max_workers=self._count) as pool:
            for name in names:
                parents = customers.parents(name) if customers and name in here else []
                futures[name] = pool.submit(read, name, [futures[p] for p in parents])
            frames = {name: future.result() for name, future in futures.items()}
        return CoreFrames({name: frames[name] for name in spec})

    def rows_by_id(self, name: str, columns: Iterable[str],
                   ids: Collection[int]) -> pl.DataFrame:
        """The rows of core table ``name`` whose ``id`` is one of ``ids``: ``columns``."""
        table = Base.metadata.tables[name]
        chosen = _columns(table, columns)
        sql = _select_sql(table, self.dialect.name, chosen,
                          condition=f'"id" IN {ids_sql(ids, self.dialect.name)}')
        return _normalise(self._read(sql, ids_parameters(ids, self.dialect.name)), table,
                          chosen)

    def query(self, statement: Select[*tuple[Any, ...]]) -> pl.DataFrame:
        """The rows of ``statement`` (its literals written inline: code constants only, never
        user input), integer and text columns as Int64 and String; aggregate money with
        ``scaled_sum``."""
        sql = str(statement.compile(dialect=self.dialect,
                                    compile_kwargs={"literal_binds": True}))
        frame = self._read(sql)
        # The declared types, also for no rows (SQLite's driver guesses from the rows).
        return frame.cast({column.name: pl.Int64 if isinstance(column.type, Integer)
                           else pl.String for column in statement.selected_columns
                           if isinstance(column.type, Integer | String)})

    def scaled_sum(self, column: Any) -> ColumnElement[Any]:
        """SUM of a ``ScaledNumeric`` column as an integer of value × 10^scale on both
        databases (SQLite stores that integer; PostgreSQL's NUMERIC is scaled and cast)."""
        scale = column.type.scale
        if self.dialect.name == "postgresql":
            total = func.sum(type_coerce(column, Numeric()))
            return cast(func.round(total * 10 ** scale), BigInteger)
        return cast(func.sum(type_coerce(column, BigInteger())), BigInteger)


def _begin_snapshot(conn, snapshot: str | None = None) -> None:  # type: ignore[no-untyped-def]
    """Start ``conn``'s REPEATABLE READ, READ ONLY transaction (PostgreSQL), in
    ``snapshot`` when given (exported by ``pg_export_snapshot``), with ``READ_WORK_MEM``."""
    with conn.cursor() as cursor:
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        if snapshot is not None:  # a server-made id (SET takes no bound parameters)
            if not _SNAPSHOT_ID.fullmatch(snapshot):
                raise ValueError(f"unexpected snapshot id {snapshot!r}")
            cursor.execute(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
        cursor.execute(f"SET LOCAL work_mem = '{READ_WORK_MEM}'")


@contextmanager
def core_reader(engine: Engine, connections: int = 1) -> Iterator[CoreReader]:
    """A ``CoreReader`` on ``engine``'s database for the ``with`` block, reading over
    ``connections`` connections on PostgreSQL (one on SQLite).

    The ADBC driver links its own copy of SQLite, and two copies of SQLite must not have one
    database file open at the same time in a process (closing one's file descriptor drops
    the other's POSIX locks: stale reads, even corruption), so ``engine``'s pooled
    connections are closed first.
    """
    if engine.dialect.name == "sqlite":
        engine.dispose()
        with _adbc_connect(engine) as conn:
            yield CoreReader([conn], engine.dialect)
        return
    with ExitStack() as stack:
        first = stack.enter_context(_adbc_connect(engine))
        _begin_snapshot(first)
        opened = [first]
        if connections > 1:
            with first.cursor() as cursor:
                cursor.execute("SELECT pg_export_snapshot()")
                snapshot = cursor.fetchone()[0]
            for _ in range(connections - 1):
                conn = stack.enter_context(_adbc_connect(engine))
                _begin_snapshot(conn, snapshot)
                opened.append(conn)
        yield CoreReader(opened, engine.dialect)


def extract(engine: Engine, tables: ColumnSpec | Iterable[str],
            row_filters: Mapping[str, RowFilter] | None = None,
            customers: CustomerRows | None = None) -> CoreFrames:
    """``CoreReader.extract`` on a reader of its own."""
    with core_reader(engine) as reader:
        return reader.extract(tables, row_filters, customers)
