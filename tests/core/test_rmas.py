"""RMAs of every type through requested → received → inspected → resolved."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.billing.balances import invoice_open_amount
from core.billing.invoicing import invoice_order
from core.billing.models import CreditNote, CreditReason, Invoice
from core.errors import DomainError, InvalidInput, PermissionDenied
from core.fulfilment.models import Disposition, RmaState, RmaType, Shipment
from core.fulfilment.rmas import create_rma, inspect_rma, receive_rma, resolve_rma
from tests.core.test_order_to_cash import shipped_order
from tests.core.world import FINANCE, D, World


def invoiced(session: Session, world: World) -> Invoice:
    order = shipped_order(session, world)
    return invoice_order(session, world.alice, order.id, date(2025, 3, 6))


def returned(session: Session, world: World, rma_type: RmaType, disposition: Disposition):
    invoice = invoiced(session, world)
    widget_line = invoice.lines[0]
    rma = create_rma(session, world.alice, invoice.id, rma_type=rma_type,
                     lines={widget_line.id: D(2)}, requested_date=date(2025, 3, 10),
                     reason="damaged")
    receive_rma(session, world.alice, rma.id, date(2025, 3, 12))
    inspect_rma(session, world.alice, rma.id, date(2025, 3, 13), disposition)
    return invoice, rma


def credit_notes(session: Session, rma_id: int) -> list[CreditNote]:
    return list(session.scalars(select(CreditNote).where(CreditNote.rma_id == rma_id)))


def test_return_and_refund_restocked_credits_and_reverses_cost(
    session: Session, world: World
) -> None:
    invoice, rma = returned(session, world, RmaType.RETURN_AND_REFUND, Disposition.RESTOCK)
    resolve_rma(session, FINANCE, rma.id, date(2025, 3, 14))
    (note,) = credit_notes(session, rma.id)
    assert note.reason == CreditReason.RETURN
    assert note.lines[0].quantity == 2 and note.lines[0].is_restock
    assert note.lines[0].net_amount == D("19.00")  # 2/6 of the widget line's 57.00 net
    assert note.lines[0].cost_amount == D("13.00")
    assert invoice_open_amount(session, invoice) == invoice.total_amount - note.total_amount
    assert rma.state == RmaState.RESOLVED and rma.resolved_date == date(2025, 3, 14)


def test_scrapped_return_credits_without_cost_reversal(session: Session, world: World) -> None:
    _, rma = returned(session, world, RmaType.RETURN_AND_REFUND, Disposition.SCRAP)
    resolve_rma(session, FINANCE, rma.id, date(2025, 3, 14))
    (note,) = credit_notes(session, rma.id)
    assert not note.lines[0].is_restock and note.lines[0].cost_amount == 0


def test_refund_only_resolves_without_goods(session: Session, world: World) -> None:
    invoice = invoiced(session, world)
    rma = create_rma(session, world.alice, invoice.id, rma_type=RmaType.REFUND_ONLY,
                     lines={invoice.lines[1].id: D(1)}, requested_date=date(2025, 3, 10),
                     reason="missing item")
    with pytest.raises(DomainError, match="cannot be received"):
        receive_rma(session, world.alice, rma.id, date(2025, 3, 11))
    resolve_rma(session, FINANCE, rma.id, date(2025, 3, 11))
    assert len(credit_notes(session, rma.id)) == 1


def test_refunds_need_finance(session: Session, world: World) -> None:
    _, rma = returned(session, world, RmaType.RETURN_AND_REFUND, Disposition.RESTOCK)
    with pytest.raises(PermissionDenied):
        resolve_rma(session, world.alice, rma.id, date(2025, 3, 14))


@pytest.mark.parametrize("rma_type", [RmaType.RETURN_WITHOUT_REFUND, RmaType.REPAIR])
def test_types_without_refund_create_no_credit_note(
    session: Session, world: World, rma_type: RmaType
) -> None:
    _, rma = returned(session, world, rma_type, Disposition.RESTOCK)
    resolve_rma(session, world.alice, rma.id, date(2025, 3, 14))
    assert credit_notes(session, rma.id) == []
    assert rma.state == RmaState.RESOLVED


def test_replacement_ships_at_cost_without_invoice(session: Session, world: World) -> None:
    _, rma = returned(session, world, RmaType.REPLACEMENT, Disposition.SCRAP)
    resolve_rma(session, world.alice, rma.id, date(2025, 3, 14))
    shipment = session.get(Shipment, rma.replacement_shipment_id)
    assert shipment is not None and shipment.is_replacement
    assert shipment.shipped_date == date(2025, 3, 14)
    assert shipment.lines[0].quantity == 2 and shipment.lines[0].unit_cost == D("6.5")
    assert credit_notes(session, rma.id) == []


def test_reject_resolves_with_nothing(session: Session, world: World) -> None:
    invoice = invoiced(session, world)
    rma = create_rma(session, world.alice, invoice.id, rma_type=RmaType.REJECT,
                     lines={invoice.lines[0].id: D(1)}, requested_date=date(2025, 3, 10),
                     reason="out of warranty")
    resolve_rma(session, world.alice, rma.id, date(2025, 3, 11))
    assert rma.state == RmaState.RESOLVED and credit_notes(session, rma.id) == []


def test_cannot_return_more_than_invoiced(session: Session, world: World) -> None:
    invoice = invoiced(session, world)
    with pytest.raises(InvalidInput, match="return between 0 and 6"):
        create_rma(session, world.alice, invoice.id, rma_type=RmaType.RETURN_AND_REFUND,
                   lines={invoice.lines[0].id: D(7)}, requested_date=date(2025, 3, 10),
                   reason="too many")


def test_resolving_before_inspection_is_refused(session: Session, world: World) -> None:
    invoice = invoiced(session, world)
    rma = create_rma(session, world.alice, invoice.id, rma_type=RmaType.RETURN_AND_REFUND,
                     lines={invoice.lines[0].id: D(1)}, requested_date=date(2025, 3, 10),
                     reason="broken")
    with pytest.raises(DomainError, match="inspect the goods first"):
        resolve_rma(session, FINANCE, rma.id, date(2025, 3, 11))


def test_open_and_kept_rmas_hold_their_quantity(session: Session, world: World) -> None:
    invoice = invoiced(session, world)
    widget_line = invoice.lines[0]  # 6 invoiced
    first = create_rma(session, world.alice, invoice.id, rma_type=RmaType.REPLACEMENT,
                       lines={widget_line.id: D(4)}, requested_date=date(2025, 3, 10),
                       reason="broken")
    with pytest.raises(InvalidInput, match="return between 0 and 2"), session.begin_nested():
        create_rma(session, world.alice, invoice.id, rma_type=RmaType.REPLACEMENT,
                   lines={widget_line.id: D(4)}, requested_date=date(2025, 3, 10),
                   reason="broken again")
    receive_rma(session, world.alice, first.id, date(2025, 3, 11))
    inspect_rma(session, world.alice, first.id, date(2025, 3, 12), Disposition.SCRAP)
    resolve_rma(session, world.alice, first.id, date(2025, 3, 13))
    with pytest.raises(InvalidInput, match="return between 0 and 2"), session.begin_nested():
        create_rma(session, world.alice, invoice.id, rma_type=RmaType.RETURN_AND_REFUND,
                   lines={widget_line.id: D(3)}, requested_date=date(2025, 3, 14),
                   reason="third")
