"""A run's spill folder: frames written as Arrow IPC and mapped back unchanged, the folder
gone when the run ends, whether it ends well or not."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from etl.spill import Spill, mapped


def frame() -> pl.DataFrame:
    """One column of each dtype the mart's tables use, with nulls."""
    return pl.DataFrame({
        "key": pl.Series([1, 2, None], dtype=pl.Int32),
        "minor": pl.Series([10**15, -3, 0], dtype=pl.Int64),
        "name": ["Acme", None, "Ünïcode GmbH"],
        "day": [date(2025, 1, 31), None, date(2026, 11, 24)],
        "at": [datetime(2025, 1, 31, 9, 30), datetime(2026, 1, 1), None],
        "quantity": pl.Series([Decimal("1.2500"), None, Decimal("-3.0000")],
                              dtype=pl.Decimal(18, 4)),
        "flag": [True, False, None],
    })


def test_a_kept_frame_is_the_same_frame_mapped_from_its_file(tmp_path: Path) -> None:
    original = pl.concat([frame(), frame()], rechunk=False)  # several record batches
    with Spill(tmp_path, "20261124T000000-abcdef") as spill:
        kept = spill.keep("fct_x", original)
        assert (spill.folder / "fct_x.arrow").is_file()
        assert spill.folder.name == ".tmp-20261124T000000-abcdef.spill"
        assert kept.schema == original.schema
        assert kept.equals(original)
        assert kept.filter(pl.col("flag")).rows() == original.filter(pl.col("flag")).rows()
        spill.discard("fct_x")
        assert not (spill.folder / "fct_x.arrow").exists()
        assert kept.equals(original)  # still mapped after its file is removed
    assert not spill.folder.exists()


def test_a_query_is_streamed_into_its_file(tmp_path: Path) -> None:
    source = tmp_path / "t.parquet"
    pl.concat([frame()] * 4).write_parquet(source, row_group_size=3)
    query = pl.scan_parquet(source).filter(pl.col("key").is_not_null())
    with Spill(tmp_path, "b") as spill:
        kept = spill.keep("prior.t", query)
        assert (spill.folder / "prior.t.arrow").is_file()
        assert kept.equals(query.collect()) and kept.height == 8


def test_the_folder_goes_when_the_run_fails(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="boom"), Spill(tmp_path, "b") as spill:
        spill.keep("t", frame())
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_a_spill_knows_the_files_that_hold_each_frame_it_handed_out(tmp_path: Path) -> None:
    with Spill(tmp_path, "c") as spill:
        first, second = spill.keep("a", frame()), spill.keep("b", frame())
        both = spill.joined([first, second])
        assert both.equals(pl.concat([frame(), frame()]))
        assert spill.files_of(both) == (spill.folder / "a.arrow", spill.folder / "b.arrow")
        assert spill.files_of(frame()) is None  # on the heap
        assert spill.files_of(spill.joined([first, frame()])) is None  # partly on the heap
        outside = tmp_path / "kept.arrow"
        frame().write_ipc(outside)
        assert spill.files_of(spill.adopt([outside])) == (outside,)
        assert spill.files_of(first.clone()) is None  # another frame, even if equal


def test_a_patched_table_writes_only_the_files_that_hold_changed_rows(tmp_path: Path) -> None:
    before_rows = pl.DataFrame({"id": range(10), "minor": range(0, 100, 10)})
    with Spill(tmp_path, "b") as spill:
        pieces = [spill.keep(f"prior.{n}", before_rows.slice(start, 4))
                  for n, start in enumerate((0, 4, 8))]  # files of 4, 4 and 2 rows
        before = spill.joined(pieces)
        prior_files = spill.files_of(before)
        assert prior_files is not None
        rows = pl.Series([5, 6], dtype=pl.UInt32)  # both in the second file
        after = before_rows.with_columns(
            pl.when(pl.col("id").is_in([5, 6])).then(-1).otherwise("minor").alias("minor"))

        kept = spill.keep_patch("t.merged", after, before, rows, slice_rows=3)

        assert kept.equals(after)
        files = spill.files_of(kept)
        assert files is not None
        # The first and last files as they were; the second's rows written in slices of 3.
        assert files[0] == prior_files[0] and files[-1] == prior_files[2]
        assert [path.parent for path in files[1:-1]] == [spill.folder] * 2
        assert [mapped(path).height for path in files] == [4, 3, 1, 2]
        assert before.equals(before_rows)  # the published rows are untouched

        on_heap = spill.keep_patch("u.merged", after, after.clone(), rows, slice_rows=3)
        assert on_heap.equals(after) and spill.files_of(on_heap) == (
            spill.folder / "u.merged.arrow",)
        with pytest.raises(ValueError, match="its files hold 10"):
            spill.keep_patch("v.merged", after.head(9), before, rows, slice_rows=3)
