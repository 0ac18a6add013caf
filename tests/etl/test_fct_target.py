"""fct_target: hand-made targets with known answers, and targets set through the service
reconcile with the core's own totals on both databases."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import polars as pl
from sqlalchemy import Engine

from core.audit import set_actor
from core.db import make_session_factory, transaction
from core.sales.targets import set_target
from etl.checks import core_totals, target_failures
from etl.conform import polars_schema
from etl.extract import core_reader, extract
from etl.facts.targets import CORE_TABLES, build
from etl.schema import dim_rep, fct_target
from tests.core.world import build_world
from tests.etl.core_frames import amount, core_frames
from tests.etl.test_fct_sales_line import dim_frame, hand_made_dims

D = Decimal


def test_monthly_amounts_in_base_minor_units_with_the_days_of_their_month() -> None:
    """Rep 7 has targets for February 2024 (a leap year) and March; rep 8 for February;
    rep 99 is not in the dimension."""
    core = core_frames(CORE_TABLES, sales_target=[
        {"id": 1, "rep_id": 7, "month": date(2024, 2, 1), "amount": amount("12000.50")},
        {"id": 2, "rep_id": 7, "month": date(2024, 3, 1), "amount": amount("15000")},
        {"id": 3, "rep_id": 8, "month": date(2024, 2, 1), "amount": amount("800")},
        {"id": 4, "rep_id": 99, "month": date(2025, 2, 1), "amount": amount("1")},
    ])

    fact = build(core, hand_made_dims(), "USD")

    assert fact.schema == polars_schema(fct_target)
    assert fact.rows() == [(-1, 202502, 28, 100), (1, 202402, 29, 1_200_050),
                           (1, 202403, 31, 1_500_000), (2, 202402, 29, 80_000)]


def test_whole_units_in_a_zero_decimal_base_currency() -> None:
    core = core_frames(CORE_TABLES, sales_target=[
        {"id": 1, "rep_id": 7, "month": date(2025, 4, 1), "amount": amount("250000")}])
    dims = {"dim_rep": dim_frame(dim_rep, [{"rep_key": -1, "rep_id": -1},
                                           {"rep_key": 3, "rep_id": 7}])}
    assert build(core, dims, "JPY").rows() == [(3, 202504, 30, 250_000)]


def test_targets_set_through_the_service_reconcile_with_the_core(
        isolated_engine: Engine) -> None:
    with transaction(make_session_factory(isolated_engine)) as session:
        set_actor(session, "test")
        world = build_world(session)
        set_target(session, world.manager, world.rep_a.id, date(2025, 3, 17), D("12000.25"))
        set_target(session, world.manager, world.rep_b.id, date(2025, 3, 1), D("7000"))
        set_target(session, world.manager, world.rep_a.id, date(2025, 4, 1), D("9000"))
        rep_ids = [world.rep_a.id, world.rep_b.id]
    dims = {"dim_rep": dim_frame(dim_rep, [{"rep_key": -1, "rep_id": -1}] + [
        {"rep_key": i, "rep_id": rep_id} for i, rep_id in enumerate(rep_ids, start=1)])}

    fact = build(extract(isolated_engine, CORE_TABLES), dims, "USD")
    with core_reader(isolated_engine) as reader:
        core = core_totals(reader, "USD")

    assert dict(core.targets.iter_rows()) == {202503: 1_900_025, 202504: 900_000}
    assert target_failures(fact, core) == []
    short = fact.with_columns(
        pl.when(pl.col("month_key") == 202504).then(pl.col("target_minor") - 1)
        .otherwise(pl.col("target_minor")).alias("target_minor"))
    assert target_failures(short, core) == [
        "targets: 1 month(s) differ from the core, e.g. [202504]"]
