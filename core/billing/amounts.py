"""Document arithmetic, pure: line net after the pro-rated document discount, pro-rated
freight, tax per line, and base-currency amounts per line at the document rate.

Rounding is half-up per line; totals are sums of rounded lines, so a document's total is
always exactly the sum of its lines (in document and in base currency).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from core.types import ZERO, prorate, round_money


@dataclass(frozen=True)
class DraftLine:
    """A line about to be posted on an invoice or a credit note, before document amounts.

    ``amount`` is the line amount in document currency before any document discount;
    ``unit_cost`` and ``cost_amount`` are in base currency; ``tax_rate`` is the rate of
    ``tax_code`` to apply.
    """

    description: str
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal
    tax_code: str
    tax_rate: Decimal
    unit_cost: Decimal = ZERO
    cost_amount: Decimal = ZERO
    discount_pct: Decimal = ZERO
    product_id: int | None = None
    order_line_id: int | None = None
    milestone_id: int | None = None
    invoice_line_id: int | None = None
    restock: bool = False


@dataclass(frozen=True)
class LineAmounts:
    """One line's amounts: document currency first, then base currency."""

    line_amount: Decimal
    doc_discount: Decimal
    net: Decimal
    freight: Decimal
    tax: Decimal
    base_net: Decimal
    base_tax: Decimal
    base_freight: Decimal


@dataclass(frozen=True)
class DocumentTotals:
    """Header totals derived from the lines."""

    net: Decimal
    tax: Decimal
    freight: Decimal
    total: Decimal
    base_total: Decimal


def line_amounts(
    amounts: list[Decimal],
    tax_rates: list[Decimal],
    *,
    discount: Decimal,
    freight: Decimal,
    currency: str,
    rate: Decimal,
    base_currency: str,
) -> list[LineAmounts]:
    """Split document discount and freight over ``amounts`` (pro rata, remainder to the
    largest line), then tax and convert each line."""
    if len(amounts) != len(tax_rates):
        raise ValueError("one tax rate per line")
    discounts = prorate(discount, amounts, currency)
    freights = prorate(freight, amounts, currency)
    result = []
    for amount, tax_rate, disc, fr in zip(amounts, tax_rates, discounts, freights, strict=True):
        net = amount - disc
        tax = round_money(net * tax_rate, currency)
        result.append(
            LineAmounts(
                line_amount=amount, doc_discount=disc, net=net, freight=fr, tax=tax,
                base_net=round_money(net * rate, base_currency),
                base_tax=round_money(tax * rate, base_currency),
                base_freight=round_money(fr * rate, base_currency),
            )
        )
    return result


def totals(lines: list[LineAmounts]) -> DocumentTotals:
    """Header totals: sums of the rounded lines."""
    net = sum((x.net for x in lines), ZERO)
    tax = sum((x.tax for x in lines), ZERO)
    freight = sum((x.freight for x in lines), ZERO)
    base = sum((x.base_net + x.base_tax + x.base_freight for x in lines), ZERO)
    return DocumentTotals(net=net, tax=tax, freight=freight, total=net + tax + freight,
                          base_total=base)
