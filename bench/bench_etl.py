"""ETL benchmark: a full run on the standard dataset (``--customers 50000 --lines 10000000
--seed 42``, cached in PostgreSQL by ``bench_demo_load``) into a Parquet batch and the
PostgreSQL mart, with seconds per stage and peak memory; and, for comparison, the same
per-customer monthly P&L computed straight from the core tables with one SQL query.

Run alone with ``python -m bench.bench_etl``; ``make bench`` runs it after the load bench.
"""

from __future__ import annotations

import logging
import resource
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from pathlib import Path

from sqlalchemy import text

from bench.memory_limit import MemoryLimit

log = logging.getLogger(__name__)
MART_SCHEMA = "mart_bench"

CORE_PNL_SQL = """
SELECT i.customer_id, to_char(i.invoice_date, 'YYYYMM') AS month,
       SUM(l.base_net_amount) AS net, SUM(l.cost_amount) AS cost
FROM invoice_line l JOIN invoice i ON i.id = l.invoice_id
WHERE i.status = 'posted'
GROUP BY i.customer_id, to_char(i.invoice_date, 'YYYYMM')
"""


class StagePeaks(threading.Thread):
    """This process's largest resident memory (MiB) during each stage, sampled every
    ``interval`` seconds: ``mark(stage)`` starts a stage, ``stop()`` returns the peaks —
    under the stage's name all resident pages (with the spilled frames' file pages, which
    the kernel drops under pressure), under "<stage> (private)" the anonymous ones."""

    def __init__(self, interval: float = 0.2) -> None:
        super().__init__(daemon=True, name="stage-peaks")
        self._interval, self._stopped = interval, threading.Event()
        self._stage = "start"
        self.peaks: dict[str, int] = {}

    def mark(self, stage: str) -> None:
        self._sample()
        self._stage = stage

    def _sample(self) -> None:
        status = dict(line.split(":", 1) for line in
                      Path("/proc/self/status").read_text().splitlines())
        for key, name in (("VmRSS", self._stage), ("RssAnon", f"{self._stage} (private)")):
            mib = int(status[key].split()[0]) >> 10
            self.peaks[name] = max(self.peaks.get(name, 0), mib)

    def run(self) -> None:
        while not self._stopped.wait(self._interval):
            self._sample()

    def stop(self) -> dict[str, int]:
        self._stopped.set()
        self.join()
        self._sample()
        return self.peaks


def _full_run(core_url: str, connections: int,
              limit: MemoryLimit | None = None) -> dict[str, object]:
    if limit is not None:  # first: what the imports take is charged to the limit too
        limit.enter()
    from core.db import make_engine
    from etl.publish import mart_target
    from etl.run import run_etl

    logging.basicConfig(level=logging.INFO)  # a fresh process: the tables' staging lines
    stages: list[tuple[str, float]] = []
    peaks = StagePeaks()
    peaks.start()

    def progress(stage: str) -> None:
        stages.append((stage, time.perf_counter()))
        peaks.mark(stage)
        log.info("stage: %s", stage)

    with tempfile.TemporaryDirectory() as tmp:
        target = mart_target(core_url, Path(tmp) / "parquet", schema=MART_SCHEMA,
                             load_connections=connections)
        core = make_engine(core_url)
        t0 = time.perf_counter()
        result = run_etl(core, target, full=True, progress=progress, connections=connections)
        total = time.perf_counter() - t0
        core.dispose()
        target.engine.dispose()
    rss_by_stage = peaks.stop()
    marks = [*stages, ("end", t0 + total)]
    seconds = {name: round(marks[i + 1][1] - at, 2) for i, (name, at) in enumerate(marks[:-1])}
    to_parquet = round(sum(v for k, v in seconds.items() if k != "mart tables"), 2)
    return {
        **({"memory_limit": limit.report()} if limit is not None else {}),
        "rows": result.rows,
        "seconds_by_stage": seconds,
        "seconds_to_published_parquet": to_parquet,
        "seconds_total_with_postgres_mart": round(total, 2),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "peak_rss_mib_by_stage": rss_by_stage,
    }


def _core_sql_pnl(core_url: str) -> dict[str, object]:
    from core.db import make_engine

    engine = make_engine(core_url)
    t0 = time.perf_counter()
    with engine.connect() as conn:
        rows = len(conn.execute(text(CORE_PNL_SQL)).all())
    engine.dispose()
    return {"rows": rows, "seconds": round(time.perf_counter() - t0, 2)}


def _in_fresh_process(fn, *args):  # type: ignore[no-untyped-def]
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        return pool.submit(fn, *args).result()


def run(connections: int = 2, memory_limit_gib: float | None = None) -> dict[str, object]:
    """``make bench`` entry point (builds the standard dataset first if it is missing);
    ``connections``: PostgreSQL connections the run reads and loads over at once;
    ``memory_limit_gib``: run the ETL in a cgroup with that limit (``bench.memory_limit``)."""
    from bench.bench_demo_load import ensure_standard_dataset

    core_url = ensure_standard_dataset()
    limit = None
    if memory_limit_gib is not None:
        limit = MemoryLimit(memory_limit_gib)
        limit.create()
    log.info("ETL full run on the standard dataset …")
    try:
        etl = _in_fresh_process(_full_run, core_url, connections, limit)
    except BrokenProcessPool:
        if limit is None:
            raise
        etl = {"failed": "the run's process was killed", "memory_limit": limit.report()}
    log.info("per-customer monthly P&L from the core with SQL …")
    sql = _in_fresh_process(_core_sql_pnl, core_url)
    return {"dataset": "standard (50,000 customers, 10M lines, seed 42)", "etl_full": etl,
            "connections": connections, "core_sql_customer_month_pnl": sql}


if __name__ == "__main__":
    import argparse
    import json

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=2,
                        help="PostgreSQL connections to read and load over (default 2)")
    parser.add_argument("--memory-limit", type=float, metavar="GIB",
                        help="run the ETL in a cgroup limited to GIB GiB (needs root)")
    logging.basicConfig(level=logging.INFO)
    arguments = parser.parse_args()
    log.info("%s", json.dumps(run(arguments.connections, arguments.memory_limit), indent=2))
