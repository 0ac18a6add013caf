"""The collections page over HTTP: finance sees the worklist of the core's open, overdue,
undisputed invoices in rank order with the live follow-up fields, reps and managers only
their customers' rows and no form, the export holds every row of the user's scope; the
collection-call form (on a copy of the demo company) saves a call and a promise in one
action and the row shows them at once, bad input comes back as field messages with nothing
written, and no role but finance may save — not even by posting to the callback directly.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

import dash
import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from core.billing.models import Invoice
from core.company.services import company_today
from core.customers.models import Interaction
from dashboard.formatting import compact_money
from dashboard.forms.collections import FIELDS, INVOICE
from dashboard.pages.collections import GRID, LOG_BUTTON, PATH, SHOWN_ROWS
from tests.dashboard.conftest import DemoMart, Writable, managed_customers
from tests.dashboard.dash_client import (
    callback_with_input,
    export,
    exported_rows,
    find_component,
    login,
    page_json,
    post_callback,
    save_collection_call,
)
from tests.dashboard.metrics.core_collections import Expected, core_worklist


def _expected(demo: DemoMart) -> list[Expected]:
    with Session(demo.core) as session:
        return core_worklist(session, company_today(session))


def _signed_in(app: dash.Dash, username: str) -> FlaskClient:
    client = app.server.test_client()
    login(client, username)
    return client


def _page(client: FlaskClient) -> Any:
    return json.loads(page_json(client, PATH))


def _rows(tree: Any) -> list[dict[str, Any]]:
    grid = find_component(tree, GRID)
    assert grid is not None and grid["namespace"] == "dash_ag_grid", grid
    return grid["props"]["rowData"]  # type: ignore[no-any-return]


def test_finance_sees_the_core_worklist_in_rank_order(demo_app: dash.Dash,
                                                      demo_mart: DemoMart) -> None:
    expected = _expected(demo_mart)
    tree = _page(_signed_in(demo_app, "finance"))
    rows = _rows(tree)
    assert 10 <= len(expected) <= SHOWN_ROWS
    assert [(r["invoice_id"], round(r["open_minor"] * 100), round(r["score_minor"] * 100),
             r["days_overdue"]) for r in rows] == [
        (e.invoice_id, e.open_minor, e.score_minor, e.days_overdue) for e in expected]
    assert [round(r["risk"] * 1_000_000) for r in rows] == [e.risk_ppm for e in expected]
    assert rows[0]["name"].endswith(f"(/customers/{expected[0].customer_id})")
    total = sum(e.open_minor for e in expected)
    assert find_component(tree, "collections-open")["props"]["children"] == compact_money(
        total, "USD")
    assert find_component(tree, "collections-score")["props"]["children"] == compact_money(
        sum(e.score_minor for e in expected), "USD")
    grid = find_component(tree, GRID)["props"]
    assert grid["dashGridOptions"]["rowSelection"]["mode"] == "singleRow"
    assert find_component(tree, LOG_BUTTON) is not None


@pytest.mark.parametrize("username", ["rep", "manager"])
def test_sales_roles_see_their_customers_rows_read_only(
        demo_app: dash.Dash, demo_mart: DemoMart, username: str) -> None:
    mine = managed_customers(demo_mart.core, username)
    expected = [e.invoice_id for e in _expected(demo_mart) if e.customer_id in mine]
    tree = _page(_signed_in(demo_app, username))
    assert expected and [r["invoice_id"] for r in _rows(tree)] == expected
    assert len(expected) < len(_expected(demo_mart))
    assert "rowSelection" not in find_component(tree, GRID)["props"]["dashGridOptions"]
    assert find_component(tree, LOG_BUTTON) is None
    assert find_component(tree, "collections-read-only") is not None


def test_the_export_has_every_row_of_the_users_scope(demo_app: dash.Dash,
                                                     demo_mart: DemoMart) -> None:
    expected = _expected(demo_mart)
    rows = exported_rows(export(_signed_in(demo_app, "finance"), "collections", PATH))
    assert [int(r["invoice_id"]) for r in rows] == [e.invoice_id for e in expected]
    assert [round(float(r["open"]) * 100) for r in rows] == [e.open_minor for e in expected]
    assert [round(float(r["risk_percent"]) * 10_000) for r in rows] == [
        e.risk_ppm for e in expected]
    assert {"last_contact_on", "invoice_promise_date", "customer_promise_date",
            "next_contact_date", "account_manager", "score"} <= set(rows[0])
    rep = _signed_in(demo_app, "rep")
    mine = managed_customers(demo_mart.core, "rep")
    own = exported_rows(export(rep, "collections", PATH))
    assert [int(r["invoice_id"]) for r in own] == [
        e.invoice_id for e in expected if e.customer_id in mine]
    assert export(rep, "collections", PATH, fmt="xlsx").get_data()[:2] == b"PK"


def _state(engine: Engine, invoice_id: int) -> tuple[int, date | None]:
    """Interactions logged and the invoice's promise to pay, from the core."""
    with Session(engine) as session:
        return (session.scalar(select(func.count()).select_from(Interaction)) or 0,
                session.get_one(Invoice, invoice_id).promise_to_pay_date)


