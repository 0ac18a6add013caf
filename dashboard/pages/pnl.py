"""P&L drilldown: net sales, cost, margin and every term of customer contribution (KPIS.md),
split by channel, rep, region, product category, product or customer in the order the user
picks. A click on a tile (or a row's name) drills one level down; breadcrumbs go back; the
URL holds the path (``path``) and the members drilled into (``at``, one per level) so a link
reproduces the view. A waterfall walks the node from gross margin to contribution term by
term; every row (and the node itself) links to the documents behind it on the Documents page:
its invoice and credit-note lines, the shipments behind its freight cost and the invoices
behind its financing cost, each adding up to its cell."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

import dash
import dash_bootstrap_components as dbc
import polars as pl
from dash import Input, Output, State, dcc, html

from dashboard import ids
from dashboard.components.data_table import Column, data_table
from dashboard.components.filter_bar import filter_bar, param_dropdown
from dashboard.components.kpi_card import Comparison, kpi_card
from dashboard.components.panels import graph_card, no_data_page, page_heading
from dashboard.drill import DOCUMENTS_PATH, clicked
from dashboard.figures import contribution_bridge, margin_treemap
from dashboard.formatting import compact_money, percent
from dashboard.metrics.mart import Mart
from dashboard.metrics.pnl import (
    DIMENSIONS,
    NO_CATEGORY,
    Node,
    member_label,
    member_values,
    pnl_by,
    pnl_totals,
    totals_of,
)
from dashboard.metrics.scope import ALL_ROLES
from dashboard.secure import RequestContext, secured
from dashboard.view import View, query_string, view_from_query

PATH = "/pnl"
TITLE = "P&L"
ROLES = ALL_ROLES
IN_NAV = True
DEFAULT_PATH = ("channel", "rep", "region", "category", "product")
AT_SEPARATOR = "|"
TREEMAP_ID = "pnl-treemap"
DOCUMENT_KEYS = {"channel": "channel", "rep": "rep", "region": "region",
                 "category": "category", "product": "product", "customer": "customer"}
"""Drill dimension → the Documents page query key that narrows to the same member."""
LINKS = {"sales": ("Lines", 170), "freight": ("Shipments", 130),
         "financing": ("Invoices", 120)}
"""The Documents links of a row (header, width), each beside the figure it explains."""


def _money(field: str, header: str, width: int) -> Column:
    return Column(field, header, "money", options={"minWidth": width})


def _link(kind: str) -> Column:
    header, width = LINKS[kind]
    return Column(f"{kind}_link", header, "link", href_field=f"{kind}_href",
                  options={"minWidth": width, "flex": 1})


MEASURE_COLUMNS = [
    _money("net_sales_minor", "Net sales", 125), _link("sales"),
    _money("net_sales_prior_minor", "Prior period", 125),
    _money("net_sales_last_year_minor", "Last year", 115),
    _money("cost_minor", "Cost", 115), _money("margin_minor", "Gross margin", 130),
    Column("margin_pct", "Margin %", "percent", options={"minWidth": 110}),
    Column("margin_pct_prior", "Margin % prior", "percent", options={"minWidth": 130}),
    _money("contribution_minor", "Contribution*", 130),
    _money("freight_charged_minor", "Freight charged", 140),
    _money("freight_cost_minor", "Freight cost", 130), _link("freight"),
    _money("settlement_discount_minor", "Settlement disc.", 140),
    _money("bad_debt_minor", "Bad debt", 120),
    _money("financing_cost_minor", "Financing cost", 140), _link("financing"),
    _money("discount_minor", "Discounts given", 140),
]
DOCUMENT_LINKS = {"sales": "invoices and credits", "freight": "shipments",
                  "financing": "invoices"}
"""Each row's links to the Documents page: kind → link text (the header says the rest)."""


def drill_path(query: dict[str, str]) -> tuple[str, ...]:
    """The allowlisted dimension order from ``path`` (each at most once), else the
    default."""
    path = tuple(dict.fromkeys(d for d in (query.get("path") or "").split(",")
                               if d in DIMENSIONS))
    return path or DEFAULT_PATH


def drill_node(mart: Mart, path: tuple[str, ...], query: dict[str, str]) -> Node:
    """The members drilled into (``at``), validated level by level against each dimension's
    members; stops at the first unknown value."""
    node: list[tuple[str, str]] = []
    values = [v for v in (query.get("at") or "").split(AT_SEPARATOR) if v]
    for dimension, value in zip(path, values, strict=False):
        if value not in member_values(mart, dimension) and value != NO_CATEGORY:
            break
        node.append((dimension, value))
    return tuple(node)


def _search(query: dict[str, str], at: list[str]) -> str:
    values: dict[str, Any] = {k: v for k, v in query.items() if k != "at"}
    values["at"] = AT_SEPARATOR.join(at)
    return query_string(values)


