"""ETL incremental-run benchmark on 1M invoice lines in SQLite (5,000 customers, seed 42,
as ``bench_demo_load``): a full run, then 1 % of the posted invoices changed through the
core services (dispute flag set: an audited update of one document each), an incremental
run, and a run with no change. Seconds per stage, customers rebuilt, peak memory.

Run alone with ``python -m bench.bench_etl_incremental [--lines N --customers N]``; it
runs in a fresh process and a temporary folder.

``--standard``: the standard dataset on PostgreSQL (``bench_demo_load --standard``, 10M
lines) into the mart schema ``mart_incremental`` and a temporary Parquet folder: a full
run, then one invoice's dispute flag set (what a form save does) and an incremental run,
then 1 % of the invoices and another; the flags are cleared afterwards (the dataset keeps
the audit rows). Needs about 15 GiB.

``--standard --saves N``: what form saves cost at 10M. A mart kept between runs (schema
``mart_saves``, Parquet in ``var/bench-saves``; a full run only when nothing is published
there yet), then N times one random posted invoice's dispute flag toggled and an incremental
run (the same run date as the published batch), each followed by the serving copy the app
writes of the new batch (``dashboard.mart_reader.serving_copy``).
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


def _timed_run(engine, target, *, full: bool,  # type: ignore[no-untyped-def]
               peaks=None) -> dict[str, object]:
    """One run, with its seconds per stage; ``peaks`` (``bench_etl.StagePeaks``) is told
    each stage, prefixed with the run's mode."""
    from etl.run import run_etl

    stages: list[tuple[str, float]] = []

    def progress(stage: str) -> None:
        stages.append((stage, time.perf_counter()))
        if peaks is not None:
            peaks.mark(f"{'full' if full else 'incremental'}: {stage}")

    t0 = time.perf_counter()
    result = run_etl(engine, target, full=full, progress=progress)
    total = time.perf_counter() - t0
    marks = [*stages, ("end", t0 + total)]
    return {
        "mode": result.mode,
        "customers_rebuilt": result.customers,
        "seconds": round(total, 2),
        "seconds_by_stage": {name: round(marks[i + 1][1] - at, 2)
                             for i, (name, at) in enumerate(marks[:-1])},
    }


def _change_invoices(engine, share: float,  # type: ignore[no-untyped-def]
                     seed: int) -> list[int]:
    """Flag ``share`` of the undisputed posted invoices (at least one) as disputed, through
    the core service, in one transaction; returns their ids."""
    from sqlalchemy import select

    from core.audit import set_actor
    from core.billing.models import Invoice
    from core.db import make_session_factory, transaction

    with transaction(make_session_factory(engine)) as session:
        set_actor(session, "bench")
        posted = list(session.scalars(select(Invoice.id).where(Invoice.status == "posted")
                                      .where(Invoice.is_disputed.is_(False))
                                      .order_by(Invoice.id)))
        chosen = random.Random(seed).sample(posted, max(1, round(len(posted) * share)))
        _set_disputes(session, chosen, True)
    return chosen


def _set_disputes(session, invoice_ids: list[int],  # type: ignore[no-untyped-def]
                  disputed: bool) -> None:
    from core.actor import Actor, Role
    from core.billing.invoicing import set_dispute

    finance = Actor(user_id=None, role=Role.FINANCE, name="bench")
    for invoice_id in invoice_ids:
        set_dispute(session, finance, invoice_id, disputed)


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
        changed = len(_change_invoices(engine, share, seed))
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


def _measure_standard(share: float, seed: int) -> dict[str, object]:
    from bench.bench_demo_load import ensure_standard_dataset
    from bench.bench_etl import StagePeaks
    from core.audit import set_actor
    from core.db import make_engine, make_session_factory, transaction
    from etl.publish import mart_target

    url = ensure_standard_dataset()
    engine = make_engine(url)
    peaks = StagePeaks()
    peaks.start()
    runs: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp:
        target = mart_target(url, Path(tmp) / "parquet", schema="mart_incremental")
        log.info("full run …")
        runs["etl_full"] = _timed_run(engine, target, full=True, peaks=peaks)
        flagged: list[int] = []
        for name, fraction in (("one_invoice", 0.0), ("one_percent", share)):
            changed = _change_invoices(engine, fraction, seed)
            flagged += changed
            log.info("%s invoices changed; incremental run …", len(changed))
            runs[f"etl_incremental_{name}"] = {"invoices_changed": len(changed),
                                               **_timed_run(engine, target, full=False,
                                                            peaks=peaks)}
        runs["etl_incremental_without_changes"] = _timed_run(engine, target, full=False)
        with transaction(make_session_factory(engine)) as session:  # the dataset as it was
            set_actor(session, "bench")
            _set_disputes(session, flagged, False)
        target.engine.dispose()
    engine.dispose()
    return {**runs, "peak_rss_mib_by_stage": peaks.stop()}


def _measure_saves(saves: int) -> dict[str, object]:
    from sqlalchemy import select

    from bench.bench_demo_load import ensure_standard_dataset
    from core.audit import set_actor
    from core.billing.models import Invoice
    from core.db import make_engine, make_session_factory, transaction
    from etl.publish import mart_target, published_batch

    url = ensure_standard_dataset()
    engine = make_engine(url)
    target = mart_target(url, Path("var/bench-saves"), schema="mart_saves")
    runs: dict[str, object] = {}
    if published_batch(target.engine) is None:
        log.info("full run …")
        runs["etl_full"] = _timed_run(engine, target, full=True)
    runs["serving_copy_of_the_published_batch"] = _timed_serving_copy(target)
    chance = random.Random(SEED)
    for save in range(saves):
        with transaction(make_session_factory(engine)) as session:
            set_actor(session, "bench")
            posted = list(session.scalars(select(Invoice.id).where(Invoice.status == "posted")
                                          .order_by(Invoice.id)))
            chosen = session.get_one(Invoice, chance.choice(posted))
            _set_disputes(session, [chosen.id], not chosen.is_disputed)
        runs[f"etl_incremental_save_{save + 1}"] = {
            **_timed_run(engine, target, full=False),
            "seconds_serving_copy": _timed_serving_copy(target)["seconds"]}
    target.engine.dispose()
    engine.dispose()
    return {**runs,
            "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}


def _timed_serving_copy(target) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """Seconds the app's first worker takes to write the published batch's serving copy
    (``dashboard.mart_reader.serving_copy``) before it can load the batch."""
    from dashboard.mart_reader import serving_copy
    from etl.publish import published_batch

    batch = published_batch(target.engine)
    if batch is None:
        raise RuntimeError("nothing is published in the bench's mart")
    t0 = time.perf_counter()
    serving_copy(target.parquet_dir, batch.batch_id)
    return {"batch_id": batch.batch_id, "seconds": round(time.perf_counter() - t0, 2)}


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
    parser.add_argument("--standard", action="store_true",
                        help="the 10M-line standard dataset on PostgreSQL instead")
    parser.add_argument("--saves", type=int, default=0,
                        help="with --standard: N one-invoice saves on a kept mart instead")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.standard and args.saves:
        with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
            figures = pool.submit(_measure_saves, args.saves).result()
    elif args.standard:
        with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
            figures = pool.submit(_measure_standard, CHANGED_SHARE, SEED).result()
    else:
        figures = measure(args.customers, args.lines)
    log.info("%s", json.dumps(figures, indent=2))