def _open(app: dash.Dash, client: FlaskClient, row: dict[str, Any]) -> Any:
    return post_callback(client, callback_with_input(app, LOG_BUTTON),
                         [{"id": LOG_BUTTON, "property": "n_clicks", "value": 1}],
                         [{"id": GRID, "property": "selectedRows", "value": [row]}])


def _call(today: date, **changes: Any) -> dict[str, Any]:
    return {"kind": "call", "occurred_on": today.isoformat(),
            "notes": "Spoke to AP, payment run on Friday",
            "next_contact_date": (today + timedelta(days=7)).isoformat(),
            "promise_to_pay_date": (today + timedelta(days=4)).isoformat()} | changes


def test_finance_logs_a_call_with_a_promise_and_the_row_shows_it_at_once(
        writable: Writable) -> None:
    client = _signed_in(writable.app, "finance")
    row = _rows(_page(client))[0]
    opened = _open(writable.app, client, row).get_json()["response"]
    assert opened["collections-form"]["is_open"] is True
    store = find_component(opened["collections-form-body"]["children"], INVOICE)
    invoice = store["props"]["data"]
    assert invoice["invoice_id"] == row["invoice_id"]
    before = _state(writable.core, row["invoice_id"])
    response = save_collection_call(writable.app, client, invoice, _call(writable.today))
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    saved = response.get_json()["response"]
    assert saved["collections-form"]["is_open"] is False
    promise = (writable.today + timedelta(days=4)).isoformat()
    assert _state(writable.core, row["invoice_id"]) == (before[0] + 1, date.fromisoformat(
        promise))
    for rows in ([r for r in saved[GRID]["rowData"] if r["invoice_id"] == row["invoice_id"]],
                 [r for r in _rows(_page(client)) if r["invoice_id"] == row["invoice_id"]]):
        (shown,) = rows  # in the callback's answer, and on the next render (read live)
        assert shown["last_contact_on"] == writable.today.isoformat()
        assert shown["last_contact"] == "Call: Spoke to AP, payment run on Friday"
        assert (shown["invoice_promise_date"], shown["customer_promise_date"]) == (
            promise, promise)
        assert shown["next_contact_date"] == (writable.today + timedelta(days=7)).isoformat()
    assert "promise to pay on" in json.dumps(saved["collections-status"])


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"notes": "   "}, "notes", "Say what was agreed: a collection call needs a note."),
    ({"next_contact": -1}, "next_contact_date",
     "The next contact date is before the interaction."),
    ({"promise": -1}, "promise_to_pay_date", "A promise to pay cannot be dated in the past."),
    ({"occurred_on": ""}, "occurred_on", "Enter the date of the call."),
    ({"occurred_on": "31/12/2026"}, "occurred_on", "Enter a date (YYYY-MM-DD)."),
    ({"occurred_on": "2999-01-01"}, "occurred_on",
     "An interaction cannot be dated in the future."),
    ({"kind": "shout"}, "kind", "Choose the kind of contact."),
])
def test_bad_input_comes_back_as_a_field_message_and_writes_nothing(
        writable: Writable, changes: dict[str, Any], field: str, message: str) -> None:
    client = _signed_in(writable.app, "finance")
    row = _rows(_page(client))[0]
    invoice = {"invoice_id": row["invoice_id"], "label": row["label"]}
    values = _call(writable.today)
    for shifted, name in (("next_contact", "next_contact_date"),
                          ("promise", "promise_to_pay_date")):
        if shifted in changes:  # a day before today: before the call, or in the past
            values[name] = (writable.today + timedelta(days=changes.pop(shifted))).isoformat()
    before = _state(writable.core, row["invoice_id"])
    answer = save_collection_call(writable.app, client, invoice,
                                  values | changes).get_json()["response"]
    assert answer["collections-form"]["is_open"] is True
    assert GRID not in answer  # the list is left as it was
    body = answer["collections-form-body"]["children"]
    invalid = [name for name in FIELDS if find_component(
        body, {"type": "collections-form-field", "field": name})["props"].get("invalid")]
    assert invalid == [field]
    assert _messages(body) == [message]
    assert _state(writable.core, row["invoice_id"]) == before


