"""Write frames into mart tables inside the caller's transaction, with each database's
fast path: COPY on PostgreSQL, executemany on SQLite."""

from __future__ import annotations

import io

import polars as pl
from sqlalchemy import Connection, Table, delete

COPY_CHUNK_ROWS = 500_000


def replace_rows(conn: Connection, table: Table, frame: pl.DataFrame) -> None:
    """Delete every row of ``table`` and insert ``frame`` (columns in table order)."""
    columns = [c.name for c in table.columns]
    frame = frame.select(columns)
    conn.execute(delete(table))
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
