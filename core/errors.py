"""Errors raised by core services. Each message is meant to be shown to the user as is."""

from __future__ import annotations


class DomainError(Exception):
    """A business rule refused the action; nothing was written."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidInput(DomainError):
    """Malformed or out-of-range input (negative quantity, bad date, unknown code)."""


class NotFound(DomainError):
    """A referenced record does not exist (or is outside the caller's scope)."""


class PermissionDenied(DomainError):
    """The caller's role or scope does not allow the action."""


class CreditBlocked(DomainError):
    """Credit control refused an order; the message states the figures."""


class ImmutableDocument(DomainError):
    """A posted or decided document cannot be edited in place."""
