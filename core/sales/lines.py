"""Priced document lines shared by quotes and orders: validation, price and floor."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy.orm import Session

from core.actor import Actor
from core.catalog.models import Product
from core.catalog.pricing import check_floor, line_net_amount, resolve_price, validate_line
from core.customers.models import Customer
from core.errors import InvalidInput


@dataclass(frozen=True)
class LineInput:
    """A line as the user enters it; no ``unit_price`` means the customer's price applies."""

    product_id: int
    quantity: Decimal
    unit_price: Decimal | None = None
    discount_pct: Decimal = Decimal(0)


@dataclass(frozen=True)
class PricedLine:
    """A validated line with its price, tax code and net amount (document currency)."""

    product: Product
    quantity: Decimal
    unit_price: Decimal
    discount_pct: Decimal
    net_amount: Decimal


def price_lines(
    session: Session, actor: Actor, customer: Customer, lines: list[LineInput], on: date
) -> list[PricedLine]:
    """Validate and price lines for ``customer``; floors are enforced per the actor's role."""
    if not lines:
        raise InvalidInput("a document needs at least one line", field="lines")
    priced = []
    for line in lines:
        product = session.get(Product, line.product_id)
        if product is None:
            raise InvalidInput(f"unknown product #{line.product_id}", field="product_id")
        if not product.is_active:
            raise InvalidInput(f"product {product.sku} is no longer sold", field="product_id")
        price = resolve_price(session, customer, product, on)
        unit_price = price.unit_price if line.unit_price is None else Decimal(line.unit_price)
        quantity, discount = Decimal(line.quantity), Decimal(line.discount_pct)
        validate_line(quantity, unit_price, discount)
        check_floor(actor, product, price, unit_price, discount)
        priced.append(
            PricedLine(product, quantity, unit_price, discount,
                       line_net_amount(quantity, unit_price, discount, customer.currency))
        )
    return priced
