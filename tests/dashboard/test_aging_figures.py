"""The aging figures: coloured by age, customers with the same (shortened) name kept apart,
amounts in major units with the currency on the axis, and an empty chart that says why."""

from __future__ import annotations

import polars as pl

from dashboard.figures import aging_bars, aging_by_customer_bars, aging_colours

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
