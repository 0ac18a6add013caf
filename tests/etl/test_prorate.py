"""The Polars pro-rata split (``etl.prorate``) gives exactly the shares of the core's
``core.types.prorate``, group by group, and adds up to each group's amount."""

from __future__ import annotations

from decimal import Decimal

import polars as pl
from hypothesis import given
from hypothesis import strategies as st

from core.types import prorate
from etl.prorate import half_up, prorated

minor_units = st.integers(min_value=-10**9, max_value=10**9)
groups = st.lists(st.tuples(minor_units, st.lists(st.integers(min_value=0, max_value=10**7),
                                                    min_size=1, max_size=6)),
                  min_size=1, max_size=5)


@given(groups=groups)
def test_shares_equal_the_core_rule_and_add_up(groups: list[tuple[int, list[int]]]) -> None:
    rows = [{"group": g, "row": r, "amount": amount, "weight": weight}
            for g, (amount, weights) in enumerate(groups) for r, weight in enumerate(weights)]
    frame = prorated(pl.LazyFrame(rows), amount="amount", weight="weight", group="group",
                     order="row", alias="share").sort("group", "row").collect()
    for g, (amount, weights) in enumerate(groups):
        expected = prorate(Decimal(amount).scaleb(-2), [Decimal(w) for w in weights], "USD")
        shares = frame.filter(pl.col("group") == g)["share"].to_list()
        assert shares == [int(s.scaleb(2)) for s in expected]
        assert sum(shares) == amount


def test_a_two_line_split_puts_the_remainder_on_the_largest_line() -> None:
    # 10.00 over 2 : 1 → 6.67 + 3.33; 0.01 over 1 : 1 → 0.01 + 0.01 (each rounded half-up)
    # and the extra cent taken back from the first of the equally largest lines.
    frame = pl.LazyFrame({"g": [1, 1, 2, 2], "o": [1, 2, 3, 4], "amount": [1000, 1000, 1, 1],
                          "w": [2, 1, 5, 5]})
    shares = prorated(frame, amount="amount", weight="w", group="g", order="o", alias="s")
    assert shares.sort("o").collect()["s"].to_list() == [667, 333, 0, 1]


def test_half_up_rounds_away_from_zero() -> None:
    frame = pl.DataFrame({"v": [5, -5, 4, 10**12], "n": [1, 1, 1, 10**6], "d": [2, 2, 3, 3]})
    assert frame.select(half_up(pl.col("v"), pl.col("n"), pl.col("d")))["v"].to_list() == [
        3, -3, 1, 333_333_333_333_333_333]
