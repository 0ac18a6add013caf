"""fct_customer_month: hand-made facts with known answers — the month grid, the monthly
measures and 12-month rating inputs, and the engagement status at month ends (the 90-day
"new" boundary, E from the median gap of distinct order dates and its clamping)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import polars as pl

from etl.conform import polars_schema
from etl.facts.customer_month import build
from etl.schema import (
    dim_customer,
    fct_ar_allocation,
    fct_customer_month,
    fct_freight_cost,
    fct_order,
    fct_sales_line,
)
from tests.etl.core_frames import core_frames
from tests.etl.test_fct_sales_line import dim_frame

END = date(9999, 12, 31)
TODAY = date(2025, 6, 10)


def customers(*created: tuple[int, date]) -> pl.DataFrame:
    """One version per customer (key = 10 × id) from its created date; customer 1 also
    has a second, current version (key 11) from 2025-04-01."""
    rows: list[dict[str, object]] = [
        {"customer_key": -1, "customer_id": -1, "valid_from": date(1900, 1, 1),
         "valid_to": END, "is_current": True}]
    for customer_id, on in created:
        if customer_id == 1:
            rows += [{"customer_key": 10, "customer_id": 1, "valid_from": on,
                      "valid_to": date(2025, 4, 1), "is_current": False},
                     {"customer_key": 11, "customer_id": 1, "valid_from": date(2025, 4, 1),
                      "valid_to": END, "is_current": True}]
        else:
            rows.append({"customer_key": 10 * customer_id, "customer_id": customer_id,
                         "valid_from": on, "valid_to": END, "is_current": True})
    return dim_frame(dim_customer, rows)


def _key(day: date) -> int:
    return day.year * 10_000 + day.month * 100 + day.day


def orders(*rows: tuple[int, date] | tuple[int, date, str]) -> pl.DataFrame:
    """Orders of (customer, order date[, status]) — confirmed unless told."""
    return dim_frame(fct_order, [
        {"order_id": i, "customer_id": row[0], "date_key": _key(row[1]),
         "month_key": _key(row[1]) // 100, "status": row[2] if len(row) > 2 else "confirmed"}
        for i, row in enumerate(rows, start=1)])


def sales(*rows: dict[str, object]) -> pl.DataFrame:
    return dim_frame(fct_sales_line, [
        {"net_minor": 0, "cost_minor": 0, "freight_charged_minor": 0} | row for row in rows])


def allocations(*rows: dict[str, object]) -> pl.DataFrame:
    return dim_frame(fct_ar_allocation, list(rows))


def freight(*rows: dict[str, object]) -> pl.DataFrame:
    return dim_frame(fct_freight_cost, list(rows))


def built(dim: pl.DataFrame, order_frame: pl.DataFrame | None = None,
          sales_frame: pl.DataFrame | None = None,
          allocation_frame: pl.DataFrame | None = None, today: date = TODAY,
          freight_frame: pl.DataFrame | None = None) -> pl.DataFrame:
    tables = {"dim_customer": dim,
              "fct_order": order_frame if order_frame is not None else orders(),
              "fct_sales_line": sales_frame if sales_frame is not None else sales(),
              "fct_freight_cost": freight_frame if freight_frame is not None else freight(),
              "fct_ar_allocation": allocation_frame if allocation_frame is not None
              else allocations()}
    return build(core_frames(()), tables, "USD", today=today)


def status_by_month(frame: pl.DataFrame, customer_id: int) -> dict[int, tuple[object, ...]]:
    """month → (status, days since last order, E) of one customer."""
    rows = frame.filter(pl.col("customer_id") == customer_id).select(
        "month_key", "engagement_status", "days_since_last_order", "expected_interval_days")
    return {row[0]: row[1:] for row in rows.iter_rows()}


def test_monthly_measures_split_net_sales_and_weight_payment_days_by_amount() -> None:
    """Customer 1 (created 2025-01-15, current version 11): in February two invoice lines,
    a settlement discount and a bad-debt write-off; in March a return and a restocked cost
    event; cash paid 5 and 20 days late, then a reversal of part of it in April; freight
    cost of two shipment lines in February and one in May (a month with nothing else). Drafts
    and cancelled orders are not counted, closed ones are."""
    fact = built(
        customers((1, date(2025, 1, 15))),
        orders((1, date(2025, 2, 3)), (1, date(2025, 2, 20), "closed"),
               (1, date(2025, 2, 21), "draft"), (1, date(2025, 3, 2), "cancelled"),
               (1, date(2025, 3, 5))),
        sales({"customer_id": 1, "month_key": 202502, "net_minor": 10_000, "cost_minor": 6_000,
               "freight_charged_minor": 500},
              {"customer_id": 1, "month_key": 202502, "net_minor": 2_000, "cost_minor": 1_500},
              {"customer_id": 1, "month_key": 202502, "net_minor": -150,
               "credit_reason": "settlement_discount"},
              {"customer_id": 1, "month_key": 202502, "net_minor": -900,
               "credit_reason": "bad_debt"},
              {"customer_id": 1, "month_key": 202503, "net_minor": -1_000, "cost_minor": -600,
               "credit_reason": "return"},
              {"customer_id": 1, "month_key": 202503, "cost_minor": -100}),
        allocations(
            {"customer_id": 1, "allocation_date_key": 20250310, "amount_minor": 3_000,
             "days_late": 5, "days_to_pay": 35},
            {"customer_id": 1, "allocation_date_key": 20250320, "amount_minor": 1_000,
             "days_late": 20, "days_to_pay": 50},
            {"customer_id": 1, "allocation_date_key": 20250320, "amount_minor": 700},  # credit
            {"customer_id": 1, "allocation_date_key": 20250402, "amount_minor": -1_000,
             "days_late": 20, "days_to_pay": 50}),
        freight_frame=freight({"customer_id": 1, "month_key": 202502, "freight_cost_minor": 300},
                              {"customer_id": 1, "month_key": 202502, "freight_cost_minor": 45},
                              {"customer_id": 1, "month_key": 202505, "freight_cost_minor": 80}),
    )

    assert fact.schema == polars_schema(fct_customer_month)
    measures = fact.select(
        "month_key", "customer_key", "order_count", "net_sales_minor", "cost_minor",
        "gross_margin_minor", "freight_charged_minor", "freight_cost_minor",
        "settlement_discount_minor", "bad_debt_minor", "cash_applied_minor",
        "cash_days_late_minor", "cash_days_to_pay_minor").rows()
    assert measures == [
        (202501, 11, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
        (202502, 11, 2, 12_000, 7_500, 4_500, 500, 345, 150, 900, 0, 0, 0),
        (202503, 11, 1, -1_000, -700, -300, 0, 0, 0, 0, 4_000, 35_000, 155_000),
        (202504, 11, 0, 0, 0, 0, 0, 0, 0, 0, -1_000, -20_000, -50_000),
        (202505, 11, 0, 0, 0, 0, 0, 80, 0, 0, 0, 0, 0),
        (202506, 11, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
    ]
    june = fact.filter(pl.col("month_key") == 202506).select(
        "net_sales_12m_minor", "gross_margin_12m_minor", "cash_applied_12m_minor",
        "cash_days_late_12m_minor").row(0)
    assert june == (11_000, 4_200, 3_000, 15_000)  # days late 15,000 / 3,000 = 5


def test_rating_inputs_cover_the_twelve_months_ending_with_the_row() -> None:
    """Sales in January 2024 and January 2025: December 2024's trailing year holds the first,
    January 2025's only the second."""
    fact = built(
        customers((2, date(2024, 1, 1))),
        sales_frame=sales({"customer_id": 2, "month_key": 202401, "net_minor": 100,
                           "cost_minor": 60},
                          {"customer_id": 2, "month_key": 202501, "net_minor": 7,
                           "cost_minor": 2}),
        today=date(2025, 2, 1))
    trailing = fact.select("month_key", "net_sales_12m_minor", "gross_margin_12m_minor")
    assert trailing.filter(pl.col("month_key").is_in([202401, 202412, 202501, 202502])).rows() \
        == [(202401, 100, 40), (202412, 100, 40), (202501, 7, 5), (202502, 7, 5)]
    assert fact.height == 14


