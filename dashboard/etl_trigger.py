"""The ETL run a form save asks for, so the pages' figures catch up without anyone running
the CLI: ``request_etl_run()`` starts ``python -m salesbi etl run --queue`` as a detached
process with the app's settings and returns at once.

The run waits behind a run in progress, or ends at once when another run already waits
(that one will read the watermark later, so it publishes this save too: ``etl.lock``); no
process is started at all when the app sees a run waiting already. A
daemon thread waits for the process (no zombie) and logs its failure; a failed run keeps
the published batch, so the figures wait for the next run. The mart reader picks up the
new batch within its check interval. ``SALESBI_ETL_AFTER_SAVE=0`` turns it off.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading

from flask import current_app

from core.config import Settings
from etl.lock import run_queued

log = logging.getLogger(__name__)

COMMAND = ("-m", "salesbi", "etl", "run", "--queue")


def _settings() -> Settings:
    return current_app.extensions["salesbi_settings"]  # type: ignore[no-any-return]


def run_environment(settings: Settings) -> dict[str, str]:
    """This process's environment with ``settings`` as ``SALESBI_*`` variables in place of
    its own: the run reads the app's core and writes the app's mart, however the app's
    settings were made."""
    env = {name: value for name, value in os.environ.items()
           if not name.startswith("SALESBI_")}
    for name, value in settings.model_dump(mode="json").items():
        if value is not None:
            env[f"SALESBI_{name.upper()}"] = (json.dumps(value) if isinstance(value, bool)
                                              else str(value))
    env["SALESBI_MART_DIR"] = str(settings.resolved_mart_dir)
    return env


def request_etl_run() -> subprocess.Popen[bytes] | None:
    """Start the after-save run for the current app (None when its settings turn it off);
    does not wait for it."""
    settings = _settings()
    if not settings.etl_after_save:
        return None
    if run_queued(settings.resolved_mart_dir):
        log.info("after-save ETL run not started: a queued run will publish this save")
        return None
    try:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and fixed arguments
            [sys.executable, *COMMAND], env=run_environment(settings),
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            start_new_session=True)
    except OSError:
        # The save has committed: it must not read as failed; the next run will publish it.
        log.exception("after-save ETL run could not start")
        return None
    log.info("after-save ETL run started (pid %s)", process.pid)
    threading.Thread(target=_reap, args=(process,), name=f"etl-run-{process.pid}",
                     daemon=True).start()
    return process


def _reap(process: subprocess.Popen[bytes]) -> None:
    """Wait for the run and log its failure with the last line it wrote to stderr."""
    _, stderr = process.communicate()
    if process.returncode != 0:
        lines = stderr.decode(errors="replace").strip().splitlines()
        log.error("after-save ETL run (pid %s) failed with exit code %s: %s", process.pid,
                  process.returncode, lines[-1] if lines else "no output")


def refresh_note() -> str:
    """What a save message says about when the dashboards' figures include the save."""
    if _settings().etl_after_save:
        return "The dashboards' figures include it in a minute or two."
    return "The dashboards' figures include it after the next scheduled update."
