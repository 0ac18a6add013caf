"""KPI card: the figure for the period, the change against the prior period and against the
same period last year, and a link to the page that explains it."""

from __future__ import annotations

from dataclasses import dataclass

import dash_bootstrap_components as dbc
from dash import dcc, html

from dashboard.formatting import BLANK, percent


@dataclass(frozen=True)
class Comparison:
    """A figure and what it is compared with; ``higher_is_better`` colours the change."""

    current: float | None
    prior: float | None
    last_year: float | None
    higher_is_better: bool = True
    is_ratio: bool = False  # a ratio changes by percentage points, not by a per cent
    is_count: bool = False  # a count changes by units (a per cent of 0 says nothing)
    with_last_year: bool = True  # False: compared with the prior period only


def change(current: float | None, base: float | None) -> float | None:
    """Relative change; None when the base is missing, zero or negative."""
    if current is None or base is None or base <= 0:
        return None
    return (current - base) / base


def _delta(label: str, current: float | None, base: float | None,
           comparison: Comparison) -> html.Span:
    if comparison.is_ratio or comparison.is_count:
        ratio = None if current is None or base is None else current - base
        text = (None if ratio is None else f"{abs(ratio) * 100:.1f} pp" if comparison.is_ratio
                else f"{abs(ratio):,.0f}")
    else:
        ratio = change(current, base)
        text = None if ratio is None else percent(abs(ratio))
    if ratio is None:
        return html.Span(f"{label} {BLANK}", className="text-muted me-3")
    if text in ("0.0 pp", percent(0), "0"):  # a change too small to show has no colour
        return html.Span(f"= {text} {label}", className="text-muted me-3")
    good = (ratio >= 0) == comparison.higher_is_better
    arrow = "▲" if ratio >= 0 else "▼"
    return html.Span(f"{arrow} {text} {label}",
                     className=("text-success" if good else "text-danger") + " me-3")


def kpi_card(card_id: str, title: str, value: str, href: str,
             comparison: Comparison | None = None, note: str | None = None,
             xl: int | bool = 3) -> dbc.Col:
    """One card; ``value`` is already formatted; ``xl`` its width on extra-large screens
    (``True``: the cards of the row share it equally)."""
    footer: list[html.Span] = []
    if comparison is not None:
        footer = [_delta("vs prior", comparison.current, comparison.prior, comparison)]
        if comparison.with_last_year:
            footer.append(_delta("vs last year", comparison.current, comparison.last_year,
                                 comparison))
    body = [
        html.Div(title, className="salesbi-kpi-title"),
        html.Div(value, className="salesbi-kpi-value", id=card_id),
        html.Div(footer, className="small"),
    ]
    if note:
        body.append(html.Div(note, className="small text-muted"))
    return dbc.Col(
        dcc.Link(dbc.Card(dbc.CardBody(body), className="salesbi-card salesbi-kpi h-100"),
                 href=href, className="text-reset text-decoration-none"),
        xs=12, sm=6, xl=xl, className="mb-3")
