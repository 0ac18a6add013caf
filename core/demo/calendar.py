"""The demo period and its demand curve: three years before ``end_date`` with growth,
seasonality (Q4 peak, summer dip) and quiet weekends.

Days are int32 day numbers since 1970-01-01 (``pl.Date`` physical values).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

EPOCH = date(1970, 1, 1)
SEASON = np.array([0.88, 0.92, 1.0, 1.0, 1.02, 0.95, 0.8, 0.76, 1.02, 1.12, 1.3, 1.2])
WEEKDAY = np.array([1.0, 1.0, 1.0, 1.0, 0.95, 0.12, 0.05])  # Monday first
YEARLY_GROWTH = 0.22


def day_number(d: date) -> int:
    """Days since 1970-01-01."""
    return (d - EPOCH).days


@dataclass(frozen=True)
class Calendar:
    """The generated period [start, end] and its cumulative demand curve."""

    start: int
    end: int
    cumulative: np.ndarray  # length days+1, 0 … 1

    @classmethod
    def ending(cls, end: date) -> Calendar:
        try:
            start_date = end.replace(year=end.year - 3)
        except ValueError:  # 29 February
            start_date = end.replace(year=end.year - 3, day=28)
        start, stop = day_number(start_date) + 1, day_number(end)
        days = np.arange(start, stop + 1)
        dt = days.astype("datetime64[D]")
        months = dt.astype("datetime64[M]").astype(int) % 12
        weekday = (days + 3) % 7  # 1970-01-01 was a Thursday
        growth = 1 + YEARLY_GROWTH * (days - start) / 365.25
        intensity = growth * SEASON[months] * WEEKDAY[weekday]
        cumulative = np.concatenate([[0.0], np.cumsum(intensity)])
        return cls(start, stop, cumulative / cumulative[-1])

    @property
    def days(self) -> int:
        return self.end - self.start + 1

    def position(self, day: np.ndarray) -> np.ndarray:
        """Operational time (0 … 1) of each day: the share of demand before it."""
        idx = np.clip(np.asarray(day) - self.start, 0, self.days)
        return np.asarray(self.cumulative[idx], dtype=np.float64)

    def day_at(self, u: np.ndarray) -> np.ndarray:
        """The day in which operational time ``u`` falls (inverse of ``position``)."""
        idx = np.searchsorted(self.cumulative, np.clip(u, 0, 1), side="right") - 1
        return np.asarray(self.start + np.clip(idx, 0, self.days - 1), dtype=np.int32)

    @staticmethod
    def month_start(day: np.ndarray) -> np.ndarray:
        """First day of each day's month, as day numbers."""
        return np.asarray(day).astype("datetime64[D]").astype("datetime64[M]") \
            .astype("datetime64[D]").astype(np.int32)

    @staticmethod
    def weekday(day: np.ndarray) -> np.ndarray:
        """0 = Monday … 6 = Sunday."""
        return ((np.asarray(day) + 3) % 7).astype(np.int8)
