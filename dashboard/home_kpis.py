"""The KPI cards of each role's home page (issue 5): what a rep, a sales manager, finance
and an executive look at first. Each card compares its figure with the prior period and the
same period last year and links to the page that explains it.

Figures over a period (net sales, bookings, win rate, attainment) compare the same measure
over the prior period and last year's period. Figures at a point in time (pipeline, open
quotes, AR, at-risk customers) are taken at the view's as-of day — the period's end, or
today when the period runs on — and compared with the end of the prior period and the same
day last year. Backlog exists for now only (``dashboard.metrics.orders``) and pipeline
coverage only for the running period, so those two cards have no comparison.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

import dash_bootstrap_components as dbc

from dashboard.components.kpi_card import Comparison, kpi_card
from dashboard.formatting import BLANK, compact_money, money, percent
from dashboard.metrics.engagement import status_counts
from dashboard.metrics.orders import backlog_total, bookings_total
from dashboard.metrics.period import Period
from dashboard.metrics.pipeline import pipeline_coverage, pipeline_totals, win_rate
from dashboard.metrics.quotes import open_quote_age
from dashboard.metrics.receivables import ar_totals_at, dso, moment
from dashboard.metrics.sales import net_sales_total, sales_totals
from dashboard.metrics.scope import ADMIN, EXECUTIVE, FINANCE, REP, SALES_MANAGER
from dashboard.metrics.targets import attainment_totals
from dashboard.secure import RequestContext
from dashboard.view import View

AR_PAGE, PIPELINE_PAGE, QUOTES_PAGE = "/ar-aging", "/pipeline", "/quotes"
ENGAGEMENT_PAGE, TEAM_PAGE, HOME_PAGE = "/engagement", "/team", "/"


def as_of_day(period: Period, today: date) -> date:
    """The day point-in-time figures are taken at: the period's end, at the latest today."""
    return min(period.end, today)


class _Figures:
    """Evaluates one measure for the view's period, the prior period and last year's."""

    def __init__(self, context: RequestContext, view: View) -> None:
        self.context, self.view = context, view
        self.periods = view.period.compared()
        self.days = tuple(as_of_day(period, context.today) for period in self.periods)
        """Each period's as-of day (``as_of_day``)."""

    def over(self, measure: Callable[[Period], Any]) -> list[Any]:
        """``measure`` of each period."""
        return [measure(period) for period in self.periods]

    def at(self, measure: Callable[[date], Any]) -> list[Any]:
        """``measure`` at each period's as-of day."""
        return [measure(day) for day in self.days]


def _compare(values: Sequence[Any], key: str | None = None, *, is_ratio: bool = False,
             is_count: bool = False, higher_is_better: bool = True) -> Comparison:
    """Now, prior and last year of ``values`` (or of their ``key``) as a comparison."""
    picked = [value if key is None else value[key] for value in values]
    return Comparison(picked[0], picked[1], picked[2], higher_is_better=higher_is_better,
                      is_ratio=is_ratio, is_count=is_count)


def _money_card(card_id: str, title: str, comparison: Comparison, currency: str, href: str,
                note: str | None = None) -> dbc.Col:
    current = None if comparison.current is None else int(comparison.current)
    return kpi_card(card_id, title, compact_money(current, currency), href, comparison,
                    note=note)


def _net_sales(figures: _Figures) -> dbc.Col:
    c, selection = figures.context, figures.view.selection
    sales = _compare(figures.over(lambda p: net_sales_total(c.mart, c.scope, p, selection)))
    return _money_card("home-net-sales", "Net sales", sales, c.base_currency, HOME_PAGE,
                       note=money(int(sales.current or 0), c.base_currency))


def _attainment_totals(figures: _Figures) -> list[dict[str, Any]]:
    c, selection = figures.context, figures.view.selection
    return figures.over(lambda p: attainment_totals(c.mart, c.scope, p, selection))


def _attainment(figures: _Figures, totals: list[dict[str, Any]], href: str,
                title: str) -> dbc.Col:
    """The attainment card from ``_attainment_totals``."""
    c = figures.context
    target = totals[0]["target_minor"]
    note = ("No target for a channel" if target is None
            else f"Target {compact_money(target, c.base_currency)}, pro-rated")
    attained = _compare(totals, "attainment", is_ratio=True)
    return kpi_card("home-attainment", title, percent(attained.current), href, attained,
                    note=note)


def _pipeline(figures: _Figures, title: str) -> dbc.Col:
    c, selection = figures.context, figures.view.selection
    open_pipeline = _compare(figures.at(lambda day: pipeline_totals(
        c.mart, c.scope, day, selection=selection, timezone=c.timezone)), "pipeline_minor")
    return _money_card("home-pipeline", title, open_pipeline, c.base_currency, PIPELINE_PAGE)


def _open_quotes(figures: _Figures) -> dbc.Col:
    c, selection = figures.context, figures.view.selection
    buckets = figures.at(lambda day: open_quote_age(c.mart, c.scope, day, selection))
    amounts = _compare([int(frame["net_minor"].sum()) for frame in buckets])
    count = int(buckets[0]["quotes"].sum())
    return _money_card("home-open-quotes", "Open quotes", amounts, c.base_currency,
                       QUOTES_PAGE, note=f"{count:,} sent and not yet decided")


