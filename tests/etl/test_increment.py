"""Which customers an incremental run's change reaches (``etl.increment.Difference``,
``Increment.customers_reading``): a builder that reads some columns only is asked to compute
the customers whose rows differ in those columns, and no others."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from etl.increment import Increment, differing, patched
from etl.spill import mapped

KEY = ("item_type", "document_id")
BEFORE = pl.DataFrame({
    "item_type": ["invoice"] * 4,
    "document_id": [1, 2, 3, 4],
    "customer_id": [10, 11, 12, 13],
    "open_minor": [1_000, 2_000, 3_000, 400],
    "note": pl.Series([None, None, None, None], dtype=pl.String),
})
AFTER = pl.DataFrame({
    "item_type": ["invoice"] * 4,
    "document_id": [1, 2, 3, 5],
    "customer_id": [10, 11, 14, 15],  # invoice 3 moved from customer 12 to 14
    "open_minor": [1_000, 1_500, 3_000, 10],  # invoice 2 part paid
    "note": ["disputed", None, None, None],  # invoice 1's note set
})  # invoice 4 gone, invoice 5 new


def test_the_customers_whose_rows_differ_in_what_a_reader_reads() -> None:
    change = differing(BEFORE, AFTER, KEY)

    assert sorted(change.gone["document_id"].to_list()) == [1, 2, 3, 4]
    assert sorted(change.new["document_id"].to_list()) == [1, 2, 3, 5]
    assert change.customers() == {10, 11, 12, 13, 14, 15}
    # A reader of the amounts does not see the note: customer 10 changed nothing for it.
    assert change.customers((*KEY, "open_minor")) == {11, 12, 13, 14, 15}
    assert change.customers((*KEY, "note")) == {10, 12, 13, 14, 15}
    assert change.customers(KEY) == {12, 13, 14, 15}


def test_columns_without_the_key_are_refused() -> None:
    """Without the key two rows equal in the columns read would count once: a gone row
    equal to a kept one would hide."""
    with pytest.raises(ValueError, match="lack the key"):
        differing(BEFORE, AFTER, KEY).customers(("document_id", "open_minor"))


def test_an_increment_names_the_customers_of_the_tables_and_columns_read() -> None:
    allocations = pl.DataFrame({"allocation_id": [7], "customer_id": [20],
                                "amount_minor": [5]})
    increment = Increment(
        frozenset({10, 11, 12, 13, 14, 15, 20}), frozenset(), frozenset(), {},
        {"items": differing(BEFORE, AFTER, KEY),
         "allocations": differing(allocations, allocations.clear(), ("allocation_id",))})

    assert increment.customers_reading({"items": (*KEY, "note")}) == {10, 12, 13, 14, 15}
    assert increment.customers_reading({"items": (*KEY, "open_minor"),
                                        "allocations": ("allocation_id",),
                                        "orders": ("order_id",)}) == {11, 12, 13, 14, 15, 20}
    assert increment.customers_of(("allocations", "orders")) == {20}
    assert increment.customers_reading({}) == frozenset()


ORDER = ("open_minor", *KEY)
TABLE = BEFORE.sort(ORDER)


def _updated(**values: list[object]) -> pl.DataFrame:
    """``TABLE`` with invoice 2's columns set to ``values`` (one per column)."""
    return TABLE.with_columns(
        pl.when(pl.col("document_id") == 2).then(pl.lit(value[0])).otherwise(pl.col(name))
        .cast(TABLE.schema[name]).alias(name) for name, value in values.items())


def test_rows_paired_by_position_or_by_key_give_the_same_difference() -> None:
    """Same keys in the same order are compared by position, else joined on the key; a
    row equal in every column is in neither side."""
    after = _updated(note=["disputed"])
    by_position = differing(TABLE, after, KEY)
    by_key = differing(TABLE, after.reverse(), KEY)

    for change in (by_position, by_key):
        assert change.gone.rows() == TABLE.filter(pl.col("document_id") == 2).rows()
        assert change.new.rows() == after.filter(pl.col("document_id") == 2).rows()
    assert differing(TABLE, TABLE.reverse(), KEY).rows.is_empty()


def test_values_changed_in_place_keep_every_other_column_and_row(tmp_path: Path) -> None:
    """A patched table equals the rows sorted again; it leaves the table it came from (here
    memory-mapped from a file, as a published batch's table is) as it was."""
    path = tmp_path / "items.arrow"
    TABLE.write_ipc(path, compression="uncompressed")
    table = mapped(path)
    after = _updated(note=["disputed"], customer_id=[12])

    patch = patched(table, differing(table, after, KEY), ORDER)

    assert patch is not None
    assert patch.frame.equals(after)
    assert patch.rows.to_list() == [2]  # invoice 2, third by open_minor
    assert table.equals(TABLE)
    assert mapped(path).equals(TABLE)


def test_rows_that_come_go_or_move_are_not_patched() -> None:
    moved = _updated(open_minor=[5_000]).sort(ORDER)  # now last in the order
    gone = TABLE.filter(pl.col("document_id") != 2)
    new = pl.concat([TABLE, AFTER.filter(pl.col("document_id") == 5)]).sort(ORDER)
    renumbered = _updated(document_id=[9])  # one key gone, another new, same position

    for after in (moved, gone, new, renumbered):
        assert patched(TABLE, differing(TABLE, after, KEY), ORDER) is None
    # An order without the key may tie: the rows are sorted again.
    assert patched(TABLE, differing(TABLE, _updated(note=["x"]), KEY), ("open_minor",)) is None


def test_rows_of_another_type_are_not_patched() -> None:
    """A value scattered into a column of another type would be cast in place (an Int64
    too large for Int32 turns null): such a change is sorted in like any other."""
    narrow = TABLE.with_columns(pl.col("open_minor").cast(pl.Int32))
    after = _updated(note=["x"])  # open_minor Int64, as TABLE's

    assert patched(narrow, differing(narrow, after, KEY), ORDER) is None
    assert patched(TABLE, differing(TABLE, after, KEY), ORDER) is not None


def test_rows_with_a_null_in_the_key_are_paired() -> None:
    """A payment pool's key holds a null segment for every customer's own pool: a row
    added for one customer must not count the others as changed."""
    pools = pl.DataFrame({"pool": ["customer", "customer"], "customer_id": [1, 2],
                          "segment_code": pl.Series([None, None], dtype=pl.String),
                          "days_late": [3, 5], "paid_invoices": [1, 1]})
    added = pl.concat([pools, pools.head(1).with_columns(days_late=pl.lit(7, pl.Int64))])

    key = ("pool", "customer_id", "segment_code", "days_late")
    assert differing(pools, added.reverse(), key).customers() == {1}
