"""Customer statements: open items as of a date and the activity of a period."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy.orm import Session

from core.billing.credit_notes import CreditLineInput, issue_credit_note
from core.billing.invoicing import invoice_order
from core.billing.models import CreditReason, PaymentMethod
from core.billing.payments import AllocationInput, record_payment
from core.billing.statements import activity, balance, open_items
from core.company.services import company_today
from core.errors import NotFound
from tests.core.queries import queries_sent
from tests.core.test_order_to_cash import shipped_order
from tests.core.world import FINANCE, D, World


def history(session: Session, world: World):
    first = invoice_order(session, world.alice, shipped_order(session, world).id, date(2025, 3, 6))
    second = invoice_order(session, world.alice, shipped_order(session, world).id,
                           date(2025, 4, 2))
    record_payment(session, FINANCE, world.customer.id, amount=first.total_amount + D("20"),
                   currency="USD", received_date=date(2025, 4, 10), method=PaymentMethod.CARD,
                   allocations=[AllocationInput(first.id, first.total_amount)])
    issue_credit_note(session, FINANCE, world.customer.id, reason=CreditReason.PRICE_ADJUSTMENT,
                      credit_date=date(2025, 4, 15), invoice_id=second.id,
                      lines=[CreditLineInput(amount=D("10"), description="price fix")])
    return first, second


def test_open_items_as_of_a_date_before_and_after_payment(session: Session, world: World) -> None:
    first, second = history(session, world)
    before = open_items(session, FINANCE, world.customer.id, date(2025, 4, 5),
                        include_backdated=True)
    assert [(i.number, i.open_amount) for i in before] == [
        (first.number, first.total_amount), (second.number, second.total_amount)]
    after = open_items(session, FINANCE, world.customer.id, date(2025, 4, 30),
                       include_backdated=True)
    by_type = {i.doc_type: i for i in after}
    assert set(by_type) == {"invoice", "payment"}
    assert by_type["invoice"].open_amount == second.total_amount - D("10")
    assert by_type["payment"].open_amount == D("-20.00")  # unapplied cash
    assert sum(i.open_amount for i in after) == balance(session, world.customer.id,
                                                        date(2025, 4, 30))


def test_activity_balances_roll_forward(session: Session, world: World) -> None:
    first, second = history(session, world)
    period = activity(session, FINANCE, world.customer.id, date(2025, 4, 1), date(2025, 4, 30),
                      include_backdated=True)
    assert period.opening_balance == first.total_amount
    assert [i.doc_type for i in period.items] == ["invoice", "payment", "credit_note"]
    assert period.closing_balance == (first.total_amount + second.total_amount
                                      - (first.total_amount + D("20")) - D("10"))
    assert period.closing_balance == balance(session, world.customer.id, date(2025, 4, 30))


def test_reps_see_only_their_customers_statements(session: Session, world: World) -> None:
    history(session, world)
    other = world.eur_customer  # managed by bob
    with pytest.raises(NotFound):
        open_items(session, world.alice, other.id, date(2025, 4, 30))


def test_as_of_a_closed_day_leaves_out_entries_posted_later(
    session: Session, world: World
) -> None:
    history(session, world)  # dated March-April 2025, posted today
    closed_day = date(2025, 4, 30)
    assert open_items(session, FINANCE, world.customer.id, closed_day) == []
    today = company_today(session)
    known_now = open_items(session, FINANCE, world.customer.id, today)
    backdated = open_items(session, FINANCE, world.customer.id, today, include_backdated=True)
    assert known_now == backdated and len(known_now) == 2


def test_a_statement_reads_the_same_number_of_queries_however_many_documents(
    session: Session, world: World
) -> None:
    """The open amounts come with each kind of document's query (a correlated sum of its
    allocations), not one query per document (a customer with 750 invoices took 1.8 s at
    10M lines)."""
    def read() -> None:
        open_items(session, FINANCE, world.customer.id, date(2025, 4, 30),
                   include_backdated=True)
        activity(session, FINANCE, world.customer.id, date(2025, 4, 1), date(2025, 4, 30),
                 include_backdated=True)

    history(session, world)
    few = queries_sent(session, read)
    history(session, world)
    history(session, world)
    assert len(open_items(session, FINANCE, world.customer.id, date(2025, 4, 30),
                          include_backdated=True)) == 6
    assert queries_sent(session, read) == few
