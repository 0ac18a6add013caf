"""Opportunities: effective probability, audited updates, win / lose / reopen, scope."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.audit import AuditLog
from core.customers.services import archive_customer
from core.errors import DomainError, InvalidInput, NotFound
from core.sales.models import Opportunity, OpportunityStage, OpportunityState
from core.sales.opportunities import (
    create_opportunity,
    effective_probability,
    lose_opportunity,
    reopen_opportunity,
    update_opportunity,
    win_opportunity,
)
from tests.core.documents import count
from tests.core.world import ADMIN, D, World

CREATED = date(2025, 2, 1)


def opportunity(session: Session, world: World, **kwargs: object) -> Opportunity:
    values: dict[str, object] = dict(name="Widgets for 2025", amount=D("5000"),
                                     expected_close_date=date(2025, 6, 30),
                                     created_date=CREATED, **kwargs)
    return create_opportunity(session, world.alice, world.customer.id, **values)  # type: ignore[arg-type]


def test_new_opportunity_belongs_to_the_creating_rep(session: Session, world: World) -> None:
    opp = opportunity(session, world)
    assert (opp.number, opp.rep_id, opp.state, opp.currency) == (
        "OP0000001", world.rep_a.id, OpportunityState.OPEN, "USD")


def test_effective_probability_is_own_else_the_stage_default(
    session: Session, world: World
) -> None:
    own = opportunity(session, world, stage=OpportunityStage.PROPOSAL, probability=D("0.3"))
    default = opportunity(session, world, stage=OpportunityStage.PROPOSAL)
    assert effective_probability(own) == D("0.3")
    assert effective_probability(default) == D("0.50")
    update_opportunity(session, world.alice, default.id, stage=OpportunityStage.NEGOTIATION)
    assert effective_probability(default) == D("0.75")
    update_opportunity(session, world.alice, own.id, stage=OpportunityStage.NEGOTIATION)
    assert effective_probability(own) == D("0.3")


def test_update_records_stage_and_amount_in_the_audit_log(
    session: Session, world: World
) -> None:
    opp = opportunity(session, world)
    session.expire_all()  # old values come from the database, as in a fresh request
    update_opportunity(session, world.alice, opp.id, stage=OpportunityStage.PROPOSAL,
                       amount=D("7500.50"), expected_close_date=date(2025, 7, 15))
    rows = {
        row.field: (row.old_value, row.new_value)
        for row in session.scalars(
            select(AuditLog).where(AuditLog.entity == "opportunity",
                                   AuditLog.entity_id == opp.id, AuditLog.action == "update")
        )
    }
    assert rows["stage"] == ("prospecting", "proposal")
    old_amount, new_amount = rows["amount"]
    assert (D(old_amount or ""), D(new_amount or "")) == (D("5000"), D("7500.50"))
    assert rows["expected_close_date"] == ("2025-06-30", "2025-07-15")
    assert set(rows) == {"stage", "amount", "expected_close_date"}


def test_bad_update_is_refused_and_nothing_changes(session: Session, world: World) -> None:
    opp = opportunity(session, world)
    for kwargs, field in (({"amount": D("-1")}, "amount"),
                          ({"probability": D("1.5")}, "probability"),
                          ({"stage": OpportunityStage.WON}, "stage")):
        with pytest.raises(InvalidInput) as raised, session.begin_nested():
            update_opportunity(session, world.alice, opp.id, **kwargs)  # type: ignore[arg-type]
        assert raised.value.field == field
    session.refresh(opp)
    assert (opp.amount, opp.probability, opp.stage) == (
        D("5000"), None, OpportunityStage.PROSPECTING)


def test_win_closes_the_opportunity(session: Session, world: World) -> None:
    opp = opportunity(session, world)
    win_opportunity(session, world.alice, opp.id, date(2025, 5, 1))
    assert (opp.state, opp.stage, opp.closed_date) == (
        OpportunityState.WON, OpportunityStage.WON, date(2025, 5, 1))
    assert effective_probability(opp) == 1
    with pytest.raises(DomainError, match="already won"):
        win_opportunity(session, world.alice, opp.id, date(2025, 5, 2))
    with pytest.raises(DomainError, match="reopen it first"):
        update_opportunity(session, world.alice, opp.id, amount=D("1"))


def test_lose_needs_a_reason_and_a_date_after_creation(session: Session, world: World) -> None:
    opp = opportunity(session, world)
    with pytest.raises(InvalidInput) as no_reason, session.begin_nested():
        lose_opportunity(session, world.alice, opp.id, date(2025, 5, 1), " ")
    assert no_reason.value.field == "lost_reason"
    with pytest.raises(InvalidInput) as too_early, session.begin_nested():
        lose_opportunity(session, world.alice, opp.id, date(2025, 1, 31), "price")
    assert too_early.value.field == "closed_date"
    session.refresh(opp)
    assert opp.state == OpportunityState.OPEN and opp.closed_date is None
    lose_opportunity(session, world.alice, opp.id, date(2025, 5, 1), "price")
    assert (opp.state, opp.stage, opp.lost_reason) == (
        OpportunityState.LOST, OpportunityStage.LOST, "price")
    assert effective_probability(opp) == 0


def test_reopen_clears_the_close(session: Session, world: World) -> None:
    opp = opportunity(session, world)
    with pytest.raises(DomainError, match="already open"):
        reopen_opportunity(session, world.alice, opp.id, OpportunityStage.PROPOSAL)
    lose_opportunity(session, world.alice, opp.id, date(2025, 5, 1), "price")
    with pytest.raises(InvalidInput) as raised, session.begin_nested():
        reopen_opportunity(session, world.alice, opp.id, OpportunityStage.WON)
    assert raised.value.field == "stage"
    reopen_opportunity(session, world.alice, opp.id, OpportunityStage.NEGOTIATION)
    assert (opp.state, opp.stage, opp.closed_date, opp.lost_reason) == (
        OpportunityState.OPEN, OpportunityStage.NEGOTIATION, None, None)


def test_new_opportunity_must_start_open(session: Session, world: World) -> None:
    with pytest.raises(InvalidInput) as raised, session.begin_nested():
        opportunity(session, world, stage=OpportunityStage.WON)
    assert raised.value.field == "stage"
    assert count(session, Opportunity) == 0


def test_rep_cannot_create_an_opportunity_for_a_customer_out_of_scope(
    session: Session, world: World
) -> None:
    with pytest.raises(NotFound), session.begin_nested():
        create_opportunity(session, world.alice, world.eur_customer.id, name="Euro deal",
                           amount=D("1"), expected_close_date=date(2025, 6, 30),
                           created_date=CREATED)
    assert count(session, Opportunity) == 0


def test_rep_cannot_give_an_opportunity_to_another_rep(session: Session, world: World) -> None:
    with pytest.raises(InvalidInput) as raised, session.begin_nested():
        create_opportunity(session, world.bob, world.customer.id, name="South deal",
                           amount=D("1"), expected_close_date=date(2025, 6, 30),
                           created_date=CREATED, rep_id=world.rep_a.id)
    assert raised.value.field == "rep_id"
    assert count(session, Opportunity) == 0


def test_rep_cannot_change_a_colleagues_opportunity(session: Session, world: World) -> None:
    # bob reaches Acme through its South depot, but the opportunity is alice's.
    opp = opportunity(session, world)
    with pytest.raises(NotFound):
        update_opportunity(session, world.bob, opp.id, amount=D("1"))
    update_opportunity(session, world.manager, opp.id, rep_id=world.rep_b.id)
    assert opp.rep_id == world.rep_b.id


def test_archived_customer_takes_no_new_opportunities(session: Session, world: World) -> None:
    archive_customer(session, ADMIN, world.customer.id)
    with pytest.raises(DomainError, match="archived"), session.begin_nested():
        opportunity(session, world)
    assert count(session, Opportunity) == 0
