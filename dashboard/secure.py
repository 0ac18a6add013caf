"""The one wrapper every page layout and every callback goes through (DESIGN D6).

It derives the request's ``Scope`` on the server from the login — never from the client —
checks the role, and hands the wrapped function a ``RequestContext`` (scope, the published
mart batch, company settings). A callback called by a role that may not use it gets 403; a
page opened by such a role shows "no access". ``SECURED_MARK`` lets a test enumerate every
callback and layout and fail on any that bypasses the wrapper.

Per-request cost: Flask-Login's user loader reads the user row on every request (a disabled
user, or a changed role or rep, applies to the very next request). The company settings and
the reporting tree of a scope, which every request would otherwise read from the core, are
kept per process for ``Settings.context_cache_seconds`` (``CONTEXT_CACHE``): the scope is
cached per (user id, role, rep id), so a role or rep change takes effect at once, while a
change of who reports to whom (or of the company settings) takes effect within that many
seconds.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, ParamSpec, TypeVar
from zoneinfo import ZoneInfo

from dash import html
from flask import current_app, g
from flask_login import current_user
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.exceptions import Forbidden

from core.access import scope_reps
from core.actor import Actor
from core.company.models import CompanySettings
from dashboard.metrics.aging import DEFAULT_BOUNDARIES
from dashboard.metrics.financing import DEFAULT_RATE
from dashboard.metrics.mart import Mart
from dashboard.metrics.scope import NO_SCOPE, Scope

SECURED_MARK = "__salesbi_secured__"
P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True)
class RequestContext:
    """What a page or callback may use: who asks, what they may see, which batch."""

    scope: Scope
    actor: Actor | None  # for core read services (operational fields); None without login
    full_name: str
    mart: Mart | None
    today: date
    base_currency: str
    fiscal_year_start_month: int
    timezone: str
    aging_boundaries: tuple[int, ...] = DEFAULT_BOUNDARIES  # the company's bucket bounds
    financing_rate: Decimal = DEFAULT_RATE  # the company's annual rate (0.08 = 8 %)


CONTEXT_CACHE = "salesbi_context_cache"
"""``server.extensions`` key of the per-process cache of company settings and scopes
(a ``cachelib.SimpleCache``; absent when ``context_cache_seconds`` is 0)."""
CORE_READS = "salesbi_core_reads"
"""``flask.g`` counter of ``session_factory()`` calls in this request: rendering that reads
the core is live and never served from the result cache (``dashboard.result_cache``)."""


def session_factory() -> sessionmaker[Session]:
    """The core session factory, for core read services (operational fields). What is
    rendered after a call reads live data, so it is not stored in the result cache."""
    setattr(g, CORE_READS, g.get(CORE_READS, 0) + 1)
    return _core_sessions()


def _core_sessions() -> sessionmaker[Session]:
    return current_app.extensions["salesbi_session_factory"]  # type: ignore[no-any-return]


def request_context() -> RequestContext:
    """The context of the current request (derived once per request)."""
    if "salesbi_context" not in g:
        g.salesbi_context = _derive_context()
    return g.salesbi_context  # type: ignore[no-any-return]


@dataclass(frozen=True)
class Company:
    """The company settings a request reads (cached per process)."""

    base_currency: str
    fiscal_year_start_month: int
    timezone: str
    aging_boundaries: tuple[int, ...]
    financing_rate: Decimal


def _cached(key: str, compute: Callable[[], R]) -> R:
    """``compute()``, kept in the per-process context cache when there is one."""
    cache = current_app.extensions.get(CONTEXT_CACHE)
    if cache is None:
        return compute()
    value: R | None = cache.get(key)
    if value is None:
        value = compute()
        cache.set(key, value)
    return value


def company_settings() -> Company:
    """The company's settings, from the core (in the per-process context cache)."""
    def read() -> Company:
        with _core_sessions()() as session:
            settings = session.get_one(CompanySettings, 1)
            return Company(settings.base_currency, settings.fiscal_year_start_month,
                           settings.timezone,
                           tuple(int(b) for b in settings.aging_buckets.split(",")),
                           settings.financing_rate)

    return _cached("company", read)


def _scope(actor: Actor) -> Scope:
    """The actor's row scope; keyed on what the user loader reads fresh every request."""
    def read() -> Scope:
        with _core_sessions()() as session:
            reps = scope_reps(session, actor)
        return Scope(role=str(actor.role), user_id=actor.user_id or 0,
                     rep_ids=frozenset(reps or ()), all_reps=reps is None)

    return _cached(f"scope:{actor.user_id}:{actor.role}:{actor.rep_id}", read)


def _derive_context() -> RequestContext:
    reader = current_app.extensions["salesbi_mart_reader"]
    company = company_settings()
    scope, name, actor = NO_SCOPE, "", None
    if current_user.is_authenticated:
        actor = current_user.actor
        scope = _scope(actor)
        name = current_user.full_name
    today = datetime.now(ZoneInfo(company.timezone)).date()
    return RequestContext(scope, actor, name, reader.current(), today, company.base_currency,
                          company.fiscal_year_start_month, company.timezone,
                          company.aging_boundaries, company.financing_rate)


def _allowed(roles: Collection[str]) -> RequestContext | None:
    if not current_user.is_authenticated:
        return None
    ctx = request_context()
    return ctx if ctx.scope.role in roles else None


def secured(roles: Collection[str]) -> Callable[[Callable[..., R]], Callable[..., R]]:
    """Decorate a callback ``fn(ctx, *inputs)``; Dash calls it as ``fn(*inputs)``."""
    allowed_roles = frozenset(roles)

    def decorate(fn: Callable[..., R]) -> Callable[..., R]:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> R:
            ctx = _allowed(allowed_roles)
            if ctx is None:
                raise Forbidden("this role may not use this view")
            return fn(ctx, *args, **kwargs)

        setattr(wrapper, SECURED_MARK, allowed_roles)
        return wrapper

    return decorate


def secured_layout(roles: Collection[str]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorate a page layout ``layout(ctx, **query)``; other roles see a no-access notice."""
    allowed_roles = frozenset(roles)

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def wrapper(**query: Any) -> Any:
            ctx = _allowed(allowed_roles)
            if ctx is None:
                return no_access()
            return fn(ctx, **query)

        setattr(wrapper, SECURED_MARK, allowed_roles)
        return wrapper

    return decorate


def no_access() -> html.Div:
    return html.Div(
        [html.H2("No access", className="h4"),
         html.P("Your role cannot open this page. Ask an administrator if you need it.")],
        className="alert alert-warning mt-4", id="no-access")
