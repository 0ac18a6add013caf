"""One ETL run at a time per mart: an exclusive lock on ``<mart_dir>/.lock``; and at most one
run waiting behind it: the queue slot ``<mart_dir>/.queued``.

``flock`` locks belong to the open file, so the operating system releases them when the
process ends — also on ``kill -9`` — and a crashed run never blocks the next one. Runs of
one mart must therefore share its Parquet folder (one host: the scheduled ``etl`` service).

A queued run (``queue=True``, what the app starts after a form save) takes the slot without
waiting, then waits for the run lock and frees the slot as soon as it holds it — before it
reads the watermark. So a run that finds the slot taken may stop: the waiting run has not
read the watermark yet and will publish whatever was committed before (``AlreadyQueued``).
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

LOCK_FILE = ".lock"
QUEUE_FILE = ".queued"


class RunInProgress(Exception):
    """Another ETL run holds the mart's lock."""


class AlreadyQueued(Exception):
    """Another run already waits for the mart's lock; it will pick up every change
    committed so far, so the caller has nothing left to do (success, not a failure)."""


def _take(handle: IO[str], *, wait: bool) -> bool:
    """Take ``handle``'s exclusive flock; False when ``wait`` is off and it is held."""
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
    except BlockingIOError:
        return False
    return True


def run_queued(parquet_dir: Path) -> bool:
    """Whether a run waits in the mart's queue slot (probed without keeping it): it will
    publish every change committed before it holds the run lock. A probe that briefly holds
    the slot may make a run starting that instant stop with ``AlreadyQueued``; the caller,
    finding the slot free, starts one of its own, so no change is left behind."""
    if not (parquet_dir / QUEUE_FILE).exists():
        return False
    with open(parquet_dir / QUEUE_FILE, "a") as slot:
        if not _take(slot, wait=False):
            return True
        fcntl.flock(slot, fcntl.LOCK_UN)
        return False


@contextmanager
def run_lock(parquet_dir: Path, *, queue: bool = False) -> Iterator[None]:
    """Hold the mart's run lock. Without ``queue``: raise ``RunInProgress`` at once when
    another run holds it. With ``queue``: wait for it in the queue slot, or raise
    ``AlreadyQueued`` at once when another run already waits there."""
    parquet_dir.mkdir(parents=True, exist_ok=True)
    with open(parquet_dir / LOCK_FILE, "a") as handle:
        if queue:
            with open(parquet_dir / QUEUE_FILE, "a") as slot:
                if not _take(slot, wait=False):
                    raise AlreadyQueued(f"another ETL run already waits on {parquet_dir}")
                try:
                    _take(handle, wait=True)
                finally:
                    fcntl.flock(slot, fcntl.LOCK_UN)
        elif not _take(handle, wait=False):
            raise RunInProgress(f"another ETL run is in progress on {parquet_dir}")
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
