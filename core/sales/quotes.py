"""Quote lifecycle: draft → sent → accepted / lost / expired; cancel, duplicate, revise
(the previous revision becomes superseded) and convert to an order.

Only drafts are edited; a sent quote is changed by revising it. Only a sent quote can be
accepted or lost (the conversion rate counts quotes the customer actually saw). Expired
quotes are decided on valid-until + 1 day. Converting copies lines and prices as quoted
(floors were checked when the quote was priced).
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.access import get_customer_for, load, scope_reps
from core.actor import SALES_DOCUMENT_ROLES, Actor, Role
from core.catalog.models import Product
from core.company.models import TaxCode
from core.company.services import get_settings
from core.customers.credit import check_hold
from core.customers.models import Customer, CustomerStatus
from core.errors import DomainError, ImmutableDocument, InvalidInput, NotFound
from core.numbering import DocType, next_number
from core.sales.lines import LineInput, PricedLine, price_lines
from core.sales.models import Opportunity, Quote, QuoteLine, QuoteStatus, SalesOrder
from core.sales.orders import OrderInput, new_order
from core.types import ZERO, round_money

DECIDED = frozenset({QuoteStatus.ACCEPTED, QuoteStatus.LOST, QuoteStatus.EXPIRED})
OPEN = frozenset({QuoteStatus.DRAFT, QuoteStatus.SENT})


def get_quote_for(session: Session, actor: Actor, quote_id: int) -> Quote:
    """A quote the actor may change: a customer in scope and a rep in scope (own or team's)."""
    quote = load(session, Quote, quote_id, "quote")
    get_customer_for(session, actor, quote.customer_id, SALES_DOCUMENT_ROLES, "change quotes")
    reps = scope_reps(session, actor)
    if reps is not None and quote.rep_id not in reps:
        raise NotFound(f"quote #{quote_id} not found")
    return quote


def _set_lines(session: Session, quote: Quote, priced: list[PricedLine]) -> None:
    if quote.lines:
        # Delete the old lines first: the new ones reuse their (quote_id, line_no).
        quote.lines.clear()
        session.flush()
    quote.lines = [
        QuoteLine(line_no=i, product_id=p.product.id, quantity=p.quantity,
                  unit_price=p.unit_price, discount_pct=p.discount_pct,
                  tax_code=p.product.tax_code, net_amount=p.net_amount)
        for i, p in enumerate(priced, start=1)
    ]
    _totals(session, quote)


def _totals(session: Session, quote: Quote) -> None:
    net = sum((line.net_amount for line in quote.lines), ZERO)
    tax = sum(
        (round_money(line.net_amount * session.get_one(TaxCode, line.tax_code).rate,
                     quote.currency) for line in quote.lines),
        ZERO,
    )
    quote.net_amount, quote.tax_amount, quote.total_amount = net, tax, net + tax


def create_quote(session: Session, actor: Actor, customer_id: int, lines: list[LineInput], *,
                 quote_date: date, valid_until: date | None = None,
                 opportunity_id: int | None = None) -> Quote:
    """Create a draft quote priced for the customer."""
    customer = get_customer_for(session, actor, customer_id, SALES_DOCUMENT_ROLES, "create quotes")
    if customer.status == CustomerStatus.ARCHIVED:
        raise DomainError(f"customer {customer.ref} is archived and takes no new quotes")
    valid_until = valid_until or quote_date + timedelta(get_settings(session).quote_validity_days)
    if valid_until < quote_date:
        raise InvalidInput("valid-until is before the quote date", field="valid_until")
    if opportunity_id is not None:
        opportunity = session.get(Opportunity, opportunity_id)
        if opportunity is None or opportunity.customer_id != customer.id:
            raise InvalidInput(f"opportunity #{opportunity_id} is not {customer.ref}'s",
                               field="opportunity_id")
    # A rep quotes as themself; anyone else quotes for the customer's account manager.
    rep_id = actor.rep_id if actor.role == Role.REP else customer.account_manager_id
    if rep_id is None:
        raise InvalidInput(f"customer {customer.ref} has no account manager", field="rep_id")
    quote = Quote(
        number=next_number(session, DocType.QUOTE), customer_id=customer.id,
        opportunity_id=opportunity_id, rep_id=rep_id, status=QuoteStatus.DRAFT,
        currency=customer.currency, quote_date=quote_date, valid_until=valid_until,
    )
    _set_lines(session, quote, price_lines(session, actor, customer, lines, quote_date))
    session.add(quote)
    session.flush()
    return quote


def update_quote_lines(session: Session, actor: Actor, quote_id: int,
                       lines: list[LineInput]) -> Quote:
    """Replace a draft's lines. Sent quotes are revised; decided ones are final."""
    quote = get_quote_for(session, actor, quote_id)
    if quote.status != QuoteStatus.DRAFT:
        raise ImmutableDocument(
            f"quote {quote.number} is {quote.status} and cannot be edited"
            + ("; revise it instead" if quote.status == QuoteStatus.SENT else "")
        )
    customer = session.get_one(Customer, quote.customer_id)
    _set_lines(session, quote, price_lines(session, actor, customer, lines, quote.quote_date))
    session.flush()
    return quote


def _transition(quote: Quote, allowed: frozenset[QuoteStatus], target: QuoteStatus) -> None:
    if quote.status not in allowed:
        raise DomainError(f"quote {quote.number} is {quote.status}; it cannot become {target}")
    quote.status = target


def send_quote(session: Session, actor: Actor, quote_id: int, on: date) -> Quote:
    """Mark a draft as sent to the customer on ``on``."""
    quote = get_quote_for(session, actor, quote_id)
    _transition(quote, frozenset({QuoteStatus.DRAFT}), QuoteStatus.SENT)
    quote.sent_date = on
    session.flush()
    return quote


def accept_quote(session: Session, actor: Actor, quote_id: int, on: date) -> Quote:
    """Record the customer's acceptance; refused after valid-until."""
    quote = get_quote_for(session, actor, quote_id)
    if on > quote.valid_until:
        raise DomainError(f"quote {quote.number} expired on {quote.valid_until.isoformat()}")
    _transition(quote, frozenset({QuoteStatus.SENT}), QuoteStatus.ACCEPTED)
    quote.decided_date = on
    session.flush()
    return quote


def lose_quote(session: Session, actor: Actor, quote_id: int, on: date, reason: str) -> Quote:
    """Record that the customer declined."""
    if not reason.strip():
        raise InvalidInput("say why the quote was lost", field="lost_reason")
    quote = get_quote_for(session, actor, quote_id)
    _transition(quote, frozenset({QuoteStatus.SENT}), QuoteStatus.LOST)
    quote.decided_date, quote.lost_reason = on, reason
    session.flush()
    return quote


def cancel_quote(session: Session, actor: Actor, quote_id: int) -> Quote:
    """Withdraw an open quote."""
    quote = get_quote_for(session, actor, quote_id)
    _transition(quote, OPEN, QuoteStatus.CANCELLED)
    session.flush()
    return quote


def expire_quotes(session: Session, today: date) -> int:
    """Expire sent quotes whose valid-until has passed; decided on valid-until + 1 day."""
    stale = session.scalars(
        select(Quote).where(Quote.status == QuoteStatus.SENT, Quote.valid_until < today)
    ).all()
    for quote in stale:
        quote.status = QuoteStatus.EXPIRED
        quote.decided_date = quote.valid_until + timedelta(days=1)
    session.flush()
    return len(stale)


def _copy(session: Session, actor: Actor, source: Quote, on: date) -> Quote:
    customer = session.get_one(Customer, source.customer_id)
    lines = [LineInput(line.product_id, line.quantity, line.unit_price, line.discount_pct)
             for line in source.lines]
    return create_quote(
        session, actor, customer.id, lines, quote_date=on,
        valid_until=on + (source.valid_until - source.quote_date),
        opportunity_id=source.opportunity_id,
    )


def duplicate_quote(session: Session, actor: Actor, quote_id: int, on: date) -> Quote:
    """A new independent draft with the same lines (prices re-checked against floors)."""
    return _copy(session, actor, get_quote_for(session, actor, quote_id), on)


def revise_quote(session: Session, actor: Actor, quote_id: int, on: date) -> Quote:
    """A new draft revision; the open quote it replaces becomes superseded."""
    source = get_quote_for(session, actor, quote_id)
    if source.status not in OPEN:
        raise DomainError(f"quote {source.number} is {source.status}; only open quotes are revised")
    revision = _copy(session, actor, source, on)
    revision.rep_id = source.rep_id
    revision.revision_of_id = source.id
    revision.revision_no = source.revision_no + 1
    source.status = QuoteStatus.SUPERSEDED
    session.flush()
    return revision


def convert_to_order(
    session: Session, actor: Actor, quote_id: int, order: OrderInput
) -> SalesOrder:
    """Turn a sent or accepted quote into a draft order with the quoted lines and prices."""
    quote = get_quote_for(session, actor, quote_id)
    if quote.status == QuoteStatus.SENT:
        accept_quote(session, actor, quote_id, order.order_date)
    if quote.status != QuoteStatus.ACCEPTED:
        raise DomainError(f"quote {quote.number} is {quote.status}; only accepted quotes convert")
    if session.scalar(select(SalesOrder.id).where(SalesOrder.quote_id == quote.id)) is not None:
        raise DomainError(f"quote {quote.number} has already been converted")
    customer = get_customer_for(session, actor, quote.customer_id, SALES_DOCUMENT_ROLES,
                                "create orders")
    check_hold(customer, confirming=False, is_cash=order.is_cash_sale)
    priced = [
        PricedLine(session.get_one(Product, line.product_id), line.quantity, line.unit_price,
                   line.discount_pct, line.net_amount)
        for line in quote.lines
    ]
    return new_order(session, customer, order, priced, quote.id)
