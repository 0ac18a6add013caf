"""fct_opportunity_history: versions rebuilt from a hand-made audit trail with known answers,
pipeline as of a time as a range filter, and the invariants on generated demo data."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import polars as pl
import pytest
from sqlalchemy import Engine

from core.company.services import fx_rate
from core.db import make_session_factory
from core.demo import generate_demo
from core.sales.opportunities import STAGE_PROBABILITY
from core.types import PERCENT_SCALE, to_minor
from etl.dims import CORE_TABLES as DIMENSION_TABLES
from etl.dims import build_dimensions
from etl.extract import CoreFrames, extract
from etl.facts.opportunity_history import CORE_TABLES, OPEN_END, SCHEMA, TRACKED, build
from etl.schema import fct_opportunity_history
from tests.etl.core_frames import amount, core_frames, rate
from tests.etl.test_fct_sales_line import hand_made_dims

D = Decimal
T = datetime


def percent(value: str) -> int:
    """A stored probability (scale 4)."""
    return int(Decimal(value).scaleb(PERCENT_SCALE))


def _update(seq: int, at: datetime, opportunity_id: int, field: str, old: str | None,
            new: str | None, entity: str = "opportunity") -> dict[str, object]:
    return {"seq": seq, "occurred_at": at, "actor": "test", "entity": entity,
            "entity_id": opportunity_id, "action": "update", "field": field,
            "old_value": old, "new_value": new}


def _insert(seq: int, at: datetime, opportunity_id: int) -> dict[str, object]:
    return {"seq": seq, "occurred_at": at, "actor": "test", "entity": "opportunity",
            "entity_id": opportunity_id, "action": "insert"}


def _opportunity(id_: int, customer_id: int, currency: str, *, stage: str, state: str,
                 amount_: str, expected: date, rep_id: int, created: datetime,
                 probability: str | None = None, closed: date | None = None,
                 ) -> dict[str, object]:
    return {"id": id_, "number": f"OPP-{id_:04d}", "customer_id": customer_id,
            "rep_id": rep_id, "name": f"deal {id_}", "stage": stage, "state": state,
            "probability": None if probability is None else percent(probability),
            "amount": amount(amount_), "currency": currency, "expected_close_date": expected,
            "closed_date": closed, "created_date": created.date(), "created_at": created,
            "updated_at": created}


def pipeline_core() -> CoreFrames:
    """Three opportunities (customer 1 changes version on 2025-05-01, customer 2 on
    2025-07-01; EUR at 1.100005 from 2025-01-01, 1.2 from 2025-03-01, 1.25 from 2025-05-01):

    1. EUR, recorded 2025-02-10 09:00 in prospecting at 1000.00, close 2025-04-30, rep 7;
       2025-03-05 10:00 proposal, 1200.00 and probability 0.6 together; a rename (no
       version); 2025-04-15 12:00 close pushed to 2025-05-31 and moved to rep 8;
       2025-05-20 16:00 won.
    2. USD, created 2025-03-01 08:30, no audit rows at all: one version.
    3. USD, created 2025-06-01 09:00 with no insert row; an amount change stamped before
       that counts from the creation; lost on 2025-07-02 10:00.
    """
    return core_frames(
        CORE_TABLES,
        opportunity=[
            _opportunity(1, 1, "EUR", stage="won", state="won", amount_="1200.00",
                         probability="0.6", expected=date(2025, 5, 31), rep_id=8,
                         closed=date(2025, 5, 20), created=T(2025, 2, 10, 9)),
            _opportunity(2, 2, "USD", stage="qualification", state="open", amount_="500.00",
                         expected=date(2025, 9, 30), rep_id=9, created=T(2025, 3, 1, 8, 30)),
            _opportunity(3, 2, "USD", stage="lost", state="lost", amount_="350.00",
                         expected=date(2025, 8, 31), rep_id=9, closed=date(2025, 7, 2),
                         created=T(2025, 6, 1, 9)),
        ],
        audit_log=[
            _insert(1, T(2025, 2, 10, 9), 1),
            _update(2, T(2025, 3, 5, 10), 1, "stage", "prospecting", "proposal"),
            _update(3, T(2025, 3, 5, 10), 1, "amount", "1000.00", "1200.00"),
            _update(4, T(2025, 3, 5, 10), 1, "probability", None, "0.6"),
            _update(5, T(2025, 4, 1, 8), 1, "name", "deal", "deal 1"),
            _update(6, T(2025, 4, 15, 12), 1, "expected_close_date", "2025-04-30",
                    "2025-05-31"),
            _update(7, T(2025, 4, 15, 12), 1, "rep_id", "7", "8"),
            _update(8, T(2025, 5, 20, 16), 1, "stage", "proposal", "won"),
            _update(9, T(2025, 5, 20, 16), 1, "state", "open", "won"),
            _update(10, T(2025, 5, 20, 16), 1, "closed_date", None, "2025-05-20"),
            _update(11, T(2025, 5, 21, 9), 1, "status", "sent", "accepted", entity="quote"),
            _update(12, T(2025, 5, 31, 23), 3, "amount", "300.00", "350.00"),
            _update(13, T(2025, 7, 2, 10), 3, "stage", "qualification", "lost"),
            _update(14, T(2025, 7, 2, 10), 3, "state", "open", "lost"),
            _update(15, T(2025, 7, 2, 10), 3, "closed_date", None, "2025-07-02"),
        ],
        fx_rate=[
            {"currency": "EUR", "rate_date": date(2025, 1, 1), "rate": rate("1.100005")},
            {"currency": "EUR", "rate_date": date(2025, 3, 1), "rate": rate("1.2")},
            {"currency": "EUR", "rate_date": date(2025, 5, 1), "rate": rate("1.25")},
        ],
    )


def test_every_column_of_every_version() -> None:
    fact = build(pipeline_core(), hand_made_dims(), "USD")

    assert fact.schema == SCHEMA
    assert fact.columns == [c.name for c in fct_opportunity_history.columns]
    # opportunity_id, version_no, valid_from, valid_to, is_current, customer_key,
    # customer_id, rep_key, stage, state, amount_minor, probability (own, effective: else
    # the stage default), expected close, created, closed (rep 7 → key 1, 8 → 2, 9 → 3)
    assert fact.rows() == [
        # 1000 EUR × 1.100005 = 1100.005 USD → 1100.01 (half-up)
        (1, 1, T(2025, 2, 10, 9), T(2025, 3, 5, 10), False, 10, 1, 1, "prospecting", "open",
         110001, None, D("0.1000"), 20250430, 20250210, -1),
        (1, 2, T(2025, 3, 5, 10), T(2025, 4, 15, 12), False, 10, 1, 1, "proposal", "open",
         144000, D("0.6000"), D("0.6000"), 20250430, 20250210, -1),
        (1, 3, T(2025, 4, 15, 12), T(2025, 5, 20, 16), False, 10, 1, 2, "proposal", "open",
         144000, D("0.6000"), D("0.6000"), 20250531, 20250210, -1),
        # valid from 2025-05-20: customer 1's second version and the May rate
        (1, 4, T(2025, 5, 20, 16), OPEN_END, True, 11, 1, 2, "won", "won",
         150000, D("0.6000"), D("0.6000"), 20250531, 20250210, 20250520),
        (2, 1, T(2025, 3, 1, 8, 30), OPEN_END, True, 20, 2, 3, "qualification", "open",
         50000, None, D("0.2500"), 20250930, 20250301, -1),
        (3, 1, T(2025, 6, 1, 9), T(2025, 7, 2, 10), False, 20, 2, 3, "qualification", "open",
         35000, None, D("0.2500"), 20250831, 20250601, -1),
        (3, 2, T(2025, 7, 2, 10), OPEN_END, True, 21, 2, 3, "lost", "lost",
         35000, None, D("0.0000"), 20250831, 20250601, 20250702),
    ]


def open_pipeline(fact: pl.DataFrame, at: datetime) -> int:
    """Σ amount of the opportunities open at ``at``: a range filter on the versions."""
    return int(fact.filter((pl.col("valid_from") <= at) & (pl.col("valid_to") > at)
                           & (pl.col("state") == "open"))["amount_minor"].sum())


@pytest.mark.parametrize(("at", "expected"), [
    (T(2025, 2, 10, 8, 59), 0),
    (T(2025, 2, 20), 110001),
    (T(2025, 3, 5, 10), 144000 + 50000),  # a version starts at its valid_from
    (T(2025, 4, 20), 144000 + 50000),
    (T(2025, 5, 20, 16), 50000),  # won: no longer open
    (T(2025, 6, 15), 50000 + 35000),
    (T(2025, 7, 2, 10), 50000),
])
def test_pipeline_as_of_a_time_is_a_range_filter(at: datetime, expected: int) -> None:
    assert open_pipeline(build(pipeline_core(), hand_made_dims(), "USD"), at) == expected


def test_versions_date_in_the_company_time_zone() -> None:
    """Opportunity 1's push at 2025-04-30 23:30 UTC is 2025-05-01 in Berlin: the May rate
    and customer 1's second version."""
    core = pipeline_core()
    audit = core["audit_log"].with_columns(
        pl.when(pl.col("seq").is_in([6, 7])).then(pl.lit(T(2025, 4, 30, 23, 30)))
        .otherwise(pl.col("occurred_at")).alias("occurred_at"))
    core = CoreFrames({**core.frames, "audit_log": audit})

    utc = build(core, hand_made_dims(), "USD").filter(pl.col("opportunity_id") == 1)
    berlin = build(core, hand_made_dims(), "USD", timezone="Europe/Berlin").filter(
        pl.col("opportunity_id") == 1)

    assert utc.select("version_no", "customer_key", "amount_minor").rows()[2] == (3, 10, 144000)
    assert berlin.select("version_no", "customer_key", "amount_minor").rows()[2] == (
        3, 11, 150000)
    assert berlin["valid_from"].to_list() == utc["valid_from"].to_list()


