"""The audit log: one row per insert and delete, one per changed column, in seq order, with
the actor and the values as text."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.actor import Actor, Role
from core.audit import AuditLog, as_text
from core.company.services import set_fx_rate
from core.customers.models import HoldPolicy, HoldState
from core.customers.services import (
    CustomerInput,
    add_contact,
    create_customer,
    delete_customer,
    update_customer,
)
from core.numbering import DocType, next_number
from tests.core.world import ADMIN, D, World


def rows_for(session: Session, entity: str, entity_id: int) -> list[AuditLog]:
    return list(session.scalars(
        select(AuditLog).where(AuditLog.entity == entity, AuditLog.entity_id == entity_id)
        .order_by(AuditLog.seq)
    ))


def test_insert_update_delete_are_logged_in_order_with_the_actor(
    session: Session, world: World
) -> None:
    carol = Actor(user_id=7, role=Role.FINANCE, name="carol")
    customer = create_customer(session, carol, CustomerInput(name="Audit Co", currency="USD"))
    update_customer(session, carol, customer.id,
                    {"credit_limit": D("2500.50"), "region_code": "EAST"})
    customer_id = customer.id
    delete_customer(session, Actor(user_id=8, role=Role.ADMIN, name="dora"), customer_id)
    rows = rows_for(session, "customer", customer_id)
    assert [(r.action, r.field) for r in rows] == [
        ("insert", None), ("update", "credit_limit"), ("update", "region_code"),
        ("delete", None),
    ]
    seqs = [r.seq for r in rows]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert [r.actor for r in rows] == ["carol#7"] * 3 + ["dora#8"]
    credit_limit = rows[1]
    assert (D(credit_limit.old_value or ""), credit_limit.new_value) == (D(0), "2500.50")
    assert (rows[2].old_value, rows[2].new_value) == (None, "EAST")


def test_inserted_rows_are_logged_with_their_id(session: Session, world: World) -> None:
    contact = add_contact(session, ADMIN, world.customer.id, name="Pat Buyer")
    assert [r.action for r in rows_for(session, "contact", contact.id)] == ["insert"]


def test_enum_and_date_values_are_logged_as_text(session: Session, world: World) -> None:
    customer = world.customer
    customer.hold_state = HoldState.ON_HOLD
    customer.hold_policy = HoldPolicy.CASH_ONLY
    world.rep_a.name = "Alice Rep-Smith"
    session.flush()
    changes = {r.field: (r.old_value, r.new_value)
               for r in rows_for(session, "customer", customer.id) if r.action == "update"}
    assert changes["hold_state"] == ("none", "on_hold")
    assert changes["hold_policy"] == ("allow_nothing", "cash_only")
    assert "updated_at" not in changes
    renamed = rows_for(session, "sales_rep", world.rep_a.id)[-1]
    assert (renamed.field, renamed.old_value, renamed.new_value) == (
        "name", "Alice Rep", "Alice Rep-Smith")


def test_as_text_renders_values_plainly() -> None:
    assert as_text(None) is None
    assert as_text(D("1E+3")) == "1000"
    assert as_text(D("0.0500")) == "0.0500"
    assert as_text(date(2025, 3, 1)) == "2025-03-01"
    assert as_text(datetime(2025, 3, 1, 12, 30)) == "2025-03-01T12:30:00"
    assert as_text(HoldState.ON_HOLD) == "on_hold"
    assert as_text(True) == "True"


def test_an_unchanged_assignment_writes_no_row(session: Session, world: World) -> None:
    before = session.scalar(select(func.max(AuditLog.seq)))
    world.customer.name = world.customer.name
    session.flush()
    assert session.scalar(select(func.max(AuditLog.seq))) == before


def test_number_series_are_not_audited(session: Session) -> None:
    next_number(session, DocType.QUOTE)
    session.flush()
    assert session.scalars(
        select(AuditLog).where(AuditLog.entity == "document_sequence")
    ).all() == []


def test_changes_to_rows_keyed_by_code_are_logged(session: Session, world: World) -> None:
    set_fx_rate(session, ADMIN, "EUR", date(2025, 1, 1), D("1.25"))  # the world set 1.20
    row = session.scalars(
        select(AuditLog).where(AuditLog.entity == "fx_rate").order_by(AuditLog.seq.desc())
    ).first()
    assert row is not None
    assert (row.action, row.field, row.entity_id) == ("update", "rate", 0)
    assert (D(row.old_value or ""), D(row.new_value or "")) == (D("1.2"), D("1.25"))
