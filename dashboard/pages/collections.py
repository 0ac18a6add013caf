"""Collections worklist: the open, overdue, undisputed invoices of the customers in the
user's scope today, ranked by score = open amount × the customer's risk of paying late
(``dashboard.metrics.collections``; amounts and risk from the published batch), with the
last interaction, the promises to pay and the next contact date read live from the core
(``core.customers.profile.follow_ups``: one batch of queries for the rows shown).

Who (DESIGN D6): every role sees the list of its scope — reps their own customers, sales
managers their tree's, finance, executives and admins all. Only finance writes: collecting
is finance's (D6: payments, credit notes, holds, write-offs; admins keep users, settings and
imports), so finance alone may select a row and log a collection call with an optional
promise to pay (``dashboard.forms.collections``); the callbacks refuse every other role
and the core service checks again. The grid shows the ``SHOWN_ROWS`` highest scores; the
export has every row.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dash
import dash_bootstrap_components as dbc
import polars as pl
from dash import ALL, Input, Output, State, ctx, html

from core.customers.profile import FOLLOW_UP_SCHEMA, follow_ups
from dashboard.components.data_table import Column, data_table, grid_rows
from dashboard.components.kpi_card import kpi_card
from dashboard.components.panels import no_data_page, page_heading
from dashboard.etl_trigger import refresh_note
from dashboard.formatting import compact_money, money
from dashboard.forms.collections import (
    BODY,
    FIELD,
    INVOICE,
    KIND_LABELS,
    MODAL,
    SAVE,
    form_body,
    form_modal,
    save_call,
)
from dashboard.metrics.collections import PPM, worklist, worklist_totals
from dashboard.metrics.scope import ALL_ROLES, FINANCE
from dashboard.pages.customers import customer_href
from dashboard.secure import RequestContext, secured, session_factory

PATH = "/collections"
TITLE = "Collections"
ROLES = ALL_ROLES
WRITE_ROLES = frozenset({FINANCE})
IN_NAV = True
SHOWN_ROWS = 500  # rows of the grid, highest scores first (the export has them all)
GRID = "collections-worklist"
LOG_BUTTON = "collections-log"
SELECTED = "collections-selected"
STATUS = "collections-status"
# Narrow, wrapped headers and no filter on figures and dates: the promises and the next
# contact stay in view beside the amounts at 1280 px.
NARROW = {"wrapHeaderText": True, "autoHeaderHeight": True, "filter": False}
DATE = NARROW | {"minWidth": 116, "maxWidth": 130}
FIGURE = NARROW | {"minWidth": 84}
COLUMNS = [
    Column("name", "Customer", "link", href_field="href",
           options={"pinned": "left", "minWidth": 170}),
    Column("document_number", "Invoice", options={"minWidth": 112, "maxWidth": 125}),
    Column("due_date", "Due", options=DATE),
    Column("days_overdue", "Days overdue", "number", options=FIGURE | {"maxWidth": 92}),
    Column("open_minor", "Open", "money", options=FIGURE | {"minWidth": 96}),
    Column("risk", "Risk of paying late", "percent", options=FIGURE | {"maxWidth": 96}),
    Column("score_minor", "Score", "money", options=FIGURE | {"minWidth": 96}),
    Column("invoice_promise_date", "Promise (invoice)", options=DATE),
    Column("customer_promise_date", "Promise (customer)", options=DATE),
    Column("next_contact_date", "Next contact", options=DATE),
    Column("last_contact_on", "Last contact", options=DATE),
    Column("last_contact", "Interaction",
           options={"minWidth": 240, "tooltipField": "last_contact"}),
    Column("account_manager", "Account manager", options={"minWidth": 150}),
    Column("invoice_id", "Invoice id", options={"hide": True}),
    Column("row_id", "Row id", options={"hide": True}),  # the invoice id as text
    Column("label", "Label", options={"hide": True}),
]
LIVE_NAMES = {"last_interaction_on": "last_contact_on",
              "last_interaction_kind": "last_contact_kind",
              "last_interaction_notes": "last_contact_note",
              "promise_to_pay_date": "customer_promise_date"}
"""The live columns (``core.customers.profile.FOLLOW_UP_SCHEMA``) as the page names them."""
LIVE_COLUMNS = ("last_contact_on", "last_contact_kind", "last_contact_note",
                "invoice_promise_date", "customer_promise_date", "next_contact_date")
"""The live columns in the grid's and the export's order."""


def _live(context: RequestContext, rows: pl.DataFrame) -> pl.DataFrame:
    """``rows`` plus the ``LIVE_COLUMNS``, read now from the core in
    the actor's scope (blank for invoices it no longer sees)."""
    found = pl.DataFrame(schema=FOLLOW_UP_SCHEMA)
    if context.actor is not None and not rows.is_empty():
        with session_factory()() as session:
            found = follow_ups(session, context.actor, rows.select("invoice_id", "customer_id"))
    live = found.rename(LIVE_NAMES).select("invoice_id", *LIVE_COLUMNS)
    return rows.join(live, on="invoice_id", how="left", maintain_order="left")


