"""A full run's facts built a chunk of customers at a time.

Every fact row belongs to one customer and is computed from that customer's documents plus
tables every run reads whole (``etl.changes``: the invariant incremental runs rely on). So
the facts of all customers are the facts of each chunk of customers, put together in the
builder's row order. A full run builds them chunk by chunk (``customer_chunks``: ranges of
customer ids with about ``CHUNK_ORDERS`` sales orders each), every builder reading only the
chunk's rows of the document tables (``rows_of``), so that what a builder holds while
it joins and sorts is one chunk's rows, not every row. A company with fewer orders than a
chunk is built in one piece, as before.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import polars as pl

from etl.changes import CUSTOMER_OF, leads_to
from etl.extract import CoreFrames, Keep

Join = Callable[[Sequence[pl.DataFrame]], pl.DataFrame]
"""Frames put one after the other (``in_order``'s slices)."""

# What ``customer_chunks`` reads of the core (a run extracts it even when it builds no
# fact that reads sales orders).
CORE_COLUMNS = {"sales_order": ("id", "customer_id")}
# Sales orders per chunk: the standard dataset's 2.3M orders (10M lines) in four chunks.
CHUNK_ORDERS = 600_000
# Rows per slice of a fact put in order (``in_order``).
SLICE_ROWS = 1_000_000


@dataclass(frozen=True)
class CustomerRange:
    """Customer ids ``first`` ≤ id < ``end`` (``None``: unbounded on that side)."""

    first: int | None
    end: int | None

    def holds(self, column: str) -> pl.Expr:
        """Whether ``column`` (a customer id) is in the range."""
        inside = pl.lit(True)
        if self.first is not None:
            inside &= pl.col(column) >= self.first
        if self.end is not None:
            inside &= pl.col(column) < self.end
        return inside


def customer_chunks(orders: pl.DataFrame, per_chunk: int | None = None) -> list[CustomerRange]:
    """Ranges of customer ids, in order, that cover every id, each with about ``per_chunk``
    (default ``CHUNK_ORDERS``) of ``orders`` (``sales_order`` rows with ``customer_id``):
    one range for fewer."""
    per_chunk = per_chunk or CHUNK_ORDERS
    counts = orders.group_by("customer_id").len().sort("customer_id")
    chunk_of = (counts["len"].cum_sum() - counts["len"]) // per_chunk
    starts = counts.filter((chunk_of > 0) & (chunk_of != chunk_of.shift(1)))["customer_id"]
    bounds: list[int | None] = [None, *starts.to_list(), None]
    return [CustomerRange(first, end) for first, end in zip(bounds, bounds[1:], strict=False)]


def rows_of(core: CoreFrames, customers: CustomerRange) -> CoreFrames:
    """``core`` with its document tables (``CUSTOMER_OF``) cut to the rows of
    ``customers``, every other table whole. ``KeyError`` when a document table leads to
    its customer through a table that was not extracted."""
    cut: dict[str, pl.DataFrame] = {}
    for name in core.frames:
        if name in CUSTOMER_OF:
            _cut(core, customers, name, cut)
    return CoreFrames({name: cut.get(name, frame) for name, frame in core.frames.items()})


def _cut(core: CoreFrames, customers: CustomerRange, table: str,
         cut: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """``table``'s rows of ``customers``, cut (with the parents it goes through) into
    ``cut`` once. (A module function, not a closure: a recursive closure would keep the
    cut frames alive in a reference cycle until the garbage collector runs.)"""
    def parent_ids(parent: str) -> pl.Series:
        if parent not in core.frames:
            raise KeyError(f"{table} leads to its customer through {parent}, "
                           "which was not extracted")
        return _cut(core, customers, parent, cut)["id"]

    if table not in cut:
        cut[table] = core[table].filter(leads_to(table, customers.holds, parent_ids))
    return cut[table]


def in_order(pieces: Sequence[pl.DataFrame], order: Sequence[str], keep: Keep,
             name: str, join: Join = lambda slices: pl.concat(slices, rechunk=False),
             ) -> pl.DataFrame:
    """The rows of ``pieces`` in ``order`` (rows that tie in the pieces' order), handed to
    ``keep`` (e.g. ``etl.spill.Spill.keep``) in slices of ``SLICE_ROWS`` rows
    (``<name>.sorted.<n>``) and put together by ``join`` (e.g. ``Spill.joined``) without a
    copy: only the sort's row index and one slice are on the heap at once (sorting a whole
    fact made a second copy of it: 1.4 GiB for ``fct_order_line`` at 10M lines)."""
    whole = pl.concat(pieces, rechunk=False)
    # (``pl.arg_sort_by`` over the same keys: 13.8 s for 10M sales lines; this: 0.9 s.)
    rows = whole.select(order).with_row_index("row").sort(order, maintain_order=True)["row"]
    slices = [keep(f"{name}.sorted.{number}",
                   whole.select(pl.all().gather(rows.slice(start, SLICE_ROWS))))
              for number, start in enumerate(range(0, whole.height, SLICE_ROWS))]
    return join(slices) if slices else whole.clear()
