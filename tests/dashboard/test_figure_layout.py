"""``figures.styled``: the same layout as Plotly's ``update_layout``, by assignment."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
import pytest
from plotly.subplots import make_subplots

from dashboard.figures import styled


def _two_panels() -> go.Figure:
    fig = make_subplots(rows=2, cols=1)
    fig.add_bar(x=["a", "b"], y=[1, 2], row=1, col=1)
    fig.add_bar(x=["a", "b"], y=[3, 4], row=2, col=1)
    fig.update_layout(title={"text": "Before", "font": {"size": 12}},
                      legend={"traceorder": "normal"})
    return fig


@pytest.mark.parametrize("props", [
    # merged into what is set: the subplots' axis domains and the title's font stay
    {"title": {"text": "After", "x": 0}, "xaxis": {"title": "USD", "tickformat": ",.0f"}},
    {"legend": {"orientation": "h", "y": -0.2}, "margin": {"l": 10, "t": 85}},
    # a property not there yet (a second y axis), scalars and a list
    {"yaxis3": {"title": "Margin %", "overlaying": "y", "side": "right"},
     "barmode": "stack", "showlegend": False, "colorway": ["#2E5A88", "#E07B39"]},
])
def test_styled_gives_the_layout_update_layout_gives(props: dict[str, Any]) -> None:
    expected = _two_panels().update_layout(**props).to_plotly_json()["layout"]
    assert styled(_two_panels(), **props).to_plotly_json()["layout"] == expected


def test_styled_validates_what_it_sets() -> None:
    with pytest.raises(ValueError, match="barmode"):
        styled(go.Figure(), barmode="sideways")
    with pytest.raises(ValueError, match="no_such_property"):
        styled(go.Figure(), xaxis={"no_such_property": 1})
