"""Posted documents are never edited in place (enforced on every flush).

Posted invoices may change only their collection fields (dispute flag, promise-to-pay
date); posted credit notes, their lines, invoice lines of posted invoices, payments and
allocations may not change or be deleted at all. Corrections are new documents.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session, sessionmaker

from core.billing.models import (
    Allocation,
    CreditNote,
    CreditNoteLine,
    DocumentStatus,
    Invoice,
    InvoiceLine,
    Payment,
)
from core.errors import ImmutableDocument

COLLECTION_FIELDS = frozenset({"is_disputed", "promise_to_pay_date"})


def _was_posted(obj: Invoice | CreditNote) -> bool:
    history = inspect(obj).attrs["status"].history  # type: ignore[attr-defined]
    before = history.deleted[0] if history.deleted else obj.status
    return before == DocumentStatus.POSTED


def _changed_fields(obj: Any) -> set[str]:
    state = inspect(obj)
    return {a.key for a in state.mapper.column_attrs if state.attrs[a.key].history.has_changes()}


def _parent_posted(session: Session, model: type[Invoice] | type[CreditNote],
                   parent_id: int | None) -> bool:
    parent = session.get(model, parent_id) if parent_id is not None else None
    return isinstance(parent, Invoice | CreditNote) and _was_posted(parent)


def _check(session: Session, _context: Any, _instances: Any) -> None:
    for obj in session.dirty:
        if not session.is_modified(obj):
            continue
        if isinstance(obj, Invoice) and _was_posted(obj):
            forbidden = _changed_fields(obj) - COLLECTION_FIELDS
            if forbidden:
                raise ImmutableDocument(
                    f"invoice {obj.number} is posted; {', '.join(sorted(forbidden))} cannot "
                    "change (issue a credit note instead)"
                )
        elif isinstance(obj, CreditNote) and _was_posted(obj):
            raise ImmutableDocument(f"credit note {obj.number} is posted and cannot change")
        elif isinstance(obj, Payment | Allocation):
            raise ImmutableDocument("payments and allocations are never edited; reverse them")
        elif isinstance(obj, InvoiceLine) and _parent_posted(session, Invoice, obj.invoice_id):
            raise ImmutableDocument("lines of a posted invoice cannot change")
        elif isinstance(obj, CreditNoteLine) and _parent_posted(
            session, CreditNote, obj.credit_note_id
        ):
            raise ImmutableDocument("lines of a posted credit note cannot change")
    for obj in session.deleted:
        if isinstance(obj, Invoice | CreditNote) and _was_posted(obj):
            raise ImmutableDocument(f"posted document {obj.number} cannot be deleted")
        if isinstance(obj, Payment | Allocation):
            raise ImmutableDocument("payments and allocations are never deleted; reverse them")
        if isinstance(obj, InvoiceLine) and _parent_posted(session, Invoice, obj.invoice_id):
            raise ImmutableDocument("lines of a posted invoice cannot be deleted")
        if isinstance(obj, CreditNoteLine) and _parent_posted(
            session, CreditNote, obj.credit_note_id
        ):
            raise ImmutableDocument("lines of a posted credit note cannot be deleted")
    for obj in session.new:
        if isinstance(obj, InvoiceLine) and _parent_posted(session, Invoice, obj.invoice_id):
            raise ImmutableDocument("a posted invoice cannot take new lines")


def install_immutability(factory: sessionmaker[Session]) -> None:
    """Refuse in-place edits of posted documents in sessions made by ``factory``."""
    event.listen(factory, "before_flush", _check)
