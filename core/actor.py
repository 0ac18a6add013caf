"""Who performs an action: the user, their role and, for sales roles, their rep record.

Core services take an ``Actor`` for every write so rules that depend on the role (price
overrides, releasing holds, taking ownership) live in the service, not in the form.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    REP = "rep"
    SALES_MANAGER = "sales_manager"
    FINANCE = "finance"
    EXECUTIVE = "executive"
    ADMIN = "admin"


SALES_ROLES = frozenset({Role.REP, Role.SALES_MANAGER})
# Who may do what (DESIGN D6); row scope is checked separately (core.access). Admins keep
# master data (customers, catalogue, settings, users) but post no sales or finance documents;
# executives write nothing.
CUSTOMER_EDIT_ROLES = frozenset({Role.REP, Role.SALES_MANAGER, Role.FINANCE, Role.ADMIN})
SALES_DOCUMENT_ROLES = SALES_ROLES
FULFILMENT_ROLES = frozenset({Role.REP, Role.SALES_MANAGER, Role.FINANCE})
FINANCE_ROLES = frozenset({Role.FINANCE})
HOLD_ROLES = frozenset({Role.SALES_MANAGER, Role.FINANCE})
PRICE_OVERRIDE_ROLES = frozenset({Role.SALES_MANAGER})
SETTINGS_ROLES = frozenset({Role.ADMIN})
TAKE_OWNERSHIP_ROLES = SALES_ROLES


@dataclass(frozen=True)
class Actor:
    """The user behind a service call. ``rep_id`` is set for reps and sales managers."""

    user_id: int | None
    role: Role
    rep_id: int | None = None
    name: str = "system"

    @property
    def label(self) -> str:
        """What the audit log records as the author."""
        return self.name if self.user_id is None else f"{self.name}#{self.user_id}"


SYSTEM = Actor(user_id=None, role=Role.ADMIN, name="system")
