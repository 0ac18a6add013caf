"""Login, logout, throttling, cookie flags and the login guard on every route."""

from __future__ import annotations

import dash
import pytest
from flask.testing import FlaskClient

from core.config import Settings
from dashboard.app import create_app
from tests.dashboard.conftest import DemoMart
from tests.dashboard.dash_client import login, render_page


@pytest.fixture
def client(demo_app: dash.Dash) -> FlaskClient:
    return demo_app.server.test_client()


@pytest.mark.parametrize("path", ["/", "/pipeline", "/customers/1", "/_dash-layout",
                                  "/_dash-dependencies"])
def test_every_page_and_dash_route_needs_a_login(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    if path.startswith("/_dash"):
        assert response.status_code == 401
    else:
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/login?next=")


def test_callbacks_without_a_login_get_401(client: FlaskClient) -> None:
    assert render_page(client, "/").status_code == 401


@pytest.mark.parametrize("path", ["/login", "/healthz", "/assets/style.css"])
def test_login_health_and_assets_are_open(client: FlaskClient, path: str) -> None:
    assert client.get(path).status_code == 200


def test_wrong_password_is_refused_with_one_message_for_both_cases(
        client: FlaskClient) -> None:
    wrong = login(client, "finance", "not-the-password")
    unknown = login(client, "nobody-here", "demo")
    for response in (wrong, unknown):
        assert response.status_code == 200
        assert "Unknown username or wrong password." in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_login_then_logout(client: FlaskClient) -> None:
    response = login(client, "finance")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert client.get("/_dash-layout").status_code == 200
    assert render_page(client, "/").status_code == 200
    client.get("/logout")
    assert client.get("/_dash-layout").status_code == 401


def test_login_redirects_only_to_local_paths(client: FlaskClient) -> None:
    for target, expected in (("/pipeline?period=mtd", "/pipeline?period=mtd"),
                             ("https://evil.example/x", "/"), ("//evil.example", "/")):
        client.get("/logout")
        response = client.post("/login", data={"username": "exec", "password": "demo",
                                               "next": target})
        assert response.headers["Location"] == expected


def test_login_attempts_are_throttled(client: FlaskClient) -> None:
    codes = [login(client, "finance", f"guess-{n}").status_code for n in range(11)]
    assert codes[:10] == [200] * 10
    assert codes[10] == 429
    assert login(client, "finance").status_code == 429  # even the right password, for now


def test_session_cookie_is_http_only_and_same_site(client: FlaskClient) -> None:
    cookie = login(client, "finance").headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # development serves plain http


def test_production_cookies_are_secure(demo_mart: DemoMart) -> None:
    settings = Settings(var_dir=demo_mart.settings.var_dir, env="production",
                        secret_key="s" * 40)
    app = create_app(settings)
    cookie = login(app.server.test_client(), "finance").headers["Set-Cookie"]
    assert "Secure" in cookie
    app.server.extensions["salesbi_engine"].dispose()


def test_a_disabled_user_loses_access_at_once(client: FlaskClient, demo_mart: DemoMart) -> None:
    from sqlalchemy import update

    from core.users.models import User

    login(client, "exec")
    assert client.get("/_dash-layout").status_code == 200
    with demo_mart.core.begin() as conn:
        conn.execute(update(User).where(User.username == "exec").values(is_active=False))
    try:
        assert client.get("/_dash-layout").status_code == 401
    finally:
        with demo_mart.core.begin() as conn:
            conn.execute(update(User).where(User.username == "exec").values(is_active=True))
