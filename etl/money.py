"""Money in the ETL: extracted scaled integers → integer minor units.

Document amounts are stored with 3 decimals (``core.types.AMOUNT_SCALE``) but always rounded
to their currency's digits, so the conversion is an exact integer division.
"""

from __future__ import annotations

import polars as pl

from core.types import AMOUNT_SCALE, currency_digits


def minor(column: str, currency: str, *, scale: int = AMOUNT_SCALE) -> pl.Expr:
    """``column`` (value × 10^scale) as integer minor units of ``currency``."""
    divided: pl.Expr = pl.col(column) // 10 ** (scale - currency_digits(currency))
    return divided.cast(pl.Int64)


def minor_rounded(expr: pl.Expr, from_scale: int, currency: str) -> pl.Expr:
    """An integer of scale ``from_scale`` rounded half-up (away from zero) to minor units —
    for products such as quantity × unit cost or amount × rate that are not yet rounded.

    Written with ``abs``/``sign`` so it also works on Int128 (amount × rate reaches 10^22,
    see ``wide``), which Polars cannot negate.
    """
    factor = 10 ** (from_scale - currency_digits(currency))
    rounded: pl.Expr = ((expr.abs() + factor // 2) // factor) * expr.sign()
    return rounded.cast(pl.Int64)


def wide(column: str) -> pl.Expr:
    """A scaled integer column as Int128, for products that overflow Int64."""
    return pl.col(column).cast(pl.Int128)
