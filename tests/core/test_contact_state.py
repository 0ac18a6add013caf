"""Each customer's contact state is kept on its own row by the service that logs an entry;
the row always equals the state worked out from the whole log, whatever order entries are
logged in (back-dated, same day, with and without promises), and it is not audited."""

from __future__ import annotations

import random
import threading
from datetime import date, timedelta
from decimal import Decimal

import polars as pl
import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from core.audit import AuditLog, set_actor
from core.billing.models import PaymentMethod
from core.billing.payments import record_payment
from core.customers.contact_state import states_of
from core.customers.models import Interaction, InteractionKind
from core.customers.services import log_interaction
from core.db import make_session_factory, transaction
from tests.core.contact_log import derived_states, kept_states
from tests.core.race import second_waits_for_first
from tests.core.world import FINANCE, World, build_world

TODAY = date(2026, 3, 10)
LOG_COLUMNS = {"id": pl.Int64(), "customer_id": pl.Int64(), "occurred_on": pl.Date(),
               "kind": pl.String(), "notes": pl.String(), "next_contact_date": pl.Date(),
               "promise_to_pay_date": pl.Date()}


def _maybe_after(rng: random.Random, day: date) -> date | None:
    return day + timedelta(days=rng.randrange(0, 30)) if rng.random() < 0.5 else None


@pytest.mark.parametrize("seed", range(4))
def test_the_kept_state_equals_the_state_of_the_whole_log(session: Session, world: World,
                                                          seed: int) -> None:
    rng = random.Random(seed)
    customers = [world.customer.id, world.eur_customer.id]
    for n in range(25):
        on = TODAY - timedelta(days=rng.randrange(0, 12))  # back-dated and same-day entries
        log_interaction(session, FINANCE, rng.choice(customers),
                        kind=rng.choice(list(InteractionKind)), occurred_on=on,
                        notes=f"entry {n}" if rng.random() < 0.8 else None,
                        next_contact_date=_maybe_after(rng, on),
                        promise_to_pay_date=_maybe_after(rng, on), today=TODAY)
        assert kept_states(session.connection()) == derived_states(session.connection())
    assert len(kept_states(session.connection())) == 2


def test_a_bulk_loaded_log_gets_the_same_states(session: Session, world: World) -> None:
    """``states_of`` (the demo's bulk load) follows the same rules as the service."""
    rng = random.Random(7)
    for n in range(30):
        on = TODAY - timedelta(days=rng.randrange(0, 6))
        log_interaction(session, FINANCE, rng.choice([world.customer.id, world.eur_customer.id]),
                        kind=rng.choice(list(InteractionKind)), occurred_on=on,
                        notes=f"entry {n}",
                        next_contact_date=_maybe_after(rng, on),
                        promise_to_pay_date=_maybe_after(rng, on), today=TODAY)
    entries = session.scalars(select(Interaction)).all()
    log = pl.DataFrame([{name: getattr(entry, name) for name in LOG_COLUMNS}
                        for entry in entries], schema=LOG_COLUMNS)
    bulk = {row[0]: tuple(row[1:]) for row in states_of(log).iter_rows()}
    assert bulk == derived_states(session.connection())


def test_logging_an_entry_audits_the_entry_only(session: Session, world: World) -> None:
    before = session.scalar(select(func.max(AuditLog.seq))) or 0
    log_interaction(session, FINANCE, world.customer.id, kind=InteractionKind.CALL,
                    occurred_on=TODAY, notes="Called AP", today=TODAY)
    log_interaction(session, FINANCE, world.customer.id, kind=InteractionKind.CALL,
                    occurred_on=TODAY, notes="Called again", today=TODAY)
    entities = session.scalars(select(AuditLog.entity).where(AuditLog.seq > before)).all()
    assert set(entities) == {"interaction"}  # the derived state and the lock write nothing


def test_entries_logged_at_once_for_one_customer_keep_one_true_state(
        isolated_engine: Engine) -> None:
    """Two users log a customer's first entries at the same time: the second waits for the
    first's customer lock (PostgreSQL row lock, SQLite BEGIN IMMEDIATE), then updates the
    state the first created instead of creating a second one."""
    factory = make_session_factory(isolated_engine)
    with transaction(factory) as session:
        set_actor(session, "setup")
        customer_id = build_world(session).customer.id
    outcome: dict[str, object] = {}

    def second_user() -> None:
        try:
            with transaction(factory) as other:
                log_interaction(other, FINANCE, customer_id, kind=InteractionKind.CALL,
                                occurred_on=TODAY - timedelta(days=1), notes="back-dated",
                                next_contact_date=TODAY, today=TODAY)
            outcome["b"] = "logged"
        except Exception as exc:  # noqa: BLE001 - the outcome is what the test checks
            outcome["b"] = exc

    second_waits_for_first(
        factory, lambda first: log_interaction(
            first, FINANCE, customer_id, kind=InteractionKind.CALL, occurred_on=TODAY,
            notes="first", promise_to_pay_date=TODAY, today=TODAY),
        second_user, "customer lock")
    assert outcome["b"] == "logged"
    with isolated_engine.connect() as conn:
        kept = kept_states(conn)
        assert kept == derived_states(conn)
    _, last_on, _, notes, next_on, promise = kept[customer_id]
    assert (last_on, notes, next_on, promise) == (TODAY, "first", TODAY, TODAY)  # B: next date


def test_an_entry_is_logged_while_a_payment_of_the_customer_is_being_posted(
        isolated_engine: Engine) -> None:
    """A payment being posted holds its foreign-key lock (``FOR KEY SHARE``) on its
    customer's row. Logging an entry takes ``FOR NO KEY UPDATE``, which does not wait for
    it on PostgreSQL: a collection call that locked an invoice and a payment allocated to
    that invoice cannot deadlock. SQLite serialises every writer (BEGIN IMMEDIATE)."""
    factory = make_session_factory(isolated_engine)
    with transaction(factory) as session:
        set_actor(session, "setup")
        customer_id = build_world(session).customer.id
    logged = threading.Event()

    def log_a_call() -> None:
        with transaction(factory) as other:
            log_interaction(other, FINANCE, customer_id, kind=InteractionKind.CALL,
                            occurred_on=TODAY, notes="while the payment posts", today=TODAY)
        logged.set()

    posting = factory()
    posting.begin()
    record_payment(posting, FINANCE, customer_id, amount=Decimal("100.00"), currency="USD",
                   received_date=TODAY, method=PaymentMethod.BANK_TRANSFER)
    caller = threading.Thread(target=log_a_call)
    caller.start()
    waited = not logged.wait(timeout=3)
    posting.commit()
    posting.close()
    caller.join(timeout=30)
    assert logged.is_set()
    assert waited == (isolated_engine.dialect.name == "sqlite")
