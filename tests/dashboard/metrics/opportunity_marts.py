"""Hand-made marts holding ``fct_opportunity_history`` versions, for pipeline metric tests."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import polars as pl

from core.sales.opportunities import STAGE_PROBABILITY
from dashboard.metrics.mart import Mart
from etl.facts.opportunity_history import OPEN_END, SCHEMA

DIM_REP = pl.DataFrame({"rep_key": [-1, 1, 2, 3], "rep_id": [-1, 10, 20, 30],
                        "name": ["(unknown)", "Ada", "Ben", "Cy"]})
DIM_CUSTOMER = pl.DataFrame({
    "customer_key": [-1, 1, 2], "customer_id": [-1, 100, 100],
    "name": ["(unknown)", "Acme", "Acme"], "region_code": [None, "north", "south"],
    "channel_code": [None, "direct", "direct"], "is_current": [True, False, True]})


def version(opportunity_id: int, valid_from: datetime, valid_to: datetime = OPEN_END, *,
            amount: int = 100_00, state: str = "open", stage: str | None = None,
            rep_key: int = 1, close: int = 20250615, probability: str | None = None,
            created: int = 20250101, closed: int = -1, customer_key: int = 1,
            ) -> dict[str, object]:
    """One version row; the stage defaults to ``proposal`` while open, else the state."""
    stage = stage or ("proposal" if state == "open" else state)
    own = None if probability is None else Decimal(probability)
    return {"opportunity_id": opportunity_id, "valid_from": valid_from, "valid_to": valid_to,
            "is_current": valid_to == OPEN_END, "customer_key": customer_key,
            "customer_id": 100, "rep_key": rep_key, "stage": stage, "state": state,
            "amount_minor": amount, "probability": own,
            "effective_probability": STAGE_PROBABILITY[stage] if own is None else own,
            "expected_close_date_key": close, "created_date_key": created,
            "closed_date_key": closed}


def opportunity_mart(rows: list[dict[str, object]]) -> Mart:
    """A mart with these versions (numbered per opportunity in the given order) and the
    small rep and customer dimensions above."""
    frame = pl.DataFrame(rows, schema={k: v for k, v in SCHEMA.items() if k != "version_no"},
                         strict=False)
    frame = frame.with_columns(
        pl.int_range(1, pl.len() + 1).over("opportunity_id").cast(pl.Int32)
        .alias("version_no")).select(list(SCHEMA))
    assert frame.schema == SCHEMA
    return Mart("test", datetime(2025, 12, 31), {
        "fct_opportunity_history": frame, "dim_rep": DIM_REP, "dim_customer": DIM_CUSTOMER})
