"""Money, currency and the column types that store them exactly.

Amounts are ``Decimal`` everywhere. Document amounts are rounded half-up to the minor unit
of their currency (babel: USD 2, JPY 0, KWD 3). On SQLite every NUMERIC(p, s) is stored as
INTEGER x 10^s so the database never sums floats; on PostgreSQL it is a real NUMERIC(p, s).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from typing import Annotated, Any

from babel.numbers import get_currency_precision, list_currencies
from sqlalchemy import BigInteger, ColumnElement, Enum, Numeric, String, cast, func, type_coerce
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import mapped_column
from sqlalchemy.types import TypeDecorator

ZERO = Decimal(0)
AMOUNT_SCALE = 3  # document amounts: room for 3-digit currencies (KWD, BHD, OMR)
PRICE_SCALE = 4  # unit prices and unit costs
RATE_SCALE = 10  # exchange rates
QUANTITY_SCALE = 4
PERCENT_SCALE = 4


class InvalidCurrency(ValueError):
    """Raised for a code that is not an ISO 4217 currency babel knows."""


class ScaledNumeric(TypeDecorator[Decimal]):
    """NUMERIC(precision, scale): a real NUMERIC on PostgreSQL, a scaled INTEGER on SQLite.

    Values are quantized to ``scale`` digits (half-up) on the way in and returned as
    ``Decimal`` on the way out on every dialect.
    """

    impl = Numeric
    cache_ok = True

    def __init__(self, precision: int, scale: int) -> None:
        super().__init__(precision, scale)
        self.precision = precision
        self.scale = scale
        self._quantum = Decimal(1).scaleb(-scale)

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(Numeric(self.precision, self.scale, asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        quantized = Decimal(value).quantize(self._quantum, rounding=ROUND_HALF_UP)
        if dialect.name == "sqlite":
            return int(quantized.scaleb(self.scale))
        return quantized

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return Decimal(int(value)).scaleb(-self.scale)
        return Decimal(value).quantize(self._quantum)

    def coerce_compared_value(self, op: Any, value: Any) -> Any:
        return self


def scaled_integer(column: ColumnElement[Any], dialect: str) -> ColumnElement[int]:
    """A ``ScaledNumeric`` column read as the integer value × 10^scale, exact and without a
    Decimal per row: the stored integer on SQLite, the NUMERIC scaled and cast on
    PostgreSQL."""
    if not isinstance(column.type, ScaledNumeric):
        raise TypeError(f"{column} is not a ScaledNumeric column")
    if dialect == "sqlite":
        return type_coerce(column, BigInteger())
    return cast(func.round(type_coerce(column, Numeric()) * 10 ** column.type.scale),
                BigInteger)


Amount = Annotated[Decimal, mapped_column(ScaledNumeric(18, AMOUNT_SCALE))]
UnitPrice = Annotated[Decimal, mapped_column(ScaledNumeric(18, PRICE_SCALE))]
Quantity = Annotated[Decimal, mapped_column(ScaledNumeric(18, QUANTITY_SCALE))]
Rate = Annotated[Decimal, mapped_column(ScaledNumeric(18, RATE_SCALE))]
Percent = Annotated[Decimal, mapped_column(ScaledNumeric(9, PERCENT_SCALE))]
CurrencyCode = Annotated[str, mapped_column(String(3))]
Code = Annotated[str, mapped_column(String(32))]
Name = Annotated[str, mapped_column(String(200))]
Created = Annotated[datetime, mapped_column()]
Day = Annotated[date, mapped_column()]


@cache
def currency_digits(currency: str) -> int:
    """Minor-unit digits of an ISO 4217 currency (USD 2, JPY 0, KWD 3)."""
    code = currency.upper()
    if code not in list_currencies():
        raise InvalidCurrency(f"unknown currency code {currency!r}")
    digits = get_currency_precision(code)
    if digits > AMOUNT_SCALE:
        raise InvalidCurrency(f"currency {code} has {digits} decimals; at most 3 are supported")
    return digits


def validate_currency(currency: str) -> str:
    """Upper-case ISO code, or ``InvalidCurrency``."""
    currency_digits(currency)
    return currency.upper()


def round_money(amount: Decimal, currency: str) -> Decimal:
    """Round half-up to the currency's minor unit."""
    return amount.quantize(Decimal(1).scaleb(-currency_digits(currency)), rounding=ROUND_HALF_UP)


def to_minor(amount: Decimal, currency: str) -> int:
    """Integer minor units (cents) of an amount already rounded to the currency."""
    return int(round_money(amount, currency).scaleb(currency_digits(currency)))


def prorate(total: Decimal, weights: Sequence[Decimal], currency: str) -> list[Decimal]:
    """Split ``total`` over lines pro rata to ``weights``, each share rounded half-up.

    The rounding remainder goes to the line with the largest weight, so the shares sum to
    ``total`` exactly. All-zero weights put everything on the first line.
    """
    if not weights:
        return []
    total = round_money(total, currency)
    weight_sum = sum(weights, ZERO)
    if weight_sum == ZERO:
        return [total] + [ZERO] * (len(weights) - 1)
    shares = [round_money(total * w / weight_sum, currency) for w in weights]
    largest = max(range(len(weights)), key=lambda i: (abs(weights[i]), -i))
    shares[largest] += total - sum(shares, ZERO)
    return shares


def enum_type(enum_cls: type[Any]) -> Enum:
    """Portable enum column: VARCHAR of the members' values plus a CHECK constraint."""
    return Enum(
        enum_cls,
        native_enum=False,
        length=24,
        create_constraint=True,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )
