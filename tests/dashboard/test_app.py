"""The application factory, the placeholder page and ``/healthz`` through Flask's test client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError

from core.config import Settings
from dashboard.app import create_app

PRODUCTION_SECRET = "x" * 40


@pytest.fixture
def make_client() -> Iterator:
    engines = []

    def _make(settings: Settings):
        app = create_app(settings)
        engines.append(app.server.extensions["salesbi_engine"])
        return app.server.test_client()

    yield _make
    for engine in engines:
        engine.dispose()


def test_healthz_reports_database_reachable_on_sqlite_file(make_client, tmp_path: Path) -> None:
    client = make_client(Settings(var_dir=tmp_path))

    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.get_json() == {
        "status": "ok",
        "database": True,
        "published_batch_id": None,
        "published_at": None,
    }


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:////nonexistent-salesbi-dir/sub/salesbi.db",
        "postgresql+psycopg://nouser@127.0.0.1:1/x",
    ],
)
def test_healthz_reports_degraded_when_database_unreachable(make_client, url: str) -> None:
    client = make_client(Settings(database_url=url))

    response = client.get("/healthz")

    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "degraded"
    assert body["database"] is False


def test_login_page_serves_salesbi_title(make_client, tmp_path: Path) -> None:
    client = make_client(Settings(var_dir=tmp_path))

    response = client.get("/login")

    assert response.status_code == 200
    assert "<title>Sign in · salesbi</title>" in response.get_data(as_text=True)


def test_assets_folder_is_top_level_assets(tmp_path: Path) -> None:
    app = create_app(Settings(var_dir=tmp_path))

    assets = Path(app.config.assets_folder)
    assert assets == Path(__file__).resolve().parents[2] / "assets"
    assert (assets / "style.css").is_file()


def test_production_refuses_default_secret_key() -> None:
    with pytest.raises(ValidationError, match="SALESBI_SECRET_KEY"):
        Settings(env="production")


def test_production_app_never_runs_in_debug(tmp_path: Path) -> None:
    settings = Settings(env="production", secret_key=PRODUCTION_SECRET, var_dir=tmp_path)

    app = create_app(settings)

    assert app.server.debug is False
    assert app.server.config["SECRET_KEY"] == PRODUCTION_SECRET
