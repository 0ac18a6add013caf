"""docker-compose.yml and the Dockerfile describe the deployment in DESIGN (Layout, D9, D10)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return compose["services"]


def test_compose_defines_postgres_redis_app_and_etl(services) -> None:
    assert {"postgres", "redis", "app", "etl"} <= set(services)


@pytest.mark.parametrize("name", ["app", "etl"])
def test_app_and_etl_use_database_url_pointing_at_postgres(services, name: str) -> None:
    url = services[name]["environment"]["SALESBI_DATABASE_URL"]
    assert url.startswith("postgresql")
    assert "@postgres:" in url


def test_app_secret_key_is_required_not_hard_coded(services) -> None:
    secret = services["app"]["environment"]["SALESBI_SECRET_KEY"]
    assert secret.startswith("${SALESBI_SECRET_KEY:?")


def test_app_waits_for_healthy_postgres(services) -> None:
    assert services["app"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "healthcheck" in services["postgres"]


def test_dockerfile_exists() -> None:
    assert (ROOT / "Dockerfile").is_file()


def test_scheduled_etl_queues_behind_a_run_started_by_the_app(services) -> None:
    loop = " ".join(services["etl"]["command"])
    assert "salesbi etl run --queue" in loop
    assert services["etl"]["volumes"] == services["app"]["volumes"]  # one mart folder: one lock
