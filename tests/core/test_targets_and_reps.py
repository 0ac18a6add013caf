"""Sales reps and their monthly targets."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy.orm import Session

from core.errors import InvalidInput, NotFound, PermissionDenied
from core.sales.targets import set_target
from core.users.services import create_rep, reporting_tree
from tests.core.world import ADMIN, D, World


def test_admin_adds_a_rep_under_a_manager(session: Session, world: World) -> None:
    rep = create_rep(session, ADMIN, code="newb", name="Nina New", manager_id=world.rep_a.id,
                     region_code="EAST")
    assert rep.code == "NEWB"
    assert rep.id in reporting_tree(session, world.head.id)
    with pytest.raises(InvalidInput, match="taken"):
        create_rep(session, ADMIN, code="NEWB", name="Again")
    with pytest.raises(PermissionDenied):
        create_rep(session, world.manager, code="X1", name="Not allowed")


def test_manager_sets_team_targets_per_month(session: Session, world: World) -> None:
    target = set_target(session, world.manager, world.rep_a.id, date(2025, 3, 17), D("12000"))
    assert target.month == date(2025, 3, 1)
    again = set_target(session, world.manager, world.rep_a.id, date(2025, 3, 1), D("15000"))
    assert again.id == target.id and again.amount == D("15000")
    with pytest.raises(NotFound):
        set_target(session, world.manager, world.other_team_rep.id, date(2025, 3, 1), D("1"))
    with pytest.raises(PermissionDenied):
        set_target(session, world.alice, world.rep_a.id, date(2025, 3, 1), D("1"))
    with pytest.raises(InvalidInput, match="negative"):
        set_target(session, world.manager, world.rep_a.id, date(2025, 3, 1), D("-1"))
