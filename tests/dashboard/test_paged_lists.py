"""The Documents and Customers lists page on the server: each block the grid asks for is
recomputed from the URL and the login's scope, sorted and filtered only on the table's own
columns, and the layout carries no rows."""

from __future__ import annotations

import json
import re

import dash
import polars as pl
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.users.models import User
from dashboard.metrics.customers import customer_list
from dashboard.metrics.documents import sales_documents
from dashboard.metrics.scope import Scope
from tests.dashboard.conftest import DemoMart, last_full_year, managed_customers
from tests.dashboard.dash_client import (
    find_component,
    grid_block,
    grid_block_response,
    login,
    page_json,
)

EXEC = Scope("executive", 1, all_reps=True)


def _search(demo: DemoMart, extra: str = "") -> str:
    year = last_full_year(demo)
    return f"?period=custom&start={year.start}&end={year.end}&kind=sales{extra}"


def _documents(demo: DemoMart) -> pl.DataFrame:
    return sales_documents(demo.mart, EXEC, last_full_year(demo))


def test_the_layout_sends_no_rows_and_a_block_is_the_asked_slice(
        demo_app: dash.Dash, demo_mart: DemoMart) -> None:
    client = demo_app.server.test_client()
    login(client, "exec")
    search = _search(demo_mart)
    grid = find_component(json.loads(page_json(client, "/documents", search)),
                          "documents-table")
    assert grid is not None and grid["props"]["rowModelType"] == "infinite"
    assert "rowData" not in grid["props"]
    expected = _documents(demo_mart)
    assert expected.height > 60
    rows, count = grid_block(demo_app, client, "documents-table", search, startRow=20, endRow=60)
    assert count == expected.height
    assert [r["document_number"] for r in rows] == \
        expected["document_number"].slice(20, 40).to_list()
    assert rows[0]["net_sales_minor"] == expected["net_sales_minor"][20] / 100  # major units
    tail, _ = grid_block(demo_app, client, "documents-table", search,
                    startRow=expected.height - 5, endRow=expected.height + 95)
    assert len(tail) == 5


def test_sorting_by_an_allowed_column_orders_every_row(demo_app: dash.Dash,
                                                       demo_mart: DemoMart) -> None:
    client = demo_app.server.test_client()
    login(client, "exec")
    expected = _documents(demo_mart)
    rows, _ = grid_block(demo_app, client, "documents-table", _search(demo_mart),
                    endRow=expected.height,
                    sortModel=[{"colId": "net_sales_minor", "sort": "asc"}])
    amounts = [r["net_sales_minor"] for r in rows]
    assert amounts == sorted(amounts) and amounts != [r / 100 for r in
                                                      expected["net_sales_minor"]]
    assert amounts[0] == expected["net_sales_minor"].min() / 100  # type: ignore[operator]
    by_customer, _ = grid_block(demo_app, client, "documents-table", _search(demo_mart),
                           sortModel=[{"colId": "customer", "sort": "desc"}])
    names = [re.sub(r"^\[(.*)\]\(.*\)$", r"\1", r["customer"]) for r in by_customer]
    assert names == sorted(names, reverse=True)


def test_a_filter_narrows_the_list(demo_app: dash.Dash, demo_mart: DemoMart) -> None:
    client = demo_app.server.test_client()
    login(client, "exec")
    expected = _documents(demo_mart)
    name = expected["customer"][0]
    part = name[1:5].upper()
    rows, count = grid_block(demo_app, client, "documents-table", _search(demo_mart),
                        endRow=expected.height, filterModel={"customer": {
                            "filterType": "text", "type": "contains", "filter": part}})
    wanted = [c for c in expected["customer"] if part.lower() in c.lower()]
    assert 0 < count == len(wanted) == len(rows) < expected.height
    cents = sorted(expected["net_sales_minor"])[len(expected) // 2]
    big, count = grid_block(demo_app, client, "documents-table", _search(demo_mart),
                       endRow=expected.height, filterModel={"net_sales_minor": {
                           "filterType": "number", "type": "greaterThan",
                           "filter": cents / 100}})
    assert count == sum(1 for v in expected["net_sales_minor"] if v > cents) == len(big)
    assert 0 < count < expected.height


def test_columns_and_filters_outside_the_allowlist_are_ignored(demo_app: dash.Dash,
                                                               demo_mart: DemoMart) -> None:
    client = demo_app.server.test_client()
    login(client, "exec")
    search = _search(demo_mart)
    plain = grid_block(demo_app, client, "documents-table", search)
    assert plain[1] > 0
    for request in (
        {"sortModel": [{"colId": "customer_id", "sort": "asc"},
                       {"colId": "net_sales_minor", "sort": "sideways"}]},
        {"filterModel": {"customer_id": {"filterType": "number", "type": "equals",
                                         "filter": 1}},
         "sortModel": "net_sales_minor"},
        {"sortModel": {"colId": "net_sales_minor"}, "filterModel": ["customer"]},
        {"filterModel": {"customer": {"filterType": "text", "type": "regex", "filter": "^$"},
                         "rep": {"filterType": "number", "type": "equals", "filter": 1},
                         "net_sales_minor": {"filterType": "number", "type": "lessThan",
                                             "filter": "0 or 1=1"},
                         "href": {"filterType": "text", "type": "contains", "filter": "x"}}},
    ):
        assert grid_block(demo_app, client, "documents-table", search, **request) == plain


def test_a_rep_asking_for_another_reps_customer_gets_no_rows(demo_app: dash.Dash,
                                                             demo_mart: DemoMart) -> None:
    with Session(demo_mart.core) as session:
        rep_id = session.scalars(select(User.rep_id).where(User.username == "rep")).one()
    customers = demo_mart.mart.frame("dim_customer").filter(pl.col("is_current"))
    other = customers.filter(pl.col("account_manager_id") != rep_id)["customer_id"][0]
    executive = demo_app.server.test_client()
    login(executive, "exec")
    search = _search(demo_mart, f"&customer={other}")
    assert grid_block(demo_app, executive, "documents-table", search)[1] > 0
    client = demo_app.server.test_client()
    login(client, "rep")
    assert grid_block(demo_app, client, "documents-table", search) == ([], 0)
    assert grid_block_response(demo_app, demo_app.server.test_client(), "documents-table",
                               search).status_code in (302, 401, 403)


def test_the_customers_list_keeps_its_links_and_the_reps_scope(demo_app: dash.Dash,
                                                               demo_mart: DemoMart) -> None:
    client = demo_app.server.test_client()
    login(client, "rep")
    search = _search(demo_mart)
    rows, count = grid_block(demo_app, client, "customers-table", search, endRow=1000)
    links = [re.fullmatch(r"\[.+\]\(/customers/(\d+)\)", r["name"]) for r in rows]
    assert all(links) and len(rows) == count > 0
    assert {int(link[1]) for link in links if link} <= managed_customers(demo_mart.core, "rep")
    everyone = customer_list(demo_mart.mart, EXEC, last_full_year(demo_mart))
    assert count < everyone.height
    text = json.dumps(json.loads(page_json(client, "/customers", search)))
    assert f"{count:,} customers" in text
