"""Prices and floors: which unit price applies to a customer, and whether a net price may
go below the floor.

Price resolution order: the customer's deal sheet, then a price list in the customer's
currency, then the product's list price (converted at the day's rate for customers in
another currency). The floor is the minimum net unit price: the deal sheet's floor, else the
price list's, else the product's (converted likewise).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from core.actor import PRICE_OVERRIDE_ROLES, Actor
from core.catalog.models import CustomerPrice, PriceList, PriceListItem, Product
from core.company.services import fx_rate, get_settings
from core.customers.models import Customer
from core.errors import InvalidInput, PermissionDenied
from core.types import PRICE_SCALE, round_money

ONE = Decimal(1)


@dataclass(frozen=True)
class Price:
    """A unit price in the customer's currency and the floor that applies to it."""

    unit_price: Decimal
    floor: Decimal | None


def resolve_price(session: Session, customer: Customer, product: Product, on: date) -> Price:
    """The price and floor of ``product`` for ``customer`` on ``on``.

    The price comes from the first source that has one; the floor from the first source
    that sets one, so a deal sheet without a floor never removes the product's floor.
    """
    deal = session.scalars(
        select(CustomerPrice)
        .where(
            CustomerPrice.customer_id == customer.id,
            CustomerPrice.product_id == product.id,
            CustomerPrice.valid_from <= on,
            or_(CustomerPrice.valid_to.is_(None), CustomerPrice.valid_to >= on),
        )
        .order_by(CustomerPrice.valid_from.desc())
    ).first()
    item = session.scalars(
        select(PriceListItem)
        .join(PriceList, PriceList.id == PriceListItem.price_list_id)
        .where(
            PriceListItem.product_id == product.id,
            PriceList.currency == customer.currency,
            PriceList.valid_from <= on,
            or_(PriceList.valid_to.is_(None), PriceList.valid_to >= on),
        )
        .order_by(PriceList.valid_from.desc())
    ).first()
    rate = Decimal(1)
    if customer.currency != get_settings(session).base_currency:
        rate = fx_rate(session, customer.currency, on)
    list_price = _to_price(product.list_price / rate)
    product_floor = None if product.min_price is None else _to_price(product.min_price / rate)
    prices = [x.unit_price for x in (deal, item) if x is not None] + [list_price]
    floors = [x.min_price for x in (deal, item) if x is not None] + [product_floor]
    return Price(prices[0], next((f for f in floors if f is not None), None))


def _to_price(value: Decimal) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-PRICE_SCALE), rounding=ROUND_HALF_UP)


def net_unit_price(unit_price: Decimal, discount_pct: Decimal) -> Decimal:
    """Unit price after the line discount, to price precision."""
    return _to_price(unit_price * (ONE - discount_pct))


def check_floor(actor: Actor, product: Product, price: Price, unit_price: Decimal,
                discount_pct: Decimal) -> None:
    """Refuse a net price below the floor unless the actor's role may override prices."""
    if price.floor is None:
        return
    net = net_unit_price(unit_price, discount_pct)
    if net < price.floor and actor.role not in PRICE_OVERRIDE_ROLES:
        raise PermissionDenied(
            f"{product.sku}: net unit price {net} is below the floor {price.floor}; "
            "a sales manager must approve it",
        )


def line_net_amount(quantity: Decimal, unit_price: Decimal, discount_pct: Decimal,
                    currency: str) -> Decimal:
    """round_half_up(quantity × unit_price × (1 − discount)) to the currency's minor unit."""
    return round_money(quantity * unit_price * (ONE - discount_pct), currency)


def validate_line(quantity: Decimal, unit_price: Decimal, discount_pct: Decimal) -> None:
    """Quantities are positive, prices not negative, discounts in [0, 1)."""
    if quantity <= 0:
        raise InvalidInput(f"quantity must be positive, got {quantity}", field="quantity")
    if unit_price < 0:
        raise InvalidInput(f"unit price cannot be negative, got {unit_price}", field="unit_price")
    if not Decimal(0) <= discount_pct < ONE:
        raise InvalidInput(
            f"discount must be between 0 and 100 %, got {discount_pct * 100}%",
            field="discount_pct",
        )
