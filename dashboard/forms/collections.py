"""The collection-call form of the collections worklist: a modal in which finance logs a
call about the selected invoice (kind, date, note, next contact date) and, optionally, the
date the customer promised to pay it.

One user action = ``core.billing.collection_calls.record_collection_call`` in one
transaction (the interaction and the invoice's promise are written together or not at all;
``dashboard.forms.transaction`` then asks for the ETL run that updates the figures).
The form only turns text into values (a date that does not parse, an unknown kind); every
business rule — who may, a required note, dates in order, no promise in the past — is the
service's, and its refusal comes back as the message of the field it names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import dash_bootstrap_components as dbc
from dash import dcc, html
from sqlalchemy.orm import Session, sessionmaker

from core.actor import Actor
from core.billing.collection_calls import MAX_NOTE_CHARS, record_collection_call
from core.customers.models import InteractionKind
from core.errors import DomainError
from dashboard.forms.transaction import form_transaction

MODAL = "collections-form"
BODY = "collections-form-body"
SAVE = "collections-form-save"
INVOICE = "collections-form-invoice"  # Store: {"invoice_id": …, "label": …} of the row
FIELD = "collections-form-field"  # pattern type: {"type": FIELD, "field": <name>} → value
KIND_LABELS = {InteractionKind.CALL: "Call", InteractionKind.EMAIL: "E-mail",
               InteractionKind.MEETING: "Meeting", InteractionKind.VISIT: "Visit",
               InteractionKind.NOTE: "Note", InteractionKind.PROMISE_TO_PAY: "Promise to pay"}
FIELDS = ("kind", "occurred_on", "notes", "next_contact_date", "promise_to_pay_date")
DATE_FIELDS = ("occurred_on", "next_contact_date", "promise_to_pay_date")


@dataclass(frozen=True)
class Outcome:
    """What a save did: ``saved``, or messages by field name and/or one for the form."""

    saved: bool = False
    errors: Mapping[str, str] = field(default_factory=dict)
    message: str | None = None


def _date(text: Any) -> date | None:
    """An ISO date, None when empty; ValueError when it does not parse."""
    if text in (None, ""):
        return None
    return date.fromisoformat(str(text))


def parse_call(values: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The service's keyword arguments from the form's raw ``values`` (by field name), and
    messages for the fields that do not parse."""
    parsed: dict[str, Any] = {"notes": str(values.get("notes") or "")}
    errors: dict[str, str] = {}
    try:
        parsed["kind"] = InteractionKind(values.get("kind"))
    except ValueError:
        errors["kind"] = "Choose the kind of contact."
    for name in DATE_FIELDS:
        try:
            parsed[name] = _date(values.get(name))
        except ValueError:
            errors[name] = "Enter a date (YYYY-MM-DD)."
    if "occurred_on" not in errors and parsed["occurred_on"] is None:
        errors["occurred_on"] = "Enter the date of the call."
    return parsed, errors


def save_call(factory: sessionmaker[Session], actor: Actor, invoice_id: Any,
              values: Mapping[str, Any]) -> Outcome:
    """Record the collection call about ``invoice_id`` from the form's ``values`` in one
    transaction; nothing is written unless every part is accepted."""
    if not isinstance(invoice_id, int) or isinstance(invoice_id, bool) or invoice_id <= 0:
        return Outcome(message="Select an invoice in the worklist first.")
    parsed, errors = parse_call(values)
    if errors:
        return Outcome(errors=errors)
    try:
        with form_transaction(factory) as session:
            record_collection_call(session, actor, invoice_id, **parsed)
    except DomainError as refused:
        if refused.field in FIELDS:
            return Outcome(errors={refused.field: _sentence(refused.message)})
        return Outcome(message=_sentence(refused.message))
    return Outcome(saved=True)


def _sentence(message: str) -> str:
    return message[:1].upper() + message[1:] + ("" if message.endswith(".") else ".")


def form_modal() -> dbc.Modal:
    """The modal; its body is filled by ``form_body`` when a row's form is opened."""
    return dbc.Modal([
        dbc.ModalHeader(dbc.ModalTitle("Log a collection call")),
        dbc.ModalBody(id=BODY),
        dbc.ModalFooter(dbc.Button("Save", id=SAVE, color="primary")),
    ], id=MODAL, is_open=False, size="lg")


def form_body(invoice: Mapping[str, Any], today: date,
              values: Mapping[str, Any] | None = None,
              outcome: Outcome | None = None) -> list[Any]:
    """The fields for ``invoice`` (``invoice_id`` and a ``label`` to show), filled with
    ``values`` (default: a call today) and the messages of ``outcome``."""
    values = values if values is not None else {"kind": InteractionKind.CALL.value,
                                                "occurred_on": today.isoformat()}
    errors = outcome.errors if outcome is not None else {}

    def control(name: str, label: str, widget: Any, width: int, hint: str | None = None
                ) -> dbc.Col:
        return dbc.Col([
            dbc.Label(label, className="mb-1"), widget,
            dbc.FormFeedback(errors.get(name, ""), type="invalid"),
            *([dbc.FormText(hint)] if hint and name not in errors else []),
        ], md=width, className="mb-3")

    def date_input(name: str, **limits: str) -> dbc.Input:
        return dbc.Input(id={"type": FIELD, "field": name}, type="date",
                         value=values.get(name) or None, invalid=name in errors, **limits)

    body: list[Any] = [
        dcc.Store(id=INVOICE, data=dict(invoice)),
        html.P(["Invoice ", html.Strong(str(invoice.get("label", "")))],
               className="mb-3", id="collections-form-invoice-label"),
    ]
    if outcome is not None and outcome.message:
        body.append(dbc.Alert(outcome.message, color="danger", id="collections-form-error"))
    body.append(dbc.Row([
        control("kind", "Kind", dbc.Select(
            id={"type": FIELD, "field": "kind"}, value=values.get("kind"),
            options=[{"label": label, "value": kind.value}
                     for kind, label in KIND_LABELS.items()],
            invalid="kind" in errors), 4),
        control("occurred_on", "Date of the call",
                date_input("occurred_on", max=today.isoformat()), 4),
        control("next_contact_date", "Next contact",
                date_input("next_contact_date", min=today.isoformat()), 4,
                "When to follow up."),
        control("notes", "Note", dbc.Textarea(
            id={"type": FIELD, "field": "notes"}, value=values.get("notes") or "",
            maxLength=MAX_NOTE_CHARS, rows=3, invalid="notes" in errors,
            placeholder="Who you spoke to and what was agreed"), 12),
        control("promise_to_pay_date", "Promise to pay (optional)",
                date_input("promise_to_pay_date", min=today.isoformat()), 6,
                "Recorded on this invoice and with the call."),
    ]))
    return body
