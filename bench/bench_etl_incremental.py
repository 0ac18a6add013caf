"""ETL incremental-run benchmark on 1M invoice lines in SQLite (5,000 customers, seed 42,
as ``bench_demo_load``): a full run, then 1 % of the posted invoices changed through the
core services (dispute flag set: an audited update of one document each), an incremental
run, and a run with no change. Seconds per stage, customers rebuilt, peak memory.

Run alone with ``python -m bench.bench_etl_incremental [--lines N --customers N]``; it
runs in a fresh process and a temporary folder.
"""

from __future__ import annotations

import argparse
import logging
import random
import resource
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import date
from multiprocessing import get_context
from pathlib import Path

log = logging.getLogger("bench.etl_incremental")

LINES = 1_000_000
CUSTOMERS = 5_000
SEED = 42
CHANGED_SHARE = 0.01


def _timed_run(engine, target, *, full: bool) -> dict[str, object]:  # type: ignore[no-untyped-def]
    from etl.run import run_etl

    stages: list[tuple[str, float]] = []
    t0 = time.perf_counter()
    result = run_etl(engine, target, full=full,
                     progress=lambda stage: stages.append((stage, time.perf_counter())))
    total = time.perf_counter() - t0
    marks = [*stages, ("end", t0 + total)]
    return {
        "mode": result.mode,
        "customers_rebuilt": result.customers,
        "seconds": round(total, 2),
        "seconds_by_stage": {name: round(marks[i + 1][1] - at, 2)
                             for i, (name, at) in enumerate(marks[:-1])},
    }


def _change_invoices(engine, share: float, seed: int) -> int:  # type: ignore[no-untyped-def]
    """Flag ``share`` of the posted invoices as disputed, through the core service, in one
    transaction; returns how many."""
    from sqlalchemy import select

    from core.actor import Actor, Role
    from core.audit import set_actor
    from core.billing.invoicing import set_dispute
    from core.billing.models import Invoice
    from core.db import make_session_factory, transaction

    finance = Actor(user_id=None, role=Role.FINANCE, name="bench")
    with transaction(make_session_factory(engine)) as session:
        set_actor(session, "bench")
        posted = list(session.scalars(select(Invoice.id).where(Invoice.status == "posted")
                                      .where(Invoice.is_disputed.is_(False))))
        chosen = random.Random(seed).sample(posted, max(1, round(len(posted) * share)))
        for invoice_id in chosen:
            set_dispute(session, finance, invoice_id, True)
    return len(chosen)


def _measure(customers: int, lines: int, seed: int, share: float) -> dict[str, object]:
    from bench.bench_demo_load import _seed_schema
    from core.db import make_engine
    from core.demo import generate_demo
    from etl.publish import mart_target

    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'core.db'}")
        _seed_schema(engine)
        t0 = time.perf_counter()
        summary = generate_demo(engine, customers=customers, lines=lines, seed=seed,
                                end_date=date(2025, 6, 30))
        generated = time.perf_counter() - t0
        target = mart_target(f"sqlite:///{Path(tmp) / 'mart.db'}", Path(tmp) / "mart")
        log.info("full run …")
        full = _timed_run(engine, target, full=True)
        t0 = time.perf_counter()
        changed = _change_invoices(engine, share, seed)
        changing = time.perf_counter() - t0
        log.info("%s invoices changed; incremental run …", changed)
        incremental = _timed_run(engine, target, full=False)
        unchanged = _timed_run(engine, target, full=False)
        target.engine.dispose()
        engine.dispose()
    return {
        "invoice_lines": summary.invoice_lines,
        "customers": customers,
        "seconds_generate": round(generated, 2),
        "etl_full": full,
        "invoices_changed": changed,
        "seconds_changing_through_services": round(changing, 2),
        "etl_incremental_after_changes": incremental,
        "etl_incremental_without_changes": unchanged,
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def measure(customers: int = CUSTOMERS, lines: int = LINES, seed: int = SEED,
            share: float = CHANGED_SHARE) -> dict[str, object]:
    """The benchmark in a fresh process (its own peak RSS)."""
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        return pool.submit(_measure, customers, lines, seed, share).result()


def run() -> dict[str, object]:
    """``make bench`` entry point: 1M invoice lines in SQLite, 1 % of invoices changed."""
    return {"database": "sqlite", "seed": SEED, "changed_share": CHANGED_SHARE, **measure()}


if __name__ == "__main__":
    import json

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=LINES)
    parser.add_argument("--customers", type=int, default=CUSTOMERS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    print(json.dumps(measure(args.customers, args.lines), indent=2))  # noqa: T201
