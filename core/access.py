"""Authorisation of core writes: the role must allow the action and the customer must be
in the actor's row scope (reps: customers they manage; managers: their reporting tree)."""

from __future__ import annotations

from collections.abc import Collection
from typing import TypeVar

from sqlalchemy import ColumnElement, exists, or_, select
from sqlalchemy.orm import Session

from core.actor import SALES_ROLES, Actor, Role
from core.audit import set_actor
from core.customers.models import Customer, Location
from core.errors import NotFound, PermissionDenied
from core.users.services import reporting_tree

T = TypeVar("T")


def load(session: Session, model: type[T], row_id: int, label: str) -> T:
    """The ``model`` row ``row_id``, or ``NotFound`` naming it as ``label``."""
    row = session.get(model, row_id)
    if row is None:
        raise NotFound(f"{label} #{row_id} not found")
    return row


def require_role(actor: Actor, roles: Collection[Role], action: str) -> None:
    """Refuse ``action`` unless the actor's role is one of ``roles``."""
    if actor.role not in roles:
        raise PermissionDenied(f"role {actor.role} may not {action}")


def authorize(session: Session, actor: Actor, roles: Collection[Role], action: str) -> None:
    """Refuse ``action`` unless the role allows it; name the actor as the author of the
    changes this session will record in the audit log."""
    require_role(actor, roles, action)
    set_actor(session, actor.label)


def scope_reps(session: Session, actor: Actor) -> set[int] | None:
    """Rep ids whose customers the actor may touch; ``None`` means every customer."""
    if actor.role not in SALES_ROLES:
        return None
    if actor.rep_id is None:
        return set()
    if actor.role == Role.SALES_MANAGER:
        return reporting_tree(session, actor.rep_id)
    return {actor.rep_id}


def customers_in_scope(session: Session, actor: Actor) -> ColumnElement[bool] | None:
    """The SQL condition on ``Customer`` for customers the actor may touch — managed
    (account manager or a ship-to override) by a rep in scope; ``None`` means every
    customer. An empty scope matches nothing."""
    reps = scope_reps(session, actor)
    if reps is None:
        return None
    override = exists().where(Location.customer_id == Customer.id,
                              Location.rep_override_id.in_(reps))
    return or_(Customer.account_manager_id.in_(reps), override)


def customer_in_scope(session: Session, actor: Actor, customer: Customer) -> bool:
    """True when the customer is managed (account manager or ship-to override) in scope."""
    condition = customers_in_scope(session, actor)
    if condition is None:
        return True
    return session.scalar(select(Customer.id).where(Customer.id == customer.id, condition)
                          ) is not None


def get_customer_for(
    session: Session, actor: Actor, customer_id: int, roles: Collection[Role], action: str
) -> Customer:
    """Load a customer the actor may ``action``; out-of-scope customers look not found."""
    authorize(session, actor, roles, action)
    customer = session.get(Customer, customer_id)
    if customer is None or not customer_in_scope(session, actor, customer):
        raise NotFound(f"customer #{customer_id} not found")
    return customer
