"""Demo generation and bulk load: 1,000,000 invoice lines into SQLite and PostgreSQL.

Uses the standard dataset's ratio (50,000 customers per 10M lines → 5,000 per 1M), seed
42. Each database runs in a fresh process so peak RSS is its own. SQLite goes to a temp
file; PostgreSQL to a fresh schema in the ``test`` database, dropped afterwards.

The standard dataset (``--customers 50000 --lines 10000000 --seed 42``) is built once
into the PostgreSQL database ``salesbi_bench`` and reused by other benchmarks:
``python -m bench.bench_demo_load --standard`` (never part of ``make test``).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import sys
import tempfile
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from datetime import date
from multiprocessing import get_context
from pathlib import Path

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

log = logging.getLogger("bench.demo_load")

PG_URL = os.environ.get("SALESBI_BENCH_PG_URL",
                        "postgresql+psycopg://postgres@127.0.0.1:5432/test")
LINES = 1_000_000
CUSTOMERS = 5_000
SEED = 42
STANDARD = {"customers": 50_000, "lines": 10_000_000, "seed": 42}
STANDARD_DB = "salesbi_bench"


def _seed_schema(engine: Engine) -> None:
    from core.actor import SYSTEM
    from core.audit import set_actor
    from core.company.services import initialise_company
    from core.db import make_session_factory
    from core.models import Base

    Base.metadata.create_all(engine)
    factory = make_session_factory(engine)
    with factory() as session, session.begin():
        set_actor(session, SYSTEM.label)
        initialise_company(session, company_name="Demo Co", base_currency="USD",
                           timezone="UTC")


def _load_once(target: str, customers: int, lines: int, seed: int) -> dict[str, object]:
    """Generate and load into a fresh ``target`` database; runs in its own process."""
    from core.db import make_engine
    from core.demo import generate_demo

    schema = None
    with tempfile.TemporaryDirectory() as tmp:
        if target == "sqlite":
            engine = make_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
        else:
            schema = f"bench_{uuid.uuid4().hex[:10]}"
            admin = make_engine(PG_URL)
            with admin.begin() as conn:
                conn.execute(text(f'CREATE SCHEMA "{schema}"'))
            engine = make_engine(PG_URL, schema=schema)
        try:
            _seed_schema(engine)
            summary = generate_demo(engine, customers=customers, lines=lines, seed=seed,
                                    end_date=date(2025, 6, 30))
        finally:
            engine.dispose()
            if schema:
                with admin.begin() as conn:
                    conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
                admin.dispose()
    rows_per_s = {name: round(summary.rows[name] / secs)
                  for name, secs in summary.table_seconds.items()
                  if name in summary.rows and secs > 0 and summary.rows[name] >= 10_000}
    return {
        "invoice_lines": summary.invoice_lines,
        "rows_total": sum(summary.rows.values()),
        "seconds_total": round(summary.seconds, 2),
        "seconds_generate": round(summary.generate_seconds, 2),
        "seconds_load": round(summary.load_seconds, 2),
        "seconds_by_table": {k: round(v, 2) for k, v in sorted(summary.table_seconds.items())},
        "rows_by_table": summary.rows,
        "rows_per_second_by_table": rows_per_s,
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def measure(target: str, customers: int = CUSTOMERS, lines: int = LINES,
            seed: int = SEED) -> dict[str, object]:
    """One load into ``target`` ("sqlite" or "postgresql") in a fresh process."""
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        return pool.submit(_load_once, target, customers, lines, seed).result()


def run() -> dict[str, object]:
    """``make bench`` entry point: 1M invoice lines into SQLite and into PostgreSQL."""
    figures: dict[str, object] = {"customers": CUSTOMERS, "lines_requested": LINES, "seed": SEED}
    for target in ("sqlite", "postgresql"):
        log.info("demo load: %s lines into %s …", f"{LINES:,}", target)
        figures[target] = measure(target)
    return figures


def standard_dataset_url() -> str:
    """URL of the cached standard dataset database (same server as ``PG_URL``)."""
    return make_url(PG_URL).set(database=STANDARD_DB).render_as_string(hide_password=False)


def _standard_marker() -> str:
    from core.demo.build import DEMO_FORMAT

    return f"salesbi demo format={DEMO_FORMAT} " + " ".join(
        f"{k}={v}" for k, v in STANDARD.items())


def ensure_standard_dataset(rebuild: bool = False) -> str:
    """Build the standard dataset into ``salesbi_bench`` unless it is already there
    (the database comment records a completed build); returns its URL."""
    server = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with server.connect() as conn:
            comment = conn.execute(text(
                "SELECT shobj_description(oid, 'pg_database') FROM pg_database "
                "WHERE datname = :name"), {"name": STANDARD_DB}).first()
            if comment is not None and comment[0] and comment[0].startswith(_standard_marker()) \
                    and not rebuild:
                log.info("standard dataset present: %s", comment[0])
                return standard_dataset_url()
            if comment is not None:  # partial or outdated build
                conn.execute(text(f'DROP DATABASE "{STANDARD_DB}"'))
            conn.execute(text(f'CREATE DATABASE "{STANDARD_DB}"'))
        from core.db import make_engine
        from core.demo import generate_demo

        engine = make_engine(standard_dataset_url())
        try:
            _seed_schema(engine)
            t0 = time.perf_counter()
            summary = generate_demo(engine, **STANDARD,
                                    progress=lambda name, n: log.info("%s %s", name, f"{n:,}"))
            log.info("standard dataset built in %.0f s: %s invoice lines", summary.seconds,
                     f"{summary.invoice_lines:,}")
        finally:
            engine.dispose()
        end = date.today().isoformat()
        with server.connect() as conn:
            conn.execute(text(f"COMMENT ON DATABASE \"{STANDARD_DB}\" IS "
                              f"'{_standard_marker()} built={end} "
                              f"seconds={time.perf_counter() - t0:.0f}'"))
        return standard_dataset_url()
    finally:
        server.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--standard", action="store_true",
                        help="build the cached standard dataset in salesbi_bench if absent")
    parser.add_argument("--rebuild", action="store_true", help="with --standard: build anew")
    parser.add_argument("--target", choices=["sqlite", "postgresql"],
                        help="time one database only")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.standard:
        log.info("%s", ensure_standard_dataset(rebuild=args.rebuild))
    elif args.target:
        log.info("%s", json.dumps(measure(args.target), indent=2))
    else:
        log.info("%s", json.dumps(run(), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
