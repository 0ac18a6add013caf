"""Extract core tables into Polars frames, fast and exact.

Both databases are read through ADBC (Arrow, no Python rows). Every ``ScaledNumeric`` column
arrives as an Int64 of value × 10^scale — on SQLite that is the stored integer, on
PostgreSQL ``round(x × 10^scale)::bigint`` — because the drivers would otherwise turn
NUMERIC into floats or strings. Amount columns (scale 3) are therefore in thousandths of
their currency; ``etl.money`` converts them to minor units.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import polars as pl
from sqlalchemy import Boolean, Date, DateTime, Engine, Table
from sqlalchemy.engine import make_url

from core.models import Base
from core.types import ScaledNumeric


@dataclass(frozen=True)
class CoreFrames:
    """Extracted core tables by name; scaled numerics as Int64 (value × 10^scale)."""

    frames: dict[str, pl.DataFrame]

    def __getitem__(self, table: str) -> pl.DataFrame:
        return self.frames[table]


def scaled_columns(table: Table) -> dict[str, int]:
    """Column name → scale of the table's ``ScaledNumeric`` columns."""
    return {c.name: c.type.scale for c in table.columns if isinstance(c.type, ScaledNumeric)}


def _select_sql(table: Table, dialect: str) -> str:
    scaled = scaled_columns(table)
    parts = []
    for column in table.columns:
        name = f'"{column.name}"'
        if column.name in scaled and dialect == "postgresql":
            parts.append(f"CAST(ROUND({name} * {10 ** scaled[column.name]}) AS BIGINT) AS {name}")
        else:
            parts.append(name)
    return f'SELECT {", ".join(parts)} FROM "{table.name}"'  # noqa: S608 - names from metadata


def _normalise(frame: pl.DataFrame, table: Table) -> pl.DataFrame:
    """Same dtypes on both databases: Int64 numbers, Date, Datetime(us), Boolean."""
    casts = []
    for column in table.columns:
        name, dtype = column.name, frame.schema[column.name]
        if isinstance(column.type, ScaledNumeric) or (
            dtype.is_integer() and not isinstance(column.type, Boolean)
        ):
            casts.append(pl.col(name).cast(pl.Int64))
        elif isinstance(column.type, Boolean):
            casts.append(pl.col(name).cast(pl.Boolean))
        elif isinstance(column.type, DateTime) and dtype == pl.String:
            casts.append(pl.col(name).str.to_datetime("%Y-%m-%d %H:%M:%S%.f", time_unit="us"))
        elif isinstance(column.type, DateTime):
            casts.append(pl.col(name).cast(pl.Datetime("us")))
        elif isinstance(column.type, Date) and dtype == pl.String:
            casts.append(pl.col(name).str.to_date("%Y-%m-%d"))
    return frame.with_columns(casts) if casts else frame


def adbc_uri(engine: Engine) -> str:
    """The engine's database as a URI the ADBC drivers accept."""
    url = engine.url
    if url.get_backend_name() == "sqlite":
        return f"sqlite:///{url.database}"
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def extract(engine: Engine, tables: Iterable[str]) -> CoreFrames:
    """Read ``tables`` of the core database behind ``engine`` into frames."""
    dialect = make_url(engine.url).get_backend_name()
    uri = adbc_uri(engine)
    frames = {}
    for name in tables:
        table = Base.metadata.tables[name]
        sql = _select_sql(table, dialect)
        frame = pl.read_database_uri(sql, uri, engine="adbc")
        frames[name] = _normalise(frame, table)
    return CoreFrames(frames)
