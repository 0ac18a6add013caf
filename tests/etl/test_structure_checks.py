"""The structure checks before publish (``etl.checks.structure_failures``): dimension keys
unique with their unknown member, every fact key resolving, type-2 versions in order; each
problem is named."""

from __future__ import annotations

from datetime import date

import polars as pl

from etl.checks import DIMENSION_KEYS, structure_failures

END = date(9999, 12, 31)


def batch(*, rep_key: int = 1, rep_keys: tuple[int, ...] = (-1, 1),
          customer_versions: tuple[date, ...] = (date(2024, 1, 1),)) -> dict[str, pl.DataFrame]:
    """Dimensions of one member each (and the unknown member), one quote by rep
    ``rep_key``; customer 1's versions start on ``customer_versions``."""
    tables = {name: pl.DataFrame({key: [-1, 1]}) for name, key in DIMENSION_KEYS.items()}
    tables["dim_rep"] = pl.DataFrame({"rep_key": list(rep_keys)})
    starts = list(customer_versions)
    tables["dim_customer"] = pl.DataFrame({
        "customer_key": [-1, *range(1, len(starts) + 1)],
        "customer_id": [-1] + [1] * len(starts),
        "valid_from": [date(1900, 1, 1), *starts],
        "valid_to": [END, *starts[1:], END],
        "is_current": [True] + [False] * (len(starts) - 1) + [True],
    })
    tables["dim_date"] = pl.DataFrame({"date_key": [20250101]})
    tables["fct_quote"] = pl.DataFrame({"customer_key": [1], "rep_key": [rep_key],
                                        "quote_date_key": [20250101]})
    return tables


def test_a_sound_batch_passes() -> None:
    assert structure_failures(batch()) == []


def test_each_structure_problem_is_named() -> None:
    assert structure_failures(batch(rep_key=9)) == [
        "fct_quote.rep_key: 1 rows do not resolve in dim_rep"]
    assert structure_failures(batch(rep_keys=(-1, 1, 1))) == ["dim_rep.rep_key is not unique"]
    assert structure_failures(batch(rep_keys=(1,))) == ["dim_rep has no unknown member -1"]
    overlapping = batch(customer_versions=(date(2024, 1, 1), date(2024, 1, 1)))
    assert "dim_customer: (customer_id, valid_from) is not unique" in structure_failures(
        overlapping)
