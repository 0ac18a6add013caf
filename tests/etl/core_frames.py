"""Hand-made ``CoreFrames`` with the dtypes ``etl.extract`` produces, for transform tests.

Rows are dicts with the stored values: scaled numerics as integers of value × 10^scale
(``amount("12.34")`` → 12340); columns left out are null.
"""

from __future__ import annotations

from decimal import Decimal

import polars as pl
from sqlalchemy import Boolean, Column, Date, DateTime, Integer

from core.models import Base
from core.types import AMOUNT_SCALE, PRICE_SCALE, QUANTITY_SCALE, RATE_SCALE, ScaledNumeric
from etl.extract import CoreFrames


def extract_dtype(column: Column) -> pl.DataType:  # type: ignore[type-arg]
    """The dtype ``etl.extract`` gives a core column."""
    if isinstance(column.type, ScaledNumeric | Integer):
        return pl.Int64()
    if isinstance(column.type, Boolean):
        return pl.Boolean()
    if isinstance(column.type, DateTime):
        return pl.Datetime("us")
    if isinstance(column.type, Date):
        return pl.Date()
    return pl.String()


def core_frames(tables: tuple[str, ...], **rows: list[dict[str, object]]) -> CoreFrames:
    """Frames for ``tables`` (empty unless given ``rows``) with the extract dtypes."""
    frames = {}
    for name in tables:
        columns = Base.metadata.tables[name].columns
        schema = {c.name: extract_dtype(c) for c in columns}
        data = [{c: row.get(c) for c in schema} for row in rows.get(name, [])]
        unknown = {k for row in rows.get(name, []) for k in row} - set(schema)
        assert not unknown, f"{name} has no columns {unknown}"
        frames[name] = pl.DataFrame(data, schema=schema) if data \
            else pl.DataFrame(schema=schema)
    return CoreFrames(frames)


def _scaled(value: str, scale: int) -> int:
    return int(Decimal(value).scaleb(scale))


def amount(value: str) -> int:
    """A stored amount (scale 3)."""
    return _scaled(value, AMOUNT_SCALE)


def price(value: str) -> int:
    """A stored unit price or cost (scale 4)."""
    return _scaled(value, PRICE_SCALE)


def quantity(value: str) -> int:
    """A stored quantity (scale 4)."""
    return _scaled(value, QUANTITY_SCALE)


def rate(value: str) -> int:
    """A stored exchange rate (scale 10)."""
    return _scaled(value, RATE_SCALE)
