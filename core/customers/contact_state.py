"""Keeping ``CustomerContactState`` (where a customer's contact log stands) in step with the
log. The rules are ``core.customers.profile``'s: the **last interaction** is the latest by
date, then by entry; the **next contact date** is the newest entry's; the **promise to pay**
is the newest entry's that recorded one.

Two writers, one rule: ``record`` with each entry the services log, ``states_of`` for a log
loaded in bulk (the demo). Migration 0003 filled the rows of the entries logged before it.
"""

from __future__ import annotations

import polars as pl
from sqlalchemy.orm import Session

from core.customers.models import CustomerContactState, Interaction


def record(session: Session, entry: Interaction) -> CustomerContactState:
    """Bring ``entry``'s customer's state up to date with ``entry``, the customer's newest
    entry (flushed, so it has its id). The caller holds the customer's row lock, so no
    other entry of the customer is logged in between."""
    state = session.get(CustomerContactState, entry.customer_id, populate_existing=True)
    if state is None:
        state = CustomerContactState(customer_id=entry.customer_id)
        session.add(state)
    if state.last_interaction_on is None or entry.occurred_on >= state.last_interaction_on:
        state.last_interaction_id = entry.id  # on the same day, the newer entry
        state.last_interaction_on = entry.occurred_on
        state.last_interaction_kind = entry.kind
        state.last_interaction_notes = entry.notes
    state.next_contact_date = entry.next_contact_date
    if entry.promise_to_pay_date is not None:
        state.promise_to_pay_date = entry.promise_to_pay_date
    session.flush()
    return state


def states_of(log: pl.DataFrame) -> pl.DataFrame:
    """The ``customer_contact_state`` rows of a whole contact log (``interaction`` rows:
    ``id``, ``customer_id``, ``occurred_on``, ``kind``, ``notes``, ``next_contact_date``,
    ``promise_to_pay_date``), by customer."""
    by_day = ["occurred_on", "id"]
    return log.group_by("customer_id").agg(
        *(pl.col(name).sort_by(by_day).last().alias(f"last_interaction_{alias}")
          for name, alias in (("id", "id"), ("occurred_on", "on"), ("kind", "kind"),
                              ("notes", "notes"))),
        pl.col("next_contact_date").sort_by("id").last(),
        pl.col("promise_to_pay_date").sort_by("id").drop_nulls().last(),
    ).sort("customer_id")
