"""The AR aging page over HTTP: finance sees total AR equal to the core's open items, reps
and managers only the customers they manage (also in the drill-down and the export), bad
URL values fall back to defaults, and nobody signed out gets anything; the CEI card and its
prior period, the most overdue customers, the credit columns (hold state live from the
core) and the region / channel / rep filters equal independent computations from the core;
with ``currency=document``, per customer and per currency totals, charts, open items,
allocations and exports in each document's currency equal the core's, for finance and a
rep."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import dash
import pytest
from babel.numbers import get_currency_name
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.billing.models import Invoice
from core.company.services import end_of_day_utc
from core.customers.models import Customer, HoldState
from core.types import currency_digits, to_minor
from dashboard.formatting import BLANK, compact_money, money, percent
from dashboard.pages import ar_aging as ar_aging_page
from tests.dashboard.conftest import DemoMart, managed_customers
from tests.dashboard.dash_client import (
    export,
    exported_rows,
    find_component,
    grid_block,
    login,
    page_json,
    render_page,
)
from tests.dashboard.metrics.core_receivables import CoreOpenItem, core_cei, core_open_items

PATH = "/ar-aging"


def _core_items(demo: DemoMart, as_of: date) -> list[CoreOpenItem]:
    with Session(demo.core) as session:
        return core_open_items(session, as_of, end_of_day_utc(session, as_of))


def _customers_with_open_items(items: list[CoreOpenItem]) -> set[int]:
    return {item.customer_id for item in items if item.open_minor}


def _page(client: FlaskClient, search: str) -> Any:
    return json.loads(page_json(client, PATH, search))


def _grid(tree: Any, grid_id: str) -> dict[str, Any]:
    grid = find_component(tree, grid_id)
    assert grid is not None and grid["namespace"] == "dash_ag_grid", grid
    return grid["props"]


def _customer_rows(app: dash.Dash, client: FlaskClient,
                   search: str) -> dict[int, dict[str, Any]]:
    """The by-customer grid's rows (asked block by block as the browser does) by customer
    (from their Customer 360 links)."""
    rows, count = grid_block(app, client, "ar-aging-table", search, endRow=100_000)
    assert len(rows) == count
    return {int(row["name"].rsplit("/customers/", 1)[1].rstrip(")")): row for row in rows}


def _customer_ids(app: dash.Dash, client: FlaskClient, search: str) -> set[int]:
    return set(_customer_rows(app, client, search))


def _signed_in(app: dash.Dash, username: str) -> FlaskClient:
    client = app.server.test_client()
    login(client, username)
    return client


@pytest.mark.parametrize("months_back", [0, 3])
def test_finance_sees_total_ar_equal_to_the_core_open_items(
        demo_app: dash.Dash, demo_mart: DemoMart, months_back: int) -> None:
    as_of = demo_mart.mart.published_at.date() - timedelta(days=91 * months_back // 3)
    items = _core_items(demo_mart, as_of)
    total = sum(item.open_minor for item in items)
    client, search = _signed_in(demo_app, "finance"), f"?as_of={as_of.isoformat()}"
    tree = _page(client, search)
    assert find_component(tree, "ar-aging-total")["props"]["children"] == compact_money(
        total, "USD")
    assert money(total, "USD") in json.dumps(tree)
    grid = _grid(tree, "ar-aging-table")
    assert grid["rowModelType"] == "infinite" and "rowData" not in grid
    (totals,) = grid["dashGridOptions"]["pinnedBottomRowData"]
    assert round(totals["total_ar_minor"] * 100) == total
    assert _customer_ids(demo_app, client, search) == _customers_with_open_items(items)
    for graph in ("ar-aging-buckets", "ar-aging-customers"):
        assert find_component(tree, graph)["props"]["figure"]["data"], graph


@pytest.mark.parametrize("username", ["rep", "manager"])
def test_sales_roles_see_only_the_customers_they_manage(
        demo_app: dash.Dash, demo_mart: DemoMart, username: str) -> None:
    as_of = demo_mart.mart.published_at.date()
    items = _core_items(demo_mart, as_of)
    expected = _customers_with_open_items(items) & managed_customers(demo_mart.core, username)
    client, search = _signed_in(demo_app, username), f"?as_of={as_of.isoformat()}"
    tree = _page(client, search)
    assert expected and _customer_ids(demo_app, client, search) == expected
    total = sum(item.open_minor for item in items if item.customer_id in expected)
    assert find_component(tree, "ar-aging-total")["props"]["children"] == compact_money(
        total, "USD")
    assert expected < _customer_ids(demo_app, _signed_in(demo_app, "finance"), search)


def test_the_drill_down_lists_an_own_customers_open_items_and_nothing_outside_the_scope(
        demo_app: dash.Dash, demo_mart: DemoMart) -> None:
    as_of = demo_mart.mart.published_at.date()
    items = _core_items(demo_mart, as_of)
    with_items = _customers_with_open_items(items)
    mine = min(with_items & managed_customers(demo_mart.core, "rep"))
    other = min(with_items - managed_customers(demo_mart.core, "rep"))
    client = _signed_in(demo_app, "rep")
    tree = _page(client, f"?as_of={as_of.isoformat()}&customer={mine}")
    rows = _grid(tree, "ar-aging-items")["rowData"]
    expected = sorted(item.open_minor for item in items
                      if item.customer_id == mine and item.open_minor)
    assert sorted(round(row["open_minor"] * 100) for row in rows) == expected
    outside = _page(client, f"?as_of={as_of.isoformat()}&customer={other}")
    assert find_component(outside, "ar-aging-items")["type"] == "P"  # the prompt, no grid
    with Session(demo_mart.core) as session:
        assert session.get_one(Customer, other).name not in json.dumps(outside)


def test_bad_url_values_fall_back_to_the_defaults(demo_app: dash.Dash) -> None:
    client = _signed_in(demo_app, "finance")
    default = _page(client, "")
    odd = _page(client, "?as_of=2999-01-01&basis=order&backdated=yes&disputed=1"
                        "&customer=%C2%B2")
    label = find_component(default, "ar-aging-as-of-label")["props"]["children"]
    assert find_component(odd, "ar-aging-as-of-label")["props"]["children"] == label
    basis = find_component(odd, {"type": "view-param", "name": "basis"})
    assert basis["props"]["value"] == "due"
    assert find_component(odd, "ar-aging-total") == find_component(default, "ar-aging-total")
    garbled = _page(client, "?as_of=2026-02-30")
    assert find_component(garbled, "ar-aging-as-of-label")["props"]["children"] == label


def test_nobody_signed_out_gets_the_page_or_its_data(demo_app: dash.Dash) -> None:
    client = demo_app.server.test_client()
    assert render_page(client, PATH).status_code == 401
    response = client.get(PATH)
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def _export(client: FlaskClient, table: str, fmt: str, search: str) -> Any:
    return export(client, table, PATH, search, fmt)


def _csv_rows(response: Any) -> list[dict[str, str]]:
    return exported_rows(response)


def test_the_export_holds_the_users_own_rows(demo_app: dash.Dash, demo_mart: DemoMart) -> None:
    as_of = demo_mart.mart.published_at.date()
    items = _core_items(demo_mart, as_of)
    search = f"?as_of={as_of.isoformat()}"
    finance = _csv_rows(_export(_signed_in(demo_app, "finance"), "ar-aging", "csv", search))
    assert {int(row["customer_id"]) for row in finance} == _customers_with_open_items(items)
    assert {"age_0", "age_1_30", "age_over_120", "overdue", "unapplied_cash", "open_credits",
            "total_ar", "disputed", "credit_limit", "exposure_doc", "utilisation",
            "hold_state"} <= set(finance[0])
    limits = {c.id: c.credit_limit for c in _customers(demo_mart)}
    assert all(Decimal(row["credit_limit"]) == limits[int(row["customer_id"])]
               for row in finance)
    total = sum(item.open_minor for item in items)
    assert round(sum(float(row["total_ar"]) for row in finance) * 100) == total
    rep = _signed_in(demo_app, "rep")
    own = {int(row["customer_id"]) for row in _csv_rows(_export(rep, "ar-aging", "csv", search))}
    assert own == _customers_with_open_items(items) & managed_customers(demo_mart.core, "rep")
    xlsx = _export(rep, "ar-aging", "xlsx", search)
    assert xlsx.headers["Content-Disposition"].endswith(".xlsx")
    assert xlsx.get_data()[:2] == b"PK"
    customer = min(own)
    lines = _csv_rows(_export(rep, "ar-open-items", "csv", f"{search}&customer={customer}"))
    assert {row["customer_id"] for row in lines} == {str(customer)}
    assert round(sum(float(row["open"]) for row in lines) * 100) == sum(
        item.open_minor for item in items if item.customer_id == customer)


def test_the_customer_chooser_offers_the_largest_balances_and_keeps_the_chosen_one(
        demo_app: dash.Dash, demo_mart: DemoMart, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ar_aging_page, "CHOOSER_CUSTOMERS", 3)
    as_of = demo_mart.mart.published_at.date()
    client, search = _signed_in(demo_app, "finance"), f"?as_of={as_of.isoformat()}"
    rows = _customer_rows(demo_app, client, search)  # largest open invoices first
    largest = {str(c) for c in list(rows)[:3]}
    tree = _page(client, search)
    chooser = find_component(tree, {"type": "view-param", "name": "customer"})["props"]
    assert {o["value"] for o in chooser["options"]} == largest
    assert "the chooser holds the 3 largest balances" in json.dumps(
        find_component(tree, "ar-aging-items"))
    smallest = list(rows)[-1]
    tree = _page(client, f"{search}&customer={smallest}")
    chooser = find_component(tree, {"type": "view-param", "name": "customer"})["props"]
    assert chooser["value"] == str(smallest)
    assert {o["value"] for o in chooser["options"]} == largest | {str(smallest)}


def test_a_chosen_customer_stays_chosen_on_a_date_without_open_items(
        demo_app: dash.Dash, demo_mart: DemoMart) -> None:
    with Session(demo_mart.core) as session:
        first = min(session.scalars(select(Customer.id)))
        name = session.get_one(Customer, first).name
    tree = _page(_signed_in(demo_app, "finance"), f"?as_of=2000-01-31&customer={first}")
    chooser = find_component(tree, {"type": "view-param", "name": "customer"})["props"]
    assert chooser["value"] == str(first)
    assert chooser["options"] == [{"label": name, "value": str(first)}]
    assert "has no open items" in json.dumps(find_component(tree, "ar-aging-items"))


def _customers(demo: DemoMart) -> list[Customer]:
    with Session(demo.core) as session:
        return list(session.scalars(select(Customer)))


def test_the_cei_card_equals_the_core_for_the_period_and_compares_with_the_prior_one(
        demo_app: dash.Dash, demo_mart: DemoMart) -> None:
    today = demo_mart.mart.published_at.date()
    start = today - timedelta(days=89)
    with Session(demo_mart.core) as session:
        now = core_cei(session, start, today)[2] / 100
        prior = core_cei(session, start - timedelta(days=90), start - timedelta(days=1))[2] / 100
    tree = _page(_signed_in(demo_app, "finance"), "?period=last_90")
    assert find_component(tree, "ar-aging-cei")["props"]["children"] == percent(now)
    arrow = "▲" if now >= prior else "▼"
    assert f"{arrow} {abs(float(now) - float(prior)) * 100:.1f} pp vs prior" in json.dumps(
        tree, ensure_ascii=False)


def test_the_cei_of_a_period_not_started_is_blank_with_the_reason(
        demo_app: dash.Dash) -> None:
    tree = _page(_signed_in(demo_app, "finance"),
                 "?period=custom&start=2999-01-01&end=2999-01-31")
    assert find_component(tree, "ar-aging-cei")["props"]["children"] == BLANK
    assert "The period has not started yet." in json.dumps(tree)


def test_the_most_overdue_customers_are_ranked_as_in_the_core_with_their_links(
        demo_app: dash.Dash, demo_mart: DemoMart) -> None:
    as_of = demo_mart.mart.published_at.date()
    overdue: dict[int, int] = {}
    for item in _core_items(demo_mart, as_of):
        if item.due_date is not None and item.due_date < as_of:
            overdue[item.customer_id] = overdue.get(item.customer_id, 0) + item.open_minor
    names = {c.id: c.name for c in _customers(demo_mart)}
    expected = sorted((c for c, amount in overdue.items() if amount > 0),
                      key=lambda c: (-overdue[c], names[c], c))[:10]
    tree = _page(_signed_in(demo_app, "finance"), f"?as_of={as_of.isoformat()}")
    table = json.dumps(find_component(tree, "ar-aging-top-overdue"))
    links = [int(part.split('"', 1)[0]) for part in table.split('"href": "/customers/')[1:]]
    assert len(expected) == 10 and links == expected
    for customer in expected:
        assert money(overdue[customer], "USD", whole=True) in table
        assert f"customer={customer}" in table  # its open items on this page
        assert f"/statement?customer={customer}&as_of={as_of.isoformat()}" in table


def test_credit_columns_show_the_core_limit_and_a_hold_set_a_moment_ago(
        demo_app: dash.Dash, demo_mart: DemoMart) -> None:
    as_of = demo_mart.mart.published_at.date()
    search = f"?as_of={as_of.isoformat()}"
    client = _signed_in(demo_app, "finance")
    _page(client, search)
    rows = _customer_rows(demo_app, client, search)
    customers = {c.id: c for c in _customers(demo_mart) if c.id in rows}
    for customer_id, row in rows.items():
        customer = customers[customer_id]
        assert round(row["credit_limit_minor"] * 100) == to_minor(customer.credit_limit,
                                                             customer.currency)
        assert row["currency"] == customer.currency
        assert ("On hold" in row["credit_status"]) == (customer.hold_state == HoldState.ON_HOLD)
        over = row["exposure_doc_minor"] > row["credit_limit_minor"]
        assert ("Over limit" in row["credit_status"]) == over
        assert row["utilisation"] == round(
            row["exposure_doc_minor"] / row["credit_limit_minor"], 4)
    assert any("Over limit" in r["credit_status"] for r in rows.values())
    assert not all("Over limit" in r["credit_status"] for r in rows.values())
    # A hold set in the core shows at once, without a new batch.
    free = min(c for c, customer in customers.items()
               if customer.hold_state != HoldState.ON_HOLD)
    with Session(demo_mart.core) as session:
        session.get_one(Customer, free).hold_state = HoldState.ON_HOLD
        session.commit()
    try:
        _page(client, search)  # a render renews the rows its blocks read
        assert "On hold" in _customer_rows(demo_app, client, search)[free]["credit_status"]
    finally:
        with Session(demo_mart.core) as session:
            session.get_one(Customer, free).hold_state = HoldState.NONE
            session.commit()
    _page(client, search)
    assert "On hold" not in _customer_rows(demo_app, client, search)[free]["credit_status"]


def test_region_channel_and_rep_filters_narrow_ar_to_the_matching_customers(
        demo_app: dash.Dash, demo_mart: DemoMart) -> None:
    as_of = demo_mart.mart.published_at.date()
    totals: dict[int, int] = {}
    for item in _core_items(demo_mart, as_of):
        totals[item.customer_id] = totals.get(item.customer_id, 0) + item.open_minor
    customers = _customers(demo_mart)
    region = sorted({c.region_code for c in customers if c.region_code})[-1]
    channel = sorted({c.channel_code for c in customers if c.channel_code})[-1]
    client = _signed_in(demo_app, "finance")
    for search, matches in ((f"region={region}", lambda c: c.region_code == region),
                            (f"channel={channel}", lambda c: c.channel_code == channel)):
        tree = _page(client, f"?as_of={as_of.isoformat()}&{search}")
        matching = {c.id for c in customers if matches(c)}
        expected = sum(totals.get(c, 0) for c in matching)
        assert find_component(tree, "ar-aging-total")["props"]["children"] == compact_money(
            expected, "USD"), search
        assert _customer_ids(demo_app, client, f"?as_of={as_of.isoformat()}&{search}") == {
            c for c in matching if totals.get(c)} != set()
    # A manager picks one rep of the tree: the customers that rep manages now.
    manager = _signed_in(demo_app, "manager")
    mine = managed_customers(demo_mart.core, "manager")
    rep = min(c.account_manager_id for c in customers
              if c.id in mine and c.account_manager_id and totals.get(c.id))
    assert _customer_ids(demo_app, manager, f"?as_of={as_of.isoformat()}&rep={rep}") == {
        c.id for c in customers if c.account_manager_id == rep and totals.get(c.id)}


def test_a_rep_cannot_widen_the_aging_with_another_reps_id(demo_app: dash.Dash,
                                                           demo_mart: DemoMart) -> None:
    reps = ",".join(str(r) for r in demo_mart.mart.frame("dim_rep")["rep_id"].to_list())
    client = _signed_in(demo_app, "rep")
    own = _page(client, "")
    widened = _page(client, f"?rep={reps}")
    assert _customer_ids(demo_app, client, f"?rep={reps}") == _customer_ids(
        demo_app, client, "")
    assert find_component(widened, "ar-aging-total") == find_component(own, "ar-aging-total")


# --- document currency ---------------------------------------------------------------------

def _doc_totals(items: list[CoreOpenItem],
                customers: set[int] | None = None) -> tuple[dict[int, int], dict[str, int]]:
    """From the core: total AR per customer and per currency, in document currency."""
    by_customer: dict[int, int] = {}
    by_currency: dict[str, int] = {}
    for item in items:
        if customers is None or item.customer_id in customers:
            by_customer[item.customer_id] = by_customer.get(item.customer_id, 0) \
                + item.open_doc_minor
            by_currency[item.currency] = by_currency.get(item.currency, 0) + item.open_doc_minor
    return by_customer, by_currency


def _minor(major: float, currency: str) -> int:
    return round(major * 10 ** currency_digits(currency))


def _document_view(app: dash.Dash, client: FlaskClient, search: str,
                   tree: Any) -> tuple[dict[int, int], dict[str, int]]:
    """The grid's total AR per customer and its totals rows per currency, in minor units."""
    grid = _grid(tree, "ar-aging-table")
    rows = {customer: _minor(row["total_ar_doc_minor"], row["currency"])
            for customer, row in _customer_rows(app, client, search).items()}
    totals = {row["name"]: _minor(row["total_ar_doc_minor"], row["currency"])
              for row in grid["dashGridOptions"]["pinnedBottomRowData"]}
    return rows, totals


