"""Home shows each role its own KPIs, computed in the user's scope, and each role's panel."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from decimal import Decimal
from typing import Any

import dash
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.access import reporting_tree
from core.company.services import end_of_day_utc
from core.customers.models import Customer, Interaction, Location
from core.users.models import User
from dashboard.formatting import compact_money, percent
from dashboard.metrics.orders import order_totals
from dashboard.metrics.period import preset_period
from dashboard.metrics.receivables import ar_summary
from dashboard.metrics.sales import sales_by
from dashboard.metrics.scope import Scope
from dashboard.metrics.targets import attainment_totals
from tests.dashboard.conftest import DemoMart, managed_customers
from tests.dashboard.dash_client import (
    export,
    exported_rows,
    find_component,
    grid_block,
    login,
    page_json,
)
from tests.dashboard.metrics.core_receivables import core_open_items

CARDS = {
    "rep": ["home-pipeline", "home-attainment", "home-open-quotes", "home-net-sales"],
    "manager": ["home-net-sales", "home-attainment", "home-bookings", "home-backlog",
                "home-win-rate", "home-coverage", "home-at-risk"],
    "finance": ["home-total-ar", "home-overdue-ar", "home-dso", "home-net-sales"],
    "exec": ["home-net-sales", "home-gross-margin", "home-margin-pct", "home-average-order"],
}


def _home(demo_app: dash.Dash, username: str) -> Any:
    client = demo_app.server.test_client()
    login(client, username)
    return json.loads(page_json(client, "/", "?period=ytd"))


def _card(tree: Any, card_id: str) -> str:
    card = find_component(tree, card_id)
    assert card is not None, card_id
    return str(card["props"]["children"])


def _user(session: Session, username: str) -> User:
    return session.scalars(select(User).where(User.username == username)).one()


@pytest.mark.parametrize("username", sorted(CARDS))
def test_each_role_sees_its_own_kpi_cards(demo_app: dash.Dash, username: str) -> None:
    tree = _home(demo_app, username)
    kpis = json.dumps(find_component(tree, "home-kpis"))
    shown = [card for cards in CARDS.values() for card in cards if f'"{card}"' in kpis]
    assert sorted(set(shown)) == sorted(CARDS[username])


def test_finance_sees_total_ar_of_every_customer_today(demo_app: dash.Dash,
                                                       demo_mart: DemoMart) -> None:
    tree = _home(demo_app, "finance")
    today = demo_mart.mart.published_at.date()
    everyone = Scope("finance", 1, all_reps=True)
    total = ar_summary(demo_mart.mart, everyone, today, timezone="UTC")
    assert total["total_ar_minor"] > 0
    assert _card(tree, "home-total-ar") == compact_money(total["total_ar_minor"], "USD")
    assert _card(tree, "home-overdue-ar") == compact_money(total["overdue_minor"], "USD")


def test_a_manager_sees_team_attainment_and_backlog_of_their_tree(
        demo_app: dash.Dash, demo_mart: DemoMart) -> None:
    tree = _home(demo_app, "manager")
    with Session(demo_mart.core) as session:
        manager = _user(session, "manager")
        assert manager.rep_id is not None
        scope = Scope("sales_manager", manager.id,
                      rep_ids=frozenset(reporting_tree(session, manager.rep_id)))
    period = preset_period("ytd", demo_mart.mart.published_at.date())
    attained = attainment_totals(demo_mart.mart, scope, period)["attainment"]
    assert attained is not None
    assert _card(tree, "home-attainment") == percent(attained)
    backlog = order_totals(demo_mart.mart, scope, period)["backlog_minor"]
    assert _card(tree, "home-backlog") == compact_money(backlog, "USD")
    board = find_component(tree, "home-leaderboard")
    assert board is not None and 0 < len(board["props"]["rowData"]) <= 5


def test_a_rep_sees_the_contacts_due_of_their_own_customers_only(
        demo_app: dash.Dash, demo_mart: DemoMart) -> None:
    tree = _home(demo_app, "rep")
    until = demo_mart.mart.published_at.date() + timedelta(days=7)
    with Session(demo_mart.core) as session:
        rep_id = _user(session, "rep").rep_id
        overridden = set(session.scalars(select(Location.customer_id).where(
            Location.rep_override_id == rep_id)))
        mine = {c.id for c in session.scalars(select(Customer))
                if c.account_manager_id == rep_id or c.id in overridden}
        latest: dict[int, Interaction] = {}
        for interaction in session.scalars(select(Interaction).order_by(Interaction.id)):
            latest[interaction.customer_id] = interaction
        due = {customer for customer, last in latest.items()
               if customer in mine and last.next_contact_date is not None
               and last.next_contact_date <= until}
    grid = find_component(tree, "home-contacts-due")
    assert grid is not None
    links = [re.search(r"\(/customers/(\d+)\)", row["name"]) for row in grid["props"]["rowData"]]
    shown = {int(link.group(1)) for link in links if link}
    assert due, "the demo should give the rep contacts due"
    assert shown == due


def test_finance_home_ar_follows_the_region_filter(demo_app: dash.Dash,
                                                   demo_mart: DemoMart) -> None:
    today = demo_mart.mart.published_at.date()
    with Session(demo_mart.core) as session:
        items = core_open_items(session, today, end_of_day_utc(session, today))
        regions = {row.id: row.region_code for row in session.execute(
            select(Customer.id, Customer.region_code))}
    region = sorted({code for code in regions.values() if code})[-1]
    expected = sum(i.open_minor for i in items if regions[i.customer_id] == region)
    everything = sum(i.open_minor for i in items)
    assert 0 < expected < everything
    client = demo_app.server.test_client()
    login(client, "finance")
    tree = json.loads(page_json(client, "/", f"?period=ytd&region={region}"))
    assert _card(tree, "home-total-ar") == compact_money(expected, "USD")


def test_a_reps_sales_by_customer_are_paged_and_link_the_customers_they_manage(
        demo_app: dash.Dash, demo_mart: DemoMart) -> None:
    """The layout sends no rows of the breakdown (a rep's customers run to thousands); its
    blocks hold the rep's sales history by customer, and every link goes to the Customer
    360 of a customer the rep manages now (one reassigned since has none)."""
    client = demo_app.server.test_client()
    login(client, "rep")
    search = "?period=ytd"
    tree = json.loads(page_json(client, "/", search))
    grid = find_component(tree, "home-breakdown-table")
    assert grid is not None and "rowData" not in grid["props"]
    rows, count = grid_block(demo_app, client, "home-breakdown-table", search)
    assert len(rows) == count > 0
    with Session(demo_mart.core) as session:
        rep_id = _user(session, "rep").rep_id
    scope = Scope("rep", 1, rep_ids=frozenset({rep_id}))
    today = demo_mart.mart.published_at.date()
    expected = sales_by(demo_mart.mart, scope, preset_period("ytd", today), "customer")
    assert count == expected.height
    linked = {int(m[1]) for r in rows if (m := re.fullmatch(r"\[.+\]\(/customers/(\d+)\)",
                                                              r["label"]))}
    assert linked and linked <= managed_customers(demo_mart.core, "rep")


def test_the_breakdown_export_holds_every_row_of_the_grid(demo_app: dash.Dash,
                                                          demo_mart: DemoMart) -> None:
    """A rep's export of net sales by customer holds the grid's whole list (as many rows
    as the grid's blocks) with the page's amounts."""
    client = demo_app.server.test_client()
    login(client, "rep")
    search = "?period=ytd"
    page_json(client, "/", search)
    rows = exported_rows(export(client, "home-breakdown", "/", search))
    _, count = grid_block(demo_app, client, "home-breakdown-table", search)
    assert len(rows) == count > 0
    assert list(rows[0]) == ["customer", "net_sales", "cost", "margin", "margin_pct"]
    with Session(demo_mart.core) as session:
        rep_id = _user(session, "rep").rep_id
    scope = Scope("rep", 1, rep_ids=frozenset({rep_id}))
    today = demo_mart.mart.published_at.date()
    expected = sales_by(demo_mart.mart, scope, preset_period("ytd", today), "customer")
    assert sum(Decimal(row["net_sales"]) for row in rows) * 100 == \
        expected["net_sales_minor"].sum()
