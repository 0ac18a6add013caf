"""Append-only change history of every core record, written in the same transaction.

Grain: one row per inserted or deleted record, and one row per changed column of an
updated record. ``seq`` increases monotonically; the ETL uses it as its watermark.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Integer, String, Text, event, insert, inspect
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from core.db import Base, utcnow

NOT_AUDITED = frozenset({"audit_log", "document_sequence", "customer_contact_state"})
"""The log itself, number series and state derived from audited rows (the contact log)."""
ACTOR_KEY = "actor"


class AuditLog(Base):
    """One change: who, when, which record, which field, old and new value (as text)."""

    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(120))
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[int] = mapped_column(index=True)
    action: Mapped[str] = mapped_column(String(10))
    field: Mapped[str | None] = mapped_column(String(60))
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str | None] = mapped_column(Text)


def as_text(value: Any) -> str | None:
    """How a column value is written into the log."""
    if value is None:
        return None
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def _entity_id(obj: Any) -> int:
    """The record's integer primary key; 0 for tables keyed otherwise (codes, dates)."""
    state = inspect(obj)
    # Inserted rows get their identity only after the flush; their key attributes are set.
    key = state.identity or state.mapper.primary_key_from_instance(obj)
    first = key[0] if len(key) == 1 else None
    return first if isinstance(first, int) and not isinstance(first, bool) else 0


def _changes(session: Session) -> list[dict[str, Any]]:
    actor = session.info.get(ACTOR_KEY, "system")
    now = utcnow()
    rows: list[dict[str, Any]] = []

    def row(
        obj: Any, action: str, field: str | None = None, old: Any = None, new: Any = None
    ) -> None:
        rows.append(
            {
                "occurred_at": now,
                "actor": actor,
                "entity": obj.__tablename__,
                "entity_id": _entity_id(obj),
                "action": action,
                "field": field,
                "old_value": as_text(old),
                "new_value": as_text(new),
            }
        )

    for obj in session.new:
        if getattr(obj, "__tablename__", None) not in NOT_AUDITED | {None}:
            row(obj, "insert")
    for obj in session.dirty:
        if obj.__tablename__ in NOT_AUDITED or not session.is_modified(obj):
            continue
        state = inspect(obj)
        for attr in state.mapper.column_attrs:
            if attr.key in {"updated_at"}:
                continue
            history = state.attrs[attr.key].history
            if history.has_changes():
                old = history.deleted[0] if history.deleted else None
                new = history.added[0] if history.added else None
                if old != new:
                    row(obj, "update", attr.key, old, new)
    for obj in session.deleted:
        if obj.__tablename__ not in NOT_AUDITED:
            row(obj, "delete")
    return rows


def _after_flush(session: Session, _flush_context: Any) -> None:
    rows = _changes(session)
    if rows:
        session.connection().execute(insert(AuditLog), rows)


def install_audit(factory: sessionmaker[Session]) -> None:
    """Record every flushed change of sessions made by ``factory`` in ``audit_log``."""
    event.listen(factory, "after_flush", _after_flush)


def set_actor(session: Session, label: str) -> None:
    """Name the author of the changes this session will flush."""
    session.info[ACTOR_KEY] = label
