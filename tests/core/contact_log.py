"""An independent reading of the contact-log rules (``core.customers.profile``) for tests:
each customer's state worked out in plain Python from its entries, and the kept
``customer_contact_state`` rows in the same shape."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import Connection, select

from core.customers.models import CustomerContactState, Interaction

State = tuple[int, date, str, str | None, date | None, date | None]
"""last interaction: id, day, kind, notes; next contact date; promise to pay"""


def _as_date(value: Any) -> date | None:
    """A date column read through Core, whether the driver gave a date or ISO text."""
    return date.fromisoformat(value) if isinstance(value, str) else value


def derived_states(connection: Connection) -> dict[int, State]:
    """Each customer's state from its entries: last by (day, entry), the newest entry's next
    contact date, the newest promise."""
    entries: dict[int, list[tuple[Any, ...]]] = {}
    for entry_id, customer_id, on, kind, notes, next_on, promise in connection.execute(select(
            Interaction.id, Interaction.customer_id, Interaction.occurred_on,
            Interaction.kind, Interaction.notes, Interaction.next_contact_date,
            Interaction.promise_to_pay_date)):
        entries.setdefault(customer_id, []).append(
            (entry_id, _as_date(on), str(kind), notes, _as_date(next_on), _as_date(promise)))
    states = {}
    for customer_id, log in entries.items():
        last = max(log, key=lambda e: (e[1], e[0]))
        newest = max(log)
        promises = [e for e in log if e[5] is not None]
        states[customer_id] = (*last[:4], newest[4], max(promises)[5] if promises else None)
    return states


def kept_states(connection: Connection) -> dict[int, State]:
    """The ``customer_contact_state`` rows as ``State``s."""
    state = CustomerContactState
    return {customer_id: (last_id, _as_date(on), str(kind), notes, _as_date(next_on),
                          _as_date(promise))
            for customer_id, last_id, on, kind, notes, next_on, promise in connection.execute(
                select(state.customer_id, state.last_interaction_id, state.last_interaction_on,
                       state.last_interaction_kind, state.last_interaction_notes,
                       state.next_contact_date, state.promise_to_pay_date))}