def documents_href(query: dict[str, str], node: Node, kind: str) -> str:
    """The Documents page listing ``kind`` (sales, freight, financing) behind ``node``: the
    page's period and filters, each member of the node as the key that narrows to it."""
    keys = {k: query[k] for k in ("period", "start", "end", "region", "channel", "rep")
            if query.get(k)}
    keys["kind"] = kind
    for dimension, value in node:
        keys[DOCUMENT_KEYS[dimension]] = value
    return DOCUMENTS_PATH + query_string(keys)


def _rows(context: RequestContext, mart: Mart, view: View, query: dict[str, str],
          path: tuple[str, ...], node: Node) -> tuple[str | None, pl.DataFrame]:
    """The next level's rows with their drill and document links (None: end of path)."""
    if len(node) >= len(path):
        return None, pl.DataFrame()
    by = path[len(node)]
    rows = pnl_by(mart, context.scope, view.period, by, view.selection, node,
                  rate=context.financing_rate)
    at = [value for _, value in node]
    drill = [PATH + _search(query, [*at, v]) for v in rows["value"]]
    links = [column for kind, text in DOCUMENT_LINKS.items() for column in (
        pl.Series(f"{kind}_href", [documents_href(query, (*node, (by, v)), kind)
                                   for v in rows["value"]], pl.String),
        pl.lit(text).alias(f"{kind}_link"))]
    return by, rows.with_columns(pl.Series("drill_href", drill, pl.String), *links)


def export_tables(context: RequestContext, query: dict[str, str]) -> dict[str, pl.DataFrame]:
    if context.mart is None:
        return {}
    view = view_from_query(context, query)
    path = drill_path(query)
    by, rows = _rows(context, context.mart, view, query, path, drill_node(context.mart, path,
                                                                            query))
    if by is None:
        return {}
    return {"pnl": rows.select(pl.col("label").alias(by), "net_sales_minor",
                               "net_sales_prior_minor", "net_sales_last_year_minor",
                               "cost_minor", "margin_minor", "margin_pct", "discount_minor",
                               "freight_charged_minor", "freight_cost_minor",
                               "settlement_discount_minor", "bad_debt_minor",
                               "financing_cost_minor", "contribution_minor")}


CONTRIBUTION_STEPS = {
    "margin_minor": "Gross margin", "freight_charged_minor": "+ Freight charged",
    "freight_cost_minor": "− Freight cost", "settlement_discount_minor": "− Settlement disc.",
    "bad_debt_minor": "− Bad debt", "financing_cost_minor": "− Financing cost",
    "contribution_minor": "Contribution",
}
"""The contribution bridge's steps in order (KPIS.md "Customer contribution")."""


def contribution_steps(totals: dict[str, int | float | None]) -> pl.DataFrame:
    """Gross margin, each term of contribution signed as it counts, then contribution:
    ``step`` and ``amount_minor`` (the steps add up to the last)."""
    signs = {"freight_charged_minor": 1, "freight_cost_minor": -1,
             "settlement_discount_minor": -1, "bad_debt_minor": -1,
             "financing_cost_minor": -1}
    return pl.DataFrame({
        "step": list(CONTRIBUTION_STEPS),
        "amount_minor": [int(totals[step] or 0) * signs.get(step, 1)
                         for step in CONTRIBUTION_STEPS]})


def _node_documents(query: dict[str, str], node: Node, name: str) -> html.P:
    """Links to the documents behind the node's own figures."""
    links: list[Any] = [f"Behind {name}: "]
    for kind, text in (("sales", "invoice and credit-note lines"),
                       ("freight", "shipments (freight cost)"),
                       ("financing", "invoices (financing cost)")):
        if len(links) > 1:
            links.append(" · ")
        links.append(dcc.Link(text, href=documents_href(query, node, kind),
                              id=f"pnl-node-{kind}"))
    return html.P(links, className="small mb-2", id="pnl-node-documents")


def _breadcrumbs(mart: Mart, query: dict[str, str], node: Node) -> dbc.Breadcrumb:
    items = [{"label": "All", "href": PATH + _search(query, []), "external_link": False}]
    for depth, (dimension, value) in enumerate(node, start=1):
        items.append({"label": f"{DIMENSIONS[dimension]}: {member_label(mart, dimension, value)}",
                      "href": PATH + _search(query, [v for _, v in node[:depth]]),
                      "external_link": False})
    items[-1] = {"label": items[-1]["label"], "active": True}
    return dbc.Breadcrumb(items=items, id="pnl-breadcrumbs")


