"""Collection calls: finance contacts the customer of an overdue invoice, logs what was said
and, when the customer promised to pay, records the promise on the invoice — one action.

Only finance collects (DESIGN D6: finance writes payments, credit notes, holds, write-offs;
``core.actor.FINANCE_ROLES``). The call is an ``Interaction`` of the invoice's customer
(``log_interaction``: dated on or before today, next contact not before it); a promise to
pay goes both on that interaction and on the invoice (``set_promise_to_pay``: not in the
past, not before the invoice date). A collection call needs a note. The caller runs it in
one transaction, so a refused part leaves nothing written.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session

from core.actor import FINANCE_ROLES, Actor
from core.billing.invoicing import get_invoice_for, set_promise_to_pay
from core.customers.models import Interaction, InteractionKind
from core.customers.services import log_interaction
from core.errors import InvalidInput

MAX_NOTE_CHARS = 2000


def record_collection_call(session: Session, actor: Actor, invoice_id: int, *,
                           kind: InteractionKind, occurred_on: date, notes: str,
                           next_contact_date: date | None = None,
                           promise_to_pay_date: date | None = None,
                           today: date | None = None) -> Interaction:
    """Log a collection call about ``invoice_id`` (rules in the module docstring); ``today``
    only for tests and the importer. Returns the interaction."""
    invoice = get_invoice_for(session, actor, invoice_id, FINANCE_ROLES,
                              "record collection calls")
    note = notes.strip()
    if not note:
        raise InvalidInput("say what was agreed: a collection call needs a note", field="notes")
    if len(note) > MAX_NOTE_CHARS:
        raise InvalidInput(f"a note has at most {MAX_NOTE_CHARS:,} characters", field="notes")
    if promise_to_pay_date is not None:
        set_promise_to_pay(session, actor, invoice.id, promise_to_pay_date, today=today)
    return log_interaction(
        session, actor, invoice.customer_id, kind=kind, occurred_on=occurred_on, notes=note,
        next_contact_date=next_contact_date, promise_to_pay_date=promise_to_pay_date,
        today=today)
