"""Quote lifecycle: send, accept, convert, revise, duplicate, expire, lose; floors."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy.orm import Session

from core.catalog.services import set_customer_price
from core.errors import DomainError, ImmutableDocument, InvalidInput, NotFound, PermissionDenied
from core.numbering import DocType, next_number
from core.sales.lines import LineInput
from core.sales.models import OrderStatus, Quote, QuoteStatus, SalesOrder
from core.sales.orders import OrderInput
from core.sales.quotes import (
    accept_quote,
    convert_to_order,
    create_quote,
    duplicate_quote,
    expire_quotes,
    lose_quote,
    revise_quote,
    send_quote,
    update_quote_lines,
)
from tests.core.documents import count
from tests.core.world import D, World

QUOTED = date(2025, 3, 1)
VALID_UNTIL = date(2025, 3, 31)


def quote(session: Session, world: World, *, valid_until: date = VALID_UNTIL) -> Quote:
    """A draft for Acme: 10 widgets at 9.50 less 5 % and 3 gadgets at list."""
    return create_quote(
        session, world.alice, world.customer.id,
        [LineInput(world.widget.id, D(10), unit_price=D("9.50"), discount_pct=D("0.05")),
         LineInput(world.gadget.id, D(3))],
        quote_date=QUOTED, valid_until=valid_until,
    )


def sent_quote(session: Session, world: World, **kwargs: date) -> Quote:
    q = quote(session, world, **kwargs)
    return send_quote(session, world.alice, q.id, QUOTED)


def test_draft_quote_is_priced_with_tax(session: Session, world: World) -> None:
    q = quote(session, world)
    assert q.number == "QT0000001" and q.status == QuoteStatus.DRAFT
    assert q.rep_id == world.rep_a.id
    widget, gadget = q.lines
    assert widget.net_amount == D("90.25")  # 10 × 9.50 × 0.95
    assert gadget.unit_price == D("33.33") and gadget.net_amount == D("99.99")
    assert q.net_amount == D("190.24")
    assert q.tax_amount == D("18.05") + D("5.00")  # 20 % of 90.25; 5 % of 99.99 = 4.9995
    assert q.total_amount == q.net_amount + q.tax_amount


def test_accepted_quote_converts_to_a_draft_order_with_the_quoted_lines(
    session: Session, world: World
) -> None:
    q = sent_quote(session, world)
    accept_quote(session, world.alice, q.id, date(2025, 3, 10))
    assert (q.status, q.decided_date) == (QuoteStatus.ACCEPTED, date(2025, 3, 10))
    order = convert_to_order(session, world.alice, q.id, OrderInput(order_date=date(2025, 3, 11)))
    assert order.status == OrderStatus.DRAFT and order.quote_id == q.id
    assert [(o.product_id, o.quantity, o.unit_price, o.discount_pct, o.net_amount)
            for o in order.lines] == [
        (x.product_id, x.quantity, x.unit_price, x.discount_pct, x.net_amount) for x in q.lines
    ]
    assert order.net_amount == q.net_amount


def test_converting_a_sent_quote_accepts_it_on_the_order_date(
    session: Session, world: World
) -> None:
    q = sent_quote(session, world)
    convert_to_order(session, world.alice, q.id, OrderInput(order_date=date(2025, 3, 12)))
    assert (q.status, q.decided_date) == (QuoteStatus.ACCEPTED, date(2025, 3, 12))


def test_a_quote_converts_only_once(session: Session, world: World) -> None:
    q = sent_quote(session, world)
    convert_to_order(session, world.alice, q.id, OrderInput(order_date=date(2025, 3, 11)))
    with pytest.raises(DomainError, match="already been converted"), session.begin_nested():
        convert_to_order(session, world.alice, q.id, OrderInput(order_date=date(2025, 3, 12)))
    assert count(session, SalesOrder) == 1


def test_draft_quote_cannot_convert(session: Session, world: World) -> None:
    q = quote(session, world)
    with pytest.raises(DomainError, match="only accepted quotes convert"), \
            session.begin_nested():
        convert_to_order(session, world.alice, q.id, OrderInput(order_date=date(2025, 3, 11)))
    assert count(session, SalesOrder) == 0


def test_accepted_quote_cannot_be_edited(session: Session, world: World) -> None:
    q = sent_quote(session, world)
    accept_quote(session, world.alice, q.id, date(2025, 3, 10))
    with pytest.raises(ImmutableDocument, match="accepted and cannot be edited"), \
            session.begin_nested():
        update_quote_lines(session, world.alice, q.id, [LineInput(world.widget.id, D(1))])
    session.expire_all()
    assert len(session.get_one(Quote, q.id).lines) == 2


def test_sent_quote_is_revised_not_edited(session: Session, world: World) -> None:
    q = sent_quote(session, world)
    with pytest.raises(ImmutableDocument, match="revise it instead"), session.begin_nested():
        update_quote_lines(session, world.alice, q.id, [LineInput(world.widget.id, D(1))])


def test_draft_lines_can_be_replaced(session: Session, world: World) -> None:
    q = quote(session, world)
    update_quote_lines(session, world.alice, q.id, [LineInput(world.widget.id, D(2))])
    assert [line.net_amount for line in q.lines] == [D("20.00")]
    assert q.net_amount == D("20.00") and q.total_amount == D("24.00")


def test_revision_supersedes_the_previous_quote(session: Session, world: World) -> None:
    q = sent_quote(session, world)
    revision = revise_quote(session, world.alice, q.id, date(2025, 3, 5))
    assert q.status == QuoteStatus.SUPERSEDED
    assert revision.status == QuoteStatus.DRAFT
    assert (revision.revision_of_id, revision.revision_no) == (q.id, 1)
    assert revision.number != q.number
    assert revision.valid_until == date(2025, 4, 4)  # same 30-day validity
    assert [line.net_amount for line in revision.lines] == [line.net_amount for line in q.lines]
    second = revise_quote(session, world.alice, revision.id, date(2025, 3, 6))
    assert (second.revision_of_id, second.revision_no) == (revision.id, 2)
    with pytest.raises(DomainError, match="only open quotes are revised"), \
            session.begin_nested():
        revise_quote(session, world.alice, q.id, date(2025, 3, 7))


def test_superseded_quote_cannot_be_accepted(session: Session, world: World) -> None:
    q = sent_quote(session, world)
    revise_quote(session, world.alice, q.id, date(2025, 3, 5))
    with pytest.raises(DomainError, match="superseded"), session.begin_nested():
        accept_quote(session, world.alice, q.id, date(2025, 3, 6))
    assert q.status == QuoteStatus.SUPERSEDED


def test_duplicate_is_an_independent_draft(session: Session, world: World) -> None:
    q = sent_quote(session, world)
    copy = duplicate_quote(session, world.alice, q.id, date(2025, 4, 10))
    assert copy.status == QuoteStatus.DRAFT and q.status == QuoteStatus.SENT
    assert (copy.revision_of_id, copy.revision_no) == (None, 0)
    assert (copy.quote_date, copy.valid_until) == (date(2025, 4, 10), date(2025, 5, 10))
    update_quote_lines(session, world.alice, copy.id, [LineInput(world.widget.id, D(1))])
    session.expire_all()
    assert len(session.get_one(Quote, q.id).lines) == 2


def test_expire_quotes_expires_only_sent_quotes_past_valid_until(
    session: Session, world: World
) -> None:
    stale = sent_quote(session, world, valid_until=date(2025, 3, 20))
    last_day = sent_quote(session, world, valid_until=date(2025, 3, 21))
    draft = quote(session, world, valid_until=date(2025, 3, 10))
    accepted = sent_quote(session, world, valid_until=date(2025, 3, 10))
    accept_quote(session, world.alice, accepted.id, date(2025, 3, 9))
    assert expire_quotes(session, date(2025, 3, 21)) == 1
    assert (stale.status, stale.decided_date) == (QuoteStatus.EXPIRED, date(2025, 3, 21))
    assert last_day.status == QuoteStatus.SENT and last_day.decided_date is None
    assert draft.status == QuoteStatus.DRAFT
    assert (accepted.status, accepted.decided_date) == (QuoteStatus.ACCEPTED, date(2025, 3, 9))
    # Running late decides on valid-until + 1, not on the day of the run.
    assert expire_quotes(session, date(2025, 5, 1)) == 1
    assert last_day.decided_date == date(2025, 3, 22)


@pytest.mark.parametrize("line", [
    {"unit_price": D("7")},
    {"discount_pct": D("0.25")},  # 10.00 less 25 % = 7.50
])
def test_rep_cannot_quote_below_the_floor_and_nothing_is_written(
    session: Session, world: World, line: dict[str, D]
) -> None:
    before = count(session, Quote)
    with pytest.raises(PermissionDenied, match="below the floor 8.0000"), \
            session.begin_nested():
        create_quote(session, world.alice, world.customer.id,
                     [LineInput(world.widget.id, D(1), **line)], quote_date=QUOTED)
    assert count(session, Quote) == before
    assert next_number(session, DocType.QUOTE) == "QT0000001"  # the number was not used


def test_rep_cannot_edit_a_draft_below_the_floor(session: Session, world: World) -> None:
    q = quote(session, world)
    with pytest.raises(PermissionDenied), session.begin_nested():
        update_quote_lines(session, world.alice, q.id,
                           [LineInput(world.widget.id, D(1), unit_price=D("7.99"))])
    session.expire_all()
    assert len(session.get_one(Quote, q.id).lines) == 2


def test_sales_manager_may_quote_below_the_floor(session: Session, world: World) -> None:
    q = create_quote(session, world.manager, world.customer.id,
                     [LineInput(world.widget.id, D(4), unit_price=D("7"))], quote_date=QUOTED)
    assert q.net_amount == D("28.00")


def test_quote_cannot_be_accepted_after_valid_until(session: Session, world: World) -> None:
    q = sent_quote(session, world)
    with pytest.raises(DomainError, match="expired on 2025-03-31"), session.begin_nested():
        accept_quote(session, world.alice, q.id, date(2025, 4, 1))
    assert q.status == QuoteStatus.SENT and q.decided_date is None
    accept_quote(session, world.alice, q.id, VALID_UNTIL)  # the last day still counts
    assert q.status == QuoteStatus.ACCEPTED


def test_losing_a_quote_requires_a_reason(session: Session, world: World) -> None:
    q = sent_quote(session, world)
    with pytest.raises(InvalidInput) as raised, session.begin_nested():
        lose_quote(session, world.alice, q.id, date(2025, 3, 10), "  ")
    assert raised.value.field == "lost_reason"
    assert q.status == QuoteStatus.SENT
    lose_quote(session, world.alice, q.id, date(2025, 3, 10), "price")
    assert (q.status, q.lost_reason, q.decided_date) == (
        QuoteStatus.LOST, "price", date(2025, 3, 10))


def test_valid_until_before_quote_date_is_refused(session: Session, world: World) -> None:
    with pytest.raises(InvalidInput) as raised, session.begin_nested():
        quote(session, world, valid_until=date(2025, 2, 28))
    assert raised.value.field == "valid_until"
    assert count(session, Quote) == 0


def test_rep_cannot_quote_a_customer_out_of_scope(session: Session, world: World) -> None:
    with pytest.raises(NotFound), session.begin_nested():
        create_quote(session, world.alice, world.eur_customer.id,
                     [LineInput(world.widget.id, D(1))], quote_date=QUOTED)
    assert count(session, Quote) == 0


def test_rep_cannot_change_a_colleagues_quote(session: Session, world: World) -> None:
    # bob reaches Acme through its South depot, but the quote is alice's.
    q = quote(session, world)
    with pytest.raises(NotFound), session.begin_nested():
        send_quote(session, world.bob, q.id, QUOTED)
    assert q.status == QuoteStatus.DRAFT
    send_quote(session, world.manager, q.id, QUOTED)
    assert q.status == QuoteStatus.SENT


def test_a_draft_must_be_sent_before_it_is_accepted_or_lost(
    session: Session, world: World
) -> None:
    q = quote(session, world)
    with pytest.raises(DomainError, match="is draft; it cannot become accepted"):
        accept_quote(session, world.alice, q.id, date(2025, 3, 10))
    with pytest.raises(DomainError, match="is draft; it cannot become lost"):
        lose_quote(session, world.alice, q.id, date(2025, 3, 10), "price")


def test_a_manager_quotes_for_the_account_manager_and_revisions_keep_the_rep(
    session: Session, world: World
) -> None:
    q = quote(session, world)
    managed = create_quote(session, world.manager, world.customer.id,
                           [LineInput(world.widget.id, D(1))], quote_date=QUOTED)
    assert managed.rep_id == world.rep_a.id
    send_quote(session, world.alice, q.id, QUOTED)
    revision = revise_quote(session, world.manager, q.id, date(2025, 3, 7))
    assert revision.rep_id == q.rep_id == world.rep_a.id


def test_a_deal_price_without_a_floor_keeps_the_products_floor(
    session: Session, world: World
) -> None:
    set_customer_price(session, world.manager, world.customer.id, world.widget.id,
                       unit_price=D("9.00"), min_price=None, valid_from=date(2025, 1, 1))
    with pytest.raises(PermissionDenied, match="below the floor 8"):
        create_quote(session, world.alice, world.customer.id,
                     [LineInput(world.widget.id, D(1), unit_price=D("0.01"))], quote_date=QUOTED)
    priced = create_quote(session, world.alice, world.customer.id,
                          [LineInput(world.widget.id, D(1))], quote_date=QUOTED)
    assert priced.lines[0].unit_price == D("9.00")


def test_a_deal_floor_above_the_price_is_refused(session: Session, world: World) -> None:
    with pytest.raises(InvalidInput, match="floor must be between 0 and the price"):
        set_customer_price(session, world.manager, world.customer.id, world.widget.id,
                           unit_price=D("9.00"), min_price=D("9.50"),
                           valid_from=date(2025, 1, 1))
