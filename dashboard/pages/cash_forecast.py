"""Cash forecast (finance, executives, admins; sales managers for their tree's customers):
expected receipts per ISO week for the 13 weeks after the batch's run date as a P10–P90 fan
with the P50 and the naive due-date forecast, the backtest's WAPE beside it (roles that see
every customer), the weekly table and the by-customer table. Scenarios — a customer paying
N days later, customers on hold or disputed invoices left out — are URL parameters, answered
from the batch's simulations (``dashboard.metrics.cash_forecast``)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

import dash
import dash_bootstrap_components as dbc
import polars as pl
from dash import Input, Output, State, dcc, html

from dashboard.components.data_table import Column, data_table
from dashboard.components.kpi_card import kpi_card
from dashboard.components.panels import GRAPH_CONFIG, graph_card, no_data_page, page_heading
from dashboard.figures import backtest_bars, forecast_fan
from dashboard.formatting import BLANK, compact_money, percent
from dashboard.ids import VIEW_PARAM
from dashboard.metrics.cash_forecast import (
    MAX_SHIFT_DAYS,
    MIN_SHIFT_DAYS,
    NEAR_WEEKS,
    Forecast,
    Scenario,
    backtest,
    backtest_wape,
    forecast,
    has_forecast,
    shift_candidates,
    week_label,
)
from dashboard.metrics.mart import Mart
from dashboard.metrics.scope import ADMIN, EXECUTIVE, FINANCE, SALES_MANAGER, Scope
from dashboard.pages.customers import customer_href
from dashboard.secure import RequestContext, secured
from dashboard.view import view_from_query

PATH = "/cash-forecast"
TITLE = "Cash forecast"
ROLES = frozenset({SALES_MANAGER, FINANCE, EXECUTIVE, ADMIN})  # reps: no forecast (D6)
IN_NAV = True
HOLD, DISPUTED = "hold", "disputed"
SHOWN_CUSTOMERS = 500  # rows of the by-customer grid (the export has them all)
CUSTOMER_OPTIONS = 100  # customers offered in the scenario's dropdown before a search
SHIFT_CUSTOMER = {"type": VIEW_PARAM, "name": "shift_customer"}
EXCLUDE_VALUES = (HOLD, DISPUTED, f"{HOLD},{DISPUTED}", f"{DISPUTED},{HOLD}")
WEEK_COLUMNS = [
    Column("week", "ISO week"), Column("week_start", "Week starting"),
    Column("p10_minor", "P10", "money"), Column("p50_minor", "P50", "money"),
    Column("p90_minor", "P90", "money"), Column("expected_minor", "Expected (mean)", "money"),
    Column("naive_minor", "Naive (due dates)", "money"),
]
CUSTOMER_COLUMNS = [
    Column("name", "Customer", "link", href_field="href"), Column("on_hold", "Hold"),
    Column("items", "Items", "number"),
    Column("amount_minor", "Owed", "money"),
    Column("disputed_minor", "Disputed", "money"),
    Column("expected_near_minor", f"Next {NEAR_WEEKS} wks", "money"),
    Column("expected_minor", "13 wks", "money"),
    Column("naive_minor", "Naive 13 wks", "money"),
]


def page_params(context: RequestContext) -> dict[str, tuple[str, ...] | None]:
    """The scenario's URL parameters with their allowed values: a customer in scope with
    forecast items, whole days within the allowed shift, the exclusions."""
    customers: tuple[str, ...] = ()
    if context.mart is not None:
        ids = shift_candidates(context.mart, context.scope)["customer_id"]
        customers = tuple(str(i) for i in ids)
    return {"shift_customer": customers,
            "shift_days": tuple(str(n) for n in range(MIN_SHIFT_DAYS, MAX_SHIFT_DAYS + 1)),
            "exclude": EXCLUDE_VALUES}


def scenario_of(params: Mapping[str, str]) -> Scenario:
    """The scenario the (allowlisted) URL parameters describe."""
    excluded = set(params.get("exclude", "").split(","))
    customer = params.get("shift_customer")
    return Scenario(shift_customer_id=int(customer) if customer else None,
                    shift_days=int(params.get("shift_days", "0")),
                    exclude_on_hold=HOLD in excluded, exclude_disputed=DISPUTED in excluded)


def _query_scenario(context: RequestContext, query: Mapping[str, str]) -> Scenario:
    return scenario_of(view_from_query(context, query, page_params(context)).params)


def week_rows(result: Forecast) -> pl.DataFrame:
    """The weekly table: one row per horizon week."""
    return result.weeks.with_columns(
        pl.col("week_start").map_elements(lambda d: f"{d:%G}-W{d:%V}", return_dtype=pl.String)
        .alias("week")).select("week", "week_start", "p10_minor", "p50_minor", "p90_minor",
                               "expected_minor", "naive_minor")


def customer_rows(result: Forecast) -> pl.DataFrame:
    """The by-customer table, largest expected receipts first (all of them: the export)."""
    return result.customers.with_columns(
        customer_href(pl.col("customer_id")).alias("href"),
        pl.when(pl.col("is_on_hold")).then(pl.lit("on hold")).otherwise(pl.lit(""))
        .alias("on_hold"))


def export_tables(context: RequestContext, query: dict[str, str]) -> dict[str, pl.DataFrame]:
    if context.mart is None or not has_forecast(context.mart):
        return {}
    result = forecast(context.mart, context.scope, _query_scenario(context, query))
    tables = {
        "cash-forecast-weeks": week_rows(result),
        "cash-forecast-customers": customer_rows(result).select(
            "customer_id", "name", "is_on_hold", "items", "amount_minor", "disputed_minor",
            "expected_near_minor", "expected_minor", "naive_minor"),
    }
    rows = backtest(context.mart, context.scope)
    if rows is not None:
        tables["cash-forecast-backtest"] = rows.select(
            "origin", "week_no", "week_start", "p10_minor", "p50_minor", "p90_minor",
            "expected_minor", "naive_minor", "actual_minor", "is_complete")
    return tables


def customer_options(mart: Mart, scope: Scope, search: str | None = None,
                     selected: int | None = None) -> list[dict[str, str]]:
    """The scenario dropdown's choices: the in-scope customers with forecast items whose
    name contains ``search`` (the ``CUSTOMER_OPTIONS`` who owe the most without a search),
    and the ``selected`` one."""
    owed = mart.frame("fct_cash_forecast_item").group_by("customer_id").agg(
        pl.col("amount_minor").sum())
    customers = shift_candidates(mart, scope).join(owed, on="customer_id", how="left")
    mine = pl.col("customer_id") == (-1 if selected is None else selected)
    chosen = customers.filter(mine)
    if search:
        customers = customers.filter(pl.col("name").str.to_lowercase().str.contains(
            search.lower(), literal=True))
    top = customers.sort("amount_minor", descending=True).head(CUSTOMER_OPTIONS)
    rows = pl.concat([chosen, top.filter(~mine)])
    return [{"label": r["name"] or f"#{r['customer_id']}", "value": str(r["customer_id"])}
            for r in rows.iter_rows(named=True)]


def _scenario_bar(context: RequestContext, mart: Mart, scenario: Scenario) -> dbc.Card:
    excluded = [v for v, on in ((HOLD, scenario.exclude_on_hold),
                                (DISPUTED, scenario.exclude_disputed)) if on]
    return dbc.Card(dbc.CardBody(dbc.Row([
        dbc.Col([
            dbc.Label("What if customer", className="small text-muted mb-0"),
            dcc.Dropdown(id=SHIFT_CUSTOMER,
                         options=customer_options(mart, context.scope,
                                                  selected=scenario.shift_customer_id),
                         value=None if scenario.shift_customer_id is None
                         else str(scenario.shift_customer_id),
                         placeholder="Type to find a customer", clearable=True,
                         className="salesbi-filter"),
        ], xs=12, md=4),
        dbc.Col([
            dbc.Label("pays … days later", className="small text-muted mb-0"),
            dcc.Input(id={"type": VIEW_PARAM, "name": "shift_days"}, type="number",
                      min=MIN_SHIFT_DAYS, max=MAX_SHIFT_DAYS, step=1, debounce=True,
                      value=scenario.shift_days or None, placeholder="0",
                      className="form-control"),
        ], xs=6, md=2),
        dbc.Col([
            dbc.Label("Leave out", className="small text-muted mb-0"),
            dcc.Checklist(id={"type": VIEW_PARAM, "name": "exclude"},
                          options=[{"label": " customers on hold", "value": HOLD},
                                   {"label": " disputed invoices", "value": DISPUTED}],
                          value=excluded, inline=True, inputClassName="ms-2",
                          className="pt-2"),
        ], xs=12, md=6),
    ], className="g-2 align-items-end")), className="salesbi-card salesbi-filter-bar mb-3",
        id="cash-forecast-scenario")


def _describe(mart: Mart, scenario: Scenario) -> str:
    parts = []
    if scenario.shifts:
        names = mart.frame("dim_customer").filter(
            pl.col("is_current") & (pl.col("customer_id") == scenario.shift_customer_id))
        name = names["name"][0] if names.height else f"#{scenario.shift_customer_id}"
        days = scenario.shift_days
        parts.append(f"{name} pays {abs(days)} days {'later' if days > 0 else 'earlier'}")
    if scenario.exclude_on_hold:
        parts.append("customers on hold left out")
    if scenario.exclude_disputed:
        parts.append("disputed invoices left out")
    return "Scenario: " + "; ".join(parts) + "."


def _backtest_panel(context: RequestContext, mart: Mart) -> dbc.Col:
    rows = backtest(mart, context.scope)
    if rows is None:
        body: list[Any] = [
            html.H2("Backtest", className="h5"),
            html.P("The backtest is computed over every customer, so it is shown to finance, "
                   "executives and admins.", className="text-muted small",
                   id="cash-forecast-no-backtest")]
    else:
        overall = backtest_wape(rows)
        method = overall["wape"][0] if overall.height else None
        naive = overall["naive_wape"][0] if overall.height else None
        pairs = int(overall["pairs"][0]) if overall.height else 0
        by_origin = backtest_wape(rows, by_origin=True)
        labels = [f"{d.day}<br>{d:%b}" for d in by_origin["origin"]]
        body = [
            html.H2("Backtest: last 8 weeks", className="h5"),
            dbc.Row([
                dbc.Col([html.Div("WAPE, behaviour forecast (P50)",
                                  className="salesbi-kpi-title"),
                         html.Div(percent(method), className="salesbi-kpi-value",
                                  id="cash-forecast-wape")], xs=6),
                dbc.Col([html.Div("WAPE, naive (due dates)", className="salesbi-kpi-title"),
                         html.Div(percent(naive), className="salesbi-kpi-value text-muted",
                                  id="cash-forecast-naive-wape")], xs=6),
            ]),
            html.P(f"Forecasts made on each of the last 8 week starts for the invoices then "
                   f"open, against the cash they received: Σ|actual − forecast| / Σ actual "
                   f"over {pairs} completed weeks. Lower is better.",
                   className="small text-muted mb-1"),
            dcc.Graph(id="cash-forecast-backtest",
                      figure=backtest_bars(by_origin, "WAPE by forecast origin (week start)",
                                            labels),
                      config=GRAPH_CONFIG),
        ]
    return dbc.Col(dbc.Card(dbc.CardBody(body), className="salesbi-card h-100"), lg=4,
                   className="mb-3")


def layout(context: RequestContext, **query: Any) -> html.Div:
    if context.mart is None or not has_forecast(context.mart):
        return no_data_page(TITLE)
    mart, currency = context.mart, context.base_currency
    view = view_from_query(context, query, page_params(context))
    scenario = scenario_of(view.params)
    result = forecast(mart, context.scope, scenario)
    as_of: date = result.as_of  # type: ignore[assignment]
    horizon = result.horizon
    starts = result.weeks["week_start"].to_list()
    labels = [week_label(d, "<br>") for d in starts]
    near = int(result.weeks.head(NEAR_WEEKS)["expected_minor"].sum())
    notice = [] if scenario.is_baseline else [
        dbc.Alert(_describe(mart, scenario), color="info", id="cash-forecast-scenario-note")]
    band = (f"P10–P90 {compact_money(horizon.get('p10'), currency)} – "
            f"{compact_money(horizon.get('p90'), currency)}")
    share = horizon["expected"] / horizon["amount"] if horizon.get("amount") else None
    cards = [
        kpi_card("cash-forecast-expected", "Expected receipts, 13 weeks",
                 compact_money(horizon.get("expected"), currency), PATH, note=band),
        kpi_card("cash-forecast-near", f"Expected, next {NEAR_WEEKS} weeks",
                 compact_money(near, currency), PATH,
                 note=f"P50 of the 13 weeks {compact_money(horizon.get('p50'), currency)}"),
        kpi_card("cash-forecast-base", "Open invoices + backlog",
                 compact_money(horizon.get("amount"), currency), PATH,
                 note=f"{percent(share)} expected within 13 weeks" if share is not None
                 else BLANK),
        kpi_card("cash-forecast-naive", "Naive forecast, 13 weeks",
                 compact_money(horizon.get("naive"), currency), PATH,
                 note="Every item paid on its due date"),
    ]
    title = (f"Expected receipts by ISO week, {starts[0]:%d %b} – "
             f"{starts[-1] + timedelta(days=6):%d %b %Y} ({currency})" if starts
             else f"Expected receipts by ISO week ({currency})")
    return html.Div([
        page_heading(TITLE),
        html.P(f"Receipts expected from open invoices and backlog for the 13 ISO weeks after "
               f"{as_of:%d %b %Y} (the batch's run date), simulated 1,000 times from each "
               f"customer's payment history blended with its segment's; promises to pay "
               f"honoured. Amounts in {currency}.", className="text-muted",
               id="cash-forecast-intro"),
        _scenario_bar(context, mart, scenario),
        *notice,
        dbc.Row(cards, id="cash-forecast-kpis"),
        dbc.Row([
            graph_card("cash-forecast-fan", forecast_fan(result.weeks, currency, title,
                                                         labels), 8),
            _backtest_panel(context, mart),
        ]),
        dbc.Card(dbc.CardBody([
            html.H2(f"By week ({currency})", className="h5"),
            data_table("cash-forecast-weeks", week_rows(result), WEEK_COLUMNS, currency,
                       export="cash-forecast-weeks", height=300),
        ]), className="salesbi-card mb-3"),
        dbc.Card(dbc.CardBody([
            html.H2("By customer (expected amounts)", className="h5"),
            html.P(f"Expected receipts (means over the simulations, which add up across "
                   f"customers; quantiles do not) in the next {NEAR_WEEKS} and in all 13 "
                   f"weeks, beside what each customer owes (open invoices + backlog) and the "
                   f"naive due-date forecast. Amounts in {currency}.",
                   className="small text-muted"),
            data_table("cash-forecast-customers",
                       customer_rows(result).head(SHOWN_CUSTOMERS), CUSTOMER_COLUMNS,
                       currency, export="cash-forecast-customers", height=420,
                       empty="No open invoices or backlog in your scope."),
            *([html.P(f"The {SHOWN_CUSTOMERS:,} customers expected to pay the most of "
                      f"{result.customers.height:,}; the export has them all.",
                      className="small text-muted mt-2 mb-0")]
              if result.customers.height > SHOWN_CUSTOMERS else []),
        ]), className="salesbi-card"),
    ])


def register_callbacks(app: dash.Dash) -> None:
    """Typing in the scenario's customer dropdown searches the in-scope customers."""

    @app.callback(Output(SHIFT_CUSTOMER, "options"), Input(SHIFT_CUSTOMER, "search_value"),
                  State(SHIFT_CUSTOMER, "value"), prevent_initial_call=True)
    @secured(ROLES)
    def search_customers(context: RequestContext, search: str | None,
                         value: str | None) -> list[dict[str, str]]:
        if not search or context.mart is None or not has_forecast(context.mart):
            raise dash.exceptions.PreventUpdate
        selected = int(value) if value and value.isdigit() else None
        return customer_options(context.mart, context.scope, search[:100], selected)
