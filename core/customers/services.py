"""Customer master data rules: creation, edits, currency lock, archive instead of delete,
contacts, locations and the contact log, holds and taking ownership."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.access import authorize, customer_in_scope, get_customer_for, require_role
from core.actor import (
    CUSTOMER_EDIT_ROLES,
    FINANCE_ROLES,
    HOLD_ROLES,
    TAKE_OWNERSHIP_ROLES,
    Actor,
    Role,
)
from core.billing.models import CreditNote, Invoice, Payment
from core.catalog.models import CustomerPrice
from core.company.models import Channel, PaymentTerms, Region, Segment
from core.company.services import company_today
from core.customers import contact_state
from core.customers.models import (
    BillingStatus,
    Contact,
    ContactRole,
    Customer,
    CustomerContactState,
    CustomerStatus,
    HoldPolicy,
    HoldState,
    Interaction,
    InteractionKind,
    Location,
    LocationKind,
)
from core.errors import DomainError, InvalidInput, NotFound, PermissionDenied
from core.fulfilment.models import Rma
from core.locking import lock
from core.numbering import DocType, next_number
from core.sales.models import Opportunity, Quote, SalesOrder
from core.types import InvalidCurrency, validate_currency
from core.users.models import SalesRep
from core.users.services import reporting_tree

TRANSACTION_TABLES: tuple[tuple[str, Any], ...] = (
    ("opportunities", Opportunity),
    ("quotes", Quote),
    ("orders", SalesOrder),
    ("invoices", Invoice),
    ("credit notes", CreditNote),
    ("payments", Payment),
    ("RMAs", Rma),
)
EDITABLE_FIELDS = frozenset(
    {"name", "currency", "terms_code", "credit_limit", "segment_code", "channel_code",
     "region_code", "rating_override", "billing_status"}
)
# Credit terms are finance's: a rep must not lift their own customer's credit control.
CREDIT_FIELDS = frozenset({"terms_code", "credit_limit", "billing_status", "rating_override"})


@dataclass(frozen=True)
class CustomerInput:
    """What a user enters to create a customer."""

    name: str
    currency: str
    terms_code: str = "NET30"
    credit_limit: Decimal = Decimal(0)
    segment_code: str | None = None
    channel_code: str | None = None
    region_code: str | None = None
    account_manager_id: int | None = None
    ref: str | None = None


def transaction_counts(session: Session, customer_id: int) -> dict[str, int]:
    """Number of documents of each kind the customer has (only kinds with any)."""
    counts = {}
    for label, model in TRANSACTION_TABLES:
        n = session.scalar(select(func.count()).where(model.customer_id == customer_id)) or 0
        if n:
            counts[label] = n
    return counts


def _check_reference(session: Session, model: type, code: str | None, field: str) -> None:
    if code is not None and session.get(model, code) is None:
        raise InvalidInput(f"unknown {field.removesuffix('_code')} {code!r}", field=field)


def _validate(session: Session, values: dict[str, Any]) -> None:
    if "name" in values and not str(values["name"]).strip():
        raise InvalidInput("a customer name is required", field="name")
    if "currency" in values:
        try:
            values["currency"] = validate_currency(values["currency"])
        except InvalidCurrency as exc:
            raise InvalidInput(str(exc), field="currency") from exc
    if "credit_limit" in values and Decimal(values["credit_limit"]) < 0:
        raise InvalidInput("the credit limit cannot be negative", field="credit_limit")
    if "terms_code" in values:
        _check_reference(session, PaymentTerms, values["terms_code"], "terms_code")
    _check_reference(session, Segment, values.get("segment_code"), "segment_code")
    _check_reference(session, Channel, values.get("channel_code"), "channel_code")
    _check_reference(session, Region, values.get("region_code"), "region_code")
    if "billing_status" in values:
        try:
            values["billing_status"] = BillingStatus(values["billing_status"])
        except ValueError as exc:
            raise InvalidInput(f"unknown billing status {values['billing_status']!r}",
                               field="billing_status") from exc
    if values.get("rating_override") not in (None, "A", "B", "C", "D"):
        raise InvalidInput("a rating is A, B, C or D", field="rating_override")


def create_customer(session: Session, actor: Actor, data: CustomerInput) -> Customer:
    """Create an active customer; a rep creating one becomes its account manager."""
    authorize(session, actor, CUSTOMER_EDIT_ROLES, "create customers")
    values = {k: v for k, v in data.__dict__.items() if k not in {"ref", "account_manager_id"}}
    _validate(session, values)
    manager_id = data.account_manager_id
    if actor.role == Role.REP:
        manager_id = actor.rep_id
    if manager_id is not None and session.get(SalesRep, manager_id) is None:
        raise InvalidInput(f"unknown sales rep #{manager_id}", field="account_manager_id")
    if data.ref:
        ref = data.ref.strip()
        if _ref_taken(session, ref):
            raise InvalidInput(f"customer reference {ref} is taken", field="ref")
    else:
        ref = next_number(session, DocType.CUSTOMER)
        while _ref_taken(session, ref):  # skip numbers someone entered by hand
            ref = next_number(session, DocType.CUSTOMER)
    customer = Customer(ref=ref, account_manager_id=manager_id, **values)
    session.add(customer)
    session.flush()
    return customer


def _ref_taken(session: Session, ref: str) -> bool:
    return session.scalar(select(Customer.id).where(Customer.ref == ref)) is not None


def update_customer(
    session: Session, actor: Actor, customer_id: int, changes: dict[str, Any]
) -> Customer:
    """Edit master data. The currency is locked once the customer has any transaction."""
    customer = get_customer_for(session, actor, customer_id, CUSTOMER_EDIT_ROLES, "edit customers")
    unknown = set(changes) - EDITABLE_FIELDS
    if unknown:
        raise InvalidInput(f"these fields cannot be edited here: {', '.join(sorted(unknown))}")
    if CREDIT_FIELDS & set(changes):
        require_role(actor, FINANCE_ROLES, "change credit limits, terms or billing status")
    _validate(session, changes)
    if "currency" in changes and changes["currency"] != customer.currency:
        counts = transaction_counts(session, customer.id)
        if counts:
            raise DomainError(
                f"the currency of {customer.ref} is locked at {customer.currency}: it has "
                + _describe(counts),
                field="currency",
            )
    for key, value in changes.items():
        setattr(customer, key, value)
    session.flush()
    return customer


def _describe(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {label}" for label, n in counts.items())


def delete_customer(session: Session, actor: Actor, customer_id: int) -> None:
    """Delete a customer without transactions; one with transactions must be archived."""
    customer = get_customer_for(session, actor, customer_id, {Role.ADMIN}, "delete customers")
    lock(session, Customer, customer.id, "customer")  # no entry logged while it goes
    counts = transaction_counts(session, customer.id)
    if counts:
        raise DomainError(
            f"customer {customer.ref} cannot be deleted: it has {_describe(counts)}; "
            "archive it instead"
        )
    for model in (CustomerContactState, Interaction, Contact, Location, CustomerPrice):
        for row in session.scalars(select(model).where(model.customer_id == customer.id)):
            session.delete(row)
    session.delete(customer)
    session.flush()


def archive_customer(session: Session, actor: Actor, customer_id: int) -> Customer:
    """Archive a customer: it keeps its history but takes no new documents."""
    customer = get_customer_for(session, actor, customer_id, CUSTOMER_EDIT_ROLES, "archive")
    customer.status = CustomerStatus.ARCHIVED
    session.flush()
    return customer


def add_location(
    session: Session,
    actor: Actor,
    customer_id: int,
    *,
    kind: LocationKind,
    name: str,
    address: str | None = None,
    city: str | None = None,
    postal_code: str | None = None,
    country: str | None = None,
    region_code: str | None = None,
    rep_override_id: int | None = None,
    is_default: bool = False,
) -> Location:
    """Add a bill-to or ship-to address; a ship-to may override the rep and region."""
    customer = get_customer_for(session, actor, customer_id, CUSTOMER_EDIT_ROLES, "edit customers")
    if not name.strip():
        raise InvalidInput("a location name is required", field="name")
    _check_reference(session, Region, region_code, "region_code")
    if rep_override_id is not None and session.get(SalesRep, rep_override_id) is None:
        raise InvalidInput(f"unknown sales rep #{rep_override_id}", field="rep_override_id")
    location = Location(
        customer_id=customer.id, kind=LocationKind(kind), name=name, address=address, city=city,
        postal_code=postal_code, country=country, region_code=region_code,
        rep_override_id=rep_override_id, is_default=is_default,
    )
    session.add(location)
    session.flush()
    return location


def add_contact(
    session: Session,
    actor: Actor,
    customer_id: int,
    *,
    name: str,
    role: ContactRole = ContactRole.OTHER,
    email: str | None = None,
    phone: str | None = None,
) -> Contact:
    """Add a contact person with a role."""
    customer = get_customer_for(session, actor, customer_id, CUSTOMER_EDIT_ROLES, "edit customers")
    if not name.strip():
        raise InvalidInput("a contact name is required", field="name")
    if email is not None and "@" not in email:
        raise InvalidInput(f"{email!r} is not an e-mail address", field="email")
    contact = Contact(customer_id=customer.id, name=name, role=ContactRole(role), email=email,
                      phone=phone)
    session.add(contact)
    session.flush()
    return contact


def log_interaction(
    session: Session,
    actor: Actor,
    customer_id: int,
    *,
    kind: InteractionKind,
    occurred_on: date,
    notes: str | None = None,
    contact_id: int | None = None,
    next_contact_date: date | None = None,
    promise_to_pay_date: date | None = None,
    today: date | None = None,
) -> Interaction:
    """Record a call, e-mail, meeting, … and the next contact date it sets, and bring the
    customer's ``CustomerContactState`` up to date. It happened on or before today (company
    time zone; ``today`` only for tests and the importer); the next contact date and a
    promise to pay it records are not before it."""
    customer = get_customer_for(
        session, actor, customer_id, set(Role) - {Role.EXECUTIVE}, "log interactions"
    )
    if occurred_on > (today or company_today(session)):
        raise InvalidInput("an interaction cannot be dated in the future", field="occurred_on")
    if next_contact_date is not None and next_contact_date < occurred_on:
        raise InvalidInput("the next contact date is before the interaction",
                           field="next_contact_date")
    if promise_to_pay_date is not None and promise_to_pay_date < occurred_on:
        raise InvalidInput("the promise to pay is dated before the interaction",
                           field="promise_to_pay_date")
    if contact_id is not None:
        contact = session.get(Contact, contact_id)
        if contact is None or contact.customer_id != customer.id:
            raise InvalidInput(f"contact #{contact_id} is not a contact of {customer.ref}",
                               field="contact_id")
    # One entry of a customer at a time; not FOR UPDATE, which the foreign-key checks of a
    # payment or an order being posted for the customer would wait on (a deadlock with a
    # collection call that locked the invoice first).
    lock(session, Customer, customer.id, "customer", key_share=True)
    interaction = Interaction(
        customer_id=customer.id, contact_id=contact_id, user_id=actor.user_id,
        kind=InteractionKind(kind), occurred_on=occurred_on, notes=notes,
        next_contact_date=next_contact_date, promise_to_pay_date=promise_to_pay_date,
    )
    session.add(interaction)
    session.flush()
    contact_state.record(session, interaction)
    return interaction


def put_on_hold(
    session: Session, actor: Actor, customer_id: int, *, policy: HoldPolicy, reason: str
) -> Customer:
    """Put a customer on manual hold with a policy for what it may still do."""
    customer = get_customer_for(session, actor, customer_id, HOLD_ROLES, "put customers on hold")
    if not reason.strip():
        raise InvalidInput("say why the customer is put on hold", field="reason")
    customer.hold_state = HoldState.ON_HOLD
    customer.hold_policy = HoldPolicy(policy)
    customer.hold_reason = reason
    session.flush()
    return customer


def release_hold(session: Session, actor: Actor, customer_id: int) -> Customer:
    """Take a customer off hold; the audit log records who did it and when."""
    customer = get_customer_for(session, actor, customer_id, HOLD_ROLES, "release holds")
    if customer.hold_state != HoldState.ON_HOLD:
        raise DomainError(f"customer {customer.ref} is not on hold")
    customer.hold_state = HoldState.NONE
    customer.hold_reason = None
    session.flush()
    return customer


def take_ownership(session: Session, actor: Actor, customer_id: int) -> Customer:
    """Make the acting rep the customer's account manager.

    A rep may take customers that have no active account manager; a sales manager may
    take any customer that is unassigned or managed within their reporting tree.
    """
    authorize(session, actor, TAKE_OWNERSHIP_ROLES, "take ownership of customers")
    customer = session.get(Customer, customer_id)
    if customer is None or actor.rep_id is None:
        raise NotFound(f"customer #{customer_id} not found")
    current = session.get(SalesRep, customer.account_manager_id) if customer.account_manager_id \
        else None
    if current is not None and current.id == actor.rep_id:
        return customer
    free = current is None or not current.is_active
    if actor.role == Role.SALES_MANAGER:
        allowed = free or current.id in reporting_tree(session, actor.rep_id)  # type: ignore[union-attr]
    else:
        allowed = free
    if not allowed and not customer_in_scope(session, actor, customer):
        raise NotFound(f"customer #{customer_id} not found")  # reveal nothing out of scope
    if not allowed:
        raise PermissionDenied(
            f"customer {customer.ref} is managed by {current.name}; ask their manager"  # type: ignore[union-attr]
        )
    customer.account_manager_id = actor.rep_id
    session.flush()
    return customer