def test_rows_run_from_creation_or_earlier_activity_to_the_current_month() -> None:
    """Customer 3 is created in April 2025 but has a back-dated sale in February: rows from
    February, with no status before it existed. Customer 4 exists but never ordered.
    Customer 5, not in the dimension, has activity only: key -1, rows from it. Customer 6
    is created after the run date: its created month only."""
    fact = built(
        customers((3, date(2025, 4, 15)), (4, date(2025, 5, 31)), (6, date(2025, 7, 2))),
        sales_frame=sales({"customer_id": 3, "month_key": 202502, "net_minor": 10},
                          {"customer_id": 5, "month_key": 202505, "net_minor": 20}))
    assert fact.select("customer_id", "month_key", "customer_key", "engagement_status",
                       "last_order_date_key").rows() == [
        (3, 202502, 30, None, -1), (3, 202503, 30, None, -1), (3, 202504, 30, "never", -1),
        (3, 202505, 30, "never", -1), (3, 202506, 30, "never", -1),
        (4, 202505, 40, "never", -1), (4, 202506, 40, "never", -1),
        (5, 202505, -1, "never", -1), (5, 202506, -1, "never", -1),
        (6, 202507, 60, "never", -1),
    ]


def test_new_lasts_until_ninety_days_after_the_first_order() -> None:
    """Customer 6's first order is on 2025-03-02, customer 7's on 2025-03-01: on 31 May
    that is 90 days (still new) and 91 days (no longer: one order, E = 365, active). The
    current month's status is as of the run date."""
    fact = built(customers((6, date(2025, 1, 1)), (7, date(2025, 1, 1))),
                 orders((6, date(2025, 3, 2)), (7, date(2025, 3, 1))))
    assert status_by_month(fact, 6) == {
        202501: ("never", None, None), 202502: ("never", None, None),
        202503: ("new", 29, Decimal(365)), 202504: ("new", 59, Decimal(365)),
        202505: ("new", 90, Decimal(365)), 202506: ("active", 100, Decimal(365))}
    assert status_by_month(fact, 7)[202505] == ("active", 91, Decimal(365))


