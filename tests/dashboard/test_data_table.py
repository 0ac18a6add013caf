"""Grid rows show money in major units as the nearest float to the exact amount, in the
base currency or each row's own."""

from __future__ import annotations

from datetime import date

import polars as pl

from dashboard.components.data_table import Column, column_def, grid_rows
from dashboard.metrics.aging import aging_buckets
from dashboard.pages.ar_aging import BASE, DOCUMENT, AgingView, _table_columns


def test_money_in_major_units_is_the_nearest_float_to_the_exact_amount() -> None:
    frame = pl.DataFrame({"net_minor": [-31434, 31434, 1, None],
                          "doc_minor": [-31434, 500, 1234, 7],
                          "currency": ["USD", "JPY", "KWD", None]})
    rows = grid_rows(frame, [Column("net_minor", "Net", "money"),
                             Column("doc_minor", "Doc", "money", currency_field="currency"),
                             Column("currency", "Currency")], "USD")
    assert [r["net_minor"] for r in rows] == [-314.34, 314.34, 0.01, None]
    assert [r["doc_minor"] for r in rows] == [-314.34, 500.0, 1.234, None]


def test_number_cells_are_blank_without_a_value() -> None:
    """A paged grid's rows are empty while their block loads: number formatters show
    nothing then, never "NaN" (d3.format of undefined)."""
    formatters = [column_def(Column("x", "X", kind))["valueFormatter"]["function"]
                  for kind in ("money", "percent", "number")]
    for currency in (BASE, DOCUMENT):
        view = AgingView(date(2026, 6, 30), "due", False, False, None,
                         None, currency)  # type: ignore[arg-type]  # no filters needed
        formatters += [spec["valueFormatter"]["function"] for spec in
                       (column_def(c) for c in _table_columns(view, aging_buckets()))
                       if "valueFormatter" in spec]
    assert len(formatters) > 10
    assert all(f.startswith("params.value == null ?") for f in formatters), formatters
