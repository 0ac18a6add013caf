"""``dashboard.serve``: gunicorn in production, the dev server otherwise."""

from __future__ import annotations

import pytest

from core.config import Settings
from dashboard import serve as serve_module


def test_gunicorn_serves_wsgi_server_with_threads_on_requested_bind() -> None:
    argv = serve_module.gunicorn_argv("127.0.0.2", 8050)

    assert argv[1:4] == ["-m", "gunicorn", "dashboard.wsgi:server"]
    assert argv[argv.index("-b") + 1] == "127.0.0.2:8050"
    assert argv[argv.index("--threads") + 1] == "4"


def test_prod_replaces_process_with_gunicorn(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[list[str]] = []

    def fake_execv(path: str, argv: list[str]) -> None:
        calls.append(argv)
        raise SystemExit(0)

    monkeypatch.setattr(serve_module.os, "execv", fake_execv)

    with pytest.raises(SystemExit):
        serve_module.serve(Settings(), prod=True, host="127.0.0.1", port=9999)

    assert calls and calls[0][-1] == "127.0.0.1:9999"
