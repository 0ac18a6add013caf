"""The generated audit trail: one frame of change rows in ``audit_log`` shape.

Only history the analytics need is written (opportunity versions, quote status changes,
order amendments and cancellations, customer reassignments and holds, invoice collection
fields) plus insert rows for opportunities and quotes; not one insert row per document
line. Rows are sorted by ``occurred_at`` so ``seq`` increases with time.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from core.demo.frames import timestamps

ACTOR = "demo"
COLUMNS = ["occurred_at", "entity", "entity_id", "action", "field", "old_value", "new_value"]


def customer_history(customers: pl.DataFrame) -> pl.DataFrame:
    """Reassignments to another account manager and holds, at the day they happened."""
    c = customers
    reassigned = c.filter(pl.col("_reassign_day") > 0)
    held = c.filter(pl.col("_hold_day") > 0)
    policy_changed = held.filter(pl.col("hold_policy") != "allow_nothing")
    hold_at = timestamps(held["_hold_day"].to_numpy(), 11 * 3600)

    def rows(frame: pl.DataFrame, at: pl.Series, field: str, old: pl.Expr,
             new: pl.Expr) -> pl.DataFrame:
        return frame.select(
            at.alias("occurred_at"), pl.lit("customer").alias("entity"),
            pl.col("id").alias("entity_id"), pl.lit("update").alias("action"),
            pl.lit(field).alias("field"), old.cast(pl.Utf8).alias("old_value"),
            new.cast(pl.Utf8).alias("new_value"))

    return pl.concat([
        rows(reassigned, timestamps(reassigned["_reassign_day"].to_numpy(), 10 * 3600),
             "account_manager_id", pl.col("_old_rep"), pl.col("account_manager_id")),
        rows(held, hold_at, "hold_state", pl.lit("none"), pl.lit("on_hold")),
        rows(policy_changed, timestamps(policy_changed["_hold_day"].to_numpy(), 11 * 3600),
             "hold_policy", pl.lit("allow_nothing"), pl.col("hold_policy")),
        rows(held, hold_at, "hold_reason", pl.lit(None), pl.col("hold_reason")),
    ], how="vertical_relaxed")


def audit_frame(parts: list[pl.DataFrame], first_seq: int) -> pl.DataFrame:
    """All history rows in time order with ``seq`` from ``first_seq``."""
    frame = pl.concat([p.select(COLUMNS) for p in parts], how="vertical_relaxed")
    frame = frame.with_columns(pl.col("occurred_at").cast(pl.Datetime("us")),
                               pl.col("entity_id").cast(pl.Int64))
    frame = frame.sort(["occurred_at", "entity", "entity_id", "field"], nulls_last=False,
                       maintain_order=True)
    return frame.with_columns(
        pl.Series("seq", np.arange(first_seq, first_seq + frame.height)),
        pl.lit(ACTOR).alias("actor"))
