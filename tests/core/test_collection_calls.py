"""Collection calls: finance logs a call about an overdue invoice and the promise to pay it
obtained in one action; bad input names its field and writes nothing; only finance may; the
live follow-up fields (last interaction, next contact, promises) are read per invoice in a
fixed number of queries, within the reader's scope."""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl
import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from core.actor import Actor, Role
from core.billing.collection_calls import record_collection_call
from core.billing.models import Invoice
from core.customers import profile
from core.customers.models import Interaction, InteractionKind
from core.customers.profile import FOLLOW_UP_SCHEMA, contact_states, follow_ups
from core.customers.services import log_interaction
from core.errors import DomainError, InvalidInput, PermissionDenied
from tests.core.documents import count, posted_invoice
from tests.core.queries import queries_sent
from tests.core.world import ADMIN, EXECUTIVE, FINANCE, World

TODAY = date(2026, 3, 10)
INVOICED = date(2026, 1, 5)  # NET30: due 4 Feb, overdue on TODAY


def _call(session: Session, invoice: Invoice, actor: Actor = FINANCE, **changes: Any
          ) -> Interaction:
    values: dict[str, Any] = {"kind": InteractionKind.CALL, "occurred_on": TODAY,
                              "notes": "Spoke to AP: payment run on Friday",
                              "next_contact_date": date(2026, 3, 17),
                              "promise_to_pay_date": date(2026, 3, 13)} | changes
    return record_collection_call(session, actor, invoice.id, today=TODAY, **values)


def test_a_call_logs_the_interaction_and_sets_the_invoices_promise_together(
        session: Session, world: World) -> None:
    invoice = posted_invoice(session, world, 5, INVOICED)
    interaction = _call(session, invoice)
    assert (interaction.customer_id, interaction.kind, interaction.promise_to_pay_date) == (
        world.customer.id, InteractionKind.CALL, date(2026, 3, 13))
    assert interaction.notes == "Spoke to AP: payment run on Friday"
    assert invoice.promise_to_pay_date == date(2026, 3, 13)
    without_promise = _call(session, invoice, promise_to_pay_date=None, notes=" Left a message ")
    assert without_promise.notes == "Left a message"
    assert invoice.promise_to_pay_date == date(2026, 3, 13)  # a call without one keeps it


@pytest.mark.parametrize(("changes", "field"), [
    ({"notes": "  "}, "notes"),
    ({"notes": "x" * 2001}, "notes"),
    ({"occurred_on": date(2026, 3, 11)}, "occurred_on"),
    ({"next_contact_date": date(2026, 3, 9)}, "next_contact_date"),
    ({"promise_to_pay_date": date(2026, 3, 9)}, "promise_to_pay_date"),  # in the past
    ({"promise_to_pay_date": date(2026, 1, 4)}, "promise_to_pay_date"),  # before the invoice
])
def test_bad_input_names_its_field_and_writes_nothing(
        session: Session, world: World, changes: dict[str, Any], field: str) -> None:
    invoice = posted_invoice(session, world, 5, INVOICED)
    with pytest.raises(InvalidInput) as refused, session.begin_nested():
        _call(session, invoice, **changes)
    assert refused.value.field == field
    session.expire_all()
    assert count(session, Interaction) == 0
    assert session.get_one(Invoice, invoice.id).promise_to_pay_date is None


def test_a_refused_interaction_takes_the_promise_already_set_back_with_it(
        session: Session, world: World) -> None:
    """The invoice's promise is written before the interaction is checked: the refusal
    must take the promise back with it (one transaction)."""
    invoice = posted_invoice(session, world, 5, INVOICED)
    with pytest.raises(InvalidInput), session.begin_nested():
        _call(session, invoice, next_contact_date=date(2026, 3, 1))
    session.expire_all()
    assert session.get_one(Invoice, invoice.id).promise_to_pay_date is None
    assert count(session, Interaction) == 0


@pytest.mark.parametrize("who", ["alice", "manager", "admin", "executive"])
def test_only_finance_records_collection_calls(session: Session, world: World,
                                               who: str) -> None:
    actor = {"alice": world.alice, "manager": world.manager, "admin": ADMIN,
             "executive": EXECUTIVE}[who]
    invoice = posted_invoice(session, world, 5, INVOICED)  # Alice's own customer
    with pytest.raises(PermissionDenied), session.begin_nested():
        _call(session, invoice, actor=actor)
    assert count(session, Interaction) == 0
    assert session.get_one(Invoice, invoice.id).promise_to_pay_date is None


