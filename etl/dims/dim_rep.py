"""One row per sales rep (core ``sales_rep``, current state) with its reporting-tree path,
plus the unknown member -1.

``tree_path`` is "/<root id>/…/<manager id>/<rep id>/", so a manager's subtree is every rep
whose path starts with the manager's path. ``rep_key`` is the rep's core id: stable across
full and incremental runs.
"""

from __future__ import annotations

import polars as pl

from etl.dims.surrogate import UNKNOWN_CODE, UNKNOWN_NAME, with_unknown
from etl.extract import CoreFrames
from etl.schema import UNKNOWN_KEY, dim_rep

# The core columns ``build`` reads.
CORE_COLUMNS: dict[str, tuple[str, ...]] = {
    "sales_rep": ("id", "code", "name", "manager_id", "region_code", "is_active"),
}


def tree_paths(reps: pl.DataFrame) -> pl.DataFrame:
    """``rep_id`` → ``tree_path`` of a frame of ``id``/``manager_id``, walking up one
    management level per step (as many steps as the tree is deep). A cycle raises."""
    managers = reps.select(pl.col("id").alias("_above"), pl.col("manager_id").alias("_next"))
    walk = reps.select(
        pl.col("id").alias("rep_id"),
        pl.format("/{}/", pl.col("id")).alias("tree_path"),
        pl.col("manager_id").alias("_above"))
    for _ in range(reps.height + 1):
        if walk.get_column("_above").null_count() == walk.height:
            return walk.drop("_above")
        walk = walk.join(managers, on="_above", how="left", maintain_order="left").select(
            "rep_id",
            pl.when(pl.col("_above").is_null()).then(pl.col("tree_path"))
            .otherwise(pl.format("/{}{}", pl.col("_above"), pl.col("tree_path")))
            .alias("tree_path"),
            pl.col("_next").alias("_above"))
    looping = walk.filter(pl.col("_above").is_not_null()).get_column("rep_id").to_list()
    raise ValueError(f"the sales_rep manager hierarchy has a cycle (reps {looping[:10]})")


def build(core: CoreFrames) -> pl.DataFrame:
    """The rep dimension keyed by rep id."""
    reps = core["sales_rep"]
    frame = reps.lazy().select(
        pl.col("id").alias("rep_key"), pl.col("id").alias("rep_id"), "code", "name",
        pl.col("manager_id").alias("manager_rep_id"), "region_code", "is_active",
    ).join(tree_paths(reps).lazy(), on="rep_id", how="left")
    unknown = {"rep_id": UNKNOWN_KEY, "code": UNKNOWN_CODE, "name": UNKNOWN_NAME,
               "tree_path": f"/{UNKNOWN_KEY}/", "is_active": False}
    return with_unknown(frame, dim_rep, unknown).collect()
