"""Document numbers: prefix + zero-padded sequence per document type.

The counter row is incremented with ``UPDATE … RETURNING`` inside the caller's transaction,
so the row stays locked until commit (PostgreSQL row lock; SQLite's write lock taken by
``BEGIN IMMEDIATE``). A rolled-back posting rolls its number back too: invoice and credit
note series are therefore gapless, and no two transactions ever get the same number.
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import String, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.access import authorize
from core.actor import SETTINGS_ROLES, Actor
from core.db import Base
from core.errors import InvalidInput


class DocType(StrEnum):
    CUSTOMER = "customer"
    OPPORTUNITY = "opportunity"
    QUOTE = "quote"
    ORDER = "order"
    SHIPMENT = "shipment"
    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"
    PAYMENT = "payment"
    RMA = "rma"


DEFAULT_PREFIXES = {
    DocType.CUSTOMER: "C",
    DocType.OPPORTUNITY: "OP",
    DocType.QUOTE: "QT",
    DocType.ORDER: "SO",
    DocType.SHIPMENT: "SH",
    DocType.INVOICE: "INV",
    DocType.CREDIT_NOTE: "CN",
    DocType.PAYMENT: "PAY",
    DocType.RMA: "RMA",
}
GAPLESS = frozenset({DocType.INVOICE, DocType.CREDIT_NOTE})
DEFAULT_PADDING = {DocType.CUSTOMER: 6}


class DocumentSequence(Base):
    """The counter of one document type; ``last_value`` is the last number issued."""

    __tablename__ = "document_sequence"

    doc_type: Mapped[str] = mapped_column(String(32), primary_key=True)
    prefix: Mapped[str] = mapped_column(String(16))
    padding: Mapped[int] = mapped_column(default=7)
    last_value: Mapped[int] = mapped_column(default=0)
    is_gapless: Mapped[bool] = mapped_column(default=False)


def seed_sequences(session: Session) -> None:
    """Create the counter rows that do not exist yet, with the default prefixes."""
    existing = set(session.scalars(select(DocumentSequence.doc_type)))
    for doc_type, prefix in DEFAULT_PREFIXES.items():
        if doc_type.value not in existing:
            session.add(
                DocumentSequence(
                    doc_type=doc_type.value,
                    prefix=prefix,
                    padding=DEFAULT_PADDING.get(doc_type, 7),
                    last_value=0,
                    is_gapless=doc_type in GAPLESS,
                )
            )
    session.flush()


def configure_sequence(session: Session, actor: Actor, doc_type: DocType, *, prefix: str,
                       padding: int) -> None:
    """Change a series' prefix and padding (admin); numbers already issued keep theirs."""
    authorize(session, actor, SETTINGS_ROLES, "configure document numbers")
    if not prefix or len(prefix) > 16 or not 1 <= padding <= 12:
        raise InvalidInput("prefix must be 1-16 characters and padding 1-12 digits", field="prefix")
    session.execute(
        update(DocumentSequence)
        .where(DocumentSequence.doc_type == doc_type.value)
        .values(prefix=prefix, padding=padding)
    )


def next_number(session: Session, doc_type: DocType) -> str:
    """Issue the next number of ``doc_type`` in the caller's transaction."""
    row = session.execute(
        update(DocumentSequence)
        .where(DocumentSequence.doc_type == doc_type.value)
        .values(last_value=DocumentSequence.last_value + 1)
        .returning(DocumentSequence.prefix, DocumentSequence.padding, DocumentSequence.last_value)
    ).one_or_none()
    if row is None:
        raise InvalidInput(f"no number series for {doc_type.value}; run `salesbi init-db`")
    prefix, padding, value = row
    return f"{prefix}{value:0{padding}d}"
