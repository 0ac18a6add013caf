"""Per-batch frames built when a batch is loaded, before a request needs them (DESIGN D3:
work that does not depend on user input is done per batch, not per request).

The metric layer keeps some frames of every customer with the batch
(``selection.of_everyone``): AR at a moment, the aging and the collections worklist of a
day, the engagement statuses of a day. Built by the first request of a role that sees every
customer, they cost that request 0.1–0.3 s at 10M lines, once per batch and process. Here
they are built for the views every user opens first: today, and the moments the period
presets' cards ask for (each preset's period, prior period and last year's), in the
company's time zone, with its aging boundaries, on the due-date basis — then every role
reads its rows of them. So are the frames kept once per batch that the first AR aging and
P&L requests would otherwise build (backlog by customer, the financing cost's invoices and
allocations: ~0.8 s at 10M), and the cash forecast's compiled draws are loaded.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from flask import Flask

from dashboard.home_kpis import as_of_day
from dashboard.metrics.aging import aging_with_ar
from dashboard.metrics.collections import worklist
from dashboard.metrics.credit import backlog_by_customer
from dashboard.metrics.engagement import status_counts
from dashboard.metrics.mart import Mart
from dashboard.metrics.period import DEFAULT_PRESET, PRESETS, Period, preset_period
from dashboard.metrics.pnl import pnl_totals
from dashboard.metrics.receivables import ar_by_customer_at, cei_moments, moment
from dashboard.metrics.sales import orders_invoiced
from dashboard.metrics.scope import COMPANY
from dashboard.secure import company_settings
from etl.facts.forecast_simulation import load_draws
from etl.facts.open_ar import Moment


def preset_periods(today: date, fiscal_year_start_month: int) -> list[Period]:
    """Every preset's period as of ``today`` (but ``custom``)."""
    return [preset_period(preset, today, fiscal_year_start_month=fiscal_year_start_month)
            for preset in PRESETS if preset != "custom"]


def card_days(today: date, fiscal_year_start_month: int) -> list[date]:
    """The days the home cards take point-in-time figures at (``home_kpis.as_of_day``): of
    each preset's period, its prior period and last year's; without duplicates."""
    return list(dict.fromkeys(
        as_of_day(period, today) for current in preset_periods(today, fiscal_year_start_month)
        for period in current.compared()))


def preset_moments(today: date, *, timezone: str, fiscal_year_start_month: int) -> list[Moment]:
    """The AR moments the presets' views ask for: today, the cards' days and the CEI's
    beginning and end of each preset's period and prior period (AR aging), without
    duplicates."""
    moments = [moment(day, timezone=timezone)
               for day in (today, *card_days(today, fiscal_year_start_month))]
    for current in preset_periods(today, fiscal_year_start_month):
        for period in (current, current.prior()):
            moments.extend(cei_moments(period, today, timezone=timezone) or ())
    return list(dict.fromkeys(moments))


def warm(mart: Mart, today: date, *, timezone: str, fiscal_year_start_month: int,
         aging_boundaries: tuple[int, ...], financing_rate: Decimal) -> None:
    """Build the kept frames of the module docstring for ``mart`` as of ``today``, and the
    frames kept once per batch that the pages' first requests would otherwise build (the
    credit columns' backlog, the P&L's financing cost, the orders invoiced per day)."""
    ar_by_customer_at(mart, COMPANY, preset_moments(
        today, timezone=timezone, fiscal_year_start_month=fiscal_year_start_month))
    aging_with_ar(mart, COMPANY, today, [], timezone=timezone, boundaries=aging_boundaries)
    backlog_by_customer(mart, COMPANY)
    worklist(mart, COMPANY, today, timezone=timezone)
    for day in card_days(today, fiscal_year_start_month):
        status_counts(mart, COMPANY, day)
    default = preset_period(DEFAULT_PRESET, today,
                            fiscal_year_start_month=fiscal_year_start_month)
    for period in default.compared():  # the P&L's cards
        pnl_totals(mart, COMPANY, period, rate=financing_rate)
    orders_invoiced(mart, COMPANY, default)
    load_draws()  # the cash forecast scenarios' compiled draws, once per process


def warmer(server: Flask) -> Callable[[Mart], None]:
    """The ``MartReader``'s prepare step for the app on ``server``: ``warm`` a loaded batch
    as of the company's today, with its settings."""
    def prepare(mart: Mart) -> None:
        with server.app_context():
            company = company_settings()
        warm(mart, datetime.now(ZoneInfo(company.timezone)).date(), timezone=company.timezone,
             fiscal_year_start_month=company.fiscal_year_start_month,
             aging_boundaries=company.aging_boundaries,
             financing_rate=company.financing_rate)

    return prepare
