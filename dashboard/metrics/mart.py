"""One published mart batch held in memory: read-only Polars frames by table name (DESIGN D3).

The metric layer reads only these frames; it never opens the core database.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import polars as pl


@dataclass(frozen=True)
class Mart:
    """The frames of batch ``batch_id`` (published at ``published_at``, naive UTC)."""

    batch_id: str
    published_at: datetime
    tables: Mapping[str, pl.DataFrame]

    def lazy(self, name: str) -> pl.LazyFrame:
        """Table ``name`` as a lazy frame (a missing table is a programming error)."""
        return self.tables[name].lazy()

    def frame(self, name: str) -> pl.DataFrame:
        return self.tables[name]
