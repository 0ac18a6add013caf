"""One row per quote (every revision: a superseded version keeps its row), with its current
status and dates.

- ``status`` is the core's (draft, sent, accepted, lost, expired, cancelled, superseded);
  ``revision_of_id``/``revision_no`` link a revision to the quote it replaced.
- ``net_minor``: the quote's net amount (excluding tax) in minor units of the base currency
  at the rate of the quote date (``etl.facts.fx.rate_at``: latest ``fx_rate`` on or before
  it; the base currency is 1), rounded half-up. A currency without any rate is an error.
- ``customer_key``: the ``dim_customer`` version valid at the quote date; ``rep_key``: the
  quote's rep. Unknown or missing members are ``-1``.
- ``quote_date_key``/``sent_date_key``/``decided_date_key``/``valid_until_key``: YYYYMMDD,
  ``-1`` while the date is empty (not sent, not decided).
"""

from __future__ import annotations

import polars as pl

from etl.conform import conform, polars_schema
from etl.dims.dim_customer import version_at
from etl.extract import CoreFrames
from etl.facts.fx import base_minor, rate_at
from etl.facts.lookups import key_of
from etl.keys import date_key
from etl.schema import fct_quote

SCHEMA = polars_schema(fct_quote)
# The core tables and columns ``build`` reads.
CORE_COLUMNS: dict[str, tuple[str, ...]] = {
    "quote": ("id", "number", "customer_id", "opportunity_id", "rep_id", "status", "currency",
              "quote_date", "valid_until", "sent_date", "decided_date", "revision_of_id",
              "revision_no", "net_amount"),
    "fx_rate": ("currency", "rate_date", "rate"),
}
CORE_TABLES = tuple(CORE_COLUMNS)
DIMENSIONS = ("dim_customer", "dim_rep")


def build(core: CoreFrames, dims: dict[str, pl.DataFrame], base_currency: str) -> pl.DataFrame:
    """``fct_quote`` from the extracted core tables (``CORE_TABLES``) and the built
    dimensions (``DIMENSIONS``); amounts in minor units of ``base_currency``. Rows sorted by
    quote id. Raises ``ValueError`` when a quote's currency has no exchange rate."""
    quotes = core["quote"].lazy().select(
        pl.col("id").alias("quote_id"), pl.col("number").alias("quote_number"),
        "opportunity_id", "revision_of_id", "revision_no", "customer_id", "rep_id", "status",
        "currency", "quote_date", "sent_date", "decided_date", "valid_until", "net_amount")
    frame = rate_at(quotes, core["fx_rate"], currency="currency", on="quote_date",
                    base_currency=base_currency)
    frame = version_at(frame, dims["dim_customer"], customer_id="customer_id",
                       on="quote_date", columns={"customer_key": "customer_key"})
    frame = key_of(frame, dims["dim_rep"], on="rep_id", natural="rep_id", key="rep_key")
    frame = frame.with_columns(
        date_key("quote_date").alias("quote_date_key"),
        date_key("sent_date").alias("sent_date_key"),
        date_key("decided_date").alias("decided_date_key"),
        date_key("valid_until").alias("valid_until_key"),
        base_minor("net_amount", "fx_rate", base_currency).alias("net_minor"),
    )
    fact = conform(frame, fct_quote).sort("quote_id").collect()
    unconverted = fact.filter(pl.col("net_minor").is_null())["quote_id"]
    if unconverted.len():
        raise ValueError(f"fct_quote: no exchange rate to {base_currency} for quotes "
                         f"{unconverted.head(10).to_list()} (their currency has no fx_rate)")
    return fact
