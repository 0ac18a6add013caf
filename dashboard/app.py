"""Application factory: ``create_app(settings)`` builds the Flask server and the Dash app.

Nothing happens at import time; the database engine is created (lazily connecting) per app.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import dash
from flask import Flask, jsonify
from flask_caching.backends import SimpleCache
from sqlalchemy import Engine, create_engine, make_url, text
from sqlalchemy.exc import SQLAlchemyError

from core.config import Settings
from core.db import make_engine, make_session_factory
from dashboard.auth import install_auth
from dashboard.batch_warmup import warmer
from dashboard.downloads import register_downloads
from dashboard.mart_reader import MartReader
from dashboard.pages import PAGES, register_pages
from dashboard.result_cache import install_result_cache
from dashboard.secure import CONTEXT_CACHE
from dashboard.shell import register_shell_callbacks, shell
from etl.publish import mart_engine, published_batch

log = logging.getLogger(__name__)

ASSETS_DIR = Path(__file__).resolve().parent.parent / "assets"
"""The repository's top-level ``assets/`` folder (CSS, logo, favicon), served by Dash."""

HEALTH_CONNECT_TIMEOUT_S = 3
BOOTSTRAP_CSS = "/assets/vendor/bootstrap/bootstrap.min.css"
CONTEXT_ENTRIES = 10_000
"""Company settings and scopes kept per process (one per user, role and rep)."""


def create_app(settings: Settings | None = None) -> dash.Dash:
    """Build the salesbi Dash app; its Flask server is ``app.server``.

    Debug mode is never enabled here: the dev server decides (``dashboard.serve``) and production
    settings refuse ``SALESBI_DEBUG`` (``Settings`` validation).
    """
    settings = settings or Settings()
    server = Flask(__name__)
    server.config.update(SECRET_KEY=settings.secret_key, DEBUG=False)

    engine = _database_engine(settings.resolved_database_url)
    mart = mart_engine(settings.resolved_mart_url, schema=settings.mart_schema)
    server.extensions["salesbi_engine"] = engine
    server.extensions["salesbi_settings"] = settings
    server.extensions["salesbi_session_factory"] = make_session_factory(
        make_engine(settings.resolved_database_url, create_dirs=False, interactive=True))
    server.extensions["salesbi_mart_reader"] = MartReader(
        mart, settings.resolved_mart_dir,
        prepare=warmer(server) if settings.warm_batches else None)
    if settings.context_cache_seconds > 0:
        server.extensions[CONTEXT_CACHE] = SimpleCache(
            threshold=CONTEXT_ENTRIES, default_timeout=settings.context_cache_seconds)
    install_result_cache(server, settings)
    _register_healthz(server, engine, mart)
    install_auth(server, settings, server.extensions["salesbi_session_factory"])

    app = dash.Dash(
        __name__,
        server=server,  # type: ignore[arg-type]  # Dash annotates server as bool | callable
        title="salesbi",
        assets_folder=str(ASSETS_DIR),
        # Bootstrap is served from assets/vendor (no CDN: deployments may be offline); it is
        # listed here so it loads before the app's own style.css.
        external_stylesheets=[BOOTSTRAP_CSS],
        assets_ignore=r"vendor/.*",
        use_pages=True,
        pages_folder="",
        # Page layouts need a logged-in request; Dash must not call them to validate.
        suppress_callback_exceptions=True,
    )
    register_pages(app)
    app.layout = shell(PAGES)
    register_shell_callbacks(app)
    register_downloads(server, PAGES)
    return app


def _database_engine(url: str) -> Engine:
    """Engine used by health checks; connects only when first used."""
    connect_args: dict[str, Any] = {}
    if make_url(url).get_backend_name() == "postgresql":
        connect_args["connect_timeout"] = HEALTH_CONNECT_TIMEOUT_S
    return create_engine(url, pool_pre_ping=True, connect_args=connect_args)


def database_reachable(engine: Engine) -> bool:
    """True when ``SELECT 1`` succeeds on the engine's database."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        log.warning("database unreachable: %s", exc.__class__.__name__)
        return False
    return True


def _register_healthz(server: Flask, engine: Engine, mart: Engine) -> None:
    """``GET /healthz``: no login, no data; 200 when healthy, 503 when degraded."""

    @server.get("/healthz")
    def healthz() -> tuple[Any, int]:
        ok = database_reachable(engine)
        batch = published_batch(mart) if ok else None
        body = {
            "status": "ok" if ok else "degraded",
            "database": ok,
            "published_batch_id": batch.batch_id if batch else None,
            "published_at": batch.published_at.isoformat() if batch else None,
        }
        return jsonify(body), 200 if ok else 503
