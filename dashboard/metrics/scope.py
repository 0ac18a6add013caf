"""Row scope: which records a user may see (DESIGN D6), derived on the server from the login.

A ``Scope`` is never built from client input. Every metric takes one and filters with it
before aggregating. ``all_reps`` is for finance, executives and admins; reps and sales
managers see ``rep_ids`` (their own id, or their reporting tree) and nothing else — an empty
set sees nothing, never everything.

Two kinds of rows are scoped differently:
- **sales history** (sales lines, bookings, orders, opportunities, quotes) by the rep it is
  attributed to, so history stays with the rep of the order after a customer is reassigned;
- **customers** (lists, AR, engagement) by who manages them *now*: the current account
  manager or a ship-to location's rep override.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

REP = "rep"
SALES_MANAGER = "sales_manager"
FINANCE = "finance"
EXECUTIVE = "executive"
ADMIN = "admin"
ALL_ROLES = frozenset({REP, SALES_MANAGER, FINANCE, EXECUTIVE, ADMIN})
SALES_ROLES = frozenset({REP, SALES_MANAGER})


@dataclass(frozen=True)
class Scope:
    """The rows one user may read."""

    role: str
    user_id: int
    rep_ids: frozenset[int] = frozenset()
    all_reps: bool = False

    def __post_init__(self) -> None:
        if self.role not in ALL_ROLES:
            raise ValueError(f"unknown role {self.role!r}")
        if self.all_reps and self.role in SALES_ROLES:
            raise ValueError(f"role {self.role} cannot see every rep")

    def rep_keys(self, dim_rep: pl.DataFrame) -> pl.Series | None:
        """Surrogate keys of the reps in scope; None when every rep is (no filter)."""
        if self.all_reps:
            return None
        return dim_rep.filter(pl.col("rep_id").is_in(list(self.rep_ids)))["rep_key"]

    def customer_ids(self, dim_customer: pl.DataFrame,
                     dim_location: pl.DataFrame) -> pl.Series | None:
        """Customers managed now by a rep in scope (current account manager or a ship-to
        override); None when every customer is in scope."""
        if self.all_reps:
            return None
        reps = list(self.rep_ids)
        managed = dim_customer.filter(pl.col("is_current")
                                      & pl.col("account_manager_id").is_in(reps))["customer_id"]
        overridden = dim_location.filter(pl.col("rep_override_id").is_in(reps))["customer_id"]
        return pl.concat([managed, overridden]).unique().sort()


NO_SCOPE = Scope(role=REP, user_id=0)
"""Sees nothing: what a request without a resolvable login gets."""
COMPANY = Scope(role=ADMIN, user_id=0, all_reps=True)
"""The whole company: for per-batch work no request asked for (``dashboard.batch_warmup``),
never a user's scope (a request's scope comes from its session, ``dashboard.secure``)."""


def restrict(frame: pl.LazyFrame, column: str, allowed: pl.Series | None) -> pl.LazyFrame:
    """Rows whose ``column`` is in ``allowed`` (all rows when ``allowed`` is None)."""
    if allowed is None:
        return frame
    return frame.filter(pl.col(column).is_in(allowed.implode()))
