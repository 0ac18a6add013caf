"""One ETL run at a time per mart: an exclusive lock on ``<mart_dir>/.lock``.

``flock`` locks belong to the open file, so the operating system releases them when the
process ends — also on ``kill -9`` — and a crashed run never blocks the next one. Runs of
one mart must therefore share its Parquet folder (one host: the scheduled ``etl`` service).
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LOCK_FILE = ".lock"


class RunInProgress(Exception):
    """Another ETL run holds the mart's lock."""


@contextmanager
def run_lock(parquet_dir: Path) -> Iterator[None]:
    """Hold the mart's run lock; raise ``RunInProgress`` at once when another run holds it."""
    parquet_dir.mkdir(parents=True, exist_ok=True)
    with open(parquet_dir / LOCK_FILE, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise RunInProgress(f"another ETL run is in progress on {parquet_dir}") from exc
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