def test_active_at_risk_and_lapsed_follow_the_expected_interval() -> None:
    """Customer 8 orders on 2024-01-01, 04-01, 04-11, 04-21: gaps 91, 10, 10, median 10,
    1.5 × 10 = 15 clamped up to E = 30 from the fourth order (365 before the third). Then
    silence: active while s ≤ 30, at risk to 365 days, lapsed after."""
    fact = built(customers((8, date(2023, 12, 1))),
                 orders(*((8, day) for day in (date(2024, 1, 1), date(2024, 4, 1),
                                               date(2024, 4, 11), date(2024, 4, 21)))))
    status = status_by_month(fact, 8)
    assert status[202401] == ("new", 30, Decimal(365))
    assert status[202403] == ("new", 90, Decimal(365))  # 31 March: 90 days after 1 January
    assert status[202404] == ("active", 9, Decimal(30))
    assert status[202405] == ("at_risk", 40, Decimal(30))
    assert status[202503] == ("at_risk", 344, Decimal(30))
    assert status[202504] == ("lapsed", 374, Decimal(30))


def test_expected_interval_uses_distinct_order_dates_and_is_clamped() -> None:
    """Customer 9: three orders, two on one day, one gap of distinct dates (60): E = 90,
    not 1.5 × median(0, 60) = 45. Customer 10: gaps 20 and 39, median 29.5, E = 44.25.
    Customer 11: gaps 334 and 366, median 350, 525 clamped down to 365 (before its third
    order it has fewer than 3: 365, and s = E is still active). Customer 12: three orders on
    one day have no gap: E = 365. Customer 13: two orders 20 days apart are too few: 365."""
    fact = built(
        customers((9, date(2024, 1, 1)), (10, date(2024, 1, 1)), (11, date(2022, 1, 1)),
                  (12, date(2024, 1, 1)), (13, date(2024, 1, 1))),
        orders((9, date(2024, 1, 1)), (9, date(2024, 1, 1)), (9, date(2024, 3, 1)),
               (10, date(2024, 1, 18)), (10, date(2024, 2, 7)), (10, date(2024, 3, 17)),
               (11, date(2023, 1, 1)), (11, date(2023, 12, 1)), (11, date(2024, 12, 1)),
               (12, date(2024, 1, 1)), (12, date(2024, 1, 1)), (12, date(2024, 1, 1)),
               (13, date(2024, 1, 1)), (13, date(2024, 1, 21))),
        today=date(2025, 1, 15))
    assert status_by_month(fact, 9)[202404] == ("active", 60, Decimal(90))
    assert status_by_month(fact, 9)[202405] == ("at_risk", 91, Decimal(90))
    assert status_by_month(fact, 10)[202404] == ("active", 44, Decimal("44.25"))
    assert status_by_month(fact, 10)[202405] == ("at_risk", 75, Decimal("44.25"))
    assert status_by_month(fact, 11)[202411] == ("active", 365, Decimal(365))
    assert status_by_month(fact, 11)[202412] == ("active", 30, Decimal(365))
    assert status_by_month(fact, 12)[202406] == ("active", 181, Decimal(365))
    assert status_by_month(fact, 13)[202405] == ("active", 131, Decimal(365))


def test_a_reassigned_customer_has_every_month_on_its_current_version() -> None:
    """Customer 1 moves to version 11 on 2025-04-01: its earlier months, too, carry the
    current version (customer lists follow the current account manager)."""
    fact = built(customers((1, date(2025, 1, 15))), orders((1, date(2025, 2, 3))))
    assert set(fact["customer_key"].to_list()) == {11}


def test_no_customers_give_an_empty_table_with_the_mart_dtypes() -> None:
    fact = built(customers())
    assert fact.height == 0
    assert fact.schema == polars_schema(fct_customer_month)