def layout(context: RequestContext, **query: Any) -> html.Div:
    view = view_from_query(context, query)
    if context.mart is None:
        return no_data_page("Profit and loss")
    mart, scope, currency = context.mart, context.scope, context.base_currency
    text_query = {k: v for k, v in query.items() if isinstance(v, str)}
    path = drill_path(text_query)
    node = drill_node(mart, path, text_query)
    by, rows = _rows(context, mart, view, text_query, path, node)
    # The rows add up to the node: its figures for the period need no second pass.
    totals = [totals_of(rows) if by is not None and period == view.period
              else pnl_totals(mart, scope, period, view.selection, node,
                              rate=context.financing_rate)
              for period in view.period.compared()]

    def compare(key: str, is_ratio: bool = False) -> Comparison:
        return Comparison(*(t[key] for t in totals), is_ratio=is_ratio)

    now = totals[0]
    cards = [
        kpi_card("pnl-net-sales", "Net sales", compact_money(now["net_sales_minor"], currency),
                 PATH, compare("net_sales_minor")),
        kpi_card("pnl-margin", "Gross margin", compact_money(now["margin_minor"], currency),
                 PATH, compare("margin_minor")),
        kpi_card("pnl-margin-pct", "Gross margin %", percent(now["margin_pct"]), PATH,
                 compare("margin_pct", is_ratio=True)),
        kpi_card("pnl-contribution", "Contribution*",
                 compact_money(now["contribution_minor"], currency), PATH,
                 compare("contribution_minor")),
    ]
    node_name = (f"{DIMENSIONS[node[-1][0]].lower()} {member_label(mart, *node[-1])}"
                 if node else "everything in view")
    bridge = graph_card("pnl-contribution-bridge", contribution_bridge(
        contribution_steps(now), currency,
        f"From gross margin to contribution: {node_name}", CONTRIBUTION_STEPS), 12)
    note = html.P(
        "* Contribution = gross margin + freight charged − freight cost − settlement discounts "
        f"− bad debt − financing cost. Freight cost is dated at shipping; financing cost is "
        f"{percent(context.financing_rate)} a year on cash received after the due date "
        "(allocations in the period) and on invoices still overdue at the period's end (their "
        "overdue days in the period), split over each invoice's lines by net amount.",
        className="small text-muted mt-2 mb-0", id="pnl-contribution-note")
    path_picker = param_dropdown(
        "path", [{"label": label, "value": key} for key, label in DIMENSIONS.items()],
        list(path), "Drill path (in order)", multi=True)
    if by is None:
        body: list[Any] = [dbc.Alert("End of the drill path: open the documents behind this "
                                     "member (links above), or go back with the breadcrumbs.",
                                     color="info", id="pnl-end")]
    else:
        heading = f"By {DIMENSIONS[by].lower()} ({view.period.label()})"
        body = [
            dbc.Row(graph_card(TREEMAP_ID, margin_treemap(
                rows, currency, f"Net sales by {DIMENSIONS[by].lower()}, coloured by margin % "
                                f"against {percent(now['margin_pct'])} overall — click to drill",
                midpoint=now["margin_pct"]), 12)),
            dbc.Card(dbc.CardBody([
                html.H2(heading, className="h5"),
                data_table("pnl-table", rows,
                           [Column("label", DIMENSIONS[by], "link", href_field="drill_href",
                                   options={"pinned": "left", "minWidth": 160}),
                            *MEASURE_COLUMNS], currency, export="pnl", height=440,
                           empty="No sales in this period, filter and scope.",
                           totals=now | {"label": "Total",
                                         "net_sales_prior_minor": totals[1]["net_sales_minor"],
                                         "net_sales_last_year_minor":
                                             totals[2]["net_sales_minor"],
                                         "margin_pct_prior": totals[1]["margin_pct"]}
                                  # the node's own links are above the cards
                                  | {f"{kind}_link": "" for kind in DOCUMENT_LINKS}),
                note,
            ]), className="salesbi-card"),
        ]
    return html.Div([
        page_heading("Profit and loss"),
        filter_bar(context, view, extra=[path_picker]),
        _breadcrumbs(mart, text_query, node),
        _node_documents(text_query, node, node_name),
        dbc.Row(cards, id="pnl-kpis"),
        dbc.Row(bridge),
        *body,
    ])


def register_callbacks(app: dash.Dash) -> None:
    """A click on a tile drills into that member (the page validates it again)."""

    @app.callback(
        Output(ids.PAGES_LOCATION, "search", allow_duplicate=True),
        Input(TREEMAP_ID, "clickData"),
        State(ids.PAGES_LOCATION, "search"),
        prevent_initial_call=True,
    )
    @secured(ALL_ROLES)
    def drill_into(context: RequestContext, click: dict[str, Any] | None,
                   search: str | None) -> str:
        value = clicked(click)
        if value is None:
            raise dash.exceptions.PreventUpdate
        query = dict(parse_qsl((search or "").lstrip("?")))
        at = [v for v in (query.get("at") or "").split(AT_SEPARATOR) if v]
        return _search(query, [*at, value])