def test_a_reused_id_counts_only_from_its_last_insert_and_a_reopen_opens_a_version() -> None:
    core = core_frames(
        CORE_TABLES,
        opportunity=[_opportunity(5, 1, "USD", stage="proposal", state="open",
                                  amount_="80.00", expected=date(2025, 9, 1), rep_id=7,
                                  created=T(2025, 8, 1, 9))],
        audit_log=[
            _insert(1, T(2025, 1, 2, 9), 5),
            _update(2, T(2025, 1, 3, 9), 5, "amount", "1.00", "2.00"),
            {"seq": 3, "occurred_at": T(2025, 1, 4, 9), "actor": "test",
             "entity": "opportunity", "entity_id": 5, "action": "delete"},
            _insert(4, T(2025, 8, 1, 9), 5),
            _update(5, T(2025, 8, 2, 9), 5, "stage", "prospecting", "won"),
            _update(6, T(2025, 8, 2, 9), 5, "state", "open", "won"),
            _update(7, T(2025, 8, 2, 9), 5, "closed_date", None, "2025-08-02"),
            _update(8, T(2025, 8, 3, 9), 5, "stage", "won", "proposal"),
            _update(9, T(2025, 8, 3, 9), 5, "state", "won", "open"),
            _update(10, T(2025, 8, 3, 9), 5, "closed_date", "2025-08-02", None),
        ],
    )

    fact = build(core, hand_made_dims(), "USD")

    assert fact.select("version_no", "valid_from", "stage", "state", "amount_minor",
                       "closed_date_key").rows() == [
        (1, T(2025, 8, 1, 9), "prospecting", "open", 8000, -1),
        (2, T(2025, 8, 2, 9), "won", "won", 8000, 20250802),
        (3, T(2025, 8, 3, 9), "proposal", "open", 8000, -1),
    ]


