"""Row scope on mart frames: sales history by attributed rep, customers by who manages them
now, and an empty scope sees nothing."""

from __future__ import annotations

import polars as pl
import pytest

from dashboard.metrics.scope import NO_SCOPE, Scope, restrict

DIM_REP = pl.DataFrame({"rep_key": [-1, 1, 2, 3], "rep_id": [-1, 10, 20, 30]})
DIM_CUSTOMER = pl.DataFrame({
    "customer_id": [100, 100, 200, 300],
    "account_manager_id": [10, 20, 20, 30],  # customer 100 moved from rep 10 to rep 20
    "is_current": [False, True, True, True],
})
DIM_LOCATION = pl.DataFrame({"customer_id": [300, 300], "rep_override_id": [None, 10]})


def test_a_rep_sees_the_customers_they_manage_now_and_ship_to_overrides() -> None:
    rep10 = Scope(role="rep", user_id=1, rep_ids=frozenset({10}))
    assert rep10.customer_ids(DIM_CUSTOMER, DIM_LOCATION).to_list() == [300]
    rep20 = Scope(role="rep", user_id=2, rep_ids=frozenset({20}))
    assert rep20.customer_ids(DIM_CUSTOMER, DIM_LOCATION).to_list() == [100, 200]


def test_sales_history_is_scoped_by_rep_key() -> None:
    facts = pl.LazyFrame({"rep_key": [1, 2, 3, -1], "net": [1, 2, 3, 4]})
    manager = Scope(role="sales_manager", user_id=3, rep_ids=frozenset({10, 30}))
    kept = restrict(facts, "rep_key", manager.rep_keys(DIM_REP)).collect()
    assert kept["net"].to_list() == [1, 3]


def test_finance_sees_everything_and_an_empty_scope_nothing() -> None:
    facts = pl.LazyFrame({"rep_key": [1, 2, 3, -1]})
    finance = Scope(role="finance", user_id=4, all_reps=True)
    assert restrict(facts, "rep_key", finance.rep_keys(DIM_REP)).collect().height == 4
    assert restrict(facts, "rep_key", NO_SCOPE.rep_keys(DIM_REP)).collect().height == 0
    assert NO_SCOPE.customer_ids(DIM_CUSTOMER, DIM_LOCATION).len() == 0


def test_sales_roles_cannot_be_given_every_rep() -> None:
    with pytest.raises(ValueError, match="cannot see every rep"):
        Scope(role="rep", user_id=1, all_reps=True)
