"""Vectorised money arithmetic on integer minor units (NumPy int64), rounding half-up.

The demo generator never uses floats for amounts: every amount is an int64 count of
cents (the demo supports 2-digit currencies), prices and costs are int64 units of 10^-4,
discounts and tax rates int64 units of 10^-4, exchange rates int64 units of 10^-6. The
results equal ``core.types.round_money`` on the same Decimal values, to the cent.
"""

from __future__ import annotations

import numpy as np

PRICE_UNIT = 10_000  # prices, costs, discounts and tax rates are stored ×10^4
RATE_UNIT = 1_000_000  # the generator draws exchange rates with 6 decimals


def div_half_up(num: np.ndarray, den: int | np.ndarray) -> np.ndarray:
    """``num / den`` rounded half away from zero (Decimal ROUND_HALF_UP); ``den`` > 0."""
    num = np.asarray(num, dtype=np.int64)
    q = (2 * np.abs(num) + den) // (2 * np.asarray(den, dtype=np.int64))
    return np.asarray(np.where(num < 0, -q, q), dtype=np.int64)


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


def prorate(group: np.ndarray, weights: np.ndarray, totals: np.ndarray) -> np.ndarray:
    """Split ``totals[g]`` over the rows of each group ``g`` pro rata to ``weights``.

    ``group`` holds sorted group indexes (0 … len(totals) − 1); weights are ≥ 0. Each share
    is rounded half-up and the remainder goes to the row with the largest weight (the
    first such row); all-zero weights put the total on the first row — exactly like
    ``core.types.prorate``.
    """
    n = totals.size
    w_sum = np.bincount(group, weights=weights, minlength=n).astype(np.int64)
    w_row = w_sum[group]
    share = np.where(w_row > 0, (2 * totals[group] * weights + w_row) // np.maximum(2 * w_row, 1),
                     0).astype(np.int64)
    starts = np.searchsorted(group, np.arange(n))
    has_rows = starts < group.size
    by_weight = np.lexsort((np.arange(group.size), -weights, group))
    target = np.where(w_sum > 0, by_weight[np.minimum(starts, group.size - 1)],
                      np.minimum(starts, group.size - 1))
    remainder = totals - np.bincount(group, weights=share, minlength=n).astype(np.int64)
    np.add.at(share, target[has_rows], remainder[has_rows])
    return share
