"""Vectorised money arithmetic on integer minor units (NumPy int64), rounding half-up.

The demo generator never uses floats for amounts: every amount is an int64 count of
cents (the demo supports 2-digit currencies), prices and costs are int64 units of 10^-4,
discounts and tax rates int64 units of 10^-4, exchange rates int64 units of 10^-6. The
results equal ``core.types.round_money`` on the same Decimal values, to the cent.
"""

from __future__ import annotations

import numpy as np
import polars as pl

PRICE_UNIT = 10_000  # prices, costs, discounts and tax rates are stored ×10^4
RATE_UNIT = 1_000_000  # the generator draws exchange rates with 6 decimals


def div_half_up(num: np.ndarray, den: int | np.ndarray) -> np.ndarray:
    """``num / den`` rounded half away from zero (Decimal ROUND_HALF_UP); ``den`` > 0."""
    num = np.asarray(num, dtype=np.int64)
    q = (2 * np.abs(num) + den) // (2 * np.asarray(den, dtype=np.int64))
    return np.where(num < 0, -q, q).astype(np.int64)


def line_net(qty: np.ndarray, price4: np.ndarray, disc4: np.ndarray) -> np.ndarray:
    """Cents of round(quantity × unit_price × (1 − discount)); integer quantities."""
    return div_half_up(qty * price4 * (PRICE_UNIT - disc4), 100 * PRICE_UNIT)


def apply_rate(cents: np.ndarray, rate6: np.ndarray) -> np.ndarray:
    """Cents × exchange rate, rounded half-up to cents (base currency)."""
    return div_half_up(cents * rate6, RATE_UNIT)


def percent_of(cents: np.ndarray, pct4: np.ndarray) -> np.ndarray:
    """round(cents × pct) for a rate in units of 10^-4 (tax, discount)."""
    return div_half_up(cents * pct4, PRICE_UNIT)


def cost_cents(qty: np.ndarray, cost4: np.ndarray) -> np.ndarray:
    """Cents of round(quantity × unit_cost)."""
    return div_half_up(qty * cost4, 100)


def prorate_expr(total: str, weight: str, group: str) -> pl.Expr:
    """Share of ``total`` (per ``group``, same on every row) pro rata to ``weight``.

    Each share is rounded half-up; the remainder goes to the row with the largest weight
    (the first such row), exactly like ``core.types.prorate``. Integer columns, weights ≥ 0.
    """
    w_sum = pl.col(weight).sum().over(group)
    share = (2 * pl.col(total) * pl.col(weight) + w_sum) // (2 * w_sum)
    share = pl.when(w_sum == 0).then(0).otherwise(share)
    first_w0 = pl.int_range(pl.len()).over(group) == 0
    share = pl.when((w_sum == 0) & first_w0).then(pl.col(total)).otherwise(share)
    largest = pl.int_range(pl.len()).over(group) == pl.col(weight).arg_max().over(group)
    remainder = pl.col(total) - share.sum().over(group)
    return share + pl.when(largest & (w_sum > 0)).then(remainder).otherwise(0)