def test_no_opportunities_give_an_empty_fact_with_the_mart_dtypes() -> None:
    fact = build(core_frames(CORE_TABLES), hand_made_dims(), "USD")
    assert fact.height == 0
    assert fact.schema == SCHEMA


def test_a_currency_without_any_rate_is_an_error() -> None:
    core = core_frames(CORE_TABLES, opportunity=[
        _opportunity(1, 1, "GBP", stage="proposal", state="open", amount_="10.00",
                     expected=date(2025, 9, 1), rep_id=7, created=T(2025, 8, 1, 9))])
    with pytest.raises(ValueError, match=r"no exchange rate to USD for opportunities \[1\]"):
        build(core, hand_made_dims(), "USD")


# --- invariants on generated demo data, on both databases -------------------------------

def version_failures(fact: pl.DataFrame) -> list[str]:
    """Versions strictly ordered, contiguous (no overlap, no gap), exactly one current one,
    and it is the last."""
    failures = []
    ordered = fact.sort("opportunity_id", "version_no").with_columns(
        pl.col("valid_from").shift(-1).over("opportunity_id").alias("next_from"),
        pl.col("version_no").max().over("opportunity_id").alias("last_no"),
        pl.int_range(1, pl.len() + 1).over("opportunity_id").alias("expected_no"))
    if ordered.filter(pl.col("valid_from") >= pl.col("valid_to")).height:
        failures.append("a version ends before it starts")
    if ordered.filter(pl.col("version_no") != pl.col("expected_no")).height:
        failures.append("version numbers are not 1..n")
    if ordered.filter(pl.col("next_from").is_not_null()
                      & (pl.col("next_from") != pl.col("valid_to"))).height:
        failures.append("versions overlap or leave gaps")
    current = ordered.filter(pl.col("is_current"))
    if current["opportunity_id"].n_unique() != ordered["opportunity_id"].n_unique() \
            or not current["opportunity_id"].is_unique().all():
        failures.append("not exactly one current version per opportunity")
    if current.filter((pl.col("version_no") != pl.col("last_no"))
                      | (pl.col("valid_to") != OPEN_END)).height:
        failures.append("the current version is not the last, open-ended one")
    return failures


