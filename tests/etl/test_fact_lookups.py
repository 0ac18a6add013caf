"""Key lookups of the facts: natural id/code → key, and the customer version at a date."""

from __future__ import annotations

from datetime import date

import polars as pl

from etl.dims.dim_customer import version_at
from etl.facts.lookups import key_of

END = date(9999, 12, 31)


def test_key_of_a_code_is_unknown_when_missing_and_never_the_unknown_member() -> None:
    dim = pl.DataFrame({"region_key": [-1, 1, 2], "region_code": ["?", "NORTH", "SOUTH"]},
                       schema={"region_key": pl.Int32, "region_code": pl.String})
    facts = pl.LazyFrame({"code": ["SOUTH", None, "?", "MARS", "SOUTH"]}).with_row_index()
    out = key_of(facts, dim, on="code", natural="region_code", key="region_key").collect()
    assert out.sort("index").select("code", "region_key").rows() == [
        ("SOUTH", 2), (None, -1), ("?", -1), ("MARS", -1), ("SOUTH", 2)]


def test_customer_version_at_a_date_with_exclusive_end_back_reach_and_gaps() -> None:
    dim = pl.DataFrame({
        "customer_key": [-1, 10, 11, 12],
        "customer_id": [-1, 1, 1, 1],
        "account_manager_id": [None, 7, 8, 9],
        "valid_from": [date(1900, 1, 1), date(2025, 1, 1), date(2025, 7, 1), date(2025, 9, 1)],
        "valid_to": [END, date(2025, 7, 1), date(2025, 8, 1), END],
    })
    days = [date(2024, 6, 1), date(2025, 6, 30), date(2025, 7, 1), date(2025, 8, 15),
            date(2025, 9, 1), None]
    facts = pl.LazyFrame({"customer": [1] * 6 + [2], "day": [*days, date(2025, 1, 1)]})
    out = version_at(
        facts, dim, customer_id="customer", on="day",
        columns={"customer_key": "customer_key", "account_manager_id": "rep_id"},
    ).collect().sort("customer", "day", nulls_last=True)
    # before the first version → the first version; 2025-08 is a gap; no date → unknown
    assert out.select("customer_key", "rep_id").rows() == [
        (10, 7), (10, 7), (11, 8), (-1, None), (12, 9), (-1, None), (-1, None)]
