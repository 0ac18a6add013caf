"""Period presets and comparisons (KPIS "Period comparisons")."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from dashboard.metrics.period import Period, month_ends, preset_period, trailing_months

TODAY = date(2026, 5, 14)


@pytest.mark.parametrize(("preset", "start"), [
    ("mtd", date(2026, 5, 1)), ("qtd", date(2026, 4, 1)), ("ytd", date(2026, 1, 1)),
    ("last_30", date(2026, 4, 15)), ("last_90", date(2026, 2, 14)),
])
def test_presets_end_today(preset: str, start: date) -> None:
    assert preset_period(preset, TODAY) == Period(start, TODAY)


def test_fiscal_year_starts_in_the_configured_month_of_the_right_year() -> None:
    assert preset_period("fiscal_year", TODAY, fiscal_year_start_month=7) == Period(
        date(2025, 7, 1), TODAY)
    assert preset_period("fiscal_year", TODAY, fiscal_year_start_month=4) == Period(
        date(2026, 4, 1), TODAY)


def test_prior_period_has_equal_length_and_ends_the_day_before() -> None:
    period = Period(date(2026, 3, 1), date(2026, 3, 31))
    assert period.prior() == Period(date(2026, 1, 29), date(2026, 2, 28))
    assert period.prior().days == period.days == 31


def test_same_period_last_year_maps_29_february_to_the_28th() -> None:
    assert Period(date(2024, 2, 1), date(2024, 2, 29)).last_year() == Period(
        date(2023, 2, 1), date(2023, 2, 28))


def test_custom_period_needs_both_dates_in_order() -> None:
    with pytest.raises(ValueError, match="start and an end"):
        preset_period("custom", TODAY, start=date(2026, 1, 1))
    with pytest.raises(ValueError, match="after it ends"):
        Period(date(2026, 2, 1), date(2026, 1, 1))


def test_unknown_preset_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown period preset"):
        preset_period("forever", TODAY)


def test_month_ends_run_to_the_as_of_date_across_years() -> None:
    assert month_ends(date(2026, 2, 10), 3) == [date(2025, 12, 31), date(2026, 1, 31),
                                                date(2026, 2, 10)]
    assert month_ends(date(2024, 3, 31), 2) == [date(2024, 2, 29), date(2024, 3, 31)]
    with pytest.raises(ValueError, match="1 to 24 months"):
        month_ends(date(2026, 6, 30), 25)


def test_trailing_months_start_on_the_first_of_the_oldest_month() -> None:
    assert trailing_months(TODAY, 12) == Period(date(2025, 6, 1), TODAY)
    assert trailing_months(TODAY, 1) == Period(date(2026, 5, 1), TODAY)


@pytest.mark.parametrize(("start", "end", "months"), [
    (date(2026, 1, 1), date(2026, 11, 23), (202601, 202610)),  # year to date
    (date(2026, 1, 1), date(2026, 11, 30), (202601, 202611)),  # ends on a month end
    (date(2024, 2, 1), date(2024, 2, 29), (202402, 202402)),  # leap February
    (date(2025, 12, 2), date(2026, 2, 28), (202601, 202602)),
    (date(2026, 1, 5), date(2026, 1, 30), None),  # within one month
    (date(2025, 12, 15), date(2026, 1, 14), None),  # across a month end, no whole month
    (date(2026, 3, 31), date(2026, 3, 31), None),  # one day
])
def test_whole_months_are_the_calendar_months_inside_the_period(
        start: date, end: date, months: tuple[int, int] | None) -> None:
    assert Period(start, end).whole_months() == months


@pytest.mark.parametrize(("start", "end", "outside"), [
    # a part month at each end
    (date(2026, 1, 15), date(2026, 4, 10),
     [(date(2026, 1, 15), date(2026, 1, 31)), (date(2026, 4, 1), date(2026, 4, 10))]),
    # whole months only
    (date(2026, 1, 1), date(2026, 2, 28), []),
    # a part month at the start only; at the end only (leap February)
    (date(2026, 1, 2), date(2026, 3, 31), [(date(2026, 1, 2), date(2026, 1, 31))]),
    (date(2024, 1, 1), date(2024, 2, 28), [(date(2024, 2, 1), date(2024, 2, 28))]),
    # no whole month: the whole period
    (date(2026, 1, 10), date(2026, 2, 5), [(date(2026, 1, 10), date(2026, 2, 5))]),
])
def test_the_days_outside_the_whole_months_complete_them(
        start: date, end: date, outside: list[tuple[date, date]]) -> None:
    period = Period(start, end)
    parts = period.outside_whole_months()
    assert [(p.start, p.end) for p in parts] == outside
    months = period.whole_months()
    inside = 0 if months is None else sum(
        1 for day in (start + timedelta(days=i) for i in range(period.days))
        if months[0] <= day.year * 100 + day.month <= months[1])
    assert inside + sum(p.days for p in parts) == period.days
