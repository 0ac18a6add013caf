"""The aging figures: coloured by age, customers with the same (shortened) name kept apart,
amounts in major units with the currency on the axis, and an empty chart that says why; by
document currency, a panel per currency titled with it, each axis in its own units."""

from __future__ import annotations

import polars as pl

from dashboard.figures import (
    aging_bars,
    aging_bars_by_currency,
    aging_by_customer_bars,
    aging_by_customer_bars_by_currency,
    aging_colours,
)

BUCKETS = [("age_0_minor", "Not due"), ("age_1_30_minor", "1–30"), ("age_over_30_minor", "> 30")]


def test_customers_are_stacked_by_bucket_largest_on_top_and_never_merged() -> None:
    frame = pl.DataFrame({
        "customer_id": [1, 2, 3],
        "name": ["Acme", "Acme", "A very long customer name that goes on and on"],
        "age_0_minor": [100_00, 0, 5_00], "age_1_30_minor": [0, 250_00, 0],
        "age_over_30_minor": [50_00, 0, 0]})
    fig = aging_by_customer_bars(frame, BUCKETS, "USD", "By customer", empty="none")
    assert [trace.name for trace in fig.data] == ["Not due", "1–30", "> 30"]
    assert list(fig.data[0].y) == ["A very long customer name t…", "Acme #1", "Acme #2"]
    assert list(fig.data[1].x) == [0.0, 0.0, 250.0]
    assert fig.layout.barmode == "stack" and "USD" in fig.layout.xaxis.title.text
    assert fig.data[0].customdata[0] == "A very long customer name that goes on and on"


def test_bucket_bars_run_from_green_to_red_and_say_why_when_empty() -> None:
    colours = aging_colours(6)
    assert len(set(colours)) == 6 and colours[0] != colours[-1]
    fig = aging_bars(["Not due", "> 30"], [1234_56, 10_00], "USD", "By age", "Days past due",
                     empty="nothing open")
    assert list(fig.data[0].y) == [1234.56, 10.0] and "USD" in fig.layout.yaxis.title.text
    empty = aging_bars(["Not due", "> 30"], [0, 0], "USD", "By age", "Days", empty="nothing")
    assert empty.layout.annotations[0].text == "nothing"
    nobody = aging_by_customer_bars(pl.DataFrame(schema={"customer_id": pl.Int64,
                                                         "name": pl.String,
                                                         **{c: pl.Int64 for c, _ in BUCKETS}}),
                                    BUCKETS, "USD", "By customer", empty="no customers")
    assert nobody.layout.annotations[0].text == "no customers"


def test_by_currency_one_panel_per_currency_each_in_its_own_units() -> None:
    fig = aging_bars_by_currency(["Not due", "> 30"], {"EUR": [12_34, 0], "JPY": [500, 7],
                                                       "GBP": [0, 0]},
                                 "By age", "Days past due", empty="nothing open")
    assert [trace.name for trace in fig.data] == ["EUR", "JPY"]  # GBP: nothing open
    assert list(fig.data[0].y) == [12.34, 0.0] and list(fig.data[1].y) == [500.0, 7.0]
    assert [a.text for a in fig.layout.annotations] == ["EUR · Euro", "JPY · Japanese Yen"]
    assert (fig.layout.yaxis.title.text, fig.layout.yaxis2.title.text) == ("EUR", "JPY")
    assert aging_bars_by_currency(["Not due"], {"EUR": [0]}, "By age", "Days",
                                  empty="nothing").layout.annotations[0].text == "nothing"


def test_customers_by_currency_keep_each_currencys_largest_with_one_legend() -> None:
    frame = pl.DataFrame({
        "customer_id": [1, 2, 3], "name": ["Dollar", "Euro A", "Euro B"],
        "currency": ["USD", "EUR", "EUR"], "age_0_minor": [100_00, 5_00, 7_00],
        "age_1_30_minor": [0, 1_00, 0], "age_over_30_minor": [0, 0, 0]})
    fig = aging_by_customer_bars_by_currency(frame, BUCKETS, "By customer", limit=1,
                                             empty="none")
    assert [(t.name, list(t.y), t.showlegend) for t in fig.data if t.name == "Not due"] == [
        ("Not due", ["Euro B"], True), ("Not due", ["Dollar"], False)]
    assert (fig.layout.xaxis.title.text, fig.layout.xaxis2.title.text) == (
        "Open amount (EUR)", "Open amount (USD)")
    assert fig.layout.barmode == "stack"


def test_every_figure_has_the_white_template_without_the_unused_styles() -> None:
    """The template is the app's default: plotly_white's 2-D look (white plot, its grid
    colour), none of its map, polar, 3-D or ternary styles."""
    import plotly.io as pio

    fig = aging_bars(["Not due", "> 30"], [1_00, 2_00], "USD", "By age", "Days", empty="-")
    template = fig.to_plotly_json()["layout"]["template"]["layout"]
    white = pio.templates["plotly_white"].layout
    assert template["plot_bgcolor"] == white.plot_bgcolor
    assert template["xaxis"]["gridcolor"] == white.xaxis.gridcolor
    assert not {"geo", "polar", "scene", "ternary"} & set(template)