def test_invariants_on_generated_demo_data(isolated_engine: Engine) -> None:
    generate_demo(isolated_engine, customers=60, lines=3000, seed=5)
    core = extract(isolated_engine, sorted(set(CORE_TABLES) | set(DIMENSION_TABLES)))
    dims = build_dimensions(core, start=date(2020, 1, 1), end=date(2030, 12, 31),
                            fiscal_year_start_month=1)
    fact = build(core, dims, "USD")
    opportunities = core["opportunity"]

    assert fact.schema == SCHEMA
    assert version_failures(fact) == []
    assert set(fact["opportunity_id"]) == set(opportunities["id"])
    # One version per distinct instant of a tracked change (the demo logs every insert).
    audit = core["audit_log"].filter(pl.col("entity") == "opportunity")
    assert audit.filter(pl.col("action") == "insert").height == opportunities.height
    instants = audit.filter(pl.col("field").is_in(TRACKED)).group_by("entity_id").agg(
        pl.col("occurred_at").n_unique().alias("changes"))
    per_opportunity = fact.group_by("opportunity_id").len().join(
        instants, left_on="opportunity_id", right_on="entity_id", how="left")
    assert (per_opportunity["len"] == 1 + per_opportunity["changes"].fill_null(0)).all()
    assert fact.filter(pl.col("version_no") > 1).height > 0
    # Closing changes stage and state together: no version is won/lost but still open.
    assert fact.filter(pl.col("stage").is_in(["won", "lost"])
                       & (pl.col("state") == "open")).is_empty()
    assert fact.filter((pl.col("customer_key") == -1) | (pl.col("rep_key") == -1)).height == 0

    # The last version is the opportunity's current row; its amount at the rate of its
    # start date, as the core's own rate service finds it.
    last = fact.filter(pl.col("is_current")).join(
        opportunities.rename({"id": "opportunity_id"}), on="opportunity_id", suffix="_core")
    assert last.height == opportunities.height
    with make_session_factory(isolated_engine)() as session:
        for row in last.iter_rows(named=True):
            rate_ = fx_rate(session, row["currency"], row["valid_from"].date())
            core_amount = Decimal(row["amount"]).scaleb(-3)
            probability = None if row["probability_core"] is None \
                else Decimal(row["probability_core"]).scaleb(-4)
            effective = STAGE_PROBABILITY[row["stage_core"]] if probability is None \
                else probability
            expected = (row["stage_core"], row["state_core"],
                        to_minor(core_amount * rate_, "USD"), probability, effective,
                        _key(row["expected_close_date"]), row["rep_id"],
                        _key(row["closed_date"]), _key(row["created_date"]))
            assert (row["stage"], row["state"], row["amount_minor"], row["probability"],
                    row["effective_probability"],
                    row["expected_close_date_key"], row["rep_key"], row["closed_date_key"],
                    row["created_date_key"]) == expected, row["opportunity_id"]


def _key(day: date | None) -> int:
    return -1 if day is None else day.year * 10_000 + day.month * 100 + day.day
