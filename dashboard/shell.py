"""The frame around every page: navigation for the user's role, the "data as of" batch
indicator, sign-out, and the callback that writes filter values into the URL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any
from urllib.parse import parse_qsl

import dash
import dash_bootstrap_components as dbc
from dash import ALL, Input, Output, State, ctx, html

from dashboard import ids
from dashboard.metrics.scope import ALL_ROLES
from dashboard.secure import RequestContext, secured, secured_layout
from dashboard.view import query_string

STALE_AFTER = timedelta(hours=26)
"""A nightly batch is stale once a run has been missed."""


def batch_badge(context: RequestContext, now: datetime | None = None) -> html.Span:
    """"Data as of batch … (age)", amber when the batch is stale, red when none exists."""
    if context.mart is None:
        return html.Span("No data published yet — run `salesbi etl run`",
                         className="badge text-bg-danger", id=ids.BATCH_BADGE)
    now = now or datetime.now(UTC).replace(tzinfo=None)
    age = now - context.mart.published_at
    hours = age.total_seconds() / 3600
    when = f"{hours * 60:.0f} min ago" if hours < 1 else (
        f"{hours:.0f} h ago" if hours < 48 else f"{hours / 24:.0f} days ago")
    stale = age > STALE_AFTER
    text = f"Data as of batch {context.mart.batch_id} ({when})"
    return html.Span(text + (" — stale" if stale else ""),
                     title="Figures come from this published ETL batch; forms show live data.",
                     className="badge " + ("text-bg-warning" if stale else "text-bg-light"),
                     id=ids.BATCH_BADGE)


def _navbar(context: RequestContext, pages: tuple[ModuleType, ...]) -> dbc.Navbar:
    links = [dbc.NavItem(dbc.NavLink(page.TITLE, href=page.PATH, active="exact"))
             for page in pages if context.scope.role in page.ROLES and page.IN_NAV]
    return dbc.Navbar(dbc.Container([
        dbc.NavbarBrand("salesbi", href="/"),
        dbc.Nav(links, navbar=True, className="me-auto"),
        html.Div([
            batch_badge(context),
            html.Span(f"{context.full_name} · {context.scope.role.replace('_', ' ')}",
                      className="text-white-50 small mx-3 text-nowrap"),
            html.A("Sign out", href="/logout", className="btn btn-outline-light btn-sm",
                   id="shell-logout"),
        ], className="d-flex align-items-center ms-auto py-1"),
    ], fluid=True, className="flex-wrap"), color="dark", dark=True, className="mb-3", id=ids.NAVBAR)


def shell(pages: tuple[ModuleType, ...]) -> Any:
    """``app.layout``: built per request for the logged-in user's role."""

    @secured_layout(ALL_ROLES)
    def layout(context: RequestContext) -> html.Div:
        return html.Div([
            _navbar(context, pages),
            dbc.Container(dash.page_container, fluid=True, className="salesbi-page"),
        ])

    return layout


def register_shell_callbacks(app: dash.Dash) -> None:
    """Filter controls → URL query (the page then re-renders from the URL). Export buttons
    are links to ``dashboard.downloads``."""

    @app.callback(
        Output(ids.PAGES_LOCATION, "search"),
        Input({"type": ids.VIEW_PARAM, "name": ALL}, "value"),
        Input({"type": ids.VIEW_DATE, "name": ALL}, "date"),
        State(ids.PAGES_LOCATION, "search"),
        prevent_initial_call=True,
    )
    @secured(ALL_ROLES)
    def filters_to_url(context: RequestContext, _values: list[Any], _dates: list[Any],
                       current: str | None) -> str:
        # Keys without a control on the page (a drill's kind or customer) stay as they are.
        values: dict[str, Any] = dict(parse_qsl((current or "").lstrip("?")))
        for group in ctx.inputs_list:
            for item in group:
                values[item["id"]["name"]] = item.get("value")
        if values.get("period") != "custom":
            values.pop("start", None)
            values.pop("end", None)
        elif not (values.get("start") and values.get("end")):
            values["start"] = (context.today - timedelta(days=29)).isoformat()
            values["end"] = context.today.isoformat()
        search = query_string(values)
        if search == (current or ""):
            raise dash.exceptions.PreventUpdate
        return search