def _worklist(context: RequestContext) -> pl.DataFrame:
    if context.mart is None:
        return pl.DataFrame()
    return worklist(context.mart, context.scope, context.today, timezone=context.timezone)


def export_tables(context: RequestContext, query: dict[str, str]) -> dict[str, pl.DataFrame]:
    rows = _worklist(context)
    if rows.is_empty():
        return {}
    risk = pl.col("risk_ppm").cast(pl.Decimal(18, 4)) / 10_000  # exact: ppm → per cent
    return {"collections": _live(context, rows).select(
        pl.exclude("risk_ppm", "score_minor"), risk.alias("risk_percent"), "score_minor")}


def _grid_frame(context: RequestContext, rows: pl.DataFrame) -> pl.DataFrame:
    kind = pl.col("last_contact_kind").replace_strict(
        {str(k): v for k, v in KIND_LABELS.items()}, default=pl.col("last_contact_kind"))
    return _live(context, rows.head(SHOWN_ROWS)).with_columns(
        customer_href(pl.col("customer_id")).alias("href"),
        pl.col("invoice_id").cast(pl.String).alias("row_id"),
        (pl.col("risk_ppm") / PPM).alias("risk"),
        pl.when(pl.col("last_contact_note").is_null()).then(kind)
        .otherwise(pl.format("{}: {}", kind, pl.col("last_contact_note")))
        .alias("last_contact"),
        pl.format("{} · {}", pl.col("document_number"), pl.col("name").fill_null(""))
        .alias("label"))


def _grid_rows(context: RequestContext) -> list[dict[str, Any]]:
    return grid_rows(_grid_frame(context, _worklist(context)), COLUMNS, context.base_currency)


def _cards(context: RequestContext, rows: pl.DataFrame) -> list[dbc.Col]:
    totals, currency = worklist_totals(rows), context.base_currency
    return [
        kpi_card("collections-open", "Overdue, undisputed",
                 compact_money(totals["open_minor"], currency), PATH,
                 note=money(totals["open_minor"], currency)),
        kpi_card("collections-score", "Expected to come in late",
                 compact_money(totals["score_minor"], currency), PATH,
                 note="Σ open amount × risk of paying late"),
        kpi_card("collections-invoices", "Invoices to chase", f"{totals['invoices']:,}", PATH,
                 note=f"of {totals['customers']:,} "
                      + ("customer" if totals["customers"] == 1 else "customers")),
    ]


def _toolbar(context: RequestContext) -> html.Div:
    if context.scope.role not in WRITE_ROLES:
        return html.P("Read-only: finance logs collection calls and promises to pay from "
                      "this list.", className="small text-muted mb-2",
                      id="collections-read-only")
    return html.Div([
        dbc.Button("Log call…", id=LOG_BUTTON, color="primary", size="sm", disabled=True,
                   className="me-2"),
        html.Span("Select an invoice in the list, then log the call and any promise to "
                  "pay.", className="small text-muted", id=SELECTED),
    ], className="d-flex align-items-center mb-2")


