"""Write frames into mart tables inside the caller's transaction, with each database's
fast path: COPY on PostgreSQL, executemany on SQLite."""

from __future__ import annotations

import io
from collections.abc import Collection

import polars as pl
from sqlalchemy import Connection, Table, delete

COPY_CHUNK_ROWS = 500_000
DELETE_CHUNK_IDS = 5_000  # ids per IN list: well below SQLite's and psycopg's limits


def replace_rows(conn: Connection, table: Table, frame: pl.DataFrame) -> None:
    """Delete every row of ``table`` and insert ``frame`` (columns in table order)."""
    conn.execute(delete(table))
    append_rows(conn, table, frame)


def replace_customers(conn: Connection, table: Table, customer_ids: Collection[int],
                      frame: pl.DataFrame) -> None:
    """Delete the rows of ``customer_ids`` from ``table`` (by its ``customer_id``) and insert
    ``frame``, their new rows."""
    ids = sorted(customer_ids)
    for start in range(0, len(ids), DELETE_CHUNK_IDS):
        conn.execute(delete(table).where(
            table.c.customer_id.in_(ids[start:start + DELETE_CHUNK_IDS])))
    append_rows(conn, table, frame)


def append_rows(conn: Connection, table: Table, frame: pl.DataFrame) -> None:
    """Insert ``frame`` into ``table`` (columns in table order)."""
    columns = [c.name for c in table.columns]
    frame = frame.select(columns)
    if frame.is_empty():
        return
    if conn.dialect.name == "postgresql":
        _copy(conn, table, frame)
    else:
        marks = ", ".join("?" * len(columns))
        names = ", ".join(f'"{c}"' for c in columns)
        conn.exec_driver_sql(
            f'INSERT INTO "{table.name}" ({names}) VALUES ({marks})',  # noqa: S608 - metadata
            list(frame.with_columns(pl.col(pl.Decimal).cast(pl.String)).iter_rows()),
        )


def _copy(conn: Connection, table: Table, frame: pl.DataFrame) -> None:
    names = ", ".join(f'"{c}"' for c in frame.columns)
    raw = conn.connection.driver_connection
    with raw.cursor() as cursor:  # type: ignore[union-attr]
        sql = f'COPY "{table.name}" ({names}) FROM STDIN (FORMAT csv)'
        with cursor.copy(sql) as copy:
            for start in range(0, frame.height, COPY_CHUNK_ROWS):
                buffer = io.BytesIO()
                frame.slice(start, COPY_CHUNK_ROWS).write_csv(
                    buffer, include_header=False, null_value="",
                    datetime_format="%Y-%m-%d %H:%M:%S%.f")
                copy.write(buffer.getvalue())
