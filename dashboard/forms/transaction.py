"""The transaction of a form's user action: every form saves through ``form_transaction``,
the one place forms commit, so each successful save also asks for the ETL run that brings
the dashboards' figures up to date (``dashboard.etl_trigger``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session, sessionmaker

from core.db import transaction
from dashboard.etl_trigger import request_etl_run


@contextmanager
def form_transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """``core.db.transaction``; once it has committed, request an ETL run (nothing is
    requested when the body raises: the transaction rolled back)."""
    with transaction(factory) as session:
        yield session
    request_etl_run()
