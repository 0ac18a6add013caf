"""The printable customer statement over HTTP: its closing balance and balance due equal
the AR aging page's total for the customer on the same date (base currency), or the mart's
total AR in the customer's currency; its aging line equals the page's buckets; a rep cannot
print another rep's customer's statement; nobody signed out gets one."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import dash
import polars as pl
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.customers.models import Customer
from dashboard.formatting import money
from dashboard.metrics.receivables import ar_by_customer
from dashboard.metrics.scope import Scope
from tests.dashboard.conftest import DemoMart, managed_customers
from tests.dashboard.dash_client import find_component, grid_block, login, page_json, render_page

FINANCE = Scope(role="finance", user_id=1, all_reps=True)


def _signed_in(app: dash.Dash, username: str) -> FlaskClient:
    client = app.server.test_client()
    login(client, username)
    return client


def _page(client: FlaskClient, path: str, search: str) -> Any:
    return json.loads(page_json(client, path, search))


def _text(tree: Any, component_id: str) -> str:
    found = find_component(tree, component_id)
    assert found is not None, component_id
    return found["props"]["children"]  # type: ignore[no-any-return]


def _with_open_items(demo: DemoMart, currency: str) -> list[Customer]:
    as_of = demo.mart.published_at.date()
    owing = ar_by_customer(demo.mart, FINANCE, as_of, timezone="UTC").filter(
        pl.col("open_invoices_minor") > 0)["customer_id"].to_list()
    with Session(demo.core) as session:
        return list(session.scalars(select(Customer).where(
            Customer.id.in_(owing), Customer.currency == currency).order_by(Customer.id)))


def test_the_closing_balance_equals_the_aging_pages_total_for_the_customer(
        demo_app: dash.Dash, demo_mart: DemoMart) -> None:
    as_of = demo_mart.mart.published_at.date()
    customer = _with_open_items(demo_mart, "USD")[0]
    client = _signed_in(demo_app, "finance")
    rows, _ = grid_block(demo_app, client, "ar-aging-table", f"?as_of={as_of.isoformat()}",
                         endRow=100_000)
    row = next(r for r in rows if r["name"].endswith(f"/customers/{customer.id})"))
    total = round(row["total_ar_minor"] * 100)
    start = as_of - timedelta(days=29)
    statement = _page(client, "/statement", f"?customer={customer.id}&as_of={as_of}"
                                            f"&from={start}&to={as_of}")
    assert _text(statement, "statement-closing") == money(total, "USD")
    assert _text(statement, "statement-balance-due") == money(total, "USD")
    assert customer.name in json.dumps(find_component(statement, "statement-address"))
    # The statement's aging line: the page's buckets, then the unapplied credits.
    cells = [cell["props"]["children"] for cell in
             find_component(statement, "statement-aging")["props"]["children"][1]["props"]
             ["children"]["props"]["children"]]
    buckets = ["age_0_minor", "age_1_30_minor", "age_31_60_minor", "age_61_90_minor",
               "age_91_120_minor", "age_over_120_minor"]
    credits = round((row["unapplied_cash_minor"] + row["open_credits_minor"]) * 100)
    assert cells == [money(round(row[b] * 100), "USD") for b in buckets] + [
        money(-credits, "USD")]
    # The row links to this statement (the page's default activity: 30 days to the date).
    assert f"/statement?customer={customer.id}&as_of={as_of}" in row["statement"]
    assert _page(client, "/statement", f"?customer={customer.id}&as_of={as_of}") == statement


def test_a_foreign_currency_statement_equals_the_mart_total_in_the_customers_currency(
        demo_app: dash.Dash, demo_mart: DemoMart) -> None:
    as_of = demo_mart.mart.published_at.date() - timedelta(days=60)
    customer = next(c for c in _with_open_items(demo_mart, "EUR"))
    doc_total = ar_by_customer(demo_mart.mart, FINANCE, as_of, timezone="UTC").filter(
        pl.col("customer_id") == customer.id)["total_ar_doc_minor"].item()
    statement = _page(_signed_in(demo_app, "finance"), "/statement",
                      f"?customer={customer.id}&as_of={as_of}&to={as_of}")
    assert doc_total and _text(statement, "statement-closing") == money(doc_total, "EUR")


def test_a_rep_prints_only_the_statements_of_customers_they_manage(
        demo_app: dash.Dash, demo_mart: DemoMart) -> None:
    mine = managed_customers(demo_mart.core, "rep")
    with Session(demo_mart.core) as session:
        other = session.scalars(select(Customer).where(Customer.id.not_in(mine))
                                .order_by(Customer.id)).first()
    assert other is not None
    client = _signed_in(demo_app, "rep")
    refused = json.dumps(_page(client, "/statement", f"?customer={other.id}"))
    assert "statement-404" in refused and "statement-closing" not in refused
    assert other.name not in refused and other.ref not in refused
    own = _page(client, "/statement", f"?customer={min(mine)}")
    assert find_component(own, "statement-closing") is not None


def test_bad_parameters_fall_back_and_nobody_signed_out_gets_a_statement(
        demo_app: dash.Dash, demo_mart: DemoMart) -> None:
    client = _signed_in(demo_app, "finance")
    customer = _with_open_items(demo_mart, "USD")[0].id
    assert find_component(_page(client, "/statement", "?customer=x1"), "statement-404")
    default = _page(client, "/statement", f"?customer={customer}")
    odd = _page(client, "/statement", f"?customer={customer}&as_of=2026-13-01"
                                      "&from=2999-01-01&to=2998-01-01")
    assert odd == default
    # An activity period that starts after it ends starts 30 days before its end.
    end = demo_mart.mart.published_at.date() - timedelta(days=60)
    backwards = _page(client, "/statement", f"?customer={customer}"
                                            f"&from={end + timedelta(days=1)}&to={end}")
    assert _page(client, "/statement", f"?customer={customer}"
                                       f"&from={end - timedelta(days=29)}&to={end}") == backwards
    assert render_page(demo_app.server.test_client(), "/statement",
                       f"?customer={customer}").status_code == 401
