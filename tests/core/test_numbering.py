"""Document numbers: prefix + zero padding, gapless invoices, no duplicates under
concurrency."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import date

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from core.billing.models import Invoice
from core.db import make_session_factory, transaction
from core.errors import InvalidInput
from core.numbering import DocType, DocumentSequence, configure_sequence, next_number
from tests.core.documents import count, posted_invoice
from tests.core.world import ADMIN, World


class PostingFailed(Exception):
    """Stands in for anything failing after the invoice took its number."""


def test_numbers_are_prefix_and_zero_padded_sequence(session: Session) -> None:
    assert next_number(session, DocType.QUOTE) == "QT0000001"
    assert next_number(session, DocType.QUOTE) == "QT0000002"
    assert next_number(session, DocType.ORDER) == "SO0000001"
    assert next_number(session, DocType.CUSTOMER) == "C000001"


def test_configured_prefix_and_padding_apply_to_new_numbers(session: Session) -> None:
    first = next_number(session, DocType.QUOTE)
    configure_sequence(session, ADMIN, DocType.QUOTE, prefix="Q-", padding=4)
    assert next_number(session, DocType.QUOTE) == "Q-0002"
    assert first == "QT0000001"
    assert next_number(session, DocType.ORDER) == "SO0000001"  # other series unchanged


@pytest.mark.parametrize(("prefix", "padding"), [("", 7), ("X" * 17, 7), ("Q", 0), ("Q", 13)])
def test_bad_sequence_configuration_is_refused(session: Session, prefix: str,
                                               padding: int) -> None:
    with pytest.raises(InvalidInput), session.begin_nested():
        configure_sequence(session, ADMIN, DocType.QUOTE, prefix=prefix, padding=padding)
    assert next_number(session, DocType.QUOTE) == "QT0000001"


def test_rolled_back_posting_does_not_use_up_an_invoice_number(
    session: Session, world: World
) -> None:
    with pytest.raises(PostingFailed), session.begin_nested():
        invoice = posted_invoice(session, world, 1, date(2025, 3, 3))
        assert invoice.number == "INV0000001"
        raise PostingFailed
    assert count(session, Invoice) == 0
    assert posted_invoice(session, world, 2, date(2025, 3, 4)).number == "INV0000001"
    assert session.get_one(DocumentSequence, "invoice").last_value == 1


def test_concurrent_transactions_get_distinct_consecutive_numbers(
    isolated_engine: Engine,
) -> None:
    factory = make_session_factory(isolated_engine)

    def take_numbers(_: int) -> list[str]:
        numbers = []
        for _ in range(25):
            with transaction(factory) as session:
                numbers.append(next_number(session, DocType.QUOTE))
        return numbers

    with ThreadPoolExecutor(max_workers=4) as pool:
        issued = [n for batch in pool.map(take_numbers, range(4)) for n in batch]
    assert len(set(issued)) == 100
    assert sorted(issued) == [f"QT{i:07d}" for i in range(1, 101)]
    with factory() as session:
        assert session.get_one(DocumentSequence, "quote").last_value == 100
