"""Company settings: base currency locked after the first posting, aging buckets, FX rates."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy.orm import Session

from core.company.services import (
    change_base_currency,
    fx_rate,
    get_settings,
    set_aging_buckets,
    set_fx_rate,
)
from core.errors import DomainError, InvalidInput, PermissionDenied
from tests.core.documents import posted_invoice
from tests.core.world import ADMIN, FINANCE, D, World


def test_base_currency_changes_until_the_first_posting(session: Session, world: World) -> None:
    change_base_currency(session, ADMIN, "eur")
    assert get_settings(session).base_currency == "EUR"
    change_base_currency(session, ADMIN, "USD")
    posted_invoice(session, world, 1, date(2025, 3, 3))
    with pytest.raises(DomainError, match="cannot change: documents are posted"):
        change_base_currency(session, ADMIN, "EUR")
    assert get_settings(session).base_currency == "USD"


def test_only_admins_change_settings(session: Session, world: World) -> None:
    with pytest.raises(PermissionDenied):
        change_base_currency(session, FINANCE, "EUR")
    with pytest.raises(PermissionDenied):
        set_aging_buckets(session, world.manager, [30, 60])


@pytest.mark.parametrize("buckets", [[], [30, 30], [60, 30], [0, 30], [-5]])
def test_aging_buckets_must_increase(session: Session, world: World, buckets: list[int]) -> None:
    with pytest.raises(InvalidInput, match="increasing order"):
        set_aging_buckets(session, ADMIN, buckets)
    set_aging_buckets(session, ADMIN, [15, 45, 90])
    assert get_settings(session).aging_buckets == "15,45,90"


def test_fx_rate_is_the_latest_on_or_before_the_date(session: Session, world: World) -> None:
    assert fx_rate(session, "EUR", date(2024, 12, 31)) == D("1.1")
    assert fx_rate(session, "EUR", date(2025, 6, 1)) == D("1.2")
    assert fx_rate(session, "USD", date(2025, 6, 1)) == 1
    with pytest.raises(InvalidInput, match="no exchange rate for EUR on or before 2023-12-31"):
        fx_rate(session, "EUR", date(2023, 12, 31))
    with pytest.raises(InvalidInput, match="must be positive"):
        set_fx_rate(session, FINANCE, "EUR", date(2025, 7, 1), D("0"))
    with pytest.raises(PermissionDenied):
        set_fx_rate(session, world.alice, "EUR", date(2025, 7, 1), D("1.3"))