def test_finance_sees_document_currency_per_customer_totals_and_charts_per_currency(
        demo_app: dash.Dash, demo_mart: DemoMart) -> None:
    as_of = demo_mart.mart.published_at.date()
    items = _core_items(demo_mart, as_of)
    by_customer, by_currency = _doc_totals(items)
    client = _signed_in(demo_app, "finance")
    search = f"?as_of={as_of.isoformat()}&currency=document"
    tree = _page(client, search)
    assert find_component(tree, {"type": "view-param", "name": "currency"})["props"][
        "value"] == "document"
    rows, totals = _document_view(demo_app, client, search, tree)
    assert rows == {c: by_customer[c] for c in _customers_with_open_items(items)}
    assert len(by_currency) >= 2
    assert totals == {f"Total {currency}": amount for currency, amount in by_currency.items()}
    # The cards stay in base currency and say so.
    card = json.dumps(find_component(tree, "ar-aging-kpis"))
    assert "(USD)" in card
    assert find_component(tree, "ar-aging-total")["props"]["children"] == compact_money(
        sum(item.open_minor for item in items), "USD")
    # One panel per currency, each titled and in its own units.
    currencies = sorted(by_currency)
    buckets = find_component(tree, "ar-aging-buckets")["props"]["figure"]
    assert [trace["name"] for trace in buckets["data"]] == currencies
    titles = [a["text"] for a in buckets["layout"]["annotations"]]
    assert titles == [f"{c} · {get_currency_name(c, locale='en_US')}" for c in currencies]
    assert [buckets["layout"][f"yaxis{n + 1 if n else ''}"]["title"]["text"]
            for n in range(len(currencies))] == currencies
    customers = find_component(tree, "ar-aging-customers")["props"]["figure"]["layout"]
    assert [customers[f"xaxis{n + 1 if n else ''}"]["title"]["text"]
            for n in range(len(currencies))] == [f"Open amount ({c})" for c in currencies]


