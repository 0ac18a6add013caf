"""Read services for the live (operational) side of a customer: profile, contacts, contact
log, next contact date and hold state. Pages read these fresh from the core; figures come
from the mart (DESIGN D6)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.access import customers_in_scope, get_customer_for, require_role
from core.actor import Actor, Role
from core.customers.models import Contact, Customer, HoldPolicy, HoldState, Interaction, Location
from core.users.models import SalesRep

VIEW_ROLES = frozenset(Role)
RECENT_INTERACTIONS = 10


@dataclass(frozen=True)
class CustomerProfile:
    """A customer as the Customer 360 page shows it, read in one session."""

    customer: Customer
    account_manager: str | None
    locations: list[Location]
    contacts: list[Contact]
    interactions: list[Interaction]  # latest occurred first, at most RECENT_INTERACTIONS
    next_contact_date: date | None  # set by the most recently logged interaction
    promise_to_pay_date: date | None


@dataclass(frozen=True)
class ContactDue:
    """A customer whose next contact date has come."""

    customer_id: int
    customer_name: str
    next_contact_date: date
    account_manager: str | None


@dataclass(frozen=True)
class CreditStanding:
    """A customer's credit limit (in its own currency) and hold state, as they are now."""

    customer_id: int
    currency: str
    credit_limit: Decimal
    hold_state: HoldState
    hold_policy: HoldPolicy
    hold_reason: str | None


def credit_standings(session: Session, actor: Actor) -> list[CreditStanding]:
    """The credit limit and hold state of every customer in the actor's scope (account
    manager or ship-to override; everyone for finance, executives and admins), by id."""
    require_role(actor, VIEW_ROLES, "view customers")
    query = select(Customer.id, Customer.currency, Customer.credit_limit, Customer.hold_state,
                   Customer.hold_policy, Customer.hold_reason).order_by(Customer.id)
    condition = customers_in_scope(session, actor)
    rows = session.execute(query if condition is None else query.where(condition))
    return [CreditStanding(*row) for row in rows]


def customer_profile(session: Session, actor: Actor, customer_id: int) -> CustomerProfile:
    """The profile of a customer in the actor's scope (others raise ``NotFound``)."""
    customer = get_customer_for(session, actor, customer_id, VIEW_ROLES, "view customers")
    manager = session.get(SalesRep, customer.account_manager_id) \
        if customer.account_manager_id else None
    interactions = list(session.scalars(
        select(Interaction).where(Interaction.customer_id == customer_id)
        .order_by(Interaction.occurred_on.desc(), Interaction.id.desc())
        .limit(RECENT_INTERACTIONS)))
    newest = session.scalar(select(Interaction).where(Interaction.customer_id == customer_id)
                            .order_by(Interaction.id.desc()).limit(1))
    return CustomerProfile(
        customer=customer,
        account_manager=manager.name if manager else None,
        locations=sorted(customer.locations, key=lambda loc: (loc.kind, loc.id)),
        contacts=sorted(customer.contacts, key=lambda c: c.name),
        interactions=interactions,
        next_contact_date=newest.next_contact_date if newest else None,
        promise_to_pay_date=newest.promise_to_pay_date if newest else None,
    )


def contacts_due(session: Session, actor: Actor, until: date,
                 limit: int = 50) -> list[ContactDue]:
    """Customers in scope whose most recently logged interaction set a next contact date
    ≤ ``until``, earliest first."""
    newest = (select(Interaction.customer_id, func.max(Interaction.id).label("id"))
              .group_by(Interaction.customer_id).subquery())
    query = (
        select(Customer.id, Customer.name, Interaction.next_contact_date, SalesRep.name)
        .join(newest, newest.c.customer_id == Customer.id)
        .join(Interaction, Interaction.id == newest.c.id)
        .outerjoin(SalesRep, SalesRep.id == Customer.account_manager_id)
        .where(Interaction.next_contact_date <= until)
        .order_by(Interaction.next_contact_date, Customer.name).limit(limit)
    )
    condition = customers_in_scope(session, actor)
    rows = session.execute(query if condition is None else query.where(condition))
    # next_contact_date is not null here: the query filters on it.
    return [ContactDue(customer_id, name, due, manager)  # type: ignore[arg-type]
            for customer_id, name, due, manager in rows]
