"""Property tests for money arithmetic: pro-rating, line amounts, totals, allocation."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from core.billing.allocation import apply_credit
from core.billing.amounts import line_amounts, totals
from core.billing.balances import invoice_open_amount, payment_unallocated
from core.billing.invoicing import invoice_order
from core.billing.models import PaymentMethod
from core.billing.payments import record_payment
from core.catalog.pricing import line_net_amount
from core.errors import InvalidInput
from core.types import prorate, round_money
from tests.core.test_order_to_cash import shipped_order
from tests.core.world import FINANCE, World

cents = st.integers(min_value=0, max_value=10**9).map(lambda c: Decimal(c).scaleb(-2))
weights = st.lists(cents, min_size=1, max_size=12)
rates = st.sampled_from([Decimal("0"), Decimal("0.05"), Decimal("0.2"), Decimal("0.075")])
fx = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("200"), places=6)
currencies = st.sampled_from(["USD", "JPY", "KWD", "EUR"])


@given(total=cents, parts=weights, currency=currencies)
def test_prorate_shares_sum_exactly_to_the_total(total: Decimal, parts: list[Decimal],
                                                 currency: str) -> None:
    shares = prorate(total, parts, currency)
    assert sum(shares, Decimal(0)) == round_money(total, currency)
    assert all(share == round_money(share, currency) for share in shares)


@given(parts=weights, data=st.data())
def test_prorate_shares_are_within_one_minor_unit_of_exact(parts: list[Decimal],
                                                           data: st.DataObject) -> None:
    total = data.draw(st.integers(0, int(sum(parts) * 100)).map(lambda c: Decimal(c) / 100))
    weight_sum = sum(parts, Decimal(0))
    if weight_sum == 0:
        return
    shares = prorate(total, parts, "USD")
    largest = max(range(len(parts)), key=lambda i: (parts[i], -i))
    for i, (share, weight) in enumerate(zip(shares, parts, strict=True)):
        exact = total * weight / weight_sum
        if i != largest:
            assert abs(share - exact) <= Decimal("0.005")


@given(parts=weights, data=st.data(), rate=fx, currency=currencies)
def test_document_total_is_the_sum_of_its_rounded_lines(parts: list[Decimal],
                                                        data: st.DataObject, rate: Decimal,
                                                        currency: str) -> None:
    amounts = [round_money(p, currency) for p in parts]
    tax_rates = data.draw(st.lists(rates, min_size=len(amounts), max_size=len(amounts)))
    discount = data.draw(st.integers(0, int(sum(amounts) * 100)).map(lambda c: Decimal(c) / 100))
    freight = data.draw(cents)
    lines = line_amounts(amounts, tax_rates, discount=discount, freight=freight,
                         currency=currency, rate=rate, base_currency="USD")
    head = totals(lines)
    assert head.net == sum(amounts, Decimal(0)) - round_money(discount, currency)
    assert head.freight == round_money(freight, currency)
    assert head.total == head.net + head.tax + head.freight
    assert head.base_total == sum((x.base_net + x.base_tax + x.base_freight for x in lines),
                                  Decimal(0))
    for line, tax_rate in zip(lines, tax_rates, strict=True):
        assert line.tax == (line.net * tax_rate).quantize(
            Decimal(1).scaleb(-{"JPY": 0, "KWD": 3}.get(currency, 2)), rounding=ROUND_HALF_UP)
        assert abs(line.base_net - line.net * rate) <= Decimal("0.005")


@given(quantity=st.integers(1, 10_000), price=st.integers(0, 10**8), discount=st.integers(0, 99))
def test_line_net_is_half_up_of_exact_product(quantity: int, price: int, discount: int) -> None:
    unit_price = Decimal(price).scaleb(-4)
    pct = Decimal(discount) / 100
    exact = Decimal(quantity) * unit_price * (1 - pct)
    net = line_net_amount(Decimal(quantity), unit_price, pct, "USD")
    assert abs(net - exact) <= Decimal("0.005")
    assert net == exact.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


@pytest.mark.parametrize("dialect", ["sqlite"], indirect=True)
@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(requests=st.lists(st.integers(1, 30_000).map(lambda c: Decimal(c) / 100), min_size=1,
                         max_size=8))
def test_allocations_never_exceed_open_amounts(session: Session, world: World,
                                               requests: list[Decimal]) -> None:
    with session.begin_nested() as example:
        first = invoice_order(session, world.alice, shipped_order(session, world).id,
                              date(2025, 3, 6))
        second = invoice_order(session, world.alice, shipped_order(session, world).id,
                               date(2025, 3, 6))
        payment = record_payment(session, FINANCE, world.customer.id, amount=Decimal("300"),
                                 currency="USD", received_date=date(2025, 3, 20),
                                 method=PaymentMethod.CARD)
        for i, amount in enumerate(requests):
            target = first if i % 2 == 0 else second
            try:
                with session.begin_nested():
                    apply_credit(session, payment=payment, credit_note=None, invoice=target,
                                 amount=amount, on=date(2025, 3, 21))
            except InvalidInput:
                pass
            for invoice in (first, second):
                assert 0 <= invoice_open_amount(session, invoice) <= invoice.total_amount
            assert 0 <= payment_unallocated(session, payment) <= payment.amount
        example.rollback()
