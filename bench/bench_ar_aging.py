"""AR aging page benchmark, base vs document currency, on a published demo (``--var``;
default the 1M-line SQLite demo of ``bench_callbacks`` in ``var/bench-1m``, built on first
use): the whole page over HTTP as finance with the result cache off (router callback:
metrics, live credit read, layout JSON), in each currency mode, alone and with the open
items and allocations of the customer with the most AR items (``&customer=``: the drill).

``python -m bench.bench_ar_aging [--var DIR]`` logs the figures (``make bench`` writes
them to ``bench/results/ar_aging.json``). Median and max of several renders, in ms; the
modes take turns.
"""

from __future__ import annotations

import logging
import statistics
import time
from pathlib import Path
from typing import Any

log = logging.getLogger("bench.ar_aging")
REPEAT = 7
MODES = ("base", "document")


def _renders(client: Any, searches: dict[str, str]) -> dict[str, Any]:
    """Each of ``searches`` rendered ``REPEAT`` times, taking turns (so that load from
    elsewhere weighs on each alike), after one warm-up render each."""
    from tests.dashboard.dash_client import render_page

    times: dict[str, list[float]] = {name: [] for name in searches}
    sizes: dict[str, int] = {}
    for turn in range(REPEAT + 1):
        for name, search in searches.items():
            t0 = time.perf_counter()
            response = render_page(client, "/ar-aging", search)
            if turn:  # the first turn loads the batch and fills caches
                times[name].append(time.perf_counter() - t0)
            if response.status_code != 200:
                raise RuntimeError(f"/ar-aging{search} answered {response.status_code}")
            sizes[name] = len(response.get_data())
    return {name: {"median_ms": round(statistics.median(values) * 1000),
                   "max_ms": round(max(values) * 1000),
                   "response_kb": round(sizes[name] / 1024)}
            for name, values in times.items()}


def _largest_customer(var: Path) -> int:
    """The customer with the most AR items (the heaviest drill)."""
    from bench.bench_cash_forecast import published_mart

    items = published_mart(var).frame("fct_ar_item")
    return int(items["customer_id"].mode().sort()[0])


def run(var: Path | None = None) -> dict[str, Any]:
    """The figures of the module docstring."""
    from core.config import Settings
    from dashboard.app import create_app
    from tests.dashboard.dash_client import login

    if var is None:
        from bench.bench_callbacks import small_dataset

        var = small_dataset()[2]
    customer = _largest_customer(var)
    app = create_app(Settings(var_dir=var, result_cache=False))
    client = app.server.test_client()
    login(client, "finance")
    figures: dict[str, Any] = {"var": str(var), "customer": customer}
    figures |= _renders(client, {
        f"{mode}{drill}": f"?currency={mode}" + (f"&customer={customer}" if drill else "")
        for drill in ("", "_with_drill") for mode in MODES})
    log.info("%s", figures)
    app.server.extensions["salesbi_engine"].dispose()
    return figures


if __name__ == "__main__":
    from bench import main_with_var

    main_with_var(run, __doc__ or "")
