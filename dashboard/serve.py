"""Run the web app: Dash's dev server in development, gunicorn in production (``--prod``)."""

from __future__ import annotations

import logging
import os
import sys

from core.config import Settings

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8050
GUNICORN_WORKERS = 2  # few processes, several threads: Polars releases the GIL (DESIGN D3)
GUNICORN_THREADS = 4


def gunicorn_argv(host: str, port: int) -> list[str]:
    """Command line that serves ``dashboard.wsgi:server`` with gunicorn."""
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "dashboard.wsgi:server",
        "-w",
        str(GUNICORN_WORKERS),
        "--threads",
        str(GUNICORN_THREADS),
        "-b",
        f"{host}:{port}",
    ]


def serve(
    settings: Settings, prod: bool = False, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT
) -> None:
    """Serve until interrupted. In production this process is replaced by gunicorn."""
    if prod:
        argv = gunicorn_argv(host, port)
        log.info("exec %s", " ".join(argv))
        # gunicorn builds its own app from the same SALESBI_* environment (dashboard.wsgi).
        os.execv(argv[0], argv)  # noqa: S606 - fixed argv, no shell
    from dashboard.app import create_app

    debug = settings.debug and settings.env == "development"
    create_app(settings).run(host=host, port=port, debug=debug)
