"""Catalogue maintenance: products, price lists and customer deal-sheet prices."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.access import authorize, get_customer_for
from core.actor import PRICE_OVERRIDE_ROLES, Actor, Role
from core.catalog.models import CustomerPrice, PriceList, PriceListItem, Product
from core.company.models import TaxCode
from core.errors import InvalidInput, NotFound
from core.types import validate_currency

CATALOG_ROLES = frozenset({Role.ADMIN})


def create_product(session: Session, actor: Actor, *, sku: str, name: str, category: str,
                   product_line: str, unit_cost: Decimal, list_price: Decimal,
                   tax_code: str = "STD", min_price: Decimal | None = None) -> Product:
    """Add a product; costs and prices are in the base currency."""
    authorize(session, actor, CATALOG_ROLES, "maintain the catalogue")
    if not sku.strip() or not name.strip():
        raise InvalidInput("SKU and name are required", field="sku")
    if session.scalar(select(Product.id).where(Product.sku == sku)) is not None:
        raise InvalidInput(f"SKU {sku} exists", field="sku")
    if unit_cost < 0 or list_price < 0 or (min_price is not None and min_price < 0):
        raise InvalidInput("costs and prices cannot be negative", field="list_price")
    if session.get(TaxCode, tax_code) is None:
        raise InvalidInput(f"unknown tax code {tax_code!r}", field="tax_code")
    product = Product(sku=sku, name=name, category=category, product_line=product_line,
                      unit_cost=unit_cost, list_price=list_price, min_price=min_price,
                      tax_code=tax_code)
    session.add(product)
    session.flush()
    return product


def create_price_list(session: Session, actor: Actor, *, name: str, currency: str,
                      valid_from: date, items: dict[int, tuple[Decimal, Decimal | None]],
                      valid_to: date | None = None) -> PriceList:
    """A price list in one currency: product id → (unit price, floor)."""
    authorize(session, actor, CATALOG_ROLES, "maintain price lists")
    price_list = PriceList(name=name, currency=validate_currency(currency),
                           valid_from=valid_from, valid_to=valid_to)
    session.add(price_list)
    session.flush()
    for product_id, (price, floor) in items.items():
        if session.get(Product, product_id) is None:
            raise InvalidInput(f"unknown product #{product_id}", field="items")
        session.add(PriceListItem(price_list_id=price_list.id, product_id=product_id,
                                  unit_price=price, min_price=floor))
    session.flush()
    return price_list


def set_customer_price(session: Session, actor: Actor, customer_id: int, product_id: int, *,
                       unit_price: Decimal, min_price: Decimal | None,
                       valid_from: date) -> CustomerPrice:
    """Put a negotiated price on a customer's deal sheet (sales managers and admins)."""
    customer = get_customer_for(session, actor, customer_id, PRICE_OVERRIDE_ROLES,
                                "set customer prices")
    if session.get(Product, product_id) is None:
        raise NotFound(f"product #{product_id} not found")
    if unit_price < 0:
        raise InvalidInput("a price cannot be negative", field="unit_price")
    if min_price is not None and not 0 <= min_price <= unit_price:
        raise InvalidInput("the floor must be between 0 and the price", field="min_price")
    deal = CustomerPrice(customer_id=customer.id, product_id=product_id, unit_price=unit_price,
                         min_price=min_price, valid_from=valid_from)
    session.add(deal)
    session.flush()
    return deal
