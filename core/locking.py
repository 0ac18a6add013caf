"""Row locks for rules that read-then-write shared balances (allocation, numbering).

PostgreSQL: ``SELECT … FOR UPDATE`` holds the row until commit. SQLite ignores FOR UPDATE,
but every transaction there starts with ``BEGIN IMMEDIATE`` (core.db), which already
serialises writers. Lock in a fixed order — source document before target — to avoid
deadlocks.
"""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import NotFound

T = TypeVar("T")


def lock(session: Session, model: type[T], row_id: int, label: str, *,
         key_share: bool = False) -> T:
    """Load ``model`` row ``row_id`` fresh from the database and lock it for this transaction.

    ``key_share``: ``FOR NO KEY UPDATE`` on PostgreSQL, which serialises the writers that
    take it (and waits for ``FOR UPDATE``) but not the foreign-key checks of rows that
    reference this one (``FOR KEY SHARE``): for a rule that guards data kept beside the row,
    not the row's key (the customer's contact state), so that a transaction that inserted a
    payment or an order of the customer does not wait for it, nor it for them."""
    row = session.scalars(
        select(model)
        .where(model.id == row_id)  # type: ignore[attr-defined]
        .with_for_update(key_share=key_share)
        .execution_options(populate_existing=True)
    ).one_or_none()
    if row is None:
        raise NotFound(f"{label} #{row_id} not found")
    return row
