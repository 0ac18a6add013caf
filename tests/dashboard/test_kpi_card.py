"""KPI card deltas: per cent for amounts, percentage points for ratios, units for counts."""

from __future__ import annotations

from dashboard.components.kpi_card import Comparison, kpi_card


def _delta_texts(comparison: Comparison) -> list[str]:
    body = kpi_card("x", "X", "1", "/", comparison).children.children.children.children
    return [span.children for span in body[2].children]


def test_an_amount_changes_by_a_per_cent_and_a_ratio_by_points() -> None:
    assert _delta_texts(Comparison(150, 100, 300)) == ["▲ 50.0% vs prior",
                                                       "▼ 50.0% vs last year"]
    assert _delta_texts(Comparison(0.25, 0.2, None, is_ratio=True)) == [
        "▲ 5.0 pp vs prior", "vs last year –"]


def test_a_count_changes_by_units_even_from_zero() -> None:
    assert _delta_texts(Comparison(2, 0, 5, is_count=True, higher_is_better=False)) == [
        "▲ 2 vs prior", "▼ 3 vs last year"]


def test_a_change_that_rounds_to_nothing_is_neither_up_nor_down() -> None:
    assert _delta_texts(Comparison(0.2570, 0.2574, 0.2571, is_ratio=True)) == [
        "= 0.0 pp vs prior", "= 0.0 pp vs last year"]


def test_a_figure_without_a_last_year_comparison_shows_the_prior_period_only() -> None:
    assert _delta_texts(Comparison(0.9, 0.8, None, is_ratio=True, with_last_year=False)) == [
        "▲ 10.0 pp vs prior"]
