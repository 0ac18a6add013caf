"""Reporting periods (KPIS.md "Period comparisons"): presets, the prior period of equal
length and the same period last year. Periods are inclusive calendar-date ranges in the
company time zone."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import polars as pl

PRESETS = {
    "mtd": "Month to date",
    "qtd": "Quarter to date",
    "ytd": "Year to date",
    "last_30": "Last 30 days",
    "last_90": "Last 90 days",
    "fiscal_year": "Fiscal year to date",
    "custom": "Custom",
}
DEFAULT_PRESET = "ytd"
MAX_TREND_MONTHS = 24


@dataclass(frozen=True)
class Period:
    """``start`` … ``end``, both inclusive."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.start > self.end:
            raise ValueError(f"period starts {self.start} after it ends {self.end}")

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def start_key(self) -> int:
        return date_key(self.start)

    @property
    def end_key(self) -> int:
        return date_key(self.end)

    def prior(self) -> Period:
        """The period of equal length that ends the day before this one starts."""
        end = self.start - timedelta(days=1)
        return Period(end - timedelta(days=self.days - 1), end)

    def last_year(self) -> Period:
        """The same dates one year earlier (29 February becomes the 28th)."""
        return Period(_year_earlier(self.start), _year_earlier(self.end))

    def compared(self) -> tuple[Period, Period, Period]:
        """This period, the prior one and last year's: what a card compares."""
        return self, self.prior(), self.last_year()

    def label(self) -> str:
        return f"{self.start:%d %b %Y} – {self.end:%d %b %Y}"

    def whole_months(self) -> tuple[int, int] | None:
        """The first and last ``month_key`` (YYYYMM) of the calendar months wholly inside
        the period; None when there is none."""
        first = self.start if self.start.day == 1 else _next_month(self.start)
        month_end = _next_month(self.end) - timedelta(days=1)
        last = self.end if self.end == month_end else self.end.replace(day=1) - timedelta(days=1)
        if first > last:
            return None
        return first.year * 100 + first.month, last.year * 100 + last.month

    def outside_whole_months(self) -> list[Period]:
        """The days of the period outside its ``whole_months``: a part month at either end
        (none, one or two periods); the whole period when no month is wholly inside."""
        months = self.whole_months()
        if months is None:
            return [self]
        first = date(months[0] // 100, months[0] % 100, 1)
        last = _next_month(date(months[1] // 100, months[1] % 100, 1)) - timedelta(days=1)
        return [part for part in (
            Period(self.start, first - timedelta(days=1)) if self.start < first else None,
            Period(last + timedelta(days=1), self.end) if last < self.end else None)
            if part is not None]


def date_key(day: date) -> int:
    """YYYYMMDD, the mart's date key."""
    return day.year * 10000 + day.month * 100 + day.day


def date_of_key(column: str) -> pl.Expr:
    """The date a YYYYMMDD key column names (null for the ``-1`` "no date" key)."""
    return pl.col(column).cast(pl.String).str.to_date("%Y%m%d", strict=False)


def day_end_utc(day: date, timezone: str) -> datetime:
    """The midnight after ``day`` in ``timezone``, as naive UTC (how the mart stores
    timestamps): "as of D" counts what was recorded before it (exclusive bound)."""
    midnight = datetime.combine(day + timedelta(days=1), time(), tzinfo=ZoneInfo(timezone))
    return midnight.astimezone(UTC).replace(tzinfo=None)


def end_of_day(day: date, timezone: str) -> datetime:
    """The last instant (microsecond) of ``day`` in ``timezone``, as naive UTC: the inclusive
    form of ``day_end_utc`` for "state at an instant" lookups."""
    return day_end_utc(day, timezone) - timedelta(microseconds=1)


def _next_month(day: date) -> date:
    """The first day of the month after ``day``'s."""
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def _year_earlier(day: date) -> date:
    if day.month == 2 and day.day == 29:
        return date(day.year - 1, 2, 28)
    return day.replace(year=day.year - 1)


def preset_period(preset: str, today: date, *, fiscal_year_start_month: int = 1,
                  start: date | None = None, end: date | None = None) -> Period:
    """The period a preset names as of ``today``; ``custom`` uses ``start``/``end``."""
    if preset == "mtd":
        return Period(today.replace(day=1), today)
    if preset == "qtd":
        return Period(date(today.year, (today.month - 1) // 3 * 3 + 1, 1), today)
    if preset == "ytd":
        return Period(date(today.year, 1, 1), today)
    if preset == "last_30":
        return Period(today - timedelta(days=29), today)
    if preset == "last_90":
        return Period(today - timedelta(days=89), today)
    if preset == "fiscal_year":
        year = today.year if today.month >= fiscal_year_start_month else today.year - 1
        return Period(date(year, fiscal_year_start_month, 1), today)
    if preset == "custom":
        if start is None or end is None:
            raise ValueError("a custom period needs a start and an end date")
        return Period(start, end)
    raise ValueError(f"unknown period preset {preset!r}")


def month_ends(as_of: date, months: int) -> list[date]:
    """The last day of each of the ``months`` (1 to ``MAX_TREND_MONTHS``) months up to
    ``as_of``'s month, oldest first; the current month's point is ``as_of`` itself (its
    month may not have ended): the points of a month-end trend."""
    if not 1 <= months <= MAX_TREND_MONTHS:
        raise ValueError(f"a trend covers 1 to {MAX_TREND_MONTHS} months, not {months}")
    ends = []
    for back in range(months - 1, 0, -1):
        year, month = divmod(as_of.year * 12 + as_of.month - 1 - back, 12)
        ends.append(date(year, month + 1, calendar.monthrange(year, month + 1)[1]))
    return [*ends, as_of]


def trailing_months(as_of: date, months: int) -> Period:
    """The ``months`` calendar months up to ``as_of`` (its own month counts to ``as_of``):
    from the first day of the oldest of ``month_ends(as_of, months)``."""
    return Period(month_ends(as_of, months)[0].replace(day=1), as_of)
