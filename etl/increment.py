"""What an incremental run changed, for the tables built after the facts and for the
mart's rows (``Rewrite``).

An incremental run rebuilds the facts of some customers and merges them into the published
batch's rows (``merge_customers``). The tables ``etl.run`` builds from the merged facts —
``fct_customer_month``, ``agg_sales_month``, the cash forecast and its backtest — were
rebuilt whole on every run; on a run of the published batch's own run date most of their
rows cannot differ from the published ones, so an ``Increment`` tells their builders which
parts may: the customers whose facts or ``dim_customer`` rows changed and the months in
which ``fct_sales_line`` or ``fct_freight_cost`` rows changed. A builder recomputes those
parts from the merged facts and keeps the published rows of the rest, and must publish what
a whole rebuild would (``tests/etl/test_incremental_derived.py`` compares them with a full
run's, table by table). A run on a new date has no ``Increment``: everything that depends
on the run date is rebuilt whole.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

import polars as pl


@dataclass(frozen=True)
class Increment:
    """An incremental run on the published batch's run date: ``customers`` whose fact or
    ``dim_customer`` rows may differ from the published batch's (every other customer's
    are the published ones); ``months`` (YYYYMM) in which ``fct_sales_line`` or
    ``fct_freight_cost`` rows differ; ``tables``: the core tables the run's audit rows
    changed; ``previous``: the published batch's tables; ``differing``: table → the
    customers whose rows of it differ from the published ones (the rebuilt facts and
    ``dim_customer``; a table not named differs for no customer)."""

    customers: frozenset[int]
    months: frozenset[int]
    tables: frozenset[str]
    previous: dict[str, pl.DataFrame]
    differing: Mapping[str, frozenset[int]] = field(default_factory=dict)

    def customers_of(self, tables: Collection[str]) -> frozenset[int]:
        """The customers whose rows of ``tables`` differ from the published ones: a builder
        that reads only those tables computes only theirs again."""
        return frozenset[int]().union(*(self.differing.get(t, ()) for t in tables))


def of_customers(customers: Collection[int], column: str = "customer_id") -> pl.Expr:
    """True on the rows of ``customers``."""
    ids = pl.Series(column, sorted(customers), dtype=pl.Int64).implode()
    return pl.col(column).cast(pl.Int64).is_in(ids)


def of_months(months: Collection[int]) -> pl.Expr:
    """True on the rows whose ``month_key`` (YYYYMM) is one of ``months``."""
    return pl.col("month_key").is_in(pl.Series(sorted(months), dtype=pl.Int32).implode())


def merge_customers(previous: pl.DataFrame, rebuilt: pl.DataFrame,
                    customers: Collection[int], order: Sequence[str], *,
                    nulls_last: bool = False) -> pl.DataFrame:
    """``previous`` without the rows of ``customers``, plus ``rebuilt`` (their new rows),
    sorted by ``order`` as the table's builder sorts."""
    kept = previous.filter(~of_customers(customers))
    return pl.concat([kept, rebuilt.select(previous.columns)]).sort(
        order, nulls_last=nulls_last, maintain_order=True)


def differing(before: pl.DataFrame, after: pl.DataFrame) -> pl.DataFrame:
    """The rows of either frame that the other does not hold (same columns)."""
    columns = before.columns
    return pl.concat([
        before.join(after, on=columns, how="anti", nulls_equal=True),
        after.select(columns).join(before, on=columns, how="anti", nulls_equal=True),
    ])


@dataclass(frozen=True)
class Rewrite:
    """How a table unique on ``key`` goes from one set of rows to another: delete its rows
    of ``keys`` (``deleted`` of them), insert ``rows``."""

    key: tuple[str, ...]
    keys: pl.DataFrame
    rows: pl.DataFrame
    deleted: int


def rewrite(changed: pl.DataFrame, before: pl.DataFrame, after: pl.DataFrame,
            key: Sequence[str]) -> Rewrite:
    """``Rewrite`` of a table unique on ``key`` holding ``before`` into one holding
    ``after``, where ``changed`` are the rows ``differing`` between the two (a row
    changed, gone or new): the keys of those rows, ``before``'s rows of them to delete
    and ``after``'s to insert. Rows equal on both sides are not touched."""
    keys = changed.select(key).unique()
    return Rewrite(tuple(key), keys, after.join(keys, on=list(key), how="semi"),
                   before.join(keys, on=list(key), how="semi").height)


def changed_customers(before: pl.DataFrame, after: pl.DataFrame) -> frozenset[int]:
    """The ``customer_id`` of every row ``differing`` between ``before`` and ``after``."""
    return frozenset(differing(before, after)["customer_id"].cast(pl.Int64).to_list())
