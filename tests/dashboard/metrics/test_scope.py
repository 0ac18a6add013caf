"""Row scope on mart frames: sales history by attributed rep, customers by who manages them
now, and an empty scope sees nothing."""

from __future__ import annotations

from datetime import datetime

import polars as pl
import pytest

from dashboard.metrics.mart import Mart
from dashboard.metrics.scope import NO_SCOPE, Scope, restrict
from dashboard.metrics.selection import dated

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


def test_a_periods_rows_are_the_same_found_by_binary_search_or_by_a_filter() -> None:
    """``dated`` slices a column flagged sorted and filters one that is not; both give the
    rows in the range, ends included, also when no row or every row is in it."""
    keys = [20260101, 20260115, 20260115, 20260201, 20260301, 20260301, 20260415]
    in_order = pl.DataFrame({"date_key": keys, "n": range(len(keys))})
    shuffled = in_order.sample(fraction=1.0, shuffle=True, seed=7)
    mart = Mart("b", datetime(2026, 5, 1), {
        "sorted": in_order.with_columns(pl.col("date_key").set_sorted()),
        "unsorted": shuffled})
    assert mart.frame("sorted")["date_key"].flags["SORTED_ASC"]
    assert not mart.frame("unsorted")["date_key"].flags["SORTED_ASC"]
    for start, end in ((20260115, 20260301), (20260102, 20260114), (20250101, 20271231),
                       (20260415, 20260415), (20260501, 20260601),
                       (20260301, 20260115)):  # start after end: nothing
        expected = sorted(n for n, key in enumerate(keys) if start <= key <= end)
        for fact in ("sorted", "unsorted"):
            rows = dated(mart, fact, "date_key", start, end).collect()
            assert sorted(rows["n"].to_list()) == expected, (fact, start, end)
