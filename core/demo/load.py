"""Bulk loading of generated frames into the core tables, the fast path of each database.

PostgreSQL: ``COPY … FROM STDIN (FORMAT csv)`` fed with CSV written by Polars, all tables
in one transaction, then every serial primary key's sequence moved past the loaded ids.
SQLite: ``executemany`` in one ``BEGIN IMMEDIATE`` transaction with ``synchronous=OFF``
for the load. Tables load in foreign-key order; constraints and indexes stay in place.

Frame columns are converted per dialect and per column: decimals are integer counts of
10^-s (``core.demo.frames.frame_scale``) and become the column's stored form — an INTEGER
× 10^scale on SQLite, NUMERIC text on PostgreSQL — with the scale read from the table's
``ScaledNumeric`` type.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterable
from typing import Any

import polars as pl
from sqlalchemy import Boolean, Date, DateTime, Engine, Integer, Table

from core.demo.frames import frame_scale
from core.models import Base
from core.types import ScaledNumeric

CHUNK_ROWS = 200_000
Progress = Callable[[str, int], None]


def storage_frame(table: Table, frame: pl.DataFrame, dialect: str) -> pl.DataFrame:
    """``frame`` restricted to ``table``'s columns, in table order, in the stored form."""
    exprs = []
    for col in table.columns:
        if col.name not in frame.columns:
            if not col.nullable:
                raise ValueError(f"{table.name}.{col.name} is required but not generated")
            exprs.append(pl.lit(None).alias(col.name))
            continue
        expr = pl.col(col.name)
        if isinstance(col.type, ScaledNumeric):
            expr = _decimal(expr, frame_scale(col.name), col.type.scale, dialect)
        elif isinstance(col.type, Integer):
            expr = expr.cast(pl.Int64, strict=True)
        elif dialect == "sqlite":
            if isinstance(col.type, Boolean):
                expr = expr.cast(pl.Int8)
            elif isinstance(col.type, DateTime):
                expr = expr.dt.strftime("%Y-%m-%d %H:%M:%S%.6f")
            elif isinstance(col.type, Date):
                expr = expr.cast(pl.Utf8)
        exprs.append(expr.alias(col.name))
    return frame.select(exprs)