def layout(context: RequestContext, **_query: Any) -> html.Div:
    if context.mart is None:
        return no_data_page(TITLE)
    rows = _worklist(context)
    currency, on = context.base_currency, f"{context.today:%d %b %Y}"
    writer = context.scope.role in WRITE_ROLES
    shown = f"The {SHOWN_ROWS:,} highest scores of {rows.height:,}; the export has them all."
    return html.Div([
        page_heading(TITLE),
        dbc.Row(_cards(context, rows), id="collections-kpis"),
        dbc.Card(dbc.CardBody([
            html.H2(f"Invoices overdue on {on}, most at risk first", className="h5"),
            html.P(
                f"Open, overdue, undisputed invoices of your customers, amounts in {currency} "
                "at each invoice's rate as of the data batch. Risk of paying late = the share "
                "of the customer's payments that came after the due date, weighted by "
                "amount and blended with its segment's (n / (n + 5) for n paid invoices); "
                "score = open amount × risk. Last contact, promises and next contact are "
                "read live.", className="small text-muted", id="collections-note"),
            _toolbar(context),
            html.Div(id=STATUS),
            data_table(GRID, _grid_frame(context, rows), COLUMNS, currency,
                       export="collections", height=min(520, 130 + 42 * rows.height),
                       row_id="row_id" if writer else None,
                       empty=f"Nothing to chase: no invoice of your customers is overdue "
                             f"and undisputed on {on}."),
            *([html.P(shown, className="small text-muted mt-2 mb-0")]
              if rows.height > SHOWN_ROWS else []),
        ]), className="salesbi-card"),
        *([form_modal()] if writer else []),
    ])


def _selected(rows: list[dict[str, Any]] | None) -> Mapping[str, Any] | None:
    return rows[0] if rows else None


def register_callbacks(app: dash.Dash) -> None:
    """Finance selects a row, opens the form and saves a call; nobody else may."""

    @app.callback(Output(LOG_BUTTON, "disabled"), Output(SELECTED, "children"),
                  Input(GRID, "selectedRows"), prevent_initial_call=True)
    @secured(WRITE_ROLES)
    def show_selection(_context: RequestContext, rows: list[dict[str, Any]] | None,
                       ) -> tuple[bool, str]:
        row = _selected(rows)
        if row is None:
            return True, "Select an invoice in the list."
        return False, f"Selected: {row.get('label', '')}"

    @app.callback(Output(MODAL, "is_open"), Output(BODY, "children"),
                  Input(LOG_BUTTON, "n_clicks"), State(GRID, "selectedRows"),
                  prevent_initial_call=True)
    @secured(WRITE_ROLES)
    def open_form(context: RequestContext, clicks: int | None,
                  rows: list[dict[str, Any]] | None) -> tuple[bool, list[Any]]:
        row = _selected(rows)
        if not clicks or row is None:
            raise dash.exceptions.PreventUpdate
        invoice = {"invoice_id": row.get("invoice_id"), "label": row.get("label", "")}
        return True, form_body(invoice, context.today)

    @app.callback(Output(MODAL, "is_open", allow_duplicate=True),
                  Output(BODY, "children", allow_duplicate=True),
                  Output(GRID, "rowData"), Output(STATUS, "children"),
                  Input(SAVE, "n_clicks"), State(INVOICE, "data"),
                  State({"type": FIELD, "field": ALL}, "value"), prevent_initial_call=True)
    @secured(WRITE_ROLES)
    def save(context: RequestContext, clicks: int | None, invoice: dict[str, Any] | None,
             _values: list[Any]) -> tuple[Any, ...]:
        if not clicks or context.actor is None:
            raise dash.exceptions.PreventUpdate
        invoice = invoice or {}
        values = {item["id"]["field"]: item.get("value") for item in ctx.states_list[1]}
        outcome = save_call(session_factory(), context.actor, invoice.get("invoice_id"),
                            values)
        if not outcome.saved:
            return (True, form_body(invoice, context.today, values, outcome), dash.no_update,
                    dash.no_update)
        promise = values.get("promise_to_pay_date")
        saved = f"Logged the call about {invoice.get('label', '')}" + (
            f"; promise to pay on {promise} recorded. " if promise else ". ") + refresh_note()
        return (False, dash.no_update, _grid_rows(context),
                dbc.Alert(saved, color="success", dismissable=True, className="py-2",
                          id="collections-saved"))
