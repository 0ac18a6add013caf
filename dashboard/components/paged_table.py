"""A long read-only list paged on the server (DESIGN D7): AG Grid's community infinite row
model asks for blocks of ``BLOCK_ROWS`` rows and a secured callback answers each one.

The callback recomputes the page's frame from the URL query and the server-derived scope
(never from what the client sends), then applies the request's sort and filter only for the
table's own ``Column`` fields: a text filter (contains, equals; case-insensitive), a number
filter (equals, greater than, less than; money in major units, percent in points). Anything
else in the sort or filter model is ignored. The frame is kept per process for a few minutes
under the result-cache key of (batch, table, query, scope), so scrolling block after block
slices it rather than recomputing the list. Exports go through the page's ``export_tables``
like every other table, so they hold every row.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Collection
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs

import dash
import dash_ag_grid as dag
import polars as pl
from dash import Input, Output, State, html
from flask import current_app

from core.types import currency_digits
from dashboard import ids
from dashboard.components.data_table import (
    Column,
    Totals,
    column_def,
    export_buttons,
    grid_rows,
    pinned_rows,
)
from dashboard.metrics.mart import Mart
from dashboard.result_cache import page_key
from dashboard.secure import RequestContext, secured

BLOCK_ROWS = 100
MAX_BLOCK_ROWS = 1000
"""A request for more rows than this gets this many (the grid asks for ``BLOCK_ROWS``)."""
MAX_FILTER_TEXT = 100
NUMBER_KINDS = ("money", "number", "percent")
TEXT_FILTERS = ("contains", "equals")
NUMBER_FILTERS = ("equals", "greaterThan", "lessThan")
FRAMES_BYTES = 256 * 2**20
"""Memory the kept lists may take (an executive's year of documents at 1M lines: 10 MB)."""
FRAME_SECONDS = 300

Listed = tuple[pl.DataFrame, list[Column]]
Rows = Callable[[RequestContext, Mart, dict[str, str]], Listed]
"""A page's list in a batch for a URL query (single-valued keys), and the grid's columns."""


def paged_table(table_id: str, columns: list[Column], row_count: int, *,
                export: str | None = None, empty: str = "No rows in this scope and period",
                height: int = 360, currency: str = "",
                totals: Totals | None = None) -> html.Div:
    """The grid of a list of ``row_count`` rows (the empty notice when there are none);
    its rows come from the callback ``register_paged_table`` sets up for ``table_id``.
    ``totals`` (``data_table``'s, amounts in ``currency``) are pinned below the rows."""
    if row_count == 0:
        return html.Div(empty, className="text-muted fst-italic p-3", id=f"{table_id}-empty")
    options: dict[str, Any] = {}
    if totals is not None:
        options["pinnedBottomRowData"] = pinned_rows(totals, columns, currency)
    grid = dag.AgGrid(
        id=table_id,
        columnDefs=[_filtered(c) for c in columns],
        rowModelType="infinite",
        defaultColDef={"flex": 1, "minWidth": 110},
        dashGridOptions={"animateRows": False, "cacheBlockSize": BLOCK_ROWS,
                         "maxConcurrentDatasourceRequests": 1,
                         "infiniteInitialRowCount": min(row_count, BLOCK_ROWS), **options},
        style={"height": f"{height}px"},
    )
    return html.Div([*export_buttons(export), grid])


def _filtered(column: Column) -> dict[str, Any]:
    """The column's definition with the only filter the server applies to it (none when
    its options turn the filter off, e.g. a link with the same label on every row)."""
    if (column.options or {}).get("filter") is False:
        return column_def(column)
    number = column.kind in NUMBER_KINDS
    return {**column_def(column),
            "filter": "agNumberColumnFilter" if number else "agTextColumnFilter",
            "filterParams": {"filterOptions": list(NUMBER_FILTERS if number else TEXT_FILTERS),
                             "maxNumConditions": 1}}


def register_paged_table(app: dash.Dash, table_id: str, roles: Collection[str],
                         rows: Rows) -> None:
    """Answer the block requests of ``table_id`` from ``rows`` for the page's URL query,
    for ``roles`` only."""

    @app.callback(Output(table_id, "getRowsResponse"), Input(table_id, "getRowsRequest"),
                  State(ids.PAGES_LOCATION, "search"), prevent_initial_call=True)
    @secured(roles)
    def block(context: RequestContext, request: dict[str, Any] | None,
              search: str | None) -> dict[str, Any]:
        if not isinstance(request, dict) or context.mart is None:
            raise dash.exceptions.PreventUpdate
        query = {k: v[0] for k, v in parse_qs((search or "").lstrip("?")).items()
                 if len(v) == 1}
        frame, columns = listed(context, context.mart, table_id, query, rows)
        return grid_block(frame, columns, context.base_currency, request)


def grid_block(frame: pl.DataFrame, columns: list[Column], currency: str,
               request: dict[str, Any]) -> dict[str, Any]:
    """The rows ``request`` asks for (``startRow`` to ``endRow``, after its sort and filter
    on ``columns``) as grid rows, and how many rows the filtered list has."""
    fields = {c.field: c for c in columns}
    conditions = [condition for name, spec in _items(request.get("filterModel"))
                  if name in fields
                  and (condition := _condition(fields[name], spec, currency)) is not None]
    kept = frame.filter(*conditions) if conditions else frame
    sorts = request.get("sortModel")
    order = [(s.get("colId"), s.get("sort"))
             for s in (sorts if isinstance(sorts, list) else []) if isinstance(s, dict)]
    order = [(name, way) for name, way in order if name in fields and way in ("asc", "desc")]
    if order:
        kept = kept.sort([name for name, _ in order],
                         descending=[way == "desc" for _, way in order],
                         nulls_last=True, maintain_order=True)
    start = _row_index(request.get("startRow"), 0)
    end = min(_row_index(request.get("endRow"), start + BLOCK_ROWS), start + MAX_BLOCK_ROWS)
    return {"rowData": grid_rows(kept.slice(start, max(end - start, 0)), columns, currency),
            "rowCount": kept.height}


def _items(model: object) -> list[tuple[str, dict[str, Any]]]:
    if not isinstance(model, dict):
        return []
    return [(k, v) for k, v in model.items() if isinstance(k, str) and isinstance(v, dict)]


def _row_index(value: object, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 \
        else default


def _condition(column: Column, spec: dict[str, Any], currency: str) -> pl.Expr | None:
    """The Polars condition of one column's filter; None when it is not one we apply."""
    kind, value = spec.get("type"), spec.get("filter")
    if column.kind in NUMBER_KINDS:
        if (spec.get("filterType") != "number" or kind not in NUMBER_FILTERS
                or not isinstance(value, int | float) or isinstance(value, bool)
                or not math.isfinite(value)):
            return None
        values = pl.col(column.field)
        if column.kind == "percent":  # as shown: to a tenth of a point
            values = values.round(3)
        return _compare(values, kind, _stored(column, value, currency))
    if (spec.get("filterType") != "text" or kind not in TEXT_FILTERS
            or not isinstance(value, str) or not 0 < len(value) <= MAX_FILTER_TEXT):
        return None
    text = pl.col(column.field).cast(pl.String).str.to_lowercase()
    if kind == "equals":
        return text == value.lower()
    return text.str.contains(value.lower(), literal=True)


def _stored(column: Column, value: float, currency: str) -> Decimal:
    """What the user typed (money in major units, percent in points) as the frame holds it."""
    if column.kind == "money":
        return Decimal(str(value)).scaleb(currency_digits(currency))
    if column.kind == "percent":
        return Decimal(str(value)).scaleb(-2)
    return Decimal(str(value))


def _compare(values: pl.Expr, kind: str, target: Decimal) -> pl.Expr:
    if kind == "greaterThan":
        return values > float(target)
    if kind == "lessThan":
        return values < float(target)
    return (values - float(target)).abs() < 1e-9


class _Frames:
    """The lists computed last, each for ``FRAME_SECONDS``, at most ``FRAMES_BYTES`` in all
    (per app and process; the least recently used go first)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._frames: OrderedDict[str, tuple[float, int, Listed]] = OrderedDict()

    def get(self, key: str) -> Listed | None:
        with self._lock:
            found = self._frames.get(key)
            if found is None or found[0] < time.monotonic():
                return None
            self._frames.move_to_end(key)
            return found[2]

    def set(self, key: str, listed: Listed) -> None:
        size = int(listed[0].estimated_size())
        with self._lock:
            self._frames[key] = (time.monotonic() + FRAME_SECONDS, size, listed)
            self._frames.move_to_end(key)
            while sum(entry[1] for entry in self._frames.values()) > FRAMES_BYTES:
                self._frames.popitem(last=False)


FRAMES = "salesbi_paged_frames"
"""``server.extensions`` key of the app's ``_Frames`` (made on first use)."""


def listed(context: RequestContext, mart: Mart, table_id: str, query: dict[str, str],
           rows: Rows) -> Listed:
    """``rows(context, mart, query)``, kept per process under (batch, table, query, scope): the
    layout computes it for its totals and the block requests that follow slice it."""
    key = page_key(context, table_id, query)
    found = None if key is None else _frames().get(key)
    if found is None:
        found = rows(context, mart, query)
        if key is not None:
            _frames().set(key, found)
    return found


def keep(context: RequestContext, table_id: str, query: dict[str, str], fresh: Listed) -> None:
    """Keep ``fresh`` as the list of (batch, table, query, scope) in place of the one kept: a
    layout whose rows hold live columns renews them on every render."""
    key = page_key(context, table_id, query)
    if key is not None:
        _frames().set(key, fresh)


def _frames() -> _Frames:
    frames: _Frames = current_app.extensions.setdefault(FRAMES, _Frames())
    return frames
