"""How generated tables are represented before loading.

A demo table is a Polars frame whose columns carry the target table's column names.
Decimal columns are Int64 counts of 10^-s units, where s is ``frame_scale(column)``:
amounts in cents, prices/costs/discounts/tax rates/probabilities ×10^4, exchange rates
×10^6, quantities whole units. The loader rescales them to each column's own scale read
from the table metadata. Dates are ``pl.Date``, timestamps naive UTC ``pl.Datetime``.
"""

from __future__ import annotations

import numpy as np
import polars as pl

MONEY_SCALE = 2
_SCALES = {
    "quantity": 0, "cancelled_quantity": 0,
    "unit_price": 4, "unit_cost": 4, "list_price": 4, "min_price": 4,
    "discount_pct": 4, "tax_rate": 4, "probability": 4, "financing_rate": 4,
    "rate": 6, "fx_rate": 6,
}
DAY_US = 86_400_000_000


def frame_scale(column: str) -> int:
    """Decimal digits of a frame column's integer values (see module docstring)."""
    return _SCALES.get(column, MONEY_SCALE)


def dates(days: np.ndarray) -> pl.Series:
    """Day numbers (days since 1970-01-01) as a date series; negative = null is not used."""
    return pl.Series(np.asarray(days, dtype=np.int32)).cast(pl.Date)


def timestamps(days: np.ndarray, seconds: np.ndarray | int) -> pl.Series:
    """``days`` at ``seconds`` after midnight, as naive UTC timestamps."""
    us = np.asarray(days, dtype=np.int64) * DAY_US + np.asarray(seconds, dtype=np.int64) * 1_000_000
    return pl.Series(us).cast(pl.Datetime("us"))


def numbers(prefix: str, padding: int, ids: np.ndarray) -> pl.Series:
    """Document numbers ``prefix`` + zero-padded ids (as ``core.numbering`` issues them)."""
    digits = pl.Series(np.asarray(ids, dtype=np.int64)).cast(pl.Utf8).str.zfill(padding)
    return pl.select(pl.lit(prefix) + digits).to_series()


def nullable(values: np.ndarray, null: np.ndarray) -> pl.Series:
    """``values`` with nulls where ``null`` is true."""
    return pl.Series(values).set(pl.Series(np.asarray(null, dtype=bool)), None)
