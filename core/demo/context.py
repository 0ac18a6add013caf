"""What every generation step shares: the seed, the period, reference data read from the
target database (terms, tax rates, number series) and the currencies in play."""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

import numpy as np

from core.demo.calendar import Calendar

FOREIGN_CANDIDATES = ("EUR", "GBP", "USD")


@dataclass(frozen=True)
class NumberSeries:
    prefix: str
    padding: int


@dataclass
class DemoContext:
    """Inputs of one demo generation. ``currencies[0]`` is the base currency."""

    seed: int
    customers: int
    lines: int
    calendar: Calendar
    base_currency: str
    terms: dict[str, tuple[int, bool]]  # code -> (net days, is cash)
    tax_rates: dict[str, int]  # code -> rate ×10^4
    series: dict[str, NumberSeries]
    currencies: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.currencies:
            foreign = [c for c in FOREIGN_CANDIDATES if c != self.base_currency][:2]
            self.currencies = [self.base_currency, *foreign]

    def rng(self, stream: str) -> np.random.Generator:
        """An independent random stream per generation step, so steps do not shift each
        other's draws when one changes."""
        return np.random.default_rng([self.seed, zlib.crc32(stream.encode())])

    def number_series(self, doc_type: str) -> NumberSeries:
        return self.series.get(doc_type, NumberSeries(doc_type[:3].upper(), 7))
