"""Hand-made AR marts: ``fct_ar_item.settled_date_key`` worked out in plain Python from the
hand-made allocations (the rule of ``etl.facts.ar``), so the metric tests exercise the
pruning of settled items (``etl.facts.open_ar.possibly_open``)."""

from __future__ import annotations

from collections import defaultdict

import polars as pl


def with_settled_dates(items: pl.DataFrame, allocations: pl.DataFrame) -> pl.DataFrame:
    """``items`` plus ``settled_date_key``: the date of an item's latest allocation (as
    target or source) when its allocations add up to its amount, else -1."""
    applied: dict[tuple[str, int], int] = defaultdict(int)
    latest: dict[tuple[str, int], int] = defaultdict(int)
    for row in allocations.iter_rows(named=True):
        for side in ("target", "source"):
            key = (row[f"{side}_type"], row[f"{side}_id"])
            applied[key] += row["amount_doc_minor"]
            latest[key] = max(latest[key], row["allocation_date_key"])
    settled = []
    for row in items.iter_rows(named=True):
        key = (row["item_type"], row["document_id"])
        paid = key in applied and applied[key] == abs(row["amount_doc_minor"])
        settled.append(latest[key] if paid else -1)
    return items.with_columns(pl.Series("settled_date_key", settled, pl.Int32))
