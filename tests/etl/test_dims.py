"""The conformed dimensions, on small hand-made core frames with known answers, and on
generated demo data on both databases."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime

import polars as pl
import pytest
from sqlalchemy import Engine

from core.demo import generate_demo
from etl import schema
from etl.conform import polars_schema
from etl.dims import CORE_TABLES, build_dimensions, dim_channel, dim_customer, dim_date, dim_rep
from etl.dims import dim_region as dim_region_module
from etl.dims.dim_customer import OPEN_END, version_at
from etl.extract import CoreFrames, extract
from tests.etl.core_frames import core_frames

DIMENSIONS = {t.name: t for t in schema.DIMENSIONS}
KEYS = {name: table.columns[0].name for name, table in DIMENSIONS.items()}


def core_frame(table: str, rows: list[dict[str, object]]) -> pl.DataFrame:
    """One core table as extracted."""
    return core_frames((table,), **{table: rows})[table]


def audit(seq: int, at: datetime, entity_id: int, field: str, old: str | None,
          new: str | None, entity: str = "customer", action: str = "update") -> dict[str, object]:
    return {"seq": seq, "occurred_at": at, "actor": "test", "entity": entity,
            "entity_id": entity_id, "action": action, "field": field, "old_value": old,
            "new_value": new}


def customer(id_: int, created: datetime, rep: int | None, region: str | None,
             segment: str = "SMB", channel: str = "DIRECT") -> dict[str, object]:
    return {"id": id_, "ref": f"C{id_:04d}", "name": f"Customer {id_}", "currency": "USD",
            "account_manager_id": rep, "region_code": region, "segment_code": segment,
            "channel_code": channel, "created_at": created}


@pytest.fixture
def core() -> CoreFrames:
    """Customer 1: rep 7 → 9 on 2025-06-15, region NORTH → SOUTH on 2025-09-01.
    Customer 2: never changed. Customer 3: two rep changes on one day (7 → 8 → 9).
    Customer 4: rep 7 → 8 and back on one day (no new version)."""
    reps = [
        {"id": 1, "code": "HEAD", "name": "Head", "manager_id": None, "is_active": True},
        {"id": 2, "code": "MGR-N", "name": "North manager", "manager_id": 1,
         "region_code": "NORTH", "is_active": True},
        {"id": 7, "code": "R7", "name": "Rep 7", "manager_id": 2, "region_code": "NORTH",
         "is_active": True},
        {"id": 8, "code": "R8", "name": "Rep 8", "manager_id": 2, "is_active": False},
        {"id": 9, "code": "R9", "name": "Rep 9", "manager_id": 1, "is_active": True},
    ]
    history = [
        audit(10, datetime(2025, 3, 1, 9), 4, "hold_state", "none", "on_hold"),
        audit(11, datetime(2025, 3, 2, 9), 1, "account_manager_id", "5", "6",
              entity="sales_order"),
        audit(20, datetime(2025, 6, 15, 10), 1, "account_manager_id", "7", "9"),
        audit(30, datetime(2025, 7, 1, 8), 3, "account_manager_id", "7", "8"),
        audit(31, datetime(2025, 7, 1, 16), 3, "account_manager_id", "8", "9"),
        audit(40, datetime(2025, 7, 2, 8), 4, "account_manager_id", "7", "8"),
        audit(41, datetime(2025, 7, 2, 9), 4, "account_manager_id", "8", "7"),
        audit(50, datetime(2025, 9, 1, 11), 1, "region_code", "NORTH", "SOUTH"),
    ]
    return CoreFrames({
        "region": core_frame("region", [{"code": "SOUTH", "name": "South"},
                                        {"code": "NORTH", "name": "North"}]),
        "channel": core_frame("channel", [{"code": "WEB", "name": "E-commerce"},
                                          {"code": "DIRECT", "name": "Direct"}]),
        "sales_rep": core_frame("sales_rep", reps),
        "product": core_frame("product", [
            {"id": 3, "sku": "P-3", "name": "Widget", "category": "Tools",
             "product_line": "Hand", "unit_cost": 12_3400, "list_price": 20_0000,
             "tax_code": "STD", "is_active": True}]),
        "customer_location": core_frame("customer_location", [
            {"id": 11, "customer_id": 1, "kind": "bill_to", "name": "HQ", "city": "Leeds",
             "country": "GB", "is_default": True},
            {"id": 12, "customer_id": 1, "kind": "ship_to", "name": "Depot",
             "region_code": "NORTH", "rep_override_id": 8, "is_default": False}]),
        "customer": core_frame("customer", [
            customer(1, datetime(2025, 1, 10, 9), 9, "SOUTH"),
            customer(2, datetime(2025, 2, 1, 9), 7, "NORTH"),
            customer(3, datetime(2025, 2, 1, 9), 9, "NORTH"),
            customer(4, datetime(2025, 2, 1, 9), 7, "NORTH"),
        ]),
        "audit_log": core_frame("audit_log", history),
    })


def dims(core: CoreFrames) -> dict[str, pl.DataFrame]:
    return build_dimensions(core, start=date(2024, 12, 1), end=date(2026, 1, 31),
                            fiscal_year_start_month=4)


def day(frame: pl.DataFrame, on: date) -> dict[str, object]:
    return frame.filter(pl.col("date") == on).row(0, named=True)


def fiscal(row: Mapping[str, object]) -> tuple[object, object, object]:
    return row["fiscal_year"], row["fiscal_quarter"], row["fiscal_month"]


def test_fiscal_year_from_april_is_named_by_the_year_it_ends_in() -> None:
    frame = dim_date.build(date(2025, 1, 1), date(2026, 12, 31), fiscal_year_start_month=4)
    assert fiscal(day(frame, date(2025, 3, 31))) == (2025, 4, 12)
    assert fiscal(day(frame, date(2025, 4, 1))) == (2026, 1, 1)
    assert fiscal(day(frame, date(2025, 7, 15))) == (2026, 2, 4)
    assert fiscal(day(frame, date(2025, 12, 31))) == (2026, 3, 9)
    assert fiscal(day(frame, date(2026, 1, 1))) == (2026, 4, 10)


def test_fiscal_year_from_january_is_the_calendar_year() -> None:
    frame = dim_date.build(date(2025, 1, 1), date(2025, 12, 31), fiscal_year_start_month=1)
    assert fiscal(day(frame, date(2025, 1, 1))) == (2025, 1, 1)
    assert fiscal(day(frame, date(2025, 5, 20))) == (2025, 2, 5)
    assert fiscal(day(frame, date(2025, 12, 31))) == (2025, 4, 12)
    assert (frame.filter(pl.col("date_key") > 0)
            .select((pl.col("fiscal_year") == pl.col("year")).all()).item())


def test_dim_date_has_every_day_iso_weeks_at_year_end_and_the_unknown_member() -> None:
    frame = dim_date.build(date(2020, 12, 28), date(2025, 1, 5), fiscal_year_start_month=1)
    assert frame.height == (date(2025, 1, 5) - date(2020, 12, 28)).days + 1 + 1
    assert frame["date_key"].is_unique().all()
    monday = day(frame, date(2024, 12, 30))
    assert (monday["date_key"], monday["iso_year"], monday["iso_week"], monday["week_key"],
            monday["day_of_week"], monday["is_weekend"], monday["year"], monday["month_key"]
            ) == (20241230, 2025, 1, 202501, 1, False, 2024, 202412)
    sunday = day(frame, date(2021, 1, 3))
    assert (sunday["iso_year"], sunday["iso_week"], sunday["week_key"], sunday["day_of_week"],
            sunday["is_weekend"], sunday["quarter"]) == (2020, 53, 202053, 7, True, 1)
    unknown = frame.filter(pl.col("date_key") == -1).row(0, named=True)
    assert unknown["month_key"] == unknown["week_key"] == unknown["fiscal_year"] == -1


def test_dim_date_rejects_a_bad_fiscal_start_month() -> None:
    with pytest.raises(ValueError, match="1–12"):
        dim_date.build(date(2025, 1, 1), date(2025, 1, 2), fiscal_year_start_month=13)


def test_every_dimension_matches_its_mart_table_and_has_the_unknown_member(
        core: CoreFrames) -> None:
    for name, frame in dims(core).items():
        assert frame.schema == polars_schema(DIMENSIONS[name]), name
        key = KEYS[name]
        assert frame[key].is_unique().all(), name
        assert frame.filter(pl.col(key) == -1).height == 1, name
        assert frame.null_count().select(
            [c.name for c in DIMENSIONS[name].columns if not c.nullable]
        ).sum_horizontal().item() == 0, name


def test_region_and_channel_keys_follow_code_order_and_keep_previous_keys(
        core: CoreFrames) -> None:
    regions = dim_region_module.build(core)
    assert regions.select("region_key", "region_code").rows() == [
        (-1, "?"), (1, "NORTH"), (2, "SOUTH")]
    channels = dim_channel.build(core)
    assert channels.select("channel_key", "channel_code").rows() == [
        (-1, "?"), (1, "DIRECT"), (2, "WEB")]
    grown = CoreFrames(core.frames | {"region": pl.concat([
        core["region"], core_frame("region", [{"code": "EAST", "name": "East"}])])})
    assert dim_region_module.build(grown, previous=regions).select(
        "region_key", "region_code").rows() == [(-1, "?"), (1, "NORTH"), (2, "SOUTH"),
                                                (3, "EAST")]


def test_rep_tree_paths_walk_up_three_levels(core: CoreFrames) -> None:
    reps = dim_rep.build(core)
    paths = dict(zip(reps["rep_id"], reps["tree_path"], strict=True))
    assert paths == {-1: "/-1/", 1: "/1/", 2: "/1/2/", 7: "/1/2/7/", 8: "/1/2/8/", 9: "/1/9/"}
    assert reps.filter(pl.col("rep_id") == 7).row(0, named=True)["manager_rep_id"] == 2
    subtree = reps.filter(pl.col("tree_path").str.starts_with("/1/2/"))["rep_id"].to_list()
    assert sorted(subtree) == [2, 7, 8]


def test_a_cycle_in_the_manager_hierarchy_is_refused(core: CoreFrames) -> None:
    looped = core["sales_rep"].with_columns(
        pl.when(pl.col("id") == 1).then(7).otherwise(pl.col("manager_id")).alias("manager_id"))
    with pytest.raises(ValueError, match="cycle"):
        dim_rep.build(CoreFrames(core.frames | {"sales_rep": looped}))


def versions_of(frame: pl.DataFrame, customer_id: int) -> list[tuple[object, ...]]:
    return frame.filter(pl.col("customer_id") == customer_id).sort("valid_from").select(
        "valid_from", "valid_to", "account_manager_id", "region_code", "is_current").rows()


def test_customer_moved_to_another_rep_and_region_gets_three_versions(
        core: CoreFrames) -> None:
    frame = dim_customer.build(core)
    assert versions_of(frame, 1) == [
        (date(2025, 1, 10), date(2025, 6, 15), 7, "NORTH", False),
        (date(2025, 6, 15), date(2025, 9, 1), 9, "NORTH", False),
        (date(2025, 9, 1), OPEN_END, 9, "SOUTH", True),
    ]
    assert versions_of(frame, 2) == [(date(2025, 2, 1), OPEN_END, 7, "NORTH", True)]


def test_changes_on_one_day_make_one_version_and_no_net_change_makes_none(
        core: CoreFrames) -> None:
    frame = dim_customer.build(core)
    assert versions_of(frame, 3) == [
        (date(2025, 2, 1), date(2025, 7, 1), 7, "NORTH", False),
        (date(2025, 7, 1), OPEN_END, 9, "NORTH", True),
    ]
    assert versions_of(frame, 4) == [(date(2025, 2, 1), OPEN_END, 7, "NORTH", True)]


def test_customer_versions_are_unique_contiguous_with_one_current_row(
        core: CoreFrames) -> None:
    frame = dim_customer.build(core).filter(pl.col("customer_key") != -1)
    assert frame.select("customer_id", "valid_from").is_unique().all()
    assert (frame.group_by("customer_id").agg(pl.col("is_current").sum())
            ["is_current"] == 1).all()
    chained = frame.sort("customer_id", "valid_from").with_columns(
        pl.col("valid_from").shift(-1).over("customer_id").alias("next_from"))
    assert chained.filter(pl.col("next_from").is_not_null()
                          & (pl.col("valid_to") != pl.col("next_from"))).is_empty()
    assert (frame["valid_from"] < frame["valid_to"]).all()
    assert frame["customer_key"].to_list() == list(range(1, frame.height + 1))


def test_version_at_picks_the_version_valid_on_the_fact_date(core: CoreFrames) -> None:
    frame = dim_customer.build(core)
    key = {(r["customer_id"], r["valid_from"]): r["customer_key"]
           for r in frame.iter_rows(named=True)}
    old, new = key[(1, date(2025, 1, 10))], key[(1, date(2025, 6, 15))]
    latest = key[(1, date(2025, 9, 1))]
    facts = pl.DataFrame({
        "customer_id": [1, 1, 1, 1, 99, None, 2],
        "order_date": [date(2025, 6, 15), date(2025, 6, 14), date(2024, 1, 1), None,
                       date(2025, 6, 15), date(2025, 6, 15), date(2025, 6, 15)],
    }, schema={"customer_id": pl.Int64, "order_date": pl.Date})
    keyed = version_at(facts.lazy().with_row_index(), frame, customer_id="customer_id",
                       on="order_date", columns={"customer_key": "customer_key"})
    keys = keyed.collect().sort("index")["customer_key"].to_list()
    assert keys == [new, old, old, -1, -1, -1, key[(2, date(2025, 2, 1))]]
    assert latest not in keys  # a fact with no date has no version


def test_customer_versions_keep_their_keys_when_a_version_is_added(core: CoreFrames) -> None:
    first = dim_customer.build(core)
    later = pl.concat([core["audit_log"], core_frame("audit_log", [
        audit(60, datetime(2025, 10, 1, 9), 2, "segment_code", "SMB", "ENT")])])
    second = dim_customer.build(CoreFrames(core.frames | {"audit_log": later}), previous=first)
    kept = first.join(second, on=["customer_id", "valid_from"], how="inner")
    assert (kept["customer_key"] == kept["customer_key_right"]).all()
    added = second.join(first, on=["customer_id", "valid_from"], how="anti")
    assert added.select("customer_id", "valid_from", "customer_key").rows() == [
        (2, date(2025, 10, 1), first.select(pl.col("customer_key").max() + 1).item())]


def test_dimensions_of_generated_demo_data(isolated_engine: Engine) -> None:
    generate_demo(isolated_engine, customers=60, lines=3000, seed=5)
    core = extract(isolated_engine, CORE_TABLES)
    built = build_dimensions(core, start=date(2020, 1, 1), end=date(2030, 12, 31),
                             fiscal_year_start_month=4)
    assert set(built) == set(DIMENSIONS)
    for name, frame in built.items():
        table = DIMENSIONS[name]
        assert frame.columns == [c.name for c in table.columns], name
        assert frame.schema == polars_schema(table), name
        assert frame[KEYS[name]].is_unique().all(), name
        assert frame.filter(pl.col(KEYS[name]) == -1).height == 1, name
    customers = built["dim_customer"]
    assert customers.select("customer_id", "valid_from").is_unique().all()
    assert set(customers["customer_id"]) - {-1} == set(core["customer"]["id"])
    moved = core["audit_log"].filter(
        (pl.col("entity") == "customer") & (pl.col("field") == "account_manager_id")
    )["entity_id"].unique()
    assert moved.len() > 0
    per_customer = customers.filter(pl.col("customer_id").is_in(moved.implode())).group_by(
        "customer_id").agg(pl.len().alias("versions"), pl.col("is_current").sum())
    assert per_customer.height == moved.len()
    assert (per_customer["versions"] >= 2).all()
    assert (per_customer["is_current"] == 1).all()
    current = customers.filter(pl.col("is_current") & (pl.col("customer_id") != -1)).join(
        core["customer"].select(pl.col("id").alias("customer_id"), "account_manager_id"),
        on="customer_id")
    assert (current["account_manager_id"] == current["account_manager_id_right"]
            .cast(pl.Int32)).all()
