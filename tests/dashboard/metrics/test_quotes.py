"""Quote metrics on hand-made quotes with known answers, and on the demo company matched to
the core's quote records."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import polars as pl
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.company.services import fx_rate
from core.sales.models import Quote
from core.types import to_minor
from dashboard.metrics.mart import Mart
from dashboard.metrics.period import Period
from dashboard.metrics.quotes import (
    open_quote_age,
    quote_conversion,
    quotes_by,
    quotes_to_follow_up,
)
from dashboard.metrics.scope import NO_SCOPE, Scope
from etl.facts.quotes import SCHEMA
from tests.dashboard.conftest import DemoMart
from tests.dashboard.metrics.opportunity_marts import DIM_CUSTOMER, DIM_REP

FINANCE = Scope(role="finance", user_id=1, all_reps=True)
ADA = Scope(role="rep", user_id=2, rep_ids=frozenset({10}))
SPRING = Period(date(2025, 3, 1), date(2025, 5, 31))
ON = date(2025, 5, 1)


def quote(quote_id: int, status: str, net: int, *, rep_key: int = 1, quoted: int = 20250401,
          sent: int = -1, decided: int = -1, valid_until: int = 20250531,
          revision_of: int | None = None) -> dict[str, object]:
    return {"quote_id": quote_id, "quote_number": f"Q-{quote_id:03d}", "opportunity_id": None,
            "revision_of_id": revision_of, "revision_no": 0 if revision_of is None else 1,
            "customer_key": 2, "customer_id": 100, "rep_key": rep_key, "status": status,
            "quote_date_key": quoted, "sent_date_key": sent, "decided_date_key": decided,
            "valid_until_key": valid_until, "net_minor": net}


def quotes() -> list[dict[str, object]]:
    """Ada's (rep key 1) and Ben's (2) quotes; open on 1 May: 2 (sent 1 May, age 0), 3 (age
    8), 5 (age 30), 6 (age 31, accepted later), 9 (Ben's, age 14)."""
    return [
        quote(1, "draft", 10_000),
        quote(2, "sent", 20_000, sent=20250501),
        quote(3, "sent", 30_000, sent=20250423),
        quote(4, "sent", 40_000, sent=20250301, valid_until=20250430),  # past valid-until
        quote(5, "superseded", 50_000, sent=20250401, decided=20250502),
        quote(6, "accepted", 60_000, sent=20250331, decided=20250510, quoted=20250331),
        quote(7, "lost", 70_000, sent=20250301, decided=20250420, quoted=20250301),
        quote(8, "expired", 80_000, sent=20250301, decided=20250401, quoted=20250301,
              valid_until=20250331),
        quote(9, "sent", 90_000, rep_key=2, sent=20250417),
        quote(10, "accepted", 1_000, rep_key=2, sent=20250402, decided=20250403),
        quote(11, "cancelled", 2_000, sent=20250402),
        quote(12, "accepted", 3_000, sent=20250101, decided=20250105, quoted=20250101),
    ]


def quote_mart(rows: list[dict[str, object]]) -> Mart:
    frame = pl.DataFrame(rows, schema=SCHEMA, strict=False)
    return Mart("test", datetime(2025, 12, 31), {
        "fct_quote": frame, "dim_rep": DIM_REP, "dim_customer": DIM_CUSTOMER})


def test_counts_and_amounts_by_status_and_rep() -> None:
    mart = quote_mart(quotes())
    assert quotes_by(mart, FINANCE, SPRING, "status").rows() == [
        ("draft", 1, 10_000), ("sent", 4, 180_000), ("accepted", 2, 61_000),
        ("lost", 1, 70_000), ("expired", 1, 80_000), ("cancelled", 1, 2_000),
        ("superseded", 1, 50_000)]
    assert quotes_by(mart, FINANCE, SPRING, "rep").rows() == [
        (1, 9, 362_000, "Ada"), (2, 2, 91_000, "Ben")]
    assert quotes_by(mart, FINANCE, SPRING, "status_rep").select(
        "status", "rep", "quotes").rows()[:3] == [
        ("draft", "Ada", 1), ("sent", "Ada", 3), ("sent", "Ben", 1)]  # a tie: by rep
    with pytest.raises(ValueError, match="cannot group"):
        quotes_by(mart, FINANCE, SPRING, "customer")


def test_conversion_among_quotes_decided_in_the_period_by_count_and_amount() -> None:
    conversion = quote_conversion(quote_mart(quotes()), FINANCE, SPRING)
    # 6, 10 accepted; 7 lost; 8 expired; 5 superseded and 12 (January) left out
    assert conversion == {
        "accepted": 2, "lost": 1, "expired": 1,
        "accepted_minor": 61_000, "lost_minor": 70_000, "expired_minor": 80_000,
        "conversion_count": 0.5, "conversion_amount": 61_000 / 211_000}
    empty = quote_conversion(quote_mart(quotes()), FINANCE,
                             Period(date(2025, 7, 1), date(2025, 7, 31)))
    assert empty["conversion_count"] is None and empty["conversion_amount"] is None


def test_open_quote_age_buckets_on_a_day() -> None:
    assert open_quote_age(quote_mart(quotes()), FINANCE, ON).rows() == [
        ("0–7", 1, 20_000), ("8–14", 2, 120_000), ("15–30", 1, 50_000), ("> 30", 1, 60_000)]
    assert open_quote_age(quote_mart(quotes()), FINANCE, date(2025, 1, 2)).rows() == [
        ("0–7", 1, 3_000), ("8–14", 0, 0), ("15–30", 0, 0), ("> 30", 0, 0)]


def test_follow_up_list_is_the_open_quotes_oldest_first() -> None:
    follow_up = quotes_to_follow_up(quote_mart(quotes()), FINANCE, ON)
    assert follow_up.select("quote_number", "customer", "rep", "net_minor", "age_days").rows() \
        == [("Q-006", "Acme", "Ada", 60_000, 31), ("Q-005", "Acme", "Ada", 50_000, 30),
            ("Q-009", "Acme", "Ben", 90_000, 14), ("Q-003", "Acme", "Ada", 30_000, 8),
            ("Q-002", "Acme", "Ada", 20_000, 0)]
    assert follow_up.row(0, named=True)["sent_date"] == date(2025, 3, 31)
    assert follow_up.row(0, named=True)["valid_until"] == date(2025, 5, 31)


def test_a_rep_sees_only_their_quotes_and_an_empty_scope_nothing() -> None:
    mart = quote_mart(quotes())
    assert quotes_by(mart, ADA, SPRING, "rep")["rep"].to_list() == ["Ada"]
    assert "Q-009" not in quotes_to_follow_up(mart, ADA, ON)["quote_number"].to_list()
    assert quote_conversion(mart, ADA, SPRING)["accepted"] == 1
    assert quotes_by(mart, NO_SCOPE, SPRING, "status").height == 0
    assert quotes_to_follow_up(mart, NO_SCOPE, ON).height == 0
    assert open_quote_age(mart, NO_SCOPE, ON)["quotes"].to_list() == [0, 0, 0, 0]
    assert quote_conversion(mart, NO_SCOPE, SPRING)["conversion_count"] is None


# --- the demo company: the mart against the core's own records ------------------------------

def _core_quotes(session: Session) -> list[tuple[Quote, int]]:
    """Every quote with its net amount in minor units of USD at its quote date's rate."""
    return [(q, to_minor(q.net_amount * fx_rate(session, q.currency, q.quote_date), "USD"))
            for q in session.scalars(select(Quote))]


def _everything(demo: DemoMart) -> Period:
    return Period(date(2000, 1, 1), demo.mart.published_at.date())


def test_quotes_by_status_and_rep_match_the_core(demo_mart: DemoMart) -> None:
    reps = demo_mart.mart.frame("dim_rep").select("rep_key", "rep_id")
    by = quotes_by(demo_mart.mart, FINANCE, _everything(demo_mart), "status_rep").join(
        reps, on="rep_key")
    mart = {(r["status"], r["rep_id"]): (r["quotes"], r["net_minor"])
            for r in by.iter_rows(named=True)}
    core: dict[tuple[str, int], tuple[int, int]] = {}
    with Session(demo_mart.core) as session:
        for q, net in _core_quotes(session):
            count, total = core.get((str(q.status), q.rep_id), (0, 0))
            core[str(q.status), q.rep_id] = (count + 1, total + net)
    assert len({status for status, _ in core}) >= 4
    assert mart == core


def test_conversion_and_open_quote_ages_match_the_core(demo_mart: DemoMart) -> None:
    with Session(demo_mart.core) as session:
        core = _core_quotes(session)
    decided = [(q, net) for q, net in core if str(q.status) in ("accepted", "lost", "expired")]
    accepted = [net for q, net in decided if str(q.status) == "accepted"]
    conversion = quote_conversion(demo_mart.mart, FINANCE, _everything(demo_mart))
    assert conversion["conversion_count"] == len(accepted) / len(decided)
    assert conversion["conversion_amount"] == sum(accepted) / sum(net for _, net in decided)

    first = min(q.quote_date for q, _ in core)
    days = [first + timedelta(days=d) for d in range(0, 1200, 7)]
    mart_ages, core_ages = [], []
    for day in days:
        mart_ages += open_quote_age(demo_mart.mart, FINANCE, day).rows()
        ages = [((day - q.sent_date).days, net) for q, net in core
                if q.sent_date is not None and q.sent_date <= day <= q.valid_until
                and (str(q.status) == "sent"
                     or (q.decided_date is not None and q.decided_date > day))]
        for label, low, high in (("0–7", 0, 7), ("8–14", 8, 14), ("15–30", 15, 30),
                                 ("> 30", 31, 10**6)):
            in_bucket = [net for age, net in ages if low <= age <= high]
            core_ages.append((label, len(in_bucket), sum(in_bucket)))
    assert sum(n for _, n, _ in core_ages) >= 50
    assert mart_ages == core_ages
