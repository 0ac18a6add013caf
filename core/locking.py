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


def lock(session: Session, model: type[T], row_id: int, label: str) -> T:
    """Load ``model`` row ``row_id`` fresh from the database and lock it for this transaction."""
    row = session.scalars(
        select(model)
        .where(model.id == row_id)  # type: ignore[attr-defined]
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()
    if row is None:
        raise NotFound(f"{label} #{row_id} not found")
    return row
