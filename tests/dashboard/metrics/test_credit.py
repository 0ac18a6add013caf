"""Credit exposure and utilisation: backlog of credit orders only, exposure in the
customer's currency, blank utilisation without a limit, over limit when exposure passes it
(hand-made facts); on the demo company, every customer's exposure and utilisation equal an
independent computation from the core's documents, orders and credit limits."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

import polars as pl
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.billing.statements import balance
from core.company.services import end_of_day_utc
from core.customers.models import Customer
from core.types import to_minor
from dashboard.metrics.credit import backlog_by_customer, credit_exposure, credit_utilisation
from dashboard.metrics.mart import Mart
from dashboard.metrics.receivables import ar_by_customer
from dashboard.metrics.scope import NO_SCOPE, Scope
from tests.dashboard.conftest import DemoMart
from tests.dashboard.metrics.core_backlog import core_backlog_lines

FINANCE = Scope(role="finance", user_id=1, all_reps=True)


def _hand_made_mart() -> Mart:
    """Customer 1 (rep 10): a credit order with backlog 300 (its base 330) and a cash sale
    with backlog 50; customer 2 (rep 20): a credit order fully invoiced."""
    orders = pl.DataFrame({"order_id": [1, 2, 3], "customer_id": [1, 1, 2],
                           "status": ["confirmed"] * 3, "is_cash_sale": [False, True, False]})
    lines = pl.DataFrame({"order_line_id": [11, 12, 21, 31], "order_id": [1, 1, 2, 3],
                          "customer_id": [1, 1, 1, 2], "backlog_minor": [220, 110, 55, 0],
                          "backlog_doc_minor": [200, 100, 50, 0]})
    customers = pl.DataFrame({"customer_id": [1, 2], "account_manager_id": [10, 20],
                              "is_current": [True, True]})
    locations = pl.DataFrame({"customer_id": [1], "rep_override_id": [None]},
                             schema={"customer_id": pl.Int64, "rep_override_id": pl.Int64})
    return Mart("test", datetime(2026, 7, 5), {
        "fct_order": orders, "fct_order_line": lines, "dim_customer": customers,
        "dim_location": locations})


def test_backlog_counts_credit_orders_in_the_customers_currency_in_scope() -> None:
    mart = _hand_made_mart()
    assert backlog_by_customer(mart, FINANCE).rows() == [(1, 300)]
    # Every customer's backlog is kept with the batch; each scope picks its customers.
    assert "backlog_by_customer" in mart.derived
    assert backlog_by_customer(mart, Scope("rep", 2, rep_ids=frozenset({20}))).height == 0
    assert backlog_by_customer(mart, Scope("rep", 2, rep_ids=frozenset({10}))).rows() == [
        (1, 300)]
    assert backlog_by_customer(mart, NO_SCOPE).height == 0


def test_utilisation_is_exposure_over_the_limit_blank_without_one() -> None:
    ar = pl.DataFrame({"customer_id": [1, 2, 3, 4], "total_ar_doc_minor": [700, 500, 0, 90]})
    backlog = pl.DataFrame({"customer_id": [1, 5], "backlog_doc_minor": [300, 40]})
    exposure = credit_exposure(ar, backlog)
    assert exposure.select("customer_id", "open_ar_doc_minor", "backlog_doc_minor",
                           "exposure_doc_minor").rows() == [
        (1, 700, 300, 1000), (2, 500, 0, 500), (4, 90, 0, 90), (5, 0, 40, 40)]
    limits = pl.DataFrame({"customer_id": [1, 2, 4], "credit_limit_minor": [800, 1000, 0]})
    rows = {row["customer_id"]: row for row in credit_utilisation(exposure, limits)
            .iter_rows(named=True)}
    assert (rows[1]["utilisation"], rows[1]["is_over_limit"]) == (1.25, True)
    assert (rows[2]["utilisation"], rows[2]["is_over_limit"]) == (0.5, False)
    # No credit allowed: no ratio, but any exposure is over it (credit control's rule).
    assert (rows[4]["utilisation"], rows[4]["is_over_limit"]) == (None, True)
    # No limit on record: nothing to compare with.
    assert (rows[5]["utilisation"], rows[5]["is_over_limit"]) == (None, False)


def _core_backlog_doc(session: Session) -> dict[int, int]:
    """Per customer: the backlog of confirmed credit orders' lines in the order's currency
    (minor units), never < 0 a line."""
    backlog: dict[int, int] = defaultdict(int)
    for order, amount in core_backlog_lines(session):
        if not order.is_cash_sale:
            backlog[order.customer_id] += max(0, to_minor(amount, order.currency))
    return backlog


def test_exposure_and_utilisation_equal_the_core_per_customer(demo_mart: DemoMart) -> None:
    today = demo_mart.mart.published_at.date()
    with Session(demo_mart.core) as session:
        known_by = end_of_day_utc(session, today)
        backlog = _core_backlog_doc(session)
        customers = session.scalars(select(Customer)).all()
        expected = {}
        for c in customers:
            owed = to_minor(balance(session, c.id, today, known_by), c.currency)
            if owed or backlog[c.id]:
                expected[c.id] = (owed, backlog[c.id], owed + backlog[c.id])
        limits = pl.DataFrame({"customer_id": [c.id for c in customers],
                               "credit_limit_minor": [to_minor(c.credit_limit, c.currency)
                                                      for c in customers]})
        limit_of = {c.id: to_minor(c.credit_limit, c.currency) for c in customers}
    exposure = credit_exposure(ar_by_customer(demo_mart.mart, FINANCE, today, timezone="UTC"),
                               backlog_by_customer(demo_mart.mart, FINANCE))
    assert {row[0]: row[1:] for row in exposure.select(
        "customer_id", "open_ar_doc_minor", "backlog_doc_minor", "exposure_doc_minor").rows()
            } == expected
    utilisation = credit_utilisation(exposure, limits)
    for row in utilisation.iter_rows(named=True):
        limit, exposed = limit_of[row["customer_id"]], row["exposure_doc_minor"]
        assert row["utilisation"] == (exposed / limit if limit > 0 else None)
        assert row["is_over_limit"] == (exposed > limit)
    over = utilisation["is_over_limit"].sum()
    assert 0 < over < utilisation.height
    assert len({c.currency for c in customers if c.id in expected}) > 1
    assert any(b for _, b, _ in expected.values())  # backlog counts (2–4 customers: the
    # demo's depends on its run date)
