"""A small hand-made world for service tests: a sales team, users of every role, products
and customers, built through the core services (except reps, which have no service)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy.orm import Session

from core.actor import Actor, Role
from core.catalog.models import Product
from core.catalog.services import create_product
from core.company.services import set_fx_rate
from core.customers.models import Customer, Location, LocationKind
from core.customers.services import CustomerInput, add_location, create_customer
from core.users.models import SalesRep

D = Decimal
ADMIN = Actor(user_id=None, role=Role.ADMIN, name="admin")
FINANCE = Actor(user_id=None, role=Role.FINANCE, name="finance")
EXECUTIVE = Actor(user_id=None, role=Role.EXECUTIVE, name="exec")


@dataclass
class World:
    """Everything a service test needs, with the actors to act as."""

    head: SalesRep
    rep_a: SalesRep
    rep_b: SalesRep
    other_team_rep: SalesRep
    manager: Actor
    alice: Actor
    bob: Actor
    widget: Product
    gadget: Product
    customer: Customer
    ship_to: Location
    eur_customer: Customer


def build_world(session: Session) -> World:
    """Reps (a head with two reps, plus a rep outside the team), products, customers."""
    head = SalesRep(code="HEAD", name="Hana Head", region_code="NORTH")
    outsider = SalesRep(code="OUT", name="Otto Outside", region_code="WEST")
    session.add_all([head, outsider])
    session.flush()
    rep_a = SalesRep(code="REPA", name="Alice Rep", manager_id=head.id, region_code="NORTH")
    rep_b = SalesRep(code="REPB", name="Bob Rep", manager_id=head.id, region_code="SOUTH")
    session.add_all([rep_a, rep_b])
    session.flush()
    widget = create_product(session, ADMIN, sku="W-1", name="Widget", category="Hardware",
                            product_line="Widgets", unit_cost=D("6.5000"),
                            list_price=D("10.0000"), min_price=D("8.0000"))
    gadget = create_product(session, ADMIN, sku="G-1", name="Gadget", category="Software",
                            product_line="Gadgets", unit_cost=D("1.2500"),
                            list_price=D("33.3300"), tax_code="RED")
    customer = create_customer(session, ADMIN, CustomerInput(
        name="Acme Ltd", currency="USD", terms_code="NET30", credit_limit=D("10000"),
        segment_code="SMB", channel_code="DIRECT", region_code="NORTH",
        account_manager_id=rep_a.id,
    ))
    ship_to = add_location(session, ADMIN, customer.id, kind=LocationKind.SHIP_TO,
                           name="Acme South Depot", region_code="SOUTH",
                           rep_override_id=rep_b.id)
    set_fx_rate(session, FINANCE, "EUR", date(2024, 1, 1), D("1.1000000000"))
    set_fx_rate(session, FINANCE, "EUR", date(2025, 1, 1), D("1.2000000000"))
    eur_customer = create_customer(session, ADMIN, CustomerInput(
        name="Euro GmbH", currency="EUR", terms_code="NET60", credit_limit=D("50000"),
        segment_code="ENTERPRISE", channel_code="DISTRIBUTOR", region_code="CENTRAL",
        account_manager_id=rep_b.id,
    ))
    return World(
        head=head, rep_a=rep_a, rep_b=rep_b, other_team_rep=outsider,
        manager=Actor(user_id=None, role=Role.SALES_MANAGER, rep_id=head.id, name="hana"),
        alice=Actor(user_id=None, role=Role.REP, rep_id=rep_a.id, name="alice"),
        bob=Actor(user_id=None, role=Role.REP, rep_id=rep_b.id, name="bob"),
        widget=widget, gadget=gadget, customer=customer, ship_to=ship_to,
        eur_customer=eur_customer,
    )