def _messages(tree: Any) -> list[str]:
    """The non-empty field messages (FormFeedback) of a serialised layout."""
    found = []
    if isinstance(tree, dict):
        props = tree.get("props", {})
        if tree.get("type") == "FormFeedback" and props.get("children"):
            found.append(props["children"])
        for value in props.values():
            found += _messages(value)
    elif isinstance(tree, list):
        for item in tree:
            found += _messages(item)
    return found


@pytest.mark.parametrize("username", ["rep", "manager", "exec", "admin"])
def test_no_role_but_finance_may_save_a_call_even_by_posting_directly(
        writable: Writable, username: str) -> None:
    mine = managed_customers(writable.core, username)
    with Session(writable.core) as session:
        posted = select(Invoice.id).where(Invoice.status == "posted").order_by(Invoice.id)
        other = session.scalar(posted.where(Invoice.customer_id.not_in(mine)))
        own = session.scalar(posted.where(Invoice.customer_id.in_(mine)))
    # Another customer's invoice (reps, managers) and one of their own: refused alike.
    targets = [i for i in (other, own) if i is not None]
    assert len(targets) == (1 if username in ("exec", "admin") else 2)
    client = _signed_in(writable.app, username)
    for invoice_id in targets:
        before = _state(writable.core, invoice_id)
        response = save_collection_call(writable.app, client,
                                        {"invoice_id": invoice_id, "label": "x"},
                                        _call(writable.today))
        assert response.status_code == 403
        assert _state(writable.core, invoice_id) == before
        opened = _open(writable.app, client, {"invoice_id": invoice_id, "label": "x"})
        assert opened.status_code == 403


def test_an_unknown_invoice_is_reported_and_nothing_is_written(writable: Writable) -> None:
    client = _signed_in(writable.app, "finance")
    with Session(writable.core) as session:
        count = session.scalar(select(func.count()).select_from(Interaction))
    for invoice in ({"invoice_id": 999_999_999, "label": "x"}, {"invoice_id": "1 or 1=1"}, {}):
        answer = save_collection_call(writable.app, client, invoice,
                                      _call(writable.today)).get_json()
        error = find_component(answer["response"]["collections-form-body"]["children"],
                               "collections-form-error")
        assert error is not None and error["props"]["children"]
    with Session(writable.core) as session:
        assert session.scalar(select(func.count()).select_from(Interaction)) == count
