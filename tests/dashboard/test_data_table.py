"""Grid rows show money in major units as the nearest float to the exact amount, in the
base currency or each row's own."""

from __future__ import annotations

import polars as pl

from dashboard.components.data_table import Column, grid_rows


def test_money_in_major_units_is_the_nearest_float_to_the_exact_amount() -> None:
    frame = pl.DataFrame({"net_minor": [-31434, 31434, 1, None],
                          "doc_minor": [-31434, 500, 1234, 7],
                          "currency": ["USD", "JPY", "KWD", None]})
    rows = grid_rows(frame, [Column("net_minor", "Net", "money"),
                             Column("doc_minor", "Doc", "money", currency_field="currency"),
                             Column("currency", "Currency")], "USD")
    assert [r["net_minor"] for r in rows] == [-314.34, 314.34, 0.01, None]
    assert [r["doc_minor"] for r in rows] == [-314.34, 500.0, 1.234, None]
