"""The customer list and Customer 360 pages within the user's scope."""

from __future__ import annotations

import json

import dash
import polars as pl

from dashboard.metrics.customers import customer_list
from dashboard.metrics.period import Period
from dashboard.metrics.scope import Scope
from tests.dashboard.conftest import DemoMart
from tests.dashboard.dash_client import find_component, login, page_json


def _rep_id(demo: DemoMart, username: str) -> int:
    from sqlalchemy import select

    from core.users.models import User

    with demo.core.connect() as conn:
        return conn.scalar(select(User.rep_id).where(User.username == username))


def test_a_rep_lists_only_customers_they_manage_now(demo_mart: DemoMart) -> None:
    rep_id = _rep_id(demo_mart, "rep")
    period = Period(demo_mart.mart.published_at.date().replace(month=1, day=1),
                    demo_mart.mart.published_at.date())
    rep = customer_list(demo_mart.mart, Scope("rep", 1, frozenset({rep_id})), period)
    everyone = customer_list(demo_mart.mart, Scope("finance", 2, all_reps=True), period)
    current = demo_mart.mart.frame("dim_customer").filter(pl.col("is_current"))
    managed = set(current.filter(pl.col("account_manager_id") == rep_id)["customer_id"])
    overridden = set(demo_mart.mart.frame("dim_location").filter(
        pl.col("rep_override_id") == rep_id)["customer_id"])
    assert set(rep["customer_id"]) == managed | overridden
    assert 0 < rep.height < everyone.height == current.filter(pl.col("customer_id") >= 0).height


def test_customer_360_opens_in_scope_and_reads_not_found_outside(demo_app: dash.Dash,
                                                                  demo_mart: DemoMart) -> None:
    rep_id = _rep_id(demo_mart, "rep")
    current = demo_mart.mart.frame("dim_customer").filter(pl.col("is_current")
                                                          & (pl.col("customer_id") >= 0))
    mine = current.filter(pl.col("account_manager_id") == rep_id).row(0, named=True)
    other = current.filter(pl.col("account_manager_id") != rep_id).row(0, named=True)
    client = demo_app.server.test_client()
    login(client, "rep")
    page = json.loads(page_json(client, f"/customers/{mine['customer_id']}"))
    assert find_component(page, "customer-name")["props"]["children"] == mine["name"]
    assert find_component(page, "customer-pnl") is not None
    outside = page_json(client, f"/customers/{other['customer_id']}")
    assert "customer-404" in outside and other["name"] not in outside
    assert "customer-404" in page_json(client, "/customers/not-a-number")
