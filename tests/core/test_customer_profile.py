"""The live customer profile and the contacts due, within the actor's scope."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy.orm import Session

from core.customers.models import InteractionKind
from core.customers.profile import contacts_due, customer_profile
from core.customers.services import log_interaction
from core.errors import NotFound
from tests.core.world import EXECUTIVE, World


def test_profile_shows_the_next_contact_set_by_the_latest_logged_interaction(
        session: Session, world: World) -> None:
    acme = world.customer.id
    log_interaction(session, world.alice, acme, kind=InteractionKind.CALL,
                    occurred_on=date(2026, 3, 1), next_contact_date=date(2026, 3, 15))
    log_interaction(session, world.alice, acme, kind=InteractionKind.EMAIL,
                    occurred_on=date(2026, 2, 20), next_contact_date=date(2026, 4, 1),
                    promise_to_pay_date=date(2026, 3, 31))
    profile = customer_profile(session, world.alice, acme)
    assert profile.account_manager == "Alice Rep"
    assert [i.occurred_on for i in profile.interactions] == [date(2026, 3, 1),
                                                               date(2026, 2, 20)]
    assert profile.next_contact_date == date(2026, 4, 1)
    assert profile.promise_to_pay_date == date(2026, 3, 31)


def test_a_rep_cannot_read_a_customer_outside_their_scope(session: Session,
                                                          world: World) -> None:
    with pytest.raises(NotFound):
        customer_profile(session, world.alice, world.eur_customer.id)
    assert customer_profile(session, world.bob, world.customer.id).customer.name == "Acme Ltd"


def test_contacts_due_lists_customers_in_scope_up_to_the_date(session: Session,
                                                              world: World) -> None:
    log_interaction(session, world.alice, world.customer.id, kind=InteractionKind.CALL,
                    occurred_on=date(2026, 3, 1), next_contact_date=date(2026, 3, 10))
    log_interaction(session, world.bob, world.eur_customer.id, kind=InteractionKind.CALL,
                    occurred_on=date(2026, 3, 1), next_contact_date=date(2026, 3, 5))
    assert [d.customer_name for d in contacts_due(session, world.alice, date(2026, 3, 31))] \
        == ["Acme Ltd"]
    assert [d.customer_name for d in contacts_due(session, world.bob, date(2026, 3, 31))] \
        == ["Euro GmbH", "Acme Ltd"]
    assert contacts_due(session, world.manager, date(2026, 3, 7))[0].next_contact_date \
        == date(2026, 3, 5)
    assert contacts_due(session, EXECUTIVE, date(2026, 3, 1)) == []
