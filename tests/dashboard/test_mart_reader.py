"""The mart reader reads every table of a batch folder, a partitioned one without rows
(an empty folder) included, without the columns and rows the dashboard never reads; through
a serving copy written once per batch and swept with it."""

from __future__ import annotations

import threading
from datetime import datetime
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from sqlalchemy import delete, insert

from dashboard.mart_reader import NOT_READ, ROWS_READ, MartReader, load_batch, serving_copy
from dashboard.metrics.mart import KEPT_PER_KIND, Mart
from etl.batch_folder import SERVING_DIR, sweep, write_batch
from etl.conform import polars_schema
from etl.publish import PublishedBatch, mart_engine
from etl.schema import dim_region, etl_publish, fct_sales_line, mart
from tests.dashboard.conftest import DemoMart


def test_a_batch_without_sales_lines_loads(tmp_path: Path) -> None:
    regions = pl.DataFrame({"region_key": [-1], "region_code": ["?"], "name": ["Unknown"]})
    write_batch(tmp_path, "b1", {
        "dim_region": regions.cast(dict(polars_schema(dim_region))),  # type: ignore[arg-type]
        "fct_sales_line": pl.DataFrame(schema=polars_schema(fct_sales_line)),
    })

    loaded = load_batch(tmp_path, PublishedBatch("b1", datetime(2026, 1, 1), 0))

    assert loaded.frame("fct_sales_line").is_empty()
    assert loaded.frame("fct_sales_line").columns == [
        c for c in polars_schema(fct_sales_line) if c not in NOT_READ["fct_sales_line"]]
    assert loaded.frame("dim_region")["region_code"].to_list() == ["?"]


def test_the_columns_left_unread_are_columns_of_the_mart() -> None:
    for table, columns in NOT_READ.items():
        assert columns <= set(mart.tables[table].columns.keys()), table


def test_the_demo_batch_loads_without_the_unread_columns_and_rows(demo_mart: DemoMart) -> None:
    frames = demo_mart.mart.tables
    for table, columns in NOT_READ.items():
        assert not columns & set(frames[table].columns), table
        assert frames[table].height > 0, table
    lines = frames["fct_order_line"]
    assert lines.height > 0
    assert ((lines["backlog_minor"] != 0) | (lines["backlog_doc_minor"] != 0)).all()


def test_the_mapped_frames_equal_the_parquet_batch(demo_mart: DemoMart) -> None:
    folder = demo_mart.settings.resolved_mart_dir / demo_mart.mart.batch_id
    for name, mapped in demo_mart.mart.tables.items():
        path = folder / name if (folder / name).is_dir() else folder / f"{name}.parquet"
        read = pl.read_parquet(path, hive_partitioning=path.is_dir()).select(mapped.columns)
        if name in ROWS_READ:
            read = read.filter(ROWS_READ[name])
        assert_frame_equal(mapped, read)


