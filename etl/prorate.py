"""Shares of an amount in integer minor units, as Polars expressions (no core import, so the
dashboard's metric layer uses it on the mart's frames too).

``half_up`` is value × numerator / denominator rounded half-up (away from zero).
``prorated`` splits an amount over the rows of a group pro rata to a weight — the rule of
``core.types.prorate`` and KPIS.md "Attribution": each share rounded half-up, the rounding
remainder to the row with the largest absolute weight (the first such row in ``order``), all
weights zero → everything on the first row. The shares add up to the amount exactly.
"""

from __future__ import annotations

import polars as pl


def half_up(value: pl.Expr, numerator: pl.Expr, denominator: pl.Expr) -> pl.Expr:
    """round half-up (away from zero) of value × numerator / denominator, computed in
    Int128 (the product of two amounts in minor units can pass Int64); Int64 result."""
    product = value.cast(pl.Int128) * numerator.cast(pl.Int128)
    den = denominator.cast(pl.Int128)
    magnitude = (product.abs() * 2 + den.abs()) // (den.abs() * 2)
    return (magnitude * product.sign() * den.sign()).cast(pl.Int64)


def weights(frame: pl.LazyFrame, *, weight: str, group: str, order: str) -> pl.LazyFrame:
    """One row per ``group``: its total weight (``_total_weight``) and the ``order`` value of
    the row that takes the rounding remainder (``_remainder_row``) — what ``prorated`` needs
    of the rows besides each one's own weight."""
    return frame.group_by(group).agg(
        pl.col(weight).sum().alias("_total_weight"),
        pl.col(order).sort_by(pl.col(weight).abs(), order, descending=[True, False]).first()
        .alias("_remainder_row"))


def prorated(frame: pl.LazyFrame, *, amount: str, weight: str, group: str, order: str,
             alias: str, groups: pl.LazyFrame | None = None) -> pl.LazyFrame:
    """``frame`` plus column ``alias``: each row's share of ``amount`` (the same on every
    row of its ``group``: the group's total) pro rata to ``weight``, by the rule of the
    module docstring; ``order`` (unique within a group) breaks ties and names the first
    row. ``groups``: ``weights`` of the same rows computed beforehand (every row of a group
    that has any, and at least the groups of ``frame``). ``frame`` must hold whole groups:
    the remainder row would take the shares of rows left out. Row order is not kept."""
    if groups is None:
        groups = weights(frame, weight=weight, group=group, order=order)
    shares = frame.join(groups, on=group).with_columns(
        pl.when(pl.col("_total_weight") != 0)
        .then(half_up(pl.col(amount), pl.col(weight), pl.col("_total_weight")))
        .otherwise(0).alias(alias))
    given = shares.group_by(group).agg(pl.col(alias).sum().alias("_given"))
    return shares.join(given, on=group).with_columns(
        (pl.col(alias) + pl.when(pl.col(order) == pl.col("_remainder_row"))
         .then(pl.col(amount) - pl.col("_given")).otherwise(0)).cast(pl.Int64).alias(alias)
    ).drop("_total_weight", "_remainder_row", "_given")
