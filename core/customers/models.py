"""Customer master data: customer, bill-to/ship-to locations, contacts, interactions and
where each customer's contact log stands."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, utcnow
from core.types import Amount, Code, CurrencyCode, Name, enum_type


class CustomerStatus(StrEnum):
    PROSPECT = "prospect"
    ACTIVE = "active"
    ARCHIVED = "archived"


class HoldState(StrEnum):
    NONE = "none"
    ON_HOLD = "on_hold"


class HoldPolicy(StrEnum):
    """What a customer on hold may still do."""

    ALLOW_NOTHING = "allow_nothing"
    PENDING_ONLY = "pending_only"
    CASH_ONLY = "cash_only"


class BillingStatus(StrEnum):
    OK = "ok"
    COLLECTIONS = "collections"
    WRITTEN_OFF = "written_off"


class LocationKind(StrEnum):
    BILL_TO = "bill_to"
    SHIP_TO = "ship_to"


class ContactRole(StrEnum):
    PURCHASING = "purchasing"
    BILLING = "billing"
    DECISION_MAKER = "decision_maker"
    TECHNICAL = "technical"
    OTHER = "other"


class InteractionKind(StrEnum):
    CALL = "call"
    EMAIL = "email"
    MEETING = "meeting"
    VISIT = "visit"
    NOTE = "note"
    PROMISE_TO_PAY = "promise_to_pay"


class Customer(Base):
    """A customer account. Its currency is locked once it has a transaction."""

    __tablename__ = "customer"

    id: Mapped[int] = mapped_column(primary_key=True)
    ref: Mapped[Code] = mapped_column(unique=True)
    name: Mapped[Name]
    status: Mapped[CustomerStatus] = mapped_column(
        enum_type(CustomerStatus), default=CustomerStatus.ACTIVE
    )
    currency: Mapped[CurrencyCode]
    terms_code: Mapped[str] = mapped_column(ForeignKey("payment_terms.code"))
    credit_limit: Mapped[Amount]
    hold_state: Mapped[HoldState] = mapped_column(enum_type(HoldState), default=HoldState.NONE)
    hold_policy: Mapped[HoldPolicy] = mapped_column(
        enum_type(HoldPolicy), default=HoldPolicy.ALLOW_NOTHING
    )
    hold_reason: Mapped[str | None] = mapped_column(String(200))
    account_manager_id: Mapped[int | None] = mapped_column(ForeignKey("sales_rep.id"), index=True)
    billing_status: Mapped[BillingStatus] = mapped_column(
        enum_type(BillingStatus), default=BillingStatus.OK
    )
    segment_code: Mapped[str | None] = mapped_column(ForeignKey("segment.code"))
    channel_code: Mapped[str | None] = mapped_column(ForeignKey("channel.code"))
    region_code: Mapped[str | None] = mapped_column(ForeignKey("region.code"))
    rating: Mapped[str | None] = mapped_column(String(1))
    rating_override: Mapped[str | None] = mapped_column(String(1))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    locations: Mapped[list[Location]] = relationship(back_populates="customer")
    contacts: Mapped[list[Contact]] = relationship(back_populates="customer")

    @property
    def effective_rating(self) -> str | None:
        """The manual override wins over the computed rating."""
        return self.rating_override or self.rating


class Location(Base):
    """A bill-to or ship-to address; a ship-to may override the rep and the region."""

    __tablename__ = "customer_location"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    kind: Mapped[LocationKind] = mapped_column(enum_type(LocationKind))
    name: Mapped[Name]
    address: Mapped[str | None] = mapped_column(String(300))
    city: Mapped[str | None] = mapped_column(String(100))
    postal_code: Mapped[str | None] = mapped_column(String(20))
    country: Mapped[str | None] = mapped_column(String(60))
    region_code: Mapped[str | None] = mapped_column(ForeignKey("region.code"))
    rep_override_id: Mapped[int | None] = mapped_column(ForeignKey("sales_rep.id"))
    is_default: Mapped[bool] = mapped_column(default=False)

    customer: Mapped[Customer] = relationship(back_populates="locations")


class Contact(Base):
    """A person at the customer, with a role."""

    __tablename__ = "contact"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    name: Mapped[Name]
    role: Mapped[ContactRole] = mapped_column(enum_type(ContactRole), default=ContactRole.OTHER)
    email: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(40))

    customer: Mapped[Customer] = relationship(back_populates="contacts")


class Interaction(Base):
    """One entry of the contact log, with the next contact date it sets."""

    __tablename__ = "interaction"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contact.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    kind: Mapped[InteractionKind] = mapped_column(enum_type(InteractionKind))
    occurred_on: Mapped[date]
    notes: Mapped[str | None] = mapped_column(Text)
    next_contact_date: Mapped[date | None]
    promise_to_pay_date: Mapped[date | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CustomerContactState(Base):
    """Where a customer's contact log stands (rules in ``core.customers.profile``), kept by
    ``log_interaction`` with every entry: one row per customer with logged interactions.

    Derived from ``interaction`` and not audited (the entries are). It saves every reader
    from aggregating the whole log: the states of 50,000 customers took ~0.6 s from their
    470,000 entries on PostgreSQL, ~30 ms from these rows (see docs/DEVELOPING.md)."""

    __tablename__ = "customer_contact_state"

    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), primary_key=True)
    last_interaction_id: Mapped[int] = mapped_column(ForeignKey("interaction.id"))
    # The last interaction (by day, then entry) as the lists show it: copied, since an
    # entry is never changed, so that no reader joins the whole log.
    last_interaction_on: Mapped[date]
    last_interaction_kind: Mapped[InteractionKind] = mapped_column(enum_type(InteractionKind))
    last_interaction_notes: Mapped[str | None] = mapped_column(Text)
    next_contact_date: Mapped[date | None] = mapped_column(index=True)  # the newest entry's
    promise_to_pay_date: Mapped[date | None]  # the newest entry's that recorded one
