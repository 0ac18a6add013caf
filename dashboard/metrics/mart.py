"""One published mart batch: read-only Polars frames by table name, in the process (DESIGN D3;
mapped from the batch's serving copy by ``dashboard.mart_reader``).

The metric layer reads only these frames; it never opens the core database.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

import polars as pl


@dataclass(frozen=True)
class Mart:
    """The frames of batch ``batch_id`` (published at ``published_at``, naive UTC)."""

    batch_id: str
    published_at: datetime
    tables: Mapping[str, pl.DataFrame]
    # Per instance, never copied: a Mart made by ``dataclasses.replace`` (other tables)
    # derives its own frames.
    derived: dict[str, pl.DataFrame] = field(default_factory=dict, init=False,
                                             compare=False, repr=False)
    _deriving: threading.RLock = field(default_factory=threading.RLock, init=False,
                                       compare=False, repr=False)

    def derive(self, name: str, build: Callable[[Mart], pl.DataFrame]) -> pl.DataFrame:
        """``build(self)``, computed once per batch and process and kept with the batch: for
        frames that depend on the batch only, never on the request. Requests that ask at
        once wait for the one computing it (a build may derive others)."""
        found = self.derived.get(name)
        if found is None:
            with self._deriving:
                found = self.derived.get(name)
                if found is None:
                    found = self.derived[name] = build(self)
        return found

    def lazy(self, name: str) -> pl.LazyFrame:
        """Table ``name`` as a lazy frame (a missing table is a programming error)."""
        return self.tables[name].lazy()

    def frame(self, name: str) -> pl.DataFrame:
        return self.tables[name]
