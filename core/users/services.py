"""Users, sales reps and the reporting tree."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.actor import Actor, Role
from core.errors import InvalidInput, NotFound
from core.users.models import SalesRep, User


def reporting_tree(session: Session, rep_id: int) -> set[int]:
    """``rep_id`` and every rep reporting to it, directly or indirectly."""
    managers = dict(session.execute(select(SalesRep.id, SalesRep.manager_id)).tuples())
    tree = {rep_id}
    changed = True
    while changed:
        changed = False
        for rep, manager in managers.items():
            if manager in tree and rep not in tree:
                tree.add(rep)
                changed = True
    return tree


def actor_for(session: Session, user_id: int) -> Actor:
    """The ``Actor`` of an active user."""
    user = session.get(User, user_id)
    if user is None or not user.is_active:
        raise NotFound(f"no active user #{user_id}")
    if user.role in (Role.REP, Role.SALES_MANAGER) and user.rep_id is None:
        raise InvalidInput(f"user {user.username} has role {user.role} but no sales rep")
    return Actor(user_id=user.id, role=user.role, rep_id=user.rep_id, name=user.username)
