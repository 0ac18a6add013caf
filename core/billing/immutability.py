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


def _violation(session: Session, obj: Any, *, deleting: bool) -> str | None:
    """Why changing (or deleting) ``obj`` is refused, or None when it is allowed."""
    verb = "be deleted" if deleting else "change"
    if isinstance(obj, Invoice) and _was_posted(obj):
        if deleting:
            return f"posted invoice {obj.number} cannot be deleted"
        forbidden = _changed_fields(obj) - COLLECTION_FIELDS
        return (f"invoice {obj.number} is posted; {', '.join(sorted(forbidden))} cannot change "
                "(issue a credit note instead)") if forbidden else None
    if isinstance(obj, CreditNote) and _was_posted(obj):
        return f"credit note {obj.number} is posted and cannot {verb}"
    if isinstance(obj, Payment | Allocation):
        return f"payments and allocations are never {'deleted' if deleting else 'edited'}; " \
            "reverse them"
    if isinstance(obj, InvoiceLine) and _parent_posted(session, Invoice, obj.invoice_id):
        return f"lines of a posted invoice cannot {verb}"
    if isinstance(obj, CreditNoteLine) and _parent_posted(session, CreditNote,
                                                          obj.credit_note_id):
        return f"lines of a posted credit note cannot {verb}"
    return None


def _check(session: Session, _context: Any, _instances: Any) -> None:
    changed = [obj for obj in session.dirty if session.is_modified(obj)]
    for obj, deleting in [(o, False) for o in changed] + [(o, True) for o in session.deleted]:
        reason = _violation(session, obj, deleting=deleting)
        if reason:
            raise ImmutableDocument(reason)
    for obj in session.new:
        if isinstance(obj, InvoiceLine) and _parent_posted(session, Invoice, obj.invoice_id):
            raise ImmutableDocument("a posted invoice cannot take new lines")


def install_immutability(factory: sessionmaker[Session]) -> None:
    """Refuse in-place edits of posted documents in sessions made by ``factory``."""
    event.listen(factory, "before_flush", _check)
