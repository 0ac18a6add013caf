"""How ``fct_sales_line`` rows add up to the sales measures of KPIS.md.

Net sales leave out credit notes with reason ``settlement_discount`` or ``bad_debt``; those
are contribution terms of their own, stored positive (the amount credited or written off),
so for any set of rows Σ ``net_minor`` = net sales − settlement discounts − bad debt. Cost
and freight charged are the plain sums (cost includes the RMA cost events).
"""

from __future__ import annotations

import polars as pl

SETTLEMENT_DISCOUNT = "settlement_discount"
BAD_DEBT = "bad_debt"
_NOT_NET_SALES = (SETTLEMENT_DISCOUNT, BAD_DEBT)


def _reason_is(*reasons: str) -> pl.Expr:
    # A null reason (invoice lines, cost events) is not one of them.
    return pl.col("credit_reason").is_in(list(reasons)).fill_null(False)


def sales_measures() -> list[pl.Expr]:
    """Aggregations over ``fct_sales_line`` rows: ``net_sales_minor``,
    ``settlement_discount_minor``, ``bad_debt_minor``, ``cost_minor`` and
    ``freight_charged_minor`` (minor units of the base currency)."""
    net = pl.col("net_minor")
    return [
        net.filter(~_reason_is(*_NOT_NET_SALES)).sum().alias("net_sales_minor"),
        (-net.filter(_reason_is(SETTLEMENT_DISCOUNT)).sum()).alias("settlement_discount_minor"),
        (-net.filter(_reason_is(BAD_DEBT)).sum()).alias("bad_debt_minor"),
        pl.col("cost_minor").sum(),
        pl.col("freight_charged_minor").sum(),
    ]
