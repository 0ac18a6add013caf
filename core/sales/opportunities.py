"""Opportunity lifecycle: create, update stage/amount/close date, win, lose, reopen.

Every change is recorded field by field in the audit log, which the ETL turns into
opportunity versions (``fct_opportunity_history``).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy.orm import Session

from core.access import get_customer_for, load, scope_reps
from core.actor import SALES_DOCUMENT_ROLES, Actor
from core.customers.models import CustomerStatus
from core.errors import DomainError, InvalidInput, NotFound
from core.numbering import DocType, next_number
from core.sales.models import Opportunity, OpportunityStage, OpportunityState

STAGE_PROBABILITY = {
    OpportunityStage.PROSPECTING: Decimal("0.10"),
    OpportunityStage.QUALIFICATION: Decimal("0.25"),
    OpportunityStage.PROPOSAL: Decimal("0.50"),
    OpportunityStage.NEGOTIATION: Decimal("0.75"),
    OpportunityStage.WON: Decimal("1"),
    OpportunityStage.LOST: Decimal("0"),
}
OPEN_STAGES = frozenset(STAGE_PROBABILITY) - {OpportunityStage.WON, OpportunityStage.LOST}


def effective_probability(opportunity: Opportunity) -> Decimal:
    """The opportunity's own probability, else its stage's default."""
    if opportunity.probability is not None:
        return opportunity.probability
    return STAGE_PROBABILITY[opportunity.stage]


def _validate(amount: Decimal | None, probability: Decimal | None) -> None:
    if amount is not None and amount < 0:
        raise InvalidInput("the amount cannot be negative", field="amount")
    if probability is not None and not Decimal(0) <= probability <= Decimal(1):
        raise InvalidInput("probability is between 0 and 100 %", field="probability")


def create_opportunity(
    session: Session,
    actor: Actor,
    customer_id: int,
    *,
    name: str,
    amount: Decimal,
    expected_close_date: date,
    created_date: date,
    stage: OpportunityStage = OpportunityStage.PROSPECTING,
    probability: Decimal | None = None,
    rep_id: int | None = None,
) -> Opportunity:
    """Open an opportunity for a customer in scope; a rep's own opportunities are theirs."""
    customer = get_customer_for(session, actor, customer_id, SALES_DOCUMENT_ROLES,
                                "create opportunities")
    if customer.status == CustomerStatus.ARCHIVED:
        raise DomainError(f"customer {customer.ref} is archived and takes no new opportunities")
    if OpportunityStage(stage) not in OPEN_STAGES:
        raise InvalidInput("a new opportunity starts in an open stage", field="stage")
    if not name.strip():
        raise InvalidInput("an opportunity needs a name", field="name")
    _validate(amount, probability)
    owner = actor.rep_id if rep_id is None else rep_id
    owner = owner if owner is not None else customer.account_manager_id
    reps = scope_reps(session, actor)
    if owner is None or (reps is not None and owner not in reps):
        raise InvalidInput("the opportunity's rep must be in your team", field="rep_id")
    opportunity = Opportunity(
        number=next_number(session, DocType.OPPORTUNITY), customer_id=customer.id, rep_id=owner,
        name=name, stage=OpportunityStage(stage), probability=probability, amount=amount,
        currency=customer.currency, expected_close_date=expected_close_date,
        created_date=created_date,
    )
    session.add(opportunity)
    session.flush()
    return opportunity


def get_opportunity_for(session: Session, actor: Actor, opportunity_id: int) -> Opportunity:
    """An opportunity the actor may change (own or team's)."""
    opportunity = load(session, Opportunity, opportunity_id, "opportunity")
    get_customer_for(session, actor, opportunity.customer_id, SALES_DOCUMENT_ROLES,
                     "change opportunities")
    reps = scope_reps(session, actor)
    if reps is not None and opportunity.rep_id not in reps:
        raise NotFound(f"opportunity #{opportunity_id} not found")
    return opportunity


def update_opportunity(
    session: Session,
    actor: Actor,
    opportunity_id: int,
    *,
    stage: OpportunityStage | None = None,
    amount: Decimal | None = None,
    probability: Decimal | None = None,
    expected_close_date: date | None = None,
    rep_id: int | None = None,
) -> Opportunity:
    """Move an open opportunity: stage, amount, probability, close date or owner."""
    opportunity = get_opportunity_for(session, actor, opportunity_id)
    if opportunity.state != OpportunityState.OPEN:
        raise DomainError(f"{opportunity.number} is {opportunity.state}; reopen it first")
    if stage is not None and OpportunityStage(stage) not in OPEN_STAGES:
        raise InvalidInput("use win or lose to close an opportunity", field="stage")
    _validate(amount, probability)
    if rep_id is not None:
        reps = scope_reps(session, actor)
        if reps is not None and rep_id not in reps:
            raise InvalidInput("the new rep must be in your team", field="rep_id")
        opportunity.rep_id = rep_id
    if stage is not None:
        opportunity.stage = OpportunityStage(stage)
    if amount is not None:
        opportunity.amount = amount
    if probability is not None:
        opportunity.probability = probability
    if expected_close_date is not None:
        opportunity.expected_close_date = expected_close_date
    session.flush()
    return opportunity


def win_opportunity(session: Session, actor: Actor, opportunity_id: int, on: date) -> Opportunity:
    """Close as won on ``on``."""
    return _close(session, actor, opportunity_id, on, OpportunityState.WON, None)


def lose_opportunity(
    session: Session, actor: Actor, opportunity_id: int, on: date, reason: str
) -> Opportunity:
    """Close as lost on ``on``, with the reason."""
    if not reason.strip():
        raise InvalidInput("say why the opportunity was lost", field="lost_reason")
    return _close(session, actor, opportunity_id, on, OpportunityState.LOST, reason)


def _close(session: Session, actor: Actor, opportunity_id: int, on: date,
           state: OpportunityState, reason: str | None) -> Opportunity:
    opportunity = get_opportunity_for(session, actor, opportunity_id)
    if opportunity.state != OpportunityState.OPEN:
        raise DomainError(f"{opportunity.number} is already {opportunity.state}")
    if on < opportunity.created_date:
        raise InvalidInput("an opportunity cannot close before it was created", field="closed_date")
    opportunity.state = state
    opportunity.stage = OpportunityStage(state.value)
    opportunity.closed_date = on
    opportunity.lost_reason = reason
    session.flush()
    return opportunity


def reopen_opportunity(
    session: Session, actor: Actor, opportunity_id: int, stage: OpportunityStage
) -> Opportunity:
    """Reopen a closed opportunity in an open stage."""
    opportunity = get_opportunity_for(session, actor, opportunity_id)
    if opportunity.state == OpportunityState.OPEN:
        raise DomainError(f"{opportunity.number} is already open")
    if OpportunityStage(stage) not in OPEN_STAGES:
        raise InvalidInput("reopen into an open stage", field="stage")
    opportunity.state = OpportunityState.OPEN
    opportunity.stage = OpportunityStage(stage)
    opportunity.closed_date = None
    opportunity.lost_reason = None
    session.flush()
    return opportunity


