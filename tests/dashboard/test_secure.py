"""Every callback and page layout goes through the one wrapper; scope comes from the
session, never from the request."""

from __future__ import annotations

import inspect

import dash
import polars as pl
import pytest
from flask.testing import FlaskClient

from dashboard.secure import SECURED_MARK
from tests.dashboard.conftest import DemoMart
from tests.dashboard.dash_client import export, find_component, login, page_json, render_page

DASH_ROUTING_OUTPUTS = {"_pages_content.children", "_pages_dummy.children"}
"""Dash's own page router (it calls the secured page layouts) and its title setter."""



def _is_secured(fn: object) -> bool:
    while fn is not None:
        if hasattr(fn, SECURED_MARK):
            return True
        fn = getattr(fn, "__wrapped__", None)
    return False


def test_every_callback_and_page_layout_goes_through_the_wrapper(demo_app: dash.Dash) -> None:
    client = demo_app.server.test_client()
    login(client, "exec")
    assert client.get("/_dash-dependencies").status_code == 200  # routing is set up now
    unsecured = []
    for output, spec in demo_app.callback_map.items():
        internal = any(part.strip(".") in DASH_ROUTING_OUTPUTS
                       for part in output.split("..."))
        if not internal and not _is_secured(spec["callback"]):
            unsecured.append(output)
    assert len(demo_app.callback_map) >= 4
    assert unsecured == []
    layouts = {page["path"]: page["layout"] for page in dash.page_registry.values()}
    assert "/" in layouts
    assert [path for path, layout in layouts.items() if not _is_secured(layout)] == []
    assert _is_secured(demo_app.layout)


def test_the_wrapper_refuses_a_role_it_does_not_allow(demo_app: dash.Dash) -> None:
    from dashboard.secure import secured

    @secured({"finance"})
    def finance_only(context):  # type: ignore[no-untyped-def]
        return context.scope.role

    with demo_app.server.test_request_context():
        from werkzeug.exceptions import Forbidden

        with pytest.raises(Forbidden):
            finance_only()
    assert "context" in inspect.signature(finance_only).parameters


def _net_sales_note(client: FlaskClient, search: str = "") -> str:
    import json

    tree = json.loads(page_json(client, "/", search))
    card = find_component(tree, "home-net-sales")
    assert card is not None
    return card["props"]["children"]


def test_a_rep_cannot_widen_their_scope_with_another_reps_id(demo_app: dash.Dash,
                                                             demo_mart: DemoMart) -> None:
    client = demo_app.server.test_client()
    login(client, "rep")
    own = _net_sales_note(client, "?period=ytd")
    reps = demo_mart.mart.frame("dim_rep").filter(pl.col("rep_key") >= 0)["rep_id"].to_list()
    others = ",".join(str(r) for r in reps)
    assert _net_sales_note(client, f"?period=ytd&rep={others}") == own
    everyone = demo_app.server.test_client()
    login(everyone, "exec")
    assert _net_sales_note(everyone, "?period=ytd") != own


def test_an_unknown_role_path_or_forged_export_is_refused(demo_app: dash.Dash) -> None:
    client = demo_app.server.test_client()
    login(client, "rep")
    assert export(client, "home-breakdown", "/nowhere").status_code == 403
    assert render_page(client, "/").status_code == 200
