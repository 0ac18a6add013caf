"""One row per month × channel × rep × region × product category × customer segment
(``agg_sales_month``): ``fct_sales_line`` and ``fct_freight_cost`` pre-aggregated for the
dashboard (DESIGN D3).

Attribution is the facts' own (rep, channel and region of the order; segment of the
customer version on the row), so a reassigned customer's history stays with its old rep.
``category`` is the product's current category (``Unknown`` for lines without a product).
Measures are sums over the lines, in minor units of the base currency, split as
``etl.facts.net_sales`` says (net sales without settlement discounts and bad debt, which
have their own columns); ``discount_minor`` is the lines' share of document discounts;
``freight_cost_minor`` sums ``fct_freight_cost`` (by shipped date); ``line_count`` counts the
sales lines (RMA cost events included, freight cost rows not). Per month, every measure
equals the facts' to the cent (``etl.checks``). Distinct counts (orders, customers) do
not add across rows and are not stored. An incremental run of the published batch's date
sums again only the months in which lines changed (``etl.increment``).
"""

from __future__ import annotations

import polars as pl

from etl.conform import conform
from etl.dims.surrogate import UNKNOWN_NAME
from etl.extract import CoreFrames
from etl.facts.net_sales import sales_measures
from etl.increment import Increment, of_months
from etl.schema import agg_sales_month

# Built from the other tables only.
CORE_COLUMNS: dict[str, tuple[str, ...]] = {}
CORE_TABLES = tuple(CORE_COLUMNS)
TABLES = ("fct_sales_line", "fct_freight_cost", "dim_product", "dim_customer")
GRAIN = ("month_key", "channel_key", "rep_key", "region_key", "category", "segment_code")


def build(core: CoreFrames, tables: dict[str, pl.DataFrame], base_currency: str, *,
          increment: Increment | None = None) -> pl.DataFrame:
    """``agg_sales_month`` from the built ``TABLES`` (``core`` and ``base_currency`` are
    not needed: the lines are already in base minor units); sorted by the grain. With an
    ``increment`` that kept every product's category and every customer version's segment,
    only its months are summed again, the published rows of the others kept."""
    if increment is None or not _labels_kept(tables, increment.previous):
        return _summed(tables, pl.lit(True))
    months = of_months(increment.months)
    previous = increment.previous[agg_sales_month.name]
    return pl.concat([previous.filter(~months), _summed(tables, months)]).sort(
        GRAIN, nulls_last=True, maintain_order=True)


def _labels_kept(tables: dict[str, pl.DataFrame],
                 previous: dict[str, pl.DataFrame]) -> bool:
    """Whether every product and customer version of ``previous`` still has its category
    and segment (new keys are new rows, which only changed months hold)."""
    for dim, key, label in (("dim_product", "product_key", "category"),
                            ("dim_customer", "customer_key", "segment_code")):
        before = previous[dim].select(key, label).sort(key)
        now = tables[dim].select(key, label).join(before.select(key), on=key, how="semi")
        if not now.sort(key).equals(before):
            return False
    return True


def _summed(tables: dict[str, pl.DataFrame], rows: pl.Expr) -> pl.DataFrame:
    """The grain's rows of the facts' ``rows``, sorted by the grain."""
    categories = tables["dim_product"].lazy().select("product_key", "category")
    segments = tables["dim_customer"].lazy().select("customer_key", "segment_code")

    def by_grain(fact: str, *sums: pl.Expr) -> pl.LazyFrame:
        return (
            tables[fact].lazy().filter(rows)
            .join(categories, on="product_key", how="left")
            .join(segments, on="customer_key", how="left")
            .with_columns(pl.col("category").fill_null(UNKNOWN_NAME))
            .group_by(GRAIN).agg(*sums)
        )

    sales = by_grain("fct_sales_line", pl.len().alias("line_count"), pl.col("quantity").sum(),
                     pl.col("discount_minor").sum(), *sales_measures())
    freight = by_grain("fct_freight_cost", pl.col("freight_cost_minor").sum())
    measures = [c for c in sales.collect_schema().names() if c not in GRAIN]
    frame = sales.join(freight, on=list(GRAIN), how="full", coalesce=True,
                       nulls_equal=True).with_columns(
        pl.col(*measures, "freight_cost_minor").fill_null(0))
    return conform(frame, agg_sales_month).sort(GRAIN, nulls_last=True).collect()
