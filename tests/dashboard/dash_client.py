"""Calling Dash callbacks and the export route over HTTP as a logged-in user, the way the
browser does."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Any

from flask.testing import FlaskClient

from dashboard.downloads import export_url

DEMO_PASSWORD = "demo"


def login(client: FlaskClient, username: str, password: str = DEMO_PASSWORD) -> Any:
    return client.post("/login", data={"username": username, "password": password})


def router_body(pathname: str, search: str = "") -> dict[str, Any]:
    """The body the browser posts to the pages router for ``pathname`` + ``search``."""
    return {
        "output": ".._pages_content.children..._pages_store.data..",
        "outputs": [{"id": "_pages_content", "property": "children"},
                    {"id": "_pages_store", "property": "data"}],
        "inputs": [{"id": "_pages_location", "property": "pathname", "value": pathname},
                   {"id": "_pages_location", "property": "search", "value": search}],
        "changedPropIds": ["_pages_location.pathname"],
        "state": [],
    }


def render_page(client: FlaskClient, pathname: str, search: str = "") -> Any:
    """POST the pages router callback for ``pathname`` + ``search``; the response."""
    return client.post("/_dash-update-component", json=router_body(pathname, search))


def export(client: FlaskClient, table: str, pathname: str, search: str = "",
           fmt: str = "csv") -> Any:
    """GET the export of ``table`` as ``fmt`` on ``pathname`` + ``search``, the address a
    click on its button opens (``assets/export.js``); the response."""
    return client.get(export_url(table, fmt, pathname, search))


def exported_rows(response: Any) -> list[dict[str, str]]:
    """The rows of a CSV export's response (asserted to be a CSV download)."""
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.headers["Content-Disposition"].startswith("attachment;")
    return list(csv.DictReader(io.StringIO(response.get_data().decode("utf-8-sig"))))


def page_json(client: FlaskClient, pathname: str, search: str = "") -> str:
    """The rendered page layout as JSON text (asserts the call succeeded)."""
    response = render_page(client, pathname, search)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return json.dumps(response.get_json()["response"]["_pages_content"]["children"])


def find_component(tree: Any, component_id: str) -> dict[str, Any] | None:
    """The component with ``component_id`` in a serialised layout, depth first."""
    if isinstance(tree, dict):
        if tree.get("props", {}).get("id") == component_id:
            return tree
        for value in tree.get("props", {}).values():
            found = find_component(value, component_id)
            if found is not None:
                return found
    elif isinstance(tree, list):
        for item in tree:
            found = find_component(item, component_id)
            if found is not None:
                return found
    return None


def callback_with_input(app: Any, component_id: str) -> str:
    """The ``callback_map`` key (its outputs) of the one callback with an Input on
    ``component_id``."""
    (key,) = [key for key, spec in app.callback_map.items()
              if any(item["id"] == component_id for item in spec["inputs"])]
    return str(key)


def post_callback(client: FlaskClient, key: str, inputs: list[Any],
                  state: Sequence[Any] = ()) -> Any:
    """POST the callback ``key`` (from ``callback_with_input``) as the browser does, with
    ``inputs`` and ``state`` as lists of ``{"id", "property", "value"}`` (a list of them
    for a wildcard); the first input is the one that changed. The response."""
    parts = [part.rsplit(".", 1) for part in key.strip(".").split("...")]
    outputs = [{"id": component, "property": prop} for component, prop in parts]
    first = inputs[0]
    return client.post("/_dash-update-component", json={
        "output": key, "outputs": outputs if len(outputs) > 1 else outputs[0],
        "inputs": inputs, "state": list(state),
        "changedPropIds": [f"{first['id']}.{first['property']}"]})


def save_collection_call(app: Any, client: FlaskClient, invoice: dict[str, Any],
                         values: dict[str, Any]) -> Any:
    """POST the collection-call form's Save about ``invoice`` (``invoice_id``, ``label``)
    with ``values`` by field name, as the browser does. The response."""
    from dashboard.forms.collections import FIELD, FIELDS, INVOICE, SAVE

    fields = [{"id": {"type": FIELD, "field": name}, "property": "value",
               "value": values.get(name)} for name in FIELDS]
    return post_callback(client, callback_with_input(app, SAVE),
                         [{"id": SAVE, "property": "n_clicks", "value": 1}],
                         [{"id": INVOICE, "property": "data", "value": invoice}, fields])


def grid_block_response(app: Any, client: FlaskClient, table: str, search: str = "",
                        **request: Any) -> Any:
    """POST a block request of a paged grid (``dashboard.components.paged_table``) for a
    page's ``search`` as the browser does (default rows 0–1000; ``request`` adds to or
    overrides it: ``startRow``, ``endRow``, ``sortModel``, ``filterModel``): the response."""
    return post_callback(client, callback_with_input(app, table),
                         [{"id": table, "property": "getRowsRequest",
                           "value": {"startRow": 0, "endRow": 1000} | request}],
                         [{"id": "_pages_location", "property": "search", "value": search}])


def grid_block(app: Any, client: FlaskClient, table: str, search: str = "",
               **request: Any) -> tuple[list[dict[str, Any]], int]:
    """The rows of a ``grid_block_response`` and the row count of the whole (filtered)
    list."""
    response = grid_block_response(app, client, table, search, **request)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    body = response.get_json()["response"][table]["getRowsResponse"]
    return body["rowData"], body["rowCount"]
