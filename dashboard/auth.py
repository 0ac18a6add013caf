"""Login, logout and the login guard (DESIGN D6).

Flask-Login keeps the user id in a signed session cookie; on every request the user is
loaded again from the core (a disabled user loses access at once). Passwords are Argon2id
hashes (``core.users.passwords``); failed ``POST /login`` attempts are throttled per client
address by Flask-Limiter. Every route needs a login except ``/login``, ``/healthz`` and ``/assets``;
Dash's own requests and exports without a login get 401, pages redirect to ``/login``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from flask import Flask, Response, redirect, render_template_string, request, url_for
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from sqlalchemy.orm import Session, sessionmaker

from core.actor import Actor
from core.config import Settings
from core.errors import DomainError
from core.users.models import User
from core.users.services import actor_for, authenticate

LOGIN_LIMIT = "10 per minute;50 per hour"
OPEN_PATHS = ("/login", "/healthz")
OPEN_PREFIXES = ("/assets/", "/_dash-component-suites/", "/_favicon.ico")
SESSION_HOURS = 12


@dataclass(frozen=True)
class SessionUser(UserMixin):
    """The logged-in user of this request."""

    actor: Actor
    full_name: str

    def get_id(self) -> str:
        return str(self.actor.user_id)


def install_auth(server: Flask, settings: Settings, factory: sessionmaker[Session]) -> None:
    """Login manager, throttled login/logout routes, cookie settings and the guard."""
    production = settings.env == "production"
    server.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=production,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SECURE=production,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=SESSION_HOURS),
    )
    manager = LoginManager(server)
    manager.session_protection = "strong"

    @manager.user_loader
    def load_user(user_id: str) -> SessionUser | None:
        with factory() as session:
            try:
                actor = actor_for(session, int(user_id))
            except (DomainError, ValueError):
                return None
            return SessionUser(actor, _full_name(session, actor))

    limiter = Limiter(get_remote_address, app=server, default_limits=[],
                      storage_uri=settings.redis_url or "memory://")

    @server.route("/login", methods=["GET", "POST"])
    # Only failed sign-ins count (a successful one redirects).
    @limiter.limit(LOGIN_LIMIT, methods=["POST"],
                   deduct_when=lambda response: response.status_code != 302)
    def login() -> Response | str:
        error = None
        next_path = _local_path(request.values.get("next", "/"))
        if request.method == "POST":
            with factory() as session:
                actor = authenticate(session, request.form.get("username", ""),
                                     request.form.get("password", ""))
                user = SessionUser(actor, _full_name(session, actor)) if actor else None
            if user is not None:
                login_user(user)
                return redirect(next_path)  # type: ignore[return-value]
            error = "Unknown username or wrong password."
        return render_template_string(LOGIN_PAGE, error=error, next=next_path)

    @server.route("/logout", methods=["GET", "POST"])
    def logout() -> Response:
        logout_user()
        return redirect(url_for("login"))  # type: ignore[return-value]

    @server.before_request
    def require_login() -> Response | tuple[str, int] | None:
        path = request.path
        if path in OPEN_PATHS or path.startswith(OPEN_PREFIXES):
            return None
        if current_user.is_authenticated:
            return None
        if path.startswith(("/_dash-", "/export/")) or request.method != "GET":
            return "login required", 401  # a download must not save the sign-in page
        return redirect(url_for("login", next=request.full_path.rstrip("?")))  # type: ignore[return-value]

    @server.after_request
    def security_headers(response: Response) -> Response:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    @server.errorhandler(429)
    def too_many_attempts(_error: Exception) -> tuple[str, int]:
        message = "Too many sign-in attempts from this address. Wait a minute and try again."
        return render_template_string(LOGIN_PAGE, error=message, next="/"), 429

    server.extensions["salesbi_limiter"] = limiter


def _full_name(session: Session, actor: Actor) -> str:
    user = session.get(User, actor.user_id)
    return user.full_name if user else actor.name


def _local_path(target: str) -> str:
    """Only same-site paths are followed after login (no open redirect)."""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


LOGIN_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in · salesbi</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/assets/vendor/bootstrap/bootstrap.min.css">
<link rel="stylesheet" href="/assets/style.css"></head>
<body class="salesbi-login">
<main class="card salesbi-card p-4 mx-auto mt-5" style="max-width: 24rem">
  <h1 class="h4 mb-3">salesbi</h1>
  <p class="text-muted">Sign in to see your sales, pipeline and receivables.</p>
  {% if error %}<div class="alert alert-danger" role="alert">{{ error }}</div>{% endif %}
  <form method="post" action="/login">
    <input type="hidden" name="next" value="{{ next }}">
    <label class="form-label" for="username">Username</label>
    <input class="form-control mb-3" id="username" name="username" autocomplete="username"
           required autofocus>
    <label class="form-label" for="password">Password</label>
    <input class="form-control mb-3" id="password" name="password" type="password"
           autocomplete="current-password" required>
    <button class="btn btn-primary w-100" id="login-submit" type="submit">Sign in</button>
  </form>
</main></body></html>"""
