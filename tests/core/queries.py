"""Counting the SQL statements a piece of code sends (for tests that a read does not send
one query per document)."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import event
from sqlalchemy.orm import Session


def queries_sent(session: Session, read: Callable[[], object]) -> int:
    """How many SQL statements ``read()`` sends through ``session``'s engine."""
    sent = 0

    def count(*_: object) -> None:
        nonlocal sent
        sent += 1

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", count)
    try:
        read()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return sent
