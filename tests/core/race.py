"""Two users at once: the first's transaction stays open while the second starts, so the
second must wait for the first's lock (PostgreSQL row lock, SQLite BEGIN IMMEDIATE)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from sqlalchemy.orm import Session, sessionmaker

WAIT_S = 0.5  # long enough for the second to reach the lock


def second_waits_for_first(factory: sessionmaker[Session], first: Callable[[Session], object],
                           second: Callable[[], object], lock: str) -> None:
    """Run ``first`` in a transaction held open, start ``second`` (which opens its own) in a
    thread, assert that it is still waiting after ``WAIT_S`` (for ``lock``), then commit the
    first and let the second finish."""
    session = factory()
    session.begin()
    first(session)
    racer = threading.Thread(target=second)
    racer.start()
    time.sleep(WAIT_S)
    assert racer.is_alive(), f"the second user must wait for the first's {lock}"
    session.commit()
    session.close()
    racer.join(timeout=30)
