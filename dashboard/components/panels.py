"""Page building blocks: a chart in a card, and the page shown before any batch exists."""

from __future__ import annotations

from typing import Any

import dash_bootstrap_components as dbc
from dash import dcc, html

GRAPH_CONFIG = {"displayModeBar": False}


def graph_card(graph_id: str, figure: Any, width: int) -> dbc.Col:
    """A chart in a card, ``width`` of 12 columns on large screens."""
    return dbc.Col(dbc.Card(dbc.CardBody(dcc.Graph(id=graph_id, figure=figure,
                                                   config=GRAPH_CONFIG)),
                            className="salesbi-card"), lg=width, className="mb-3")


def page_heading(title: str) -> html.H1:
    return html.H1(title, className="h3 mb-3")


def no_data_page(title: str) -> html.Div:
    """What a page shows before the first ETL batch is published."""
    return html.Div([page_heading(title), dbc.Alert(
        "No data has been published yet. Run `salesbi etl run` to build the mart.",
        color="warning", id="no-data")])
