"""fct_quote: hand-made quotes with known answers (EUR at the quote date's rate, a revision,
unknown members) and one row per quote with the core's statuses on generated demo data."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import polars as pl
import pytest
from sqlalchemy import Engine

from core.company.services import fx_rate
from core.db import make_session_factory
from core.demo import generate_demo
from core.types import to_minor
from etl.dims import CORE_TABLES as DIMENSION_TABLES
from etl.dims import build_dimensions
from etl.extract import extract
from etl.facts.quotes import CORE_TABLES, SCHEMA, build
from etl.schema import fct_quote
from tests.etl.core_frames import amount, core_frames, rate
from tests.etl.test_fct_sales_line import hand_made_dims

EUR_RATES = [
    {"currency": "EUR", "rate_date": date(2025, 1, 1), "rate": rate("1.100005")},
    {"currency": "EUR", "rate_date": date(2025, 3, 1), "rate": rate("1.2")},
    {"currency": "EUR", "rate_date": date(2025, 5, 1), "rate": rate("1.25")},
]


def _quote(id_: int, customer_id: int, currency: str, status: str, on: date, valid_until: date,
           net: str, *, rep_id: int = 7, opportunity_id: int | None = None,
           sent: date | None = None, decided: date | None = None,
           revision_of_id: int | None = None, revision_no: int = 0) -> dict[str, object]:
    return {"id": id_, "number": f"Q-{id_:04d}", "customer_id": customer_id,
            "opportunity_id": opportunity_id, "rep_id": rep_id, "status": status,
            "currency": currency, "quote_date": on, "valid_until": valid_until,
            "sent_date": sent, "decided_date": decided, "revision_of_id": revision_of_id,
            "revision_no": revision_no, "net_amount": amount(net),
            "tax_amount": amount("0"), "total_amount": amount(net)}


def test_every_column_of_quotes_and_revisions() -> None:
    """An EUR quote superseded by its revision (accepted), a draft in the base currency for
    an unknown rep, and an expired EUR quote dated before the first EUR rate."""
    core = core_frames(
        CORE_TABLES,
        quote=[
            _quote(1, 1, "EUR", "superseded", date(2025, 3, 5), date(2025, 4, 4), "1000.00",
                   opportunity_id=1, sent=date(2025, 3, 5)),
            _quote(2, 1, "EUR", "accepted", date(2025, 5, 2), date(2025, 6, 1), "1150.01",
                   opportunity_id=1, rep_id=8, sent=date(2025, 5, 2),
                   decided=date(2025, 5, 20), revision_of_id=1, revision_no=1),
            _quote(3, 2, "USD", "draft", date(2025, 7, 15), date(2025, 8, 14), "99.99",
                   rep_id=99),
            _quote(4, 1, "EUR", "expired", date(2024, 12, 15), date(2025, 1, 14), "100.00",
                   sent=date(2024, 12, 15), decided=date(2025, 1, 15)),
        ],
        fx_rate=EUR_RATES,
    )

    fact = build(core, hand_made_dims(), "USD")

    assert fact.schema == SCHEMA
    assert fact.columns == [c.name for c in fct_quote.columns]
    # quote_id, number, opportunity, revision of, revision no, customer_key, customer_id,
    # rep_key, status, quote/sent/decided/valid-until date keys, net_minor
    assert fact.rows() == [
        # 1000.00 EUR × 1.2 (rate of 2025-03-01)
        (1, "Q-0001", 1, None, 0, 10, 1, 1, "superseded", 20250305, 20250305, -1, 20250404,
         120000),
        # 1150.01 × 1.25 = 1437.5125 → 1437.51; customer 1's version from 2025-05-01
        (2, "Q-0002", 1, 1, 1, 11, 1, 2, "accepted", 20250502, 20250502, 20250520, 20250601,
         143751),
        (3, "Q-0003", None, None, 0, 21, 2, -1, "draft", 20250715, -1, -1, 20250814, 9999),
        # before the first EUR rate: that first rate, 100 × 1.100005 = 110.0005 → 110.00;
        # before the customer's first version: that first version
        (4, "Q-0004", None, None, 0, 10, 1, 1, "expired", 20241215, 20241215, 20250115,
         20250114, 11000),
    ]


def test_no_quotes_give_an_empty_fact_with_the_mart_dtypes() -> None:
    fact = build(core_frames(CORE_TABLES), hand_made_dims(), "USD")
    assert fact.height == 0
    assert fact.schema == SCHEMA


def test_a_currency_without_any_rate_is_an_error() -> None:
    core = core_frames(CORE_TABLES, fx_rate=EUR_RATES, quote=[
        _quote(7, 1, "GBP", "draft", date(2025, 3, 5), date(2025, 4, 4), "10.00")])
    with pytest.raises(ValueError, match=r"no exchange rate to USD for quotes \[7\]"):
        build(core, hand_made_dims(), "USD")


def test_one_row_per_quote_with_the_core_statuses_on_generated_demo_data(
        isolated_engine: Engine) -> None:
    generate_demo(isolated_engine, customers=60, lines=3000, seed=5)
    core = extract(isolated_engine, sorted(set(CORE_TABLES) | set(DIMENSION_TABLES)))
    dims = build_dimensions(core, start=date(2020, 1, 1), end=date(2030, 12, 31),
                            fiscal_year_start_month=1)
    fact = build(core, dims, "USD")
    quotes = core["quote"]

    assert fact.schema == SCHEMA
    assert fact.height == quotes.height > 0
    assert fact["quote_id"].is_unique().all()
    joined = fact.join(quotes.rename({"id": "quote_id"}), on="quote_id", suffix="_core")
    assert joined.height == quotes.height
    assert (joined["status"] == joined["status_core"]).all()
    assert {"accepted", "superseded"} <= set(fact["status"])
    assert (joined["quote_number"] == joined["number"]).all()
    assert (joined["rep_key"] == joined["rep_id"]).all()
    assert fact.filter(pl.col("customer_key") == -1).height == 0
    revised = fact.filter(pl.col("revision_of_id").is_not_null())
    assert revised.height > 0
    assert revised["revision_of_id"].is_in(fact["quote_id"].implode()).all()
    # Net amounts at the rate of the quote date, as the core's own rate service finds it.
    with make_session_factory(isolated_engine)() as session:
        for row in joined.iter_rows(named=True):
            rate_ = fx_rate(session, row["currency"], row["quote_date"])
            net = Decimal(row["net_amount"]).scaleb(-3)
            assert row["net_minor"] == to_minor(net * rate_, "USD"), row["quote_id"]
