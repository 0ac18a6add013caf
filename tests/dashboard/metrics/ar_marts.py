"""Hand-made AR marts: ``settled_date_key`` of ``fct_ar_item`` and ``fct_ar_allocation``
worked out in plain Python from the hand-made allocations (the rules of ``etl.facts.ar``), so
the metric and cash-forecast tests exercise the pruning of settled items and allocations
(``etl.facts.open_ar.possibly_open``)."""

from __future__ import annotations

from collections import defaultdict

import polars as pl


def settled_ar(items: pl.DataFrame, allocations: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """``fct_ar_item`` and ``fct_ar_allocation`` with their ``settled_date_key``: an item's is
    the date of its latest allocation (as target or source) when its allocations add up to
    its amount, else -1; an allocation's the later of its two documents', -1 when either is
    -1."""
    applied: dict[tuple[str, int], int] = defaultdict(int)
    latest: dict[tuple[str, int], int] = defaultdict(int)
    for row in allocations.iter_rows(named=True):
        for side in ("target", "source"):
            key = (row[f"{side}_type"], row[f"{side}_id"])
            applied[key] += row["amount_doc_minor"]
            latest[key] = max(latest[key], row["allocation_date_key"])
    settled: dict[tuple[str, int], int] = {}
    for row in items.iter_rows(named=True):
        key = (row["item_type"], row["document_id"])
        paid = key in applied and applied[key] == abs(row["amount_doc_minor"])
        settled[key] = latest[key] if paid else -1
    item_dates = [settled[(t, i)] for t, i in zip(items["item_type"], items["document_id"],
                                                   strict=True)]
    both = []
    for row in allocations.iter_rows(named=True):
        dates = [settled.get((row[f"{side}_type"], row[f"{side}_id"]), -1)
                 for side in ("target", "source")]
        both.append(-1 if -1 in dates else max(dates))
    return {
        "fct_ar_item": items.with_columns(pl.Series("settled_date_key", item_dates, pl.Int32)),
        "fct_ar_allocation": allocations.with_columns(
            pl.Series("settled_date_key", both, pl.Int32)),
    }
