"""Money in the ETL: extracted scaled integers → integer minor units.

Document amounts are stored with 3 decimals (``core.types.AMOUNT_SCALE``) but always rounded
to their currency's digits, so the conversion is an exact integer division.
"""

from __future__ import annotations

import polars as pl

from core.types import AMOUNT_SCALE, currency_digits


def minor(column: str, currency: str, *, scale: int = AMOUNT_SCALE) -> pl.Expr:
    """``column`` (value × 10^scale) as integer minor units of ``currency``."""
    return (pl.col(column) // 10 ** (scale - currency_digits(currency))).cast(pl.Int64)


def minor_rounded(expr: pl.Expr, from_scale: int, currency: str) -> pl.Expr:
    """An integer of scale ``from_scale`` rounded half-up (away from zero) to minor units —
    for products such as quantity × unit cost that are not yet rounded."""
    factor = 10 ** (from_scale - currency_digits(currency))
    half = factor // 2
    return (
        pl.when(expr >= 0).then((expr + half) // factor).otherwise(-((-expr + half) // factor))
    ).cast(pl.Int64)
