"""Process configuration from the environment (``SALESBI_*``), read once into one object.

Company settings (base currency, fiscal year, aging buckets, financing rate) live in the
database (``core.settings``); the environment only seeds them at ``salesbi init-db``.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SECRET_KEY = "dev-only-insecure-secret-key"  # noqa: S105 - refused in production


class Settings(BaseSettings):
    """Settings of one process. Build with ``Settings()``; nothing is read at import time."""

    model_config = SettingsConfigDict(env_prefix="SALESBI_", env_file=".env", extra="ignore")

    env: Literal["development", "production"] = "development"
    var_dir: Path = Path("var")
    database_url: str = ""
    mart_dir: Path | None = None
    mart_schema: str = Field(default="mart", pattern=r"^[a-z_][a-z0-9_]*$")  # PostgreSQL only
    secret_key: str = DEFAULT_SECRET_KEY
    redis_url: str | None = None
    result_cache: bool = True  # SALESBI_RESULT_CACHE=0 turns the page result cache off
    context_cache_seconds: int = Field(default=30, ge=0)  # 0: derive the scope every request
    etl_after_save: bool = True  # SALESBI_ETL_AFTER_SAVE=0: a form save starts no ETL run
    # SALESBI_WARM_BATCHES=0: a loaded batch's per-batch frames wait for the first request
    warm_batches: bool = True
    # PostgreSQL connections an ETL run reads the core over, and loads the mart over, at once
    etl_connections: int = Field(default=2, ge=1)
    base_currency: str = Field(default="USD", min_length=3, max_length=3)
    timezone: str = "UTC"
    debug: bool = False

    @model_validator(mode="after")
    def _refuse_insecure_production(self) -> Settings:
        if self.env == "production":
            if self.secret_key == DEFAULT_SECRET_KEY or len(self.secret_key) < 32:
                raise ValueError(
                    "SALESBI_SECRET_KEY must be a random value of 32+ characters in production"
                )
            if self.debug:
                raise ValueError("SALESBI_DEBUG must be off in production")
        return self

    @cached_property
    def resolved_database_url(self) -> str:
        """The core database URL; defaults to the embedded SQLite file ``var/salesbi.db``."""
        return self.database_url or f"sqlite:///{self.var_dir / 'salesbi.db'}"

    @cached_property
    def resolved_mart_url(self) -> str:
        """The mart database: ``var/mart.db`` beside an embedded SQLite core, else the core's
        PostgreSQL database with ``search_path`` set to its ``mart`` schema."""
        if self.resolved_database_url.startswith("sqlite"):
            return f"sqlite:///{self.var_dir / 'mart.db'}"
        return self.resolved_database_url

    @cached_property
    def resolved_mart_dir(self) -> Path:
        """Folder of published Parquet batches (``var/mart`` by default)."""
        return self.mart_dir or self.var_dir / "mart"
