"""Sales orders: attribution fixed at confirmation, exchange rate, amendments, cancellation,
input validation and invoicing milestones."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy.orm import Session

from core.customers.models import LocationKind
from core.customers.services import add_location, update_customer
from core.errors import CreditBlocked, DomainError, InvalidInput
from core.sales.lines import LineInput
from core.sales.models import OrderMilestone, OrderStatus, SalesOrder, SalesOrderLine
from core.sales.orders import (
    OrderInput,
    add_milestone,
    amend_order_line,
    cancel_order,
    confirm_order,
    create_order,
)
from tests.core.documents import count, ship_lines, widget_order
from tests.core.world import ADMIN, FINANCE, D, World

MARCH = date(2025, 3, 3)


# --- attribution --------------------------------------------------------------------------

def test_order_to_an_overridden_ship_to_is_attributed_to_its_rep_and_region(
    session: Session, world: World
) -> None:
    order = widget_order(session, world, world.alice, 1, ship_to_id=world.ship_to.id)
    assert (order.rep_id, order.region_code, order.channel_code) == (
        world.rep_b.id, "SOUTH", "DIRECT")
    assert order.confirmed_at is not None


def test_order_without_ship_to_is_attributed_to_the_account_manager(
    session: Session, world: World
) -> None:
    order = widget_order(session, world, world.alice, 1)
    assert (order.rep_id, order.region_code, order.channel_code) == (
        world.rep_a.id, "NORTH", "DIRECT")


def test_ship_to_without_override_falls_back_to_the_customer(
    session: Session, world: World
) -> None:
    dock = add_location(session, ADMIN, world.customer.id, kind=LocationKind.SHIP_TO,
                        name="Acme Dock")
    order = widget_order(session, world, world.alice, 1, ship_to_id=dock.id)
    assert (order.rep_id, order.region_code) == (world.rep_a.id, "NORTH")


def test_reassigning_the_customer_later_does_not_move_the_confirmed_order(
    session: Session, world: World
) -> None:
    order = widget_order(session, world, world.alice, 1)
    world.customer.account_manager_id = world.rep_b.id
    update_customer(session, ADMIN, world.customer.id, {"region_code": "EAST"})
    session.expire_all()
    order = session.get_one(SalesOrder, order.id)
    assert (order.rep_id, order.region_code) == (world.rep_a.id, "NORTH")


def test_draft_order_has_no_attribution_yet(session: Session, world: World) -> None:
    order = widget_order(session, world, world.alice, 1, confirm=False)
    assert (order.status, order.rep_id, order.region_code) == (OrderStatus.DRAFT, None, None)


def test_confirming_twice_is_refused(session: Session, world: World) -> None:
    order = widget_order(session, world, world.alice, 1)
    with pytest.raises(DomainError, match="not a draft"):
        confirm_order(session, world.alice, order.id, today=MARCH)


@pytest.mark.parametrize(("order_date", "rate"), [
    (date(2024, 6, 1), D("1.1")),
    (date(2025, 1, 1), D("1.2")),
    (date(2025, 3, 3), D("1.2")),
])
def test_foreign_order_takes_the_rate_of_its_order_date(
    session: Session, world: World, order_date: date, rate: D
) -> None:
    order = create_order(session, world.manager, world.eur_customer.id,
                         OrderInput(order_date=order_date),
                         [LineInput(world.widget.id, D(5), unit_price=D("9"))])
    confirm_order(session, world.manager, order.id, today=order_date)
    assert order.currency == "EUR"
    assert order.fx_rate == rate
    assert order.net_amount == D("45.00")


# --- amendments ---------------------------------------------------------------------------

def test_amend_below_shipped_quantity_is_refused(session: Session, world: World) -> None:
    order = widget_order(session, world, world.alice, 10)
    ship_lines(session, world.alice, order, {order.lines[0].id: D(6)}, date(2025, 3, 4))
    with pytest.raises(InvalidInput) as raised, session.begin_nested():
        amend_order_line(session, world.alice, order.id, 1, D(5), today=MARCH)
    assert raised.value.field == "quantity"
    assert "6" in raised.value.message
    session.expire_all()
    assert session.get_one(SalesOrder, order.id).lines[0].quantity == D(10)
    amend_order_line(session, world.alice, order.id, 1, D(6), today=MARCH)
    assert order.net_amount == D("60.00")


def test_amend_up_passes_credit_control_on_the_new_exposure(
    session: Session, world: World
) -> None:
    update_customer(session, FINANCE, world.customer.id, {"credit_limit": D("1000")})
    order = widget_order(session, world, world.alice, 50)  # 500.00
    # 900.00 is within the limit: the increase must not be counted twice.
    amend_order_line(session, world.alice, order.id, 1, D(90), today=MARCH)
    assert order.net_amount == D("900.00")
    with pytest.raises(CreditBlocked) as raised, session.begin_nested():
        amend_order_line(session, world.alice, order.id, 1, D(110), today=MARCH)
    assert "= 1,100.00 USD > credit limit 1,000.00 USD" in raised.value.message
    session.expire_all()
    order = session.get_one(SalesOrder, order.id)
    assert (order.lines[0].quantity, order.net_amount) == (D(90), D("900.00"))


def test_amending_a_draft_skips_credit_control(session: Session, world: World) -> None:
    update_customer(session, FINANCE, world.customer.id, {"credit_limit": D("100")})
    order = widget_order(session, world, world.alice, 5, confirm=False)
    amend_order_line(session, world.alice, order.id, 1, D(50), today=MARCH)
    assert order.net_amount == D("500.00")


def test_amending_to_zero_is_refused(session: Session, world: World) -> None:
    order = widget_order(session, world, world.alice, 5)
    with pytest.raises(InvalidInput, match="cancel the line instead"), session.begin_nested():
        amend_order_line(session, world.alice, order.id, 1, D(0), today=MARCH)


# --- cancellation -------------------------------------------------------------------------

def test_cancel_with_nothing_shipped_cancels_the_order(session: Session, world: World) -> None:
    order = widget_order(session, world, world.alice, 10)
    cancel_order(session, world.alice, order.id, date(2025, 3, 5))
    assert (order.status, order.cancelled_date) == (OrderStatus.CANCELLED, date(2025, 3, 5))
    assert order.lines[0].cancelled_quantity == D(10)
    with pytest.raises(DomainError, match="already cancelled"):
        cancel_order(session, world.alice, order.id, date(2025, 3, 6))


def test_cancel_after_partial_shipment_cancels_only_the_rest(
    session: Session, world: World
) -> None:
    order = create_order(session, world.alice, world.customer.id, OrderInput(order_date=MARCH),
                         [LineInput(world.widget.id, D(10)), LineInput(world.gadget.id, D(3))])
    confirm_order(session, world.alice, order.id, today=MARCH)
    widget, gadget = order.lines
    ship_lines(session, world.alice, order, {widget.id: D(4)}, date(2025, 3, 4))
    cancel_order(session, world.alice, order.id, date(2025, 3, 5))
    assert order.status == OrderStatus.CONFIRMED and order.cancelled_date is None
    assert (widget.quantity, widget.cancelled_quantity) == (D(10), D(6))
    assert (gadget.quantity, gadget.cancelled_quantity) == (D(3), D(3))


# --- validation ---------------------------------------------------------------------------

@pytest.mark.parametrize(("field", "line", "header"), [
    ("quantity", {"quantity": D(-1)}, {}),
    ("quantity", {"quantity": D(0)}, {}),
    ("discount_pct", {"discount_pct": D(1)}, {}),
    ("discount_pct", {"discount_pct": D("-0.1")}, {}),
    ("unit_price", {"unit_price": D("-1")}, {}),
    ("product_id", {"product_id": 999_999}, {}),
    ("promised_ship_date", {}, {"promised_ship_date": date(2025, 3, 2)}),
    ("discount_amount", {}, {"discount_amount": D("10.01")}),
])
def test_bad_order_input_names_the_field_and_writes_nothing(
    session: Session, world: World, field: str, line: dict[str, object],
    header: dict[str, object]
) -> None:
    values: dict[str, object] = {"product_id": world.widget.id, "quantity": D(1), **line}
    before = (count(session, SalesOrder), count(session, SalesOrderLine))
    with pytest.raises(InvalidInput) as raised, session.begin_nested():
        create_order(session, world.manager, world.customer.id,
                     OrderInput(order_date=MARCH, **header),  # type: ignore[arg-type]
                     [LineInput(**values)])  # type: ignore[arg-type]
    assert raised.value.field == field
    assert (count(session, SalesOrder), count(session, SalesOrderLine)) == before


def test_ship_to_of_another_customer_is_refused(session: Session, world: World) -> None:
    elsewhere = add_location(session, ADMIN, world.eur_customer.id, kind=LocationKind.SHIP_TO,
                             name="Euro Lager")
    bill_to = add_location(session, ADMIN, world.customer.id, kind=LocationKind.BILL_TO,
                           name="Acme HQ")
    for location in (elsewhere, bill_to):
        with pytest.raises(InvalidInput) as raised, session.begin_nested():
            widget_order(session, world, world.alice, 1, confirm=False, ship_to_id=location.id)
        assert raised.value.field == "ship_to_id"
    assert count(session, SalesOrder) == 0


# --- milestones ---------------------------------------------------------------------------

def test_milestones_cannot_exceed_the_order_net(session: Session, world: World) -> None:
    order = widget_order(session, world, world.alice, 10)  # 100.00
    add_milestone(session, world.alice, order.id, description="30 % on signature",
                  net_amount=D("30"), tax_code="STD")
    with pytest.raises(InvalidInput) as raised, session.begin_nested():
        add_milestone(session, world.alice, order.id, description="too much",
                      net_amount=D("70.01"), tax_code="STD")
    assert raised.value.field == "net_amount"
    assert "would total 100.01 but the order is 100.00" in raised.value.message
    assert count(session, OrderMilestone) == 1
    last = add_milestone(session, world.alice, order.id, description="70 % on delivery",
                         net_amount=D("70"), tax_code="STD")
    assert last.seq == 2
    assert sum(m.net_amount for m in order.milestones) == order.net_amount


def test_milestone_with_unknown_tax_code_is_refused(session: Session, world: World) -> None:
    order = widget_order(session, world, world.alice, 10)
    with pytest.raises(InvalidInput) as raised, session.begin_nested():
        add_milestone(session, world.alice, order.id, description="x", net_amount=D("1"),
                      tax_code="NOPE")
    assert raised.value.field == "tax_code"


def test_cancelling_a_fully_shipped_order_says_there_is_nothing_to_cancel(
    session: Session, world: World
) -> None:
    order = widget_order(session, world, world.alice, 5)
    ship_lines(session, world.alice, order, {order.lines[0].id: D(5)}, date(2025, 3, 4))
    with pytest.raises(DomainError, match="there is nothing to cancel"):
        cancel_order(session, world.alice, order.id, date(2025, 3, 5))
