"""Mart load benchmark: the published batch of a demo (``--var``; default the 1M-line SQLite
demo of ``bench_callbacks`` in ``var/bench-1m``, built on first use) loaded as an app
process loads it (``dashboard.mart_reader.load_batch``), each time in a fresh process: the
first load of the batch (its serving copy removed first, so the load writes it) and a later
one (maps the copy). Per load: wall time, the process's private memory (``RssAnon``) and
mapped file pages (``RssFile``) after it, its peak RSS, and the serving copy's size.

``python -m bench.bench_mart_load [--var DIR]`` logs the figures (``make bench`` writes
them to ``bench/results/mart_load.json``).
"""

from __future__ import annotations

import logging
import multiprocessing
import shutil
import time
from pathlib import Path
from typing import Any

log = logging.getLogger("bench.mart_load")


def _status_mib(*names: str) -> dict[str, int]:
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in names:
            fields[name] = round(int(value.split()[0]) / 1024)
    return fields


def _load(var: Path) -> dict[str, Any]:
    """One load of ``var``'s published batch in this process."""
    from bench.bench_cash_forecast import published_mart

    started = time.perf_counter()
    mart = published_mart(var)
    seconds = time.perf_counter() - started
    memory = _status_mib("RssAnon", "RssFile", "VmHWM")
    return {"seconds": round(seconds, 2), "private_mib": memory["RssAnon"],
            "mapped_file_mib": memory["RssFile"], "peak_rss_mib": memory["VmHWM"],
            "rows": sum(frame.height for frame in mart.tables.values())}


def _in_fresh_process(var: Path) -> dict[str, Any]:
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(_load, (var,))


def run(var: Path | None = None) -> dict[str, Any]:
    """The figures of the module docstring."""
    from bench.bench_cash_forecast import published
    from dashboard.mart_reader import serving_copy
    from etl.batch_folder import SERVING_DIR

    if var is None:
        from bench.bench_callbacks import small_dataset

        var = small_dataset()[2]
    settings, batch = published(var)
    mart_dir = Path(settings.resolved_mart_dir)
    shutil.rmtree(mart_dir / SERVING_DIR / batch.batch_id, ignore_errors=True)
    first = _in_fresh_process(var)
    later = _in_fresh_process(var)
    copy = serving_copy(mart_dir, batch.batch_id)
    figures = {"var": str(var), "batch_id": batch.batch_id, "first_load": first,
               "later_load": later,
               "serving_copy_mib": round(sum(p.stat().st_size for p in copy.iterdir()) / 2**20),
               "parquet_mib": round(sum(p.stat().st_size for p in (mart_dir / batch.batch_id)
                                        .rglob("*") if p.is_file()) / 2**20)}
    log.info("%s", figures)
    return figures


if __name__ == "__main__":
    from bench import main_with_var

    main_with_var(run, __doc__.splitlines()[0])
