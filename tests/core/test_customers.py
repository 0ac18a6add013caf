"""Customer master data: creation, currency lock, delete vs archive, taking ownership,
holds and row scope."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.actor import Actor, Role
from core.audit import AuditLog
from core.catalog.models import CustomerPrice
from core.catalog.services import set_customer_price
from core.customers.models import (
    Contact,
    Customer,
    CustomerContactState,
    CustomerStatus,
    HoldPolicy,
    HoldState,
    Interaction,
    InteractionKind,
    Location,
    LocationKind,
)
from core.customers.services import (
    CustomerInput,
    add_contact,
    add_location,
    archive_customer,
    create_customer,
    delete_customer,
    log_interaction,
    put_on_hold,
    release_hold,
    take_ownership,
    update_customer,
)
from core.errors import CreditBlocked, DomainError, InvalidInput, NotFound, PermissionDenied
from core.sales.lines import LineInput
from core.sales.models import SalesOrder
from core.sales.quotes import create_quote
from tests.core.documents import count, widget_order
from tests.core.world import ADMIN, FINANCE, D, World


def alices_customer(session: Session, world: World, name: str = "Beta Inc") -> Customer:
    """A customer of alice with no ship-to override (bob has no way into it)."""
    return create_customer(session, ADMIN, CustomerInput(
        name=name, currency="USD", credit_limit=D("5000"), region_code="NORTH",
        account_manager_id=world.rep_a.id,
    ))


def unassigned_customer(session: Session) -> Customer:
    return create_customer(session, ADMIN, CustomerInput(name="Orphan Co", currency="USD"))


# --- creation -----------------------------------------------------------------------------

def test_rep_creating_a_customer_becomes_its_account_manager(
    session: Session, world: World
) -> None:
    customer = create_customer(session, world.bob, CustomerInput(
        name="Bobs Bikes", currency="usd", account_manager_id=world.rep_a.id,
    ))
    assert customer.account_manager_id == world.rep_b.id
    assert customer.currency == "USD"
    assert customer.status == CustomerStatus.ACTIVE
    assert customer.ref == "C000003"  # the world made C000001 and C000002


def test_admin_creating_a_customer_keeps_the_chosen_account_manager(
    session: Session, world: World
) -> None:
    assert alices_customer(session, world).account_manager_id == world.rep_a.id


@pytest.mark.parametrize(("field", "changes"), [
    ("currency", {"currency": "ZZZ"}),
    ("terms_code", {"terms_code": "NET999"}),
    ("region_code", {"region_code": "ATLANTIS"}),
    ("segment_code", {"segment_code": "GIANT"}),
    ("credit_limit", {"credit_limit": D("-1")}),
    ("name", {"name": "  "}),
])
def test_bad_customer_input_names_the_field_and_writes_nothing(
    session: Session, world: World, field: str, changes: dict[str, object]
) -> None:
    values: dict[str, object] = {"name": "New Co", "currency": "USD", **changes}
    before = count(session, Customer)
    with pytest.raises(InvalidInput) as raised, session.begin_nested():
        create_customer(session, ADMIN, CustomerInput(**values))  # type: ignore[arg-type]
    assert raised.value.field == field
    assert count(session, Customer) == before


def test_unknown_account_manager_is_refused(session: Session, world: World) -> None:
    with pytest.raises(InvalidInput) as raised, session.begin_nested():
        create_customer(session, ADMIN, CustomerInput(name="X", currency="USD",
                                                      account_manager_id=999_999))
    assert raised.value.field == "account_manager_id"


def test_executives_cannot_create_customers(session: Session, world: World) -> None:
    executive = Actor(user_id=None, role=Role.EXECUTIVE, name="exec")
    with pytest.raises(PermissionDenied, match="may not create customers"):
        create_customer(session, executive, CustomerInput(name="X", currency="USD"))


@pytest.mark.parametrize(("field", "changes"), [
    ("billing_status", {"billing_status": "bogus"}),
    ("rating_override", {"rating_override": "E"}),
    ("channel_code", {"channel_code": "CARRIER_PIGEON"}),
])
def test_bad_customer_edit_names_the_field_and_changes_nothing(
    session: Session, world: World, field: str, changes: dict[str, object]
) -> None:
    with pytest.raises(InvalidInput) as raised, session.begin_nested():
        update_customer(session, FINANCE, world.customer.id, {"name": "Renamed", **changes})
    assert raised.value.field == field
    session.refresh(world.customer)
    assert world.customer.name == "Acme Ltd"


# --- currency lock ------------------------------------------------------------------------

def test_currency_can_change_before_any_transaction(session: Session, world: World) -> None:
    customer = alices_customer(session, world)
    update_customer(session, ADMIN, customer.id, {"currency": "eur"})
    assert customer.currency == "EUR"


def test_currency_is_locked_once_the_customer_has_transactions(
    session: Session, world: World
) -> None:
    create_quote(session, world.alice, world.customer.id, [LineInput(world.widget.id, D(1))],
                 quote_date=date(2025, 3, 1))
    widget_order(session, world, world.alice, 1, confirm=False)
    with pytest.raises(DomainError) as raised, session.begin_nested():
        update_customer(session, ADMIN, world.customer.id, {"currency": "EUR"})
    assert raised.value.field == "currency"
    assert "locked at USD" in raised.value.message
    assert "1 quotes" in raised.value.message and "1 orders" in raised.value.message
    session.refresh(world.customer)
    assert world.customer.currency == "USD"


def test_restating_the_same_currency_is_not_a_change(session: Session, world: World) -> None:
    widget_order(session, world, world.alice, 1, confirm=False)
    update_customer(session, ADMIN, world.customer.id, {"currency": "usd", "name": "Acme plc"})
    assert (world.customer.currency, world.customer.name) == ("USD", "Acme plc")


def test_fields_outside_the_form_cannot_be_edited(session: Session, world: World) -> None:
    with pytest.raises(InvalidInput, match="account_manager_id"), session.begin_nested():
        update_customer(session, ADMIN, world.customer.id,
                        {"account_manager_id": world.rep_b.id})
    session.refresh(world.customer)
    assert world.customer.account_manager_id == world.rep_a.id


# --- delete vs archive --------------------------------------------------------------------

def test_customer_with_transactions_cannot_be_deleted_but_can_be_archived(
    session: Session, world: World
) -> None:
    widget_order(session, world, world.alice, 2)
    with pytest.raises(DomainError) as raised, session.begin_nested():
        delete_customer(session, ADMIN, world.customer.id)
    message = raised.value.message
    assert "cannot be deleted" in message and "1 orders" in message
    assert "archive it instead" in message
    assert session.get(Customer, world.customer.id) is not None

    archive_customer(session, ADMIN, world.customer.id)
    session.expire_all()
    customer = session.get_one(Customer, world.customer.id)
    assert customer.status == CustomerStatus.ARCHIVED
    assert count(session, SalesOrder) == 1  # history kept


def test_archived_customer_takes_no_new_orders_or_quotes(
    session: Session, world: World
) -> None:
    archive_customer(session, ADMIN, world.customer.id)
    with pytest.raises(CreditBlocked, match="archived"), session.begin_nested():
        widget_order(session, world, world.alice, 1, confirm=False)
    with pytest.raises(DomainError, match="archived"), session.begin_nested():
        create_quote(session, world.alice, world.customer.id,
                     [LineInput(world.widget.id, D(1))], quote_date=date(2025, 3, 1))
    assert count(session, SalesOrder) == 0


def test_customer_without_transactions_is_deleted_with_its_master_data(
    session: Session, world: World
) -> None:
    customer = alices_customer(session, world)
    contact = add_contact(session, ADMIN, customer.id, name="Pat Buyer", email="pat@beta.test")
    add_location(session, ADMIN, customer.id, kind=LocationKind.SHIP_TO, name="Beta Dock")
    log_interaction(session, ADMIN, customer.id, kind=InteractionKind.CALL,
                    occurred_on=date(2025, 3, 1), contact_id=contact.id)
    set_customer_price(session, world.manager, customer.id, world.widget.id, unit_price=D("9"),
                       min_price=D("8.5"), valid_from=date(2025, 1, 1))
    delete_customer(session, ADMIN, customer.id)
    session.expire_all()
    assert session.get(Customer, customer.id) is None
    for model in (CustomerContactState, Interaction, Contact, Location, CustomerPrice):
        assert session.scalars(select(model).where(model.customer_id == customer.id)).all() == []


def test_only_admins_delete_customers(session: Session, world: World) -> None:
    customer = alices_customer(session, world)
    with pytest.raises(PermissionDenied), session.begin_nested():
        delete_customer(session, world.alice, customer.id)
    assert session.get(Customer, customer.id) is not None


# --- taking ownership ---------------------------------------------------------------------

def test_rep_takes_an_unassigned_customer(session: Session, world: World) -> None:
    customer = unassigned_customer(session)
    take_ownership(session, world.bob, customer.id)
    assert customer.account_manager_id == world.rep_b.id


def test_rep_takes_a_customer_whose_manager_left(session: Session, world: World) -> None:
    customer = alices_customer(session, world)
    world.rep_a.is_active = False
    session.flush()
    take_ownership(session, world.bob, customer.id)
    assert customer.account_manager_id == world.rep_b.id


def test_rep_cannot_take_another_reps_customer(session: Session, world: World) -> None:
    customer = alices_customer(session, world)
    # Out of bob's scope, so he learns nothing about it, not even who manages it.
    with pytest.raises(NotFound, match="not found"), session.begin_nested():
        take_ownership(session, world.bob, customer.id)
    session.refresh(customer)
    assert customer.account_manager_id == world.rep_a.id


def test_rep_covering_a_ship_to_is_told_who_manages_the_customer(
    session: Session, world: World
) -> None:
    # bob covers Acme's South depot, so Acme is in his scope but managed by alice.
    with pytest.raises(PermissionDenied, match="managed by Alice Rep"), session.begin_nested():
        take_ownership(session, world.bob, world.customer.id)
    assert world.customer.account_manager_id == world.rep_a.id


def test_manager_takes_a_customer_of_their_team(session: Session, world: World) -> None:
    customer = alices_customer(session, world)
    take_ownership(session, world.manager, customer.id)
    assert customer.account_manager_id == world.head.id


def test_manager_of_another_team_cannot_take_the_customer(
    session: Session, world: World
) -> None:
    outsider = Actor(user_id=None, role=Role.SALES_MANAGER, rep_id=world.other_team_rep.id,
                     name="otto")
    customer = alices_customer(session, world)
    with pytest.raises(NotFound), session.begin_nested():
        take_ownership(session, outsider, customer.id)
    session.refresh(customer)
    assert customer.account_manager_id == world.rep_a.id


def test_finance_cannot_take_ownership(session: Session, world: World) -> None:
    with pytest.raises(PermissionDenied, match="take ownership"):
        take_ownership(session, FINANCE, unassigned_customer(session).id)


# --- holds --------------------------------------------------------------------------------

def test_release_hold_is_recorded_in_the_audit_log(session: Session, world: World) -> None:
    put_on_hold(session, FINANCE, world.customer.id, policy=HoldPolicy.PENDING_ONLY,
                reason="cheque bounced")
    release_hold(session, world.manager, world.customer.id)
    assert world.customer.hold_state == HoldState.NONE
    assert world.customer.hold_reason is None
    row = session.scalars(
        select(AuditLog)
        .where(AuditLog.entity == "customer", AuditLog.entity_id == world.customer.id,
               AuditLog.field == "hold_state")
        .order_by(AuditLog.seq.desc())
    ).first()
    assert row is not None
    assert (row.action, row.old_value, row.new_value) == ("update", "on_hold", "none")
    assert row.actor == world.manager.label


def test_rep_cannot_put_a_customer_on_hold(session: Session, world: World) -> None:
    with pytest.raises(PermissionDenied, match="role rep"), session.begin_nested():
        put_on_hold(session, world.alice, world.customer.id, policy=HoldPolicy.ALLOW_NOTHING,
                    reason="late payer")
    session.refresh(world.customer)
    assert world.customer.hold_state == HoldState.NONE


def test_hold_needs_a_reason(session: Session, world: World) -> None:
    with pytest.raises(InvalidInput) as raised, session.begin_nested():
        put_on_hold(session, FINANCE, world.customer.id, policy=HoldPolicy.ALLOW_NOTHING,
                    reason=" ")
    assert raised.value.field == "reason"
    session.refresh(world.customer)
    assert world.customer.hold_state == HoldState.NONE


def test_releasing_a_customer_not_on_hold_is_refused(session: Session, world: World) -> None:
    with pytest.raises(DomainError, match="is not on hold"):
        release_hold(session, FINANCE, world.customer.id)


# --- row scope ----------------------------------------------------------------------------

def test_rep_cannot_edit_a_customer_outside_their_scope(session: Session, world: World) -> None:
    customer = alices_customer(session, world)
    with pytest.raises(NotFound), session.begin_nested():
        update_customer(session, world.bob, customer.id, {"name": "Hijacked"})
    session.refresh(customer)
    assert customer.name == "Beta Inc"


def test_rep_can_edit_a_customer_whose_ship_to_they_cover(
    session: Session, world: World
) -> None:
    # Acme's account manager is alice, but its South depot is overridden to bob.
    update_customer(session, world.bob, world.customer.id, {"name": "Acme South"})
    assert world.customer.name == "Acme South"


def test_manager_can_edit_the_customers_of_their_team(session: Session, world: World) -> None:
    customer = alices_customer(session, world)
    update_customer(session, world.manager, customer.id, {"segment_code": "MIDMARKET"})
    assert customer.segment_code == "MIDMARKET"


def test_only_finance_changes_credit_limits_and_terms(session: Session, world: World) -> None:
    customer = alices_customer(session, world)
    for field, value in (("credit_limit", D("99999")), ("terms_code", "NET60")):
        with pytest.raises(PermissionDenied, match="may not change credit limits"), \
                session.begin_nested():
            update_customer(session, world.alice, customer.id, {field: value})
    assert customer.credit_limit != D("99999") and customer.terms_code != "NET60"
    update_customer(session, FINANCE, customer.id, {"credit_limit": D("7500")})
    assert customer.credit_limit == D("7500")
