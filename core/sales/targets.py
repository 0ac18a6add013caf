"""Monthly net-sales targets per rep (base currency). A team's or region's target is the
sum of its reps' targets; pro-rating a partial month happens in the metric layer."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.access import authorize, load, scope_reps
from core.actor import Actor, Role
from core.company.services import get_settings
from core.errors import InvalidInput, NotFound
from core.sales.models import SalesTarget
from core.types import round_money
from core.users.models import SalesRep

TARGET_ROLES = frozenset({Role.SALES_MANAGER, Role.ADMIN})


def set_target(session: Session, actor: Actor, rep_id: int, month: date,
               amount: Decimal) -> SalesTarget:
    """Set (or replace) a rep's target for the month containing ``month``.

    Sales managers set targets for their reporting tree; admins for anyone.
    """
    authorize(session, actor, TARGET_ROLES, "set sales targets")
    load(session, SalesRep, rep_id, "sales rep")
    reps = scope_reps(session, actor)
    if reps is not None and rep_id not in reps:
        raise NotFound(f"sales rep #{rep_id} not found")
    if amount < 0:
        raise InvalidInput("a target cannot be negative", field="amount")
    first_day = month.replace(day=1)
    amount = round_money(Decimal(amount), get_settings(session).base_currency)
    target = session.scalars(
        select(SalesTarget).where(SalesTarget.rep_id == rep_id, SalesTarget.month == first_day)
    ).one_or_none()
    if target is None:
        target = SalesTarget(rep_id=rep_id, month=first_day, amount=amount)
        session.add(target)
    else:
        target.amount = amount
    session.flush()
    return target
