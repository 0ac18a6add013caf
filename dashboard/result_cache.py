"""The page result cache (DESIGN D3, D9, D11): a rendered page layout, kept under a key made
of the published batch, the page, the URL query, the user's scope and today's date.

Flask-Caching in Redis when ``SALESBI_REDIS_URL`` is set (shared by every process and host),
else in process memory (``SimpleCache``); ``SALESBI_RESULT_CACHE=0`` turns it off. A new
batch (or a new day) changes the key, so nothing is invalidated by hand; entries expire after
``RESULT_SECONDS``.

- The scope in the key (role, user id, rep ids, all reps) is the server-derived one of the
  ``RequestContext``, never anything the client sends; the user's name and the company
  settings are in the key too, since pages show them.
- The query is the one Dash's router parsed from the URL, sorted — not the validated view:
  pages echo raw query keys into links (the Documents tabs), so two queries that validate
  alike may render differently. Unknown keys only cost a miss; queries longer than
  ``MAX_KEY_TEXT`` characters are not cached.
- What is stored is the layout as JSON text, serialised the way Dash sends it (plotly's
  encoder), and a hit returns it parsed: unpickled Plotly figures do not serialise the same.
- Rendering that reads the core (``dashboard.secure.session_factory``: Customer 360, a rep's
  "contacts due" on home) shows live operational fields, so its result is never stored:
  those pages are rendered afresh on every request.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
from collections.abc import Callable
from typing import Any

from flask import Flask, current_app, g
from flask_caching import Cache
from plotly.io.json import to_json_plotly
from redis.exceptions import RedisError

from core.config import Settings
from dashboard.secure import CORE_READS, RequestContext

log = logging.getLogger(__name__)

RESULT_CACHE = "salesbi_result_cache"
"""``server.extensions`` key of the ``flask_caching.Cache`` (absent when turned off)."""
RESULT_SECONDS = 3600
KEY_PREFIX = "salesbi:page:"
LOCAL_ENTRIES = 200
"""In-process cache: pages kept at most (a large page pickles to a few MB)."""
REDIS_TIMEOUT_S = 1.0
MAX_KEY_TEXT = 4000

Layout = Callable[..., Any]


def install_result_cache(server: Flask, settings: Settings) -> None:
    """The app's result cache, per the settings (none when ``result_cache`` is off)."""
    if not settings.result_cache:
        return
    config: dict[str, Any] = {"CACHE_DEFAULT_TIMEOUT": RESULT_SECONDS,
                              "CACHE_KEY_PREFIX": KEY_PREFIX}
    if settings.redis_url:
        config |= {"CACHE_TYPE": "RedisCache", "CACHE_REDIS_URL": settings.redis_url,
                   "CACHE_OPTIONS": {"socket_timeout": REDIS_TIMEOUT_S,
                                     "socket_connect_timeout": REDIS_TIMEOUT_S}}
    else:
        config |= {"CACHE_TYPE": "SimpleCache", "CACHE_THRESHOLD": LOCAL_ENTRIES}
    server.extensions[RESULT_CACHE] = Cache(server, config=config)


def page_key(context: RequestContext, page: str, query: dict[str, Any]) -> str | None:
    """``<batch id>:<sha256 of the rest>``; None when the page cannot be cached (no batch
    published yet, or an overlong query)."""
    if context.mart is None:
        return None
    scope = context.scope
    text = json.dumps({
        "page": page, "query": query, "today": context.today.isoformat(),
        "role": scope.role, "user_id": scope.user_id, "rep_ids": sorted(scope.rep_ids),
        "all_reps": scope.all_reps, "name": context.full_name,
        "company": [context.base_currency, context.fiscal_year_start_month, context.timezone,
                    context.aging_boundaries, context.financing_rate],
    }, sort_keys=True, separators=(",", ":"), default=str)
    if len(text) > MAX_KEY_TEXT:
        return None
    return f"{context.mart.batch_id}:{hashlib.sha256(text.encode()).hexdigest()}"


def cached_layout(page: str) -> Callable[[Layout], Layout]:
    """Decorate a page layout ``layout(ctx, **query)`` (under ``secured_layout``) so its
    result is served from the result cache when the app has one."""

    def decorate(fn: Layout) -> Layout:
        @functools.wraps(fn)
        def wrapper(context: RequestContext, **query: Any) -> Any:
            cache: Cache | None = current_app.extensions.get(RESULT_CACHE)
            key = page_key(context, page, query) if cache is not None else None
            if cache is None or key is None:
                return fn(context, **query)
            found = _get(cache, key)
            if found is not None:
                return json.loads(found)
            reads = g.get(CORE_READS, 0)
            result = fn(context, **query)
            if g.get(CORE_READS, 0) == reads:
                _set(cache, key, to_json_plotly(result))
            return result

        return wrapper

    return decorate


def _get(cache: Cache, key: str) -> Any:
    try:
        return cache.get(key)
    except RedisError as exc:  # an unreachable cache costs a render, not an error page
        log.warning("result cache unavailable: %s", exc)
        return None


def _set(cache: Cache, key: str, value: Any) -> None:
    try:
        cache.set(key, value)
    except RedisError as exc:
        log.warning("result cache unavailable: %s", exc)