def _decimal(expr: pl.Expr, digits: int, scale: int, dialect: str) -> pl.Expr:
    """Integer units of 10^-digits → SQLite scaled integer, or PostgreSQL decimal text."""
    if digits > scale:
        raise ValueError(f"frame has {digits} decimals but the column only {scale}")
    value = expr.cast(pl.Int64)
    if dialect == "sqlite":
        return value * pl.lit(10 ** (scale - digits), dtype=pl.Int64)
    if digits == 0:
        return value.cast(pl.Utf8)
    unit = 10**digits
    sign = pl.when(value < 0).then(pl.lit("-")).otherwise(pl.lit(""))
    return pl.concat_str([sign, (value.abs() // unit).cast(pl.Utf8), pl.lit("."),
                          (value.abs() % unit).cast(pl.Utf8).str.zfill(digits)])


def load_frames(engine: Engine, frames: dict[str, pl.DataFrame],
                progress: Progress | None = None) -> dict[str, float]:
    """Load every frame into the table of the same name; returns seconds per table."""
    tables = [t for t in Base.metadata.sorted_tables if t.name in frames]
    unknown = set(frames) - {t.name for t in tables}
    if unknown:
        raise ValueError(f"no such tables: {sorted(unknown)}")
    if engine.dialect.name == "sqlite":
        return _load_sqlite(engine, tables, frames, progress)
    return _load_postgres(engine, tables, frames, progress)


def _chunks(frame: pl.DataFrame) -> Iterable[pl.DataFrame]:
    for offset in range(0, frame.height, CHUNK_ROWS):
        yield frame.slice(offset, CHUNK_ROWS)


def _load_sqlite(engine: Engine, tables: list[Table], frames: dict[str, pl.DataFrame],
                 progress: Progress | None) -> dict[str, float]:
    seconds: dict[str, float] = {}
    raw = engine.raw_connection()
    try:
        conn: Any = raw.driver_connection
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("PRAGMA cache_size=-262144")
        conn.execute("PRAGMA temp_store=MEMORY")
        conn.execute("BEGIN IMMEDIATE")
        try:
            for table in tables:
                t0 = time.perf_counter()
                frame = storage_frame(table, frames[table.name], "sqlite")
                cols = ", ".join(f'"{c}"' for c in frame.columns)
                marks = ", ".join("?" * frame.width)
                sql = f'INSERT INTO "{table.name}" ({cols}) VALUES ({marks})'  # noqa: S608
                for chunk in _chunks(frame):
                    conn.executemany(sql, chunk.iter_rows())
                seconds[table.name] = time.perf_counter() - t0
                if progress:
                    progress(table.name, frame.height)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        finally:
            conn.execute("PRAGMA synchronous=NORMAL")
    finally:
        raw.close()
    return seconds


def _load_postgres(engine: Engine, tables: list[Table], frames: dict[str, pl.DataFrame],
                   progress: Progress | None) -> dict[str, float]:
    seconds: dict[str, float] = {}
    raw = engine.raw_connection()
    try:
        conn: Any = raw.driver_connection
        conn.rollback()  # the pool's liveness check may have opened a transaction
        try:
            with conn.cursor() as cur:
                cur.execute("SET LOCAL synchronous_commit = off")
                deferred_fks = _skip_fk_triggers(cur)
                for table in tables:
                    t0 = time.perf_counter()
                    frame = storage_frame(table, frames[table.name], "postgresql")
                    cols = ", ".join(f'"{c}"' for c in frame.columns)
                    copy_sql = f'COPY "{table.name}" ({cols}) FROM STDIN (FORMAT csv)'
                    with cur.copy(copy_sql) as copy:
                        for chunk in _chunks(frame):
                            buffer = io.BytesIO()
                            chunk.write_csv(buffer, include_header=False, null_value="")
                            copy.write(buffer.getvalue())
                    seconds[table.name] = time.perf_counter() - t0
                    if progress:
                        progress(table.name, frame.height)
                if deferred_fks:
                    t0 = time.perf_counter()
                    _check_foreign_keys(cur, tables)
                    seconds["_foreign_key_check"] = time.perf_counter() - t0
                for table in tables:
                    _reset_sequence(cur, table)
            conn.commit()
        except BaseException:
            conn.rollback()
            raise
        _vacuum(conn, tables)
    finally:
        raw.close()
    return seconds


def _vacuum(conn: Any, tables: list[Table]) -> None:
    """VACUUM (ANALYZE) the loaded tables, as autovacuum would soon after: it sets their
    visibility map, without which an index-only scan reads every row's page (the
    collections export's promises to pay at 10M lines: 170 → ~35 ms). It cannot run inside
    a transaction, so it runs after the load commits."""
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("VACUUM (ANALYZE) " + ", ".join(f'"{t.name}"' for t in tables))
    finally:
        conn.autocommit = False


def _skip_fk_triggers(cur: Any) -> bool:
    """Skip the per-row foreign-key triggers for this transaction when the role may
    (``session_replication_role``, superuser or granted); the caller then checks every
    foreign key set-based before commit. Returns whether they are skipped."""
    cur.execute("SAVEPOINT demo_fk")
    try:
        cur.execute("SET LOCAL session_replication_role = replica")
    except Exception:  # noqa: BLE001 - not permitted: keep the per-row checks
        cur.execute("ROLLBACK TO SAVEPOINT demo_fk")
        return False
    cur.execute("RELEASE SAVEPOINT demo_fk")
    return True


def _check_foreign_keys(cur: Any, tables: list[Table]) -> None:
    """Every non-null foreign key of the loaded tables resolves (one anti-join per key,
    what ``ALTER TABLE … VALIDATE CONSTRAINT`` does); raises before commit otherwise."""
    for table in tables:
        for fk in table.foreign_key_constraints:
            pairs = [(e.parent.name, e.column.name) for e in fk.elements]
            parent = fk.referred_table.name
            present = " AND ".join(f'c."{c}" IS NOT NULL' for c, _ in pairs)
            match = " AND ".join(f'p."{p}" = c."{c}"' for c, p in pairs)
            cur.execute(f'SELECT count(*) FROM "{table.name}" c WHERE {present} AND NOT EXISTS '  # noqa: S608 - names from metadata
                        f'(SELECT 1 FROM "{parent}" p WHERE {match})')
            orphans = cur.fetchone()[0]
            if orphans:
                cols = ", ".join(c for c, _ in pairs)
                raise ValueError(f"{orphans} rows of {table.name}({cols}) reference no "
                                 f"{parent} row")


def _reset_sequence(cur: Any, table: Table) -> None:
    """Move the serial sequence of an integer primary key past the largest loaded id."""
    pk = list(table.primary_key.columns)
    if len(pk) != 1 or pk[0].autoincrement is False:
        return
    name = pk[0].name
    cur.execute("SELECT pg_get_serial_sequence(%s, %s)", (table.name, name))
    row = cur.fetchone()
    if row is None or row[0] is None:
        return
    top = f'SELECT COALESCE(max("{name}"), 0) + 1 FROM "{table.name}"'  # noqa: S608
    cur.execute(f"SELECT setval(%s, ({top}), false)", (row[0],))