def test_an_interaction_cannot_record_a_promise_dated_before_it(session: Session,
                                                                  world: World) -> None:
    with pytest.raises(InvalidInput) as refused, session.begin_nested():
        log_interaction(session, world.alice, world.customer.id, kind=InteractionKind.CALL,
                        occurred_on=date(2026, 3, 5), promise_to_pay_date=date(2026, 3, 4),
                        today=TODAY)
    assert refused.value.field == "promise_to_pay_date"
    assert count(session, Interaction) == 0


def test_an_unknown_invoice_is_not_found(session: Session, world: World) -> None:
    with pytest.raises(DomainError, match="not found"):
        record_collection_call(session, FINANCE, 999_999, kind=InteractionKind.CALL,
                               occurred_on=TODAY, notes="?", today=TODAY)


def test_contact_state_last_by_date_next_contact_by_entry_promise_until_replaced(
        session: Session, world: World) -> None:
    acme = world.customer.id

    def log(on: date, **fields: Any) -> None:
        log_interaction(session, world.alice, acme, kind=InteractionKind.CALL,
                        occurred_on=on, today=TODAY, **fields)

    log(date(2026, 3, 5), notes="promised", next_contact_date=date(2026, 3, 20),
        promise_to_pay_date=date(2026, 3, 12))
    log(date(2026, 3, 8), notes="newest call")
    log(date(2026, 3, 1), notes="back-dated visit", next_contact_date=date(2026, 3, 30))
    state = contact_states(session, [acme, world.eur_customer.id])
    assert state[acme].last_interaction_on == date(2026, 3, 8)
    assert (state[acme].last_interaction_kind, state[acme].last_interaction_notes) == (
        "call", "newest call")
    assert state[acme].next_contact_date == date(2026, 3, 30)  # the latest logged sets it
    assert state[acme].promise_to_pay_date == date(2026, 3, 12)  # not withdrawn by later calls
    assert world.eur_customer.id not in state  # no interactions
    log(date(2026, 3, 9), promise_to_pay_date=date(2026, 3, 19))
    assert contact_states(session, [acme])[acme].promise_to_pay_date == date(2026, 3, 19)
    log(date(2026, 3, 9), notes="same day, logged later")
    log(date(2026, 3, 2), notes="back-dated again")
    state = contact_states(session, [acme])[acme]
    assert (state.last_interaction_on, state.last_interaction_notes) == (
        date(2026, 3, 9), "same day, logged later")
    assert state.promise_to_pay_date == date(2026, 3, 19)
    assert state.next_contact_date is None  # the newest entry set none


def test_follow_ups_read_a_fixed_number_of_queries_within_the_readers_scope(
        session: Session, world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    invoices = [posted_invoice(session, world, n, INVOICED) for n in (1, 2, 3)]
    _call(session, invoices[0])
    of = pl.DataFrame({"invoice_id": [i.id for i in invoices],
                       "customer_id": [i.customer_id for i in invoices]})
    outsider = Actor(user_id=None, role=Role.REP, rep_id=world.other_team_rep.id, name="otto")
    if session.get_bind().dialect.name == "postgresql":  # dates whatever the DateStyle
        session.execute(text("SET LOCAL datestyle = 'SQL, DMY'"))
    one = queries_sent(session, lambda: follow_ups(session, FINANCE, of.head(1)))
    found = follow_ups(session, FINANCE, of)
    assert queries_sent(session, lambda: follow_ups(session, FINANCE, of)) == one
    assert found.schema == FOLLOW_UP_SCHEMA
    assert found["invoice_id"].to_list() == of["invoice_id"].to_list()  # in their order
    assert set(found["invoice_promise_date"].to_list()) == {date(2026, 3, 13), None}
    assert set(found["next_contact_date"].to_list()) == {date(2026, 3, 17)}
    assert set(found["last_interaction_kind"].to_list()) == {"call"}
    assert follow_ups(session, world.alice, of)["invoice_id"].to_list() == \
        of["invoice_id"].to_list()
    assert follow_ups(session, outsider, of).is_empty()
    # More than a batch (an export) is read over the whole scope, in as many queries.
    monkeypatch.setattr(profile, "FOLLOW_UP_BATCH", 2)
    many = pl.concat([of, pl.DataFrame({"invoice_id": [999_999], "customer_id": [999_999]})])
    assert follow_ups(session, FINANCE, many).equals(found)
    assert queries_sent(session, lambda: follow_ups(session, FINANCE, many)) == one
    assert follow_ups(session, world.alice, many).equals(found)
    assert follow_ups(session, outsider, many).is_empty()
    assert follow_ups(session, FINANCE, of.head(0)).is_empty()
    # The frame holds what ``contact_states`` reads for one customer.
    state = contact_states(session, [invoices[0].customer_id])[invoices[0].customer_id]
    row = found.row(0, named=True)
    assert all(row[name] == getattr(state, name) for name in vars(state))
