"""The live customer profile, the contacts due and the credit standings (limit, hold
state), within the actor's scope."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.actor import Actor, Role
from core.customers.models import Customer, HoldPolicy, HoldState, InteractionKind
from core.customers.profile import contacts_due, credit_standings, customer_profile
from core.customers.services import log_interaction, put_on_hold
from core.errors import NotFound
from core.types import AMOUNT_SCALE, scaled_integer
from tests.core.world import EXECUTIVE, FINANCE, World


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
    # The newest interaction decides: a later call moves Acme's next contact out of March.
    log_interaction(session, world.alice, world.customer.id, kind=InteractionKind.CALL,
                    occurred_on=date(2026, 3, 2), next_contact_date=date(2026, 4, 15))
    assert contacts_due(session, world.alice, date(2026, 3, 31)) == []
    for actor in (world.bob, EXECUTIVE):
        assert [d.customer_name for d in contacts_due(session, actor, date(2026, 3, 31))] \
            == ["Euro GmbH"]


def _standings(session: Session, actor: Actor) -> list[Any]:
    return list(session.execute(credit_standings(session, actor)).all())


def test_credit_standings_show_the_limit_and_the_hold_as_they_are_now_in_scope(
        session: Session, world: World) -> None:
    acme, euro = world.customer.id, world.eur_customer.id
    put_on_hold(session, FINANCE, euro, policy=HoldPolicy.CASH_ONLY, reason="overdue")
    everyone = {s.customer_id: s for s in _standings(session, EXECUTIVE)}
    assert (everyone[euro].currency, everyone[euro].credit_limit) == ("EUR", Decimal("50000"))
    assert (everyone[euro].hold_state, everyone[euro].hold_policy,
            everyone[euro].hold_reason) == (HoldState.ON_HOLD, HoldPolicy.CASH_ONLY, "overdue")
    assert everyone[acme].hold_state == HoldState.NONE
    # Alice manages Acme; Bob manages Euro and Acme's ship-to; the manager both.
    assert [s.customer_id for s in _standings(session, world.alice)] == [acme]
    assert [s.customer_id for s in _standings(session, world.bob)] == [acme, euro]
    assert [s.customer_id for s in _standings(session, world.manager)] == [acme, euro]
    no_rep = Actor(user_id=None, role=Role.REP, name="nobody")
    assert _standings(session, no_rep) == []


def test_a_scaled_integer_reads_the_exact_amount_on_both_databases(session: Session,
                                                                    world: World) -> None:
    world.customer.credit_limit = Decimal("1234.567")
    session.flush()
    dialect = session.get_bind().dialect.name
    read = session.execute(select(scaled_integer(Customer.credit_limit, dialect))
                           .where(Customer.id == world.customer.id)).scalar_one()
    assert read == 1_234_567 == int(world.customer.credit_limit.scaleb(AMOUNT_SCALE))
    with pytest.raises(TypeError, match="not a ScaledNumeric"):
        scaled_integer(Customer.name, dialect)
