"""Two sessions race to allocate the same payment: exactly one wins, nothing is spent twice.

Session A allocates the whole payment and holds its transaction open; session B tries the
same payment against another invoice and must wait (PostgreSQL row lock, SQLite BEGIN
IMMEDIATE), then sees A's allocation and is refused.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import Engine, func, select

from core.audit import set_actor
from core.billing.allocation import allocate
from core.billing.invoicing import invoice_order
from core.billing.models import Allocation, PaymentMethod
from core.billing.payments import record_payment
from core.db import make_session_factory, transaction
from core.errors import InvalidInput
from tests.core.race import second_waits_for_first
from tests.core.test_order_to_cash import shipped_order
from tests.core.world import FINANCE, D, build_world


def test_concurrent_allocations_cannot_double_spend(isolated_engine: Engine) -> None:
    factory = make_session_factory(isolated_engine)
    with transaction(factory) as session:
        set_actor(session, "setup")
        world = build_world(session)
        first = invoice_order(session, world.alice, shipped_order(session, world).id,
                              date(2025, 3, 6))
        second = invoice_order(session, world.alice, shipped_order(session, world).id,
                               date(2025, 3, 6))
        payment = record_payment(session, FINANCE, world.customer.id, amount=first.total_amount,
                                 currency="USD", received_date=date(2025, 3, 20),
                                 method=PaymentMethod.BANK_TRANSFER)
        ids = (first.id, second.id, payment.id, first.total_amount)
    first_id, second_id, payment_id, amount = ids

    outcome: dict[str, object] = {}

    def contender() -> None:
        try:
            with transaction(factory) as other:
                allocate(other, FINANCE, invoice_id=second_id, payment_id=payment_id,
                         amount=amount, on=date(2025, 3, 21))
            outcome["b"] = "allocated"
        except InvalidInput as exc:
            outcome["b"] = exc.message

    second_waits_for_first(
        factory, lambda first: allocate(first, FINANCE, invoice_id=first_id,
                                        payment_id=payment_id, amount=amount,
                                        on=date(2025, 3, 21)),
        contender, "payment lock")

    assert "still unallocated" in str(outcome["b"])
    with factory() as check:
        total = check.scalar(select(func.sum(Allocation.amount))
                             .where(Allocation.source_payment_id == payment_id))
        count = check.scalar(select(func.count()).select_from(Allocation)
                             .where(Allocation.source_payment_id == payment_id))
    assert (total, count) == (D(amount), 1)
