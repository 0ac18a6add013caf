"""Product catalogue and pricing: list prices, price lists, customer deal sheets, floors."""

from __future__ import annotations

from datetime import date

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base
from core.types import Code, CurrencyCode, Name, UnitPrice


class Product(Base):
    """A sellable product. ``unit_cost`` and ``list_price`` are in the base currency."""

    __tablename__ = "product"

    id: Mapped[int] = mapped_column(primary_key=True)
    sku: Mapped[Code] = mapped_column(unique=True)
    name: Mapped[Name]
    category: Mapped[str] = mapped_column(String(100))
    product_line: Mapped[str] = mapped_column(String(100))
    unit_cost: Mapped[UnitPrice]
    list_price: Mapped[UnitPrice]
    min_price: Mapped[UnitPrice | None]
    tax_code: Mapped[str] = mapped_column(ForeignKey("tax_code.code"))
    is_active: Mapped[bool] = mapped_column(default=True)


class PriceList(Base):
    """A named price list in one currency, valid over a date range."""

    __tablename__ = "price_list"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[Name]
    currency: Mapped[CurrencyCode]
    valid_from: Mapped[date]
    valid_to: Mapped[date | None]


class PriceListItem(Base):
    """A product's price and floor (minimum net unit price) on a price list."""

    __tablename__ = "price_list_item"
    __table_args__ = (UniqueConstraint("price_list_id", "product_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    price_list_id: Mapped[int] = mapped_column(ForeignKey("price_list.id"))
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"))
    unit_price: Mapped[UnitPrice]
    min_price: Mapped[UnitPrice | None]


class CustomerPrice(Base):
    """Deal sheet: a customer's negotiated price (customer currency), with its own floor."""

    __tablename__ = "customer_price"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"))
    unit_price: Mapped[UnitPrice]
    min_price: Mapped[UnitPrice | None]
    valid_from: Mapped[date]
    valid_to: Mapped[date | None]



