"""Drill-through: clicking a bar or point opens the list of documents behind it.

A drillable figure carries, on each point, the query of its slice of the data
(``customdata``, e.g. ``kind=sales&customer=12`` or a custom period for one month). The
click callback keeps the page's own period and filters, lays the point's query over them and
sends the browser to the Documents page, which validates everything again on the server and
applies the user's scope — a forged click can narrow a list, never widen it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl

import dash
from dash import Input, Output, State

from dashboard import ids
from dashboard.metrics.scope import ALL_ROLES
from dashboard.secure import RequestContext, secured
from dashboard.view import GLOBAL_KEYS, query_string

DOCUMENTS_PATH = "/documents"
DRILL_KEYS = ("kind", "customer", "category", "product", "status", "stage", "close_month",
              "step", "as_of")
"""Query keys a point may set besides the global filters (``GLOBAL_KEYS``)."""


def drill_query(**values: object) -> str:
    """A point's ``customdata``: the query of its slice (empty values left out)."""
    return query_string(values).lstrip("?")


def drill_search(point_query: str, current_search: str | None) -> str:
    """The Documents page query: the page's global filters, then the point's own keys."""
    values = {k: v for k, v in parse_qsl((current_search or "").lstrip("?"))
              if k in GLOBAL_KEYS}
    point = {k: v for k, v in parse_qsl(point_query) if k in GLOBAL_KEYS + DRILL_KEYS}
    if "period" in point:  # a point with its own period replaces the page's dates
        values.pop("start", None)
        values.pop("end", None)
    values.update(point)
    return query_string(values)


def clicked(click: dict[str, Any] | None) -> str | None:
    """The ``customdata`` text of the clicked point of a graph's ``clickData``."""
    points = (click or {}).get("points") or []
    data = points[0].get("customdata") if points else None
    if isinstance(data, list):  # traces with several customdata columns
        data = data[0] if data else None
    return data if isinstance(data, str) else None


def register_drill(app: dash.Dash, graph_ids: Iterable[str],
                   path: str = DOCUMENTS_PATH) -> None:
    """A click on any point of these graphs opens ``path`` (the Documents page unless a
    page lists its points itself) for that point."""
    for graph_id in graph_ids:
        @app.callback(
            Output(ids.PAGES_LOCATION, "pathname", allow_duplicate=True),
            Output(ids.PAGES_LOCATION, "search", allow_duplicate=True),
            Input(graph_id, "clickData"),
            State(ids.PAGES_LOCATION, "search"),
            prevent_initial_call=True,
        )
        @secured(ALL_ROLES)
        def drill(context: RequestContext, click: dict[str, Any] | None,
                  search: str | None) -> tuple[str, str]:
            point = clicked(click)
            if point is None:
                raise dash.exceptions.PreventUpdate
            return path, drill_search(point, search)
