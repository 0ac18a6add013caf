"""How figures read on screen: money from integer minor units of the base currency, ratios
as percentages, blanks for undefined ratios (KPIS: a zero or negative denominator is blank)."""

from __future__ import annotations

from decimal import Decimal

from babel.numbers import format_currency, format_decimal, format_percent

from core.types import currency_digits

LOCALE = "en_US"
BLANK = "–"


def money(minor: int | None, currency: str, *, whole: bool = False) -> str:
    """``minor`` units of ``currency`` as e.g. ``$1,234.56`` (``whole``: no decimals)."""
    if minor is None:
        return BLANK
    amount = Decimal(int(minor)).scaleb(-currency_digits(currency))
    if whole:
        return format_currency(amount.quantize(Decimal(1)), currency, locale=LOCALE,
                               format="¤#,##0", currency_digits=False)
    return format_currency(amount, currency, locale=LOCALE)


def compact_money(minor: int | None, currency: str) -> str:
    """Short form for KPI cards: $1.2M, $350K, $980."""
    if minor is None:
        return BLANK
    amount = Decimal(int(minor)).scaleb(-currency_digits(currency))
    for limit, suffix in ((Decimal(10) ** 9, "B"), (Decimal(10) ** 6, "M"),
                          (Decimal(10) ** 3, "K")):
        if abs(amount) >= limit:
            scaled = (amount / limit).quantize(Decimal("0.1"))
            return format_currency(scaled, currency, locale=LOCALE, format="¤#,##0.0",
                                   currency_digits=False) + suffix
    return money(minor, currency, whole=True)


def major(minor: int | None, currency: str) -> float | None:
    """Minor units as a float in major units — for chart axes only, never for totals."""
    if minor is None:
        return None
    return float(Decimal(int(minor)).scaleb(-currency_digits(currency)))


def percent(ratio: float | Decimal | None, digits: int = 1) -> str:
    if ratio is None:
        return BLANK
    return format_percent(ratio, locale=LOCALE, format="#,##0." + "0" * digits + "%")


def number(value: int | float | None) -> str:
    if value is None:
        return BLANK
    return format_decimal(value, locale=LOCALE)