def test_date_keys_in_order_are_flagged_sorted_and_others_are_not(demo_mart: DemoMart) -> None:
    """The facts' date keys come in date order and are flagged so (a period is then found
    by binary search); a column out of order is never flagged, and filters on a flagged
    column find the same rows as on the same data unflagged."""
    lines = demo_mart.mart.frame("fct_sales_line")
    assert lines["date_key"].flags["SORTED_ASC"]
    assert not lines["customer_id"].flags["SORTED_ASC"]
    months = demo_mart.mart.frame("fct_customer_month")  # by customer, then month
    assert not months["month_key"].is_sorted()
    assert not months["month_key"].flags["SORTED_ASC"]
    plain = pl.from_arrow(lines.to_arrow())
    assert isinstance(plain, pl.DataFrame) and not plain["date_key"].flags["SORTED_ASC"]
    middle = int(lines["date_key"][lines.height // 2])
    for frame in (lines, plain):
        found = frame.filter(pl.col("date_key").is_between(middle - 100, middle))
        assert found.height > 0
        assert_frame_equal(found, plain.filter(pl.col("date_key").is_between(middle - 100,
                                                                            middle)))


def test_the_serving_copy_is_written_once_and_swept_with_its_batch(tmp_path: Path) -> None:
    regions = pl.DataFrame({"region_key": [-1], "region_code": ["?"], "name": ["Unknown"]})
    for batch_id in ("b1", "b2"):
        write_batch(tmp_path, batch_id, {
            "dim_region": regions.cast(dict(polars_schema(dim_region)))})  # type: ignore[arg-type]
        load_batch(tmp_path, PublishedBatch(batch_id, datetime(2026, 1, 1), 0))
    copy = serving_copy(tmp_path, "b2") / "dim_region.arrow"
    written = copy.stat().st_mtime_ns
    (tmp_path / SERVING_DIR / ".tmp-b2").mkdir()  # a process writing b2's copy now
    (tmp_path / SERVING_DIR / ".tmp-b0").mkdir()  # a killed process's leftover

    assert load_batch(tmp_path, PublishedBatch("b2", datetime(2026, 1, 1), 0)).frame(
        "dim_region")["region_code"].to_list() == ["?"]
    sweep(tmp_path, keep={"b2"})

    assert copy.stat().st_mtime_ns == written
    assert sorted(p.name for p in (tmp_path / SERVING_DIR).iterdir() if p.is_dir()) == [
        ".tmp-b2", "b2"]
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_dir()) == [SERVING_DIR, "b2"]


def _one_region_batch(folder: Path, batch_id: str) -> PublishedBatch:
    regions = pl.DataFrame({"region_key": [-1, 1], "region_code": ["?", "N"],
                            "name": ["Unknown", "North"]})
    write_batch(folder, batch_id, {
        "dim_region": regions.cast(dict(polars_schema(dim_region))),  # type: ignore[arg-type]
        "fct_sales_line": pl.DataFrame(schema=polars_schema(fct_sales_line))})
    return PublishedBatch(batch_id, datetime(2026, 1, 1), 0)


def test_a_table_the_batch_did_not_change_is_linked_from_the_earlier_copy(
    tmp_path: Path
) -> None:
    """An incremental batch links the tables it did not change to the previous batch's
    files: its serving copy links their copies too (at 10M lines a save's copy wrote all
    3.6 GiB, 8.2 s), and writes the others."""
    first = _one_region_batch(tmp_path, "b1")
    earlier = serving_copy(tmp_path, first.batch_id)
    lines = pl.DataFrame(schema=polars_schema(fct_sales_line))
    regions = load_batch(tmp_path, first).frame("dim_region").with_columns(
        pl.col("name").str.to_uppercase())
    write_batch(tmp_path, "b2", {"dim_region": regions, "fct_sales_line": lines},
                previous=tmp_path / "b1", unchanged={"fct_sales_line"})

    copy = serving_copy(tmp_path, "b2")

    def inode(path: Path) -> int:
        return path.stat().st_ino

    assert inode(copy / "fct_sales_line.arrow") == inode(earlier / "fct_sales_line.arrow")
    assert inode(copy / "dim_region.arrow") != inode(earlier / "dim_region.arrow")
    second = load_batch(tmp_path, PublishedBatch("b2", datetime(2026, 1, 1), 0))
    assert second.frame("dim_region")["name"].to_list() == ["UNKNOWN", "NORTH"]
    assert second.frame("fct_sales_line").is_empty()
    rewritten = serving_copy(tmp_path, "b2", rewrite=True)  # a damaged copy: all written
    assert inode(rewritten / "fct_sales_line.arrow") != inode(earlier / "fct_sales_line.arrow")


def test_an_earlier_copy_swept_before_its_link_is_written_instead(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dashboard import mart_reader

    first = _one_region_batch(tmp_path, "b1")
    serving_copy(tmp_path, first.batch_id)
    write_batch(tmp_path, "b2", {"dim_region": load_batch(tmp_path, first).frame("dim_region"),
                                 "fct_sales_line": pl.DataFrame(schema=polars_schema(
                                     fct_sales_line))},
                previous=tmp_path / "b1", unchanged={"dim_region", "fct_sales_line"})

    def swept(source: Path, target: Path) -> None:
        raise FileNotFoundError(source)

    monkeypatch.setattr(mart_reader, "link_file", swept)
    copy = serving_copy(tmp_path, "b2")  # not a failure: the tables are written

    assert {path.name for path in copy.iterdir()} == {"dim_region.arrow",
                                                      "fct_sales_line.arrow"}
    second = load_batch(tmp_path, PublishedBatch("b2", datetime(2026, 1, 1), 0))
    assert second.frame("dim_region")["region_code"].to_list() == ["?", "N"]


def test_a_damaged_or_incomplete_copy_is_written_again(tmp_path: Path) -> None:
    batch = _one_region_batch(tmp_path, "b1")
    copy = serving_copy(tmp_path, "b1")
    (copy / "dim_region.arrow").write_bytes(b"ARROW1 not really")
    assert load_batch(tmp_path, batch).frame("dim_region")["region_code"].to_list() == [
        "?", "N"]
    (copy / "fct_sales_line.arrow").unlink()
    assert load_batch(tmp_path, batch).frame("fct_sales_line").is_empty()
    assert (copy / "fct_sales_line.arrow").exists()


def test_other_reading_rules_get_a_copy_of_their_own(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from dashboard import mart_reader

    batch = _one_region_batch(tmp_path, "b1")
    old = serving_copy(tmp_path, "b1")
    monkeypatch.setitem(mart_reader.NOT_READ, "dim_region", frozenset({"name"}))
    monkeypatch.setattr(mart_reader, "LAYOUT", mart_reader._layout())
    assert mart_reader.LAYOUT != old.name
    assert load_batch(tmp_path, batch).frame("dim_region").columns == [
        "region_key", "region_code"]
    assert [p.name for p in old.parent.iterdir()] == [mart_reader.LAYOUT]


def test_the_frames_are_the_mapped_files_own_pages(tmp_path: Path) -> None:
    """No copy: a column's buffer lies inside the process's mapping of its serving file."""
    regions = pl.DataFrame({"region_key": list(range(-1, 5_000)),
                            "region_code": [str(i) for i in range(-1, 5_000)],
                            "name": ["North"] * 5_001})
    write_batch(tmp_path, "b1", {
        "dim_region": regions.cast(dict(polars_schema(dim_region)))})  # type: ignore[arg-type]
    frame = load_batch(tmp_path, PublishedBatch("b1", datetime(2026, 1, 1), 0)).frame(
        "dim_region")
    address = frame["region_key"].to_numpy(allow_copy=False).__array_interface__["data"][0]
    path = str(serving_copy(tmp_path, "b1") / "dim_region.arrow")
    mappings = [tuple(int(bound, 16) for bound in line.split()[0].split("-"))
                for line in Path("/proc/self/maps").read_text().splitlines()
                if line.endswith(path)]
    assert any(start <= address < end for start, end in mappings)


def test_a_derived_frame_is_built_once_when_requests_ask_at_once() -> None:
    """Requests that ask for the same derived frame at once wait for the one building it;
    a Mart made from another with other tables derives its own."""
    import dataclasses
    import time

    mart = Mart("b", datetime(2026, 1, 1), {"t": pl.DataFrame({"x": [1, 2]})})
    built: list[int] = []

    def build(m: Mart) -> pl.DataFrame:
        built.append(1)
        time.sleep(0.05)
        return m.frame("t").select(pl.col("x").sum())

    threads = [threading.Thread(target=mart.derive, args=("sum", build)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(built) == 1 and mart.derived["sum"].item() == 3
    other = dataclasses.replace(mart, tables={"t": pl.DataFrame({"x": [5]})})
    assert other.derive("sum", build).item() == 5 and len(built) == 2


def test_frames_kept_by_key_are_built_once_in_one_call_for_the_missing_keys() -> None:
    """``derive_each`` builds only the keys it does not keep, in one call, and keeps the
    ``KEPT_PER_KIND`` latest used of each kind."""
    mart = Mart("b", datetime(2026, 1, 1), {"t": pl.DataFrame({"x": [1, 2]})})
    calls: list[list[int]] = []

    def build(m: Mart, keys: list[int]) -> list[pl.DataFrame]:
        calls.append(keys)
        return [m.frame("t").select(pl.col("x") * key) for key in keys]

    first = mart.derive_each("times", [3, 4, 3], build)
    assert [f["x"].to_list() for f in first] == [[3, 6], [4, 8], [3, 6]]
    assert calls == [[3, 4]]
    assert mart.derive_each("times", [4, 5], build)[1]["x"].to_list() == [5, 10]
    assert calls == [[3, 4], [5]]
    more = list(range(100, 100 + KEPT_PER_KIND - 2))  # one more than there is room for
    mart.derive_each("times", more, build)
    assert list(mart.keyed["times"])[:2] == [4, 5]  # 3, the least recently used, dropped
    mart.derive_each("times", [4], build)  # kept: used after 3
    assert calls[-1] == more
    mart.derive_each("times", [3], build)
    assert calls[-1] == [3]


def test_a_build_holds_up_only_the_requests_that_need_its_frame() -> None:
    """While one request builds a frame, another derives a different one, and a narrower
    scope reading kept frames of that kind gets None (it computes its own) instead of
    waiting."""
    mart = Mart("b", datetime(2026, 1, 1), {"t": pl.DataFrame({"x": [1, 2]})})
    started, release = threading.Event(), threading.Event()

    def slow(m: Mart, keys: list[int]) -> list[pl.DataFrame]:
        started.set()
        release.wait(5)
        return [m.frame("t")] * len(keys)

    mart.derive_each("kind", [1], lambda m, keys: [m.frame("t")] * len(keys))
    builder = threading.Thread(target=mart.derive_each, args=("kind", [2], slow))
    builder.start()
    assert started.wait(5)
    try:
        assert mart.derive("other", lambda m: m.frame("t")).height == 2
        assert mart.kept_each("kind", [1]) is None  # kept, but the kind is being built
    finally:
        release.set()
        builder.join()
    assert mart.kept_each("kind", [1, 2]) is not None


def test_a_later_batch_is_prepared_before_requests_read_it(tmp_path: Path) -> None:
    """The reader's ``prepare`` step (``dashboard.batch_warmup``) runs on the first batch
    in the background, after the request that loaded it got it, and on a later batch
    before it is swapped in; a failing step leaves the batch served."""
    engine = mart_engine(f"sqlite:///{tmp_path / 'mart.db'}")
    mart.create_all(engine)

    def publish(batch_id: str) -> None:
        _one_region_batch(tmp_path, batch_id)
        with engine.begin() as conn:
            conn.execute(delete(etl_publish))
            conn.execute(insert(etl_publish).values(
                id=1, published_batch_id=batch_id, published_at=datetime(2026, 1, 1),
                watermark_seq=0))

    prepared: list[str] = []
    done = threading.Event()

    def prepare(batch: Mart) -> None:
        prepared.append(batch.batch_id)
        done.set()
        if batch.batch_id == "b3":
            raise RuntimeError("prepare failed")

    reader = MartReader(engine, tmp_path, check_seconds=0, prepare=prepare)
    publish("b1")
    first = reader.current()
    assert first is not None and first.batch_id == "b1"
    assert done.wait(5) and prepared == ["b1"]
    for batch_id in ("b2", "b3"):
        publish(batch_id)
        reader.current()  # starts the load in the background
        for _ in range(200):
            current = reader.current()
            if current is not None and current.batch_id == batch_id:
                break
            threading.Event().wait(0.02)
        assert current is not None and current.batch_id == batch_id
        assert prepared[-1] == batch_id  # prepared before it was served
    assert prepared == ["b1", "b2", "b3"]
    engine.dispose()