def test_a_rep_in_document_currency_sees_only_their_customers(
        demo_app: dash.Dash, demo_mart: DemoMart) -> None:
    as_of = demo_mart.mart.published_at.date()
    items = _core_items(demo_mart, as_of)
    mine = _customers_with_open_items(items) & managed_customers(demo_mart.core, "rep")
    by_customer, by_currency = _doc_totals(items, mine)
    search = f"?as_of={as_of.isoformat()}&currency=document"
    rep = _signed_in(demo_app, "rep")
    rows, totals = _document_view(demo_app, rep, search, _page(rep, search))
    assert mine and rows == by_customer
    assert totals == {f"Total {currency}": amount for currency, amount in by_currency.items()}
    exported = _csv_rows(_export(rep, "ar-aging", "csv", search))
    assert {int(row["customer_id"]) for row in exported} == mine


def test_document_currency_exports_carry_the_currency_and_its_digits(
        demo_app: dash.Dash, demo_mart: DemoMart) -> None:
    as_of = demo_mart.mart.published_at.date()
    items = _core_items(demo_mart, as_of)
    by_customer, by_currency = _doc_totals(items)
    search = f"?as_of={as_of.isoformat()}&currency=document"
    client = _signed_in(demo_app, "finance")
    rows = _csv_rows(_export(client, "ar-aging", "csv", search))
    assert {"currency", "age_0_doc", "total_ar_doc", "unapplied_cash_doc", "credit_limit",
            "exposure_doc"} <= set(rows[0])
    assert "total_ar" not in rows[0] and "age_0" not in rows[0]  # no base amounts
    for row in rows:
        digits = currency_digits(row["currency"])
        for column in ("age_0_doc", "total_ar_doc", "credit_limit"):
            assert len(row[column].partition(".")[2]) == digits, (column, row[column])
    totals: dict[str, Decimal] = {}
    for row in rows:
        totals[row["currency"]] = totals.get(row["currency"], Decimal(0)) + Decimal(
            row["total_ar_doc"])
    assert {c: to_minor(v, c) for c, v in totals.items()} == by_currency
    assert _export(client, "ar-aging", "xlsx", search).get_data()[:2] == b"PK"
    # An EUR customer's open items and the allocations of a part-paid invoice.
    with Session(demo_mart.core) as session:
        totals_of = {inv.id: to_minor(inv.total_amount, inv.currency)
                     for inv in session.scalars(select(Invoice))}
    part_paid = next(item for item in items
                     if item.currency == "EUR" and item.kind == "invoice"
                     and 0 < item.open_doc_minor < totals_of[item.document_id or 0])
    customer = part_paid.customer_id
    drill = f"{search}&customer={customer}&item=invoice-{part_paid.document_id}"
    tree = _page(client, drill)
    open_items = _grid(tree, "ar-aging-items")["rowData"]
    assert sorted(_minor(row["open_doc_minor"], row["currency"]) for row in open_items) == \
        sorted(item.open_doc_minor for item in items
               if item.customer_id == customer and item.open_doc_minor)
    assert {row["currency"] for row in open_items} == {"EUR"}
    allocations = _grid(tree, "ar-aging-allocations")["rowData"]
    applied = sum(_minor(row["amount_doc_minor"], row["currency"]) for row in allocations)
    assert applied == totals_of[part_paid.document_id or 0] - part_paid.open_doc_minor
    exported = _csv_rows(_export(client, "ar-allocations", "csv", drill))
    assert sum(to_minor(Decimal(row["amount_doc"]), row["currency"]) for row in exported) \
        == applied
    assert {row["currency"] for row in exported} == {"EUR"}
    listed = _csv_rows(_export(client, "ar-open-items", "csv", drill))
    assert {"currency", "open_doc"} <= set(listed[0]) and "open" not in listed[0]
