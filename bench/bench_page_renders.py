"""Page renders in one process: each view (role, page, query) rendered through the Flask test
client (router callback: metrics, layout JSON; result cache off) after the batch is loaded
and warmed (``dashboard.batch_warmup``), median and max of several renders, in ms. For a
page's figures without gunicorn and HTTP around them (``bench_callbacks`` has those), e.g.
the cash forecast's scenarios (issue 6: each ≤ 1 s at 10M lines).

``python -m bench.bench_page_renders`` renders ``VIEWS`` on the 1M-line SQLite demo of
``bench_callbacks`` (built on first use); ``--standard`` on the standard dataset (PostgreSQL
``salesbi_bench``, its mart in ``var/bench-standard``); ``--view ROLE PATH [QUERY]`` (again
for more) renders those instead; ``{largest}`` in a query is the customer with the most
forecast items.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import threading
import time
from pathlib import Path
from typing import Any

log = logging.getLogger("bench.page_renders")
REPEAT = 5
VIEWS = [
    ("finance", "/cash-forecast", ""),
    ("finance", "/cash-forecast", "?exclude=hold,disputed"),
    ("finance", "/cash-forecast", "?shift_customer={largest}&shift_days=30"),
    ("finance", "/cash-forecast", "?shift_customer={largest}&shift_days=30&exclude=hold,disputed"),
    ("manager", "/cash-forecast", "?exclude=hold,disputed"),
]


def _prepared(app: Any) -> None:
    """Wait for the loaded batch's warm-up (renders measured beside it would share its CPU)."""
    while any(t.name.startswith("mart-prepare-") for t in threading.enumerate()):
        time.sleep(0.1)


def _largest(app: Any) -> int:
    mart = app.server.extensions["salesbi_mart_reader"].current()
    items = mart.frame("fct_cash_forecast_item")
    return int(items.group_by("customer_id").len().sort(["len", "customer_id"],
                                                       descending=[True, False])[0, 0])


def measure(database_url: str, var: Path, views: list[tuple[str, str, str]]) -> dict[str, Any]:
    """The figures of the module docstring for ``views``."""
    from core.config import Settings
    from dashboard.app import create_app
    from tests.dashboard.dash_client import login, render_page

    app = create_app(Settings(var_dir=var, mart_dir=var / "mart", database_url=database_url,
                              result_cache=False))
    clients: dict[str, Any] = {}
    figures: dict[str, Any] = {}
    for role, path, query in views:
        if role not in clients:
            clients[role] = app.server.test_client()
            login(clients[role], role)
        client = clients[role]
        if not figures:  # the first render loads the batch
            render_page(client, path)
            _prepared(app)
        search = query.format(largest=_largest(app)) if "{largest}" in query else query
        times = []
        for turn in range(REPEAT + 1):
            t0 = time.perf_counter()
            response = render_page(client, path, search)
            if response.status_code != 200:
                raise RuntimeError(f"{path}{search} as {role} answered {response.status_code}")
            if turn:  # the first fills per-request caches of the client
                times.append(time.perf_counter() - t0)
        figures[f"{path}{search} as {role}"] = {
            "median_ms": round(statistics.median(times) * 1000),
            "max_ms": round(max(times) * 1000)}
    app.server.extensions["salesbi_engine"].dispose()
    return figures


def run(var: Path | None = None) -> dict[str, Any]:
    """``make bench``: ``VIEWS`` on the 1M-line SQLite demo (or the demo in ``var``)."""
    from bench.bench_callbacks import small_dataset

    database_url, _, var_dir = small_dataset(var) if var else small_dataset()
    return measure(database_url, var_dir, VIEWS)


def main() -> None:
    from bench.bench_callbacks import small_dataset, standard_dataset

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--standard", action="store_true")
    parser.add_argument("--view", nargs="+", action="append", metavar="ROLE PATH [QUERY]")
    arguments = parser.parse_args()
    views = [(v[0], v[1], v[2] if len(v) > 2 else "") for v in arguments.view or []] or VIEWS
    database_url, _, var_dir = standard_dataset() if arguments.standard else small_dataset()
    log.info("%s", json.dumps(measure(database_url, var_dir, views), indent=2))


if __name__ == "__main__":
    main()