def rep_cards(context: RequestContext, view: View) -> list[dbc.Col]:
    """A rep: own pipeline, target attainment, open quotes, net sales."""
    figures = _Figures(context, view)
    return [_pipeline(figures, "My open pipeline"),
            _attainment(figures, _attainment_totals(figures), HOME_PAGE,
                        "My target attainment"),
            _open_quotes(figures), _net_sales(figures)]


def manager_cards(context: RequestContext, view: View) -> list[dbc.Col]:
    """A sales manager: team net sales vs target, bookings, backlog, win rate, pipeline
    coverage, at-risk customers."""
    figures, c, selection = _Figures(context, view), context, view.selection
    currency = c.base_currency
    bookings = _compare(figures.over(
        lambda p: bookings_total(c.mart, c.scope, p, selection)))
    wins = _compare(figures.over(lambda p: win_rate(c.mart, c.scope, p, selection)),
                    "win_rate_count", is_ratio=True)
    at_risk = _compare(figures.at(lambda day: status_counts(c.mart, c.scope, day)), "at_risk",
                       is_count=True, higher_is_better=False)
    targets = _attainment_totals(figures)
    return [
        _net_sales(figures),
        _attainment(figures, targets, TEAM_PAGE, "Team target attainment"),
        _money_card("home-bookings", "Bookings", bookings, currency, PIPELINE_PAGE),
        kpi_card("home-backlog", "Backlog",
                 compact_money(backlog_total(c.mart, c.scope, selection), currency),
                 PIPELINE_PAGE, note="Confirmed, not yet invoiced, now"),
        kpi_card("home-win-rate", "Win rate", percent(wins.current), PIPELINE_PAGE, wins,
                 note="Won / (won + lost), by count"),
        _coverage_card(context, view, targets[0]),
        kpi_card("home-at-risk", "At-risk customers", f"{int(at_risk.current or 0):,}",
                 ENGAGEMENT_PAGE, at_risk),
    ]


def _coverage_card(context: RequestContext, view: View, target: dict[str, Any]) -> dbc.Col:
    """Pipeline coverage of the running period (open pipeline expected to close in it / the
    target still to go, ``target`` being the period's attainment totals); blank for a
    finished period or without a target."""
    c, currency = context, context.base_currency
    value, note = BLANK, "For a running period with a target"
    if target["target_minor"] is not None and view.period.end >= c.today:
        coverage = pipeline_coverage(
            c.mart, c.scope, view.period, c.today, target_minor=target["target_minor"],
            net_sales_minor=target["net_sales_minor"], selection=view.selection,
            timezone=c.timezone)
        if coverage["coverage"] is None:
            note = "Target met for the period"
        else:
            value = f"{coverage['coverage']:.1f}×"
            note = (f"{compact_money(coverage['pipeline_minor'], currency)} closing in the "
                    f"period for {compact_money(coverage['remaining_minor'], currency)} to go")
    return kpi_card("home-coverage", "Pipeline coverage", value, PIPELINE_PAGE, note=note)


def finance_cards(context: RequestContext, view: View) -> list[dbc.Col]:
    """Finance: total AR, overdue AR, DSO, net sales."""
    figures, c, selection = _Figures(context, view), context, view.selection
    ar = ar_totals_at(c.mart, c.scope,  # the three days in one pass
                      [moment(day, timezone=c.timezone) for day in figures.days], selection)
    dso_days = _compare([dso(c.mart, c.scope, day, timezone=c.timezone, selection=selection,
                             total_ar_minor=summary["total_ar_minor"])
                         for day, summary in zip(figures.days, ar, strict=True)],
                        "dso", higher_is_better=False)
    return [
        _money_card("home-total-ar", "Total AR",
                    _compare(ar, "total_ar_minor", higher_is_better=False), c.base_currency,
                    AR_PAGE, note=f"As of {as_of_day(view.period, c.today):%d %b %Y}"),
        _money_card("home-overdue-ar", "Overdue AR",
                    _compare(ar, "overdue_minor", higher_is_better=False), c.base_currency,
                    AR_PAGE),
        kpi_card("home-dso", "DSO",
                 BLANK if dso_days.current is None else f"{dso_days.current:.0f} days",
                 AR_PAGE, dso_days, note="Total AR / credit sales of the last 90 days × 90"),
        _net_sales(figures),
    ]


def executive_cards(context: RequestContext, view: View) -> list[dbc.Col]:
    """Executives and admins: net sales, gross margin, margin %, average order value."""
    figures, c = _Figures(context, view), context
    totals = figures.over(lambda p: sales_totals(c.mart, c.scope, p, view.selection))
    now, currency = totals[0], c.base_currency
    return [
        _money_card("home-net-sales", "Net sales", _compare(totals, "net_sales_minor"),
                    currency, HOME_PAGE, note=money(now["net_sales_minor"], currency)),
        _money_card("home-gross-margin", "Gross margin", _compare(totals, "margin_minor"),
                    currency, HOME_PAGE),
        kpi_card("home-margin-pct", "Gross margin %", percent(now["margin_pct"]), HOME_PAGE,
                 _compare(totals, "margin_pct", is_ratio=True)),
        _money_card("home-average-order", "Average order value",
                    _compare(totals, "average_order_minor"), currency, HOME_PAGE,
                    note=f"{now['orders_invoiced']:,} orders invoiced"),
    ]


CARDS_BY_ROLE: dict[str, Callable[[RequestContext, View], list[dbc.Col]]] = {
    REP: rep_cards, SALES_MANAGER: manager_cards, FINANCE: finance_cards,
    EXECUTIVE: executive_cards, ADMIN: executive_cards,
}
