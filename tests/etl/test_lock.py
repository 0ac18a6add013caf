"""The mart's run lock and its queue slot (``etl.lock``), with real flocks held by threads
(each opens the files itself, so each holds its own lock as separate processes would): one
run at a time; a queued run waits for the holder and runs once it releases; while one run
waits, another queued run is refused with ``AlreadyQueued``; a plain run is refused with
``RunInProgress``."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from etl.lock import AlreadyQueued, RunInProgress, run_lock, run_queued

TIMEOUT = 10


def queued_run(folder: Path, ran: threading.Event) -> threading.Thread:
    """A started thread that waits in the queue for the run lock and sets ``ran`` once it
    holds it; returned when it is in the slot (or has run)."""
    thread = threading.Thread(target=_run, args=(folder, ran), daemon=True)
    thread.start()
    for _ in range(TIMEOUT * 100):
        if ran.is_set() or run_queued(folder):
            break
        time.sleep(0.01)
    return thread


def _run(folder: Path, ran: threading.Event) -> None:
    # ``queued_run`` probes the slot (``run_queued`` holds it an instant) while this thread
    # starts: a run that finds it held that instant stops with AlreadyQueued, and this one,
    # like the app after a probe found the slot free, tries again.
    for _ in range(TIMEOUT * 100):
        try:
            with run_lock(folder, queue=True):
                ran.set()
            return
        except AlreadyQueued:
            time.sleep(0.01)


def test_a_queued_run_waits_for_the_holder_and_runs_once_it_releases(tmp_path: Path) -> None:
    ran = threading.Event()
    with run_lock(tmp_path):
        waiting = queued_run(tmp_path, ran)
        assert run_queued(tmp_path) and not ran.wait(0.5)
    waiting.join(TIMEOUT)
    assert ran.is_set() and not waiting.is_alive()
    assert not run_queued(tmp_path)


def test_a_second_queued_run_is_refused_while_one_waits(tmp_path: Path) -> None:
    ran = threading.Event()
    with run_lock(tmp_path):
        waiting = queued_run(tmp_path, ran)
        with pytest.raises(AlreadyQueued, match="already waits"), \
                run_lock(tmp_path, queue=True):
            pytest.fail("a second queued run got the lock")
        assert not ran.is_set()
    waiting.join(TIMEOUT)
    assert ran.is_set()


def test_the_slot_is_free_again_once_the_queued_run_holds_the_lock(tmp_path: Path) -> None:
    ran = threading.Event()
    with run_lock(tmp_path, queue=True):
        assert not run_queued(tmp_path)
        waiting = queued_run(tmp_path, ran)  # the next change's run queues behind this one
        assert run_queued(tmp_path) and not ran.is_set()
    waiting.join(TIMEOUT)
    assert ran.is_set()


def test_a_run_without_queue_is_refused_while_another_holds_the_lock(tmp_path: Path) -> None:
    with run_lock(tmp_path, queue=True):
        with pytest.raises(RunInProgress), run_lock(tmp_path):
            pytest.fail("two runs held the lock")
    with run_lock(tmp_path):  # released: the next run goes
        pass
