"""A read-only AG Grid table with CSV/XLSX export buttons beside it.

Columns are described by ``Column``; money columns arrive as integer minor units and are
shown in major units with thousands separators (of the table's currency, or of each row's
``currency_field``). Exports are built on the server from the
same metric call (``dashboard.export``), never from what the browser holds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import dash_ag_grid as dag
import dash_bootstrap_components as dbc
import polars as pl
from dash import html

from core.types import currency_digits
from dashboard.ids import EXPORT_BUTTON


@dataclass(frozen=True)
class Column:
    """``field`` of the frame, its header, and how to show it: text | money | percent |
    number | link (``field`` holds the label, ``href_field`` the target). A money column
    with ``currency_field`` is in minor units of each row's currency (that field's)."""

    field: str
    header: str
    kind: str = "text"
    href_field: str | None = None
    options: Mapping[str, Any] | None = None  # AG Grid column options (width, pinning)
    currency_field: str | None = None


def column_def(column: Column) -> dict[str, Any]:
    spec: dict[str, Any] = {"field": column.field, "headerName": column.header,
                            "sortable": True, "filter": True, "resizable": True}
    if column.kind == "money":
        spec.update(type="rightAligned", valueFormatter={  # blank while a block loads
            "function": "params.value == null ? '' : d3.format(',.2f')(params.value)"})
    elif column.kind == "percent":
        spec.update(type="rightAligned", valueFormatter={
            "function": "params.value == null ? '–' : d3.format('.1%')(params.value)"})
    elif column.kind == "number":
        spec.update(type="rightAligned", valueFormatter={
            "function": "params.value == null ? '' : d3.format(',')(params.value)"})
    elif column.kind == "link":
        spec.update(cellRenderer="markdown", flex=2, minWidth=220)
    spec.update(column.options or {})
    return spec


def grid_rows(frame: pl.DataFrame, columns: list[Column], currency: str) -> list[dict[str, Any]]:
    """Rows for the grid: money in major units (display only; the nearest float to the
    exact amount — Polars divides by a literal as a product with its reciprocal, so
    -31434 / 100 would be -314.34000000000003), links as markdown."""
    exprs = []
    for column in columns:
        if column.kind == "money":
            major = pl.col(column.field) / _unit(frame, currency, column.currency_field)
            exprs.append(major.round(_digits(frame, currency, column.currency_field))
                         .alias(column.field))
        elif column.kind == "link" and column.href_field:
            label = pl.col(column.field).fill_null("(unnamed)")
            exprs.append(pl.when(pl.col(column.href_field).is_null()).then(label)
                         .otherwise(pl.format("[{}]({})", label, pl.col(column.href_field)))
                         .alias(column.field))
        else:
            exprs.append(pl.col(column.field))
    return frame.select(exprs).to_dicts()


def _digits(frame: pl.DataFrame, currency: str, currency_field: str | None) -> int:
    """The most decimal places of ``currency`` or of the rows' ``currency_field``."""
    if currency_field is None:
        return currency_digits(currency)
    return max((currency_digits(c) for c in frame[currency_field].drop_nulls().unique()),
               default=currency_digits(currency))


def _unit(frame: pl.DataFrame, currency: str, currency_field: str | None) -> pl.Expr:
    """Minor units per major unit: of ``currency``, or of each row's ``currency_field``."""
    if currency_field is None:
        return pl.lit(10 ** currency_digits(currency))
    scales = {c: 10 ** currency_digits(c) for c in frame[currency_field].drop_nulls().unique()}
    return pl.col(currency_field).replace_strict(scales, default=None,
                                                 return_dtype=pl.Int64)


def export_buttons(export: str | None) -> list[dbc.ButtonGroup]:
    """The CSV and Excel buttons of the table named ``export`` (none without a name)."""
    if not export:
        return []
    return [dbc.ButtonGroup([
        dbc.Button(label, id={"type": EXPORT_BUTTON, "table": export, "format": fmt},
                   size="sm", color="secondary", outline=True)
        for fmt, label in (("csv", "CSV"), ("xlsx", "Excel"))
    ], className="mb-2")]


Totals = Mapping[str, Any] | Sequence[Mapping[str, Any]]
"""A totals row (values by field, a link column's label without its href) or several (e.g.
one per currency)."""


def pinned_rows(totals: Totals, columns: list[Column], currency: str) -> list[dict[str, Any]]:
    """``totals`` as grid rows to pin below a grid's rows (``pinnedBottomRowData``)."""
    fields = {c.field for c in columns} | {c.currency_field for c in columns
                                            if c.currency_field}
    rows = pl.DataFrame([{f: row.get(f) for f in fields}
                         | {c.href_field: None for c in columns if c.href_field}
                         for row in ([totals] if isinstance(totals, Mapping) else totals)])
    return grid_rows(rows, columns, currency)


def data_table(table_id: str, frame: pl.DataFrame, columns: list[Column], currency: str,
               *, export: str | None = None, empty: str = "No rows in this scope and period",
               height: int = 360, totals: Totals | None = None,
               row_id: str | None = None) -> html.Div:
    """The grid for ``frame``; ``export`` names the table for the export buttons; ``totals``
    (values by field, a link column's label without its href; or several such rows, e.g.
    one per currency) is pinned below the rows;
    ``row_id`` (a text field of the columns, unique per row) makes one row selectable by
    a click, reported in the grid's ``selectedRows`` and kept across new ``rowData``."""
    if frame.is_empty():
        return html.Div(empty, className="text-muted fst-italic p-3", id=table_id)
    buttons = export_buttons(export)
    options: dict[str, Any] = {}
    if totals is not None:
        options["pinnedBottomRowData"] = pinned_rows(totals, columns, currency)
    selection: dict[str, Any] = {}
    if row_id is not None:
        options["rowSelection"] = {"mode": "singleRow", "checkboxes": False,
                                   "enableClickSelection": True}
        selection["getRowId"] = f"params.data.{row_id}"
    grid = dag.AgGrid(
        id=table_id,
        columnDefs=[column_def(c) for c in columns],
        rowData=grid_rows(frame, columns, currency),
        defaultColDef={"flex": 1, "minWidth": 110},
        dashGridOptions={"domLayout": "normal", "animateRows": False, **options},
        style={"height": f"{height}px"},
        **selection,
    )
    return html.Div([*buttons, grid])
