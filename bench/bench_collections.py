"""Collections worklist benchmark on a published demo (``--var``; default the 1M-line
SQLite demo of ``bench_callbacks`` in ``var/bench-1m``, built on first use; ``--standard``
the 10M-line standard dataset on PostgreSQL with its mart in ``var/bench-standard``): the
worklist metric for finance (every customer) and the demo's sales manager, the live
follow-up read of the 500 rows shown and of every row (what the export reads), the whole
page and the CSV export over HTTP as finance with the result cache off (router and export
callbacks through Flask's test client), and the metric again on the receivables facts
copied ×10 (every customer, invoice, receipt and allocation under new ids: the standard
dataset's size; not with ``--standard``).

``python -m bench.bench_collections [--var DIR | --standard] [--scale 10]`` prints the
figures (``make bench`` writes them to ``bench/results/collections.json``). Timings: best
(metric, live read) or median (page, export) of several runs, in ms.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import time
from pathlib import Path
from typing import Any

import polars as pl

from bench.bench_cash_forecast import copied, demo_settings, published_mart

log = logging.getLogger("bench.collections")
REPEAT = 5


def _ms(fn: Any, repeat: int = REPEAT, pick: Any = min) -> tuple[int, Any]:
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return round(pick(times) * 1000), result


def _scopes(mart: Any) -> dict[str, Any]:
    from dashboard.metrics.scope import Scope

    reps = mart.frame("dim_rep")
    tree = frozenset(reps.filter(pl.col("tree_path").str.starts_with("/1/2/"))["rep_id"])
    return {"finance": Scope("finance", 1, all_reps=True),
            "manager": Scope("sales_manager", 2, rep_ids=tree)}


def _metric(mart: Any, today: Any) -> dict[str, Any]:
    from dashboard.metrics.collections import worklist

    figures: dict[str, Any] = {
        "ar_items": mart.frame("fct_ar_item").height,
        "allocations": mart.frame("fct_ar_allocation").height}
    for label, scope in _scopes(mart).items():
        ms, rows = _ms(lambda scope=scope: worklist(mart, scope, today, timezone="UTC"))
        figures[label] = {"worklist_ms": ms, "rows": rows.height}
    return figures


def _scaled(mart: Any, scale: int) -> Any:
    from dashboard.metrics.mart import Mart

    step = int(mart.frame("dim_customer")["customer_id"].max()) + 1
    document = 10 ** 8
    ids = {
        "dim_customer": {"customer_id": step, "customer_key": step * 4},
        "dim_location": {"customer_id": step, "location_key": step * 8,
                         "location_id": step * 8},
        "fct_ar_item": {"customer_id": step, "document_id": document},
        "fct_ar_allocation": {"customer_id": step, "allocation_id": document,
                              "reversal_of_id": document, "source_id": document,
                              "target_id": document},
    }
    tables = dict(mart.tables)
    for name, columns in ids.items():
        tables[name] = copied(mart.frame(name), columns, scale)
    return Mart(mart.batch_id, mart.published_at, tables)


def _live(var: Path, database_url: str | None, mart: Any, today: Any) -> dict[str, Any]:
    from core.actor import Actor, Role
    from core.customers.profile import follow_ups
    from core.db import make_engine, make_session_factory
    from dashboard.metrics.collections import worklist
    from dashboard.pages.collections import SHOWN_ROWS

    rows = worklist(mart, _scopes(mart)["finance"], today, timezone="UTC")
    engine = make_engine(demo_settings(var, database_url).resolved_database_url)
    factory = make_session_factory(engine)
    finance = Actor(user_id=None, role=Role.FINANCE, name="bench")
    figures: dict[str, Any] = {}
    for label, ids in {"shown": rows.head(SHOWN_ROWS), "all": rows}.items():
        ids = ids.select("invoice_id", "customer_id")

        def read(ids: pl.DataFrame = ids) -> int:
            with factory() as session:
                return follow_ups(session, finance, ids).height

        ms, found = _ms(read)
        figures[label] = {"follow_ups_ms": ms, "invoices": ids.height, "found": found}
    engine.dispose()
    return figures


def _http(var: Path, database_url: str | None) -> dict[str, Any]:
    """The page and its CSV export as finance, through Flask's test client."""
    from dashboard.app import create_app
    from tests.dashboard.dash_client import export, login, render_page

    app = create_app(demo_settings(var, database_url, result_cache=False))
    client = app.server.test_client()
    login(client, "finance")
    render_page(client, "/collections")  # the first render loads the batch
    figures = {}
    for label, post in {"page_finance": lambda: render_page(client, "/collections"),
                        "export_finance": lambda: export(client, "collections",
                                                         "/collections")}.items():
        times, size = [], 0
        for _ in range(REPEAT):
            t0 = time.perf_counter()
            response = post()
            times.append(time.perf_counter() - t0)
            if response.status_code != 200:
                raise RuntimeError(f"{label} answered {response.status_code}")
            size = len(response.get_data())
        figures[label] = {"median_ms": round(statistics.median(times) * 1000),
                          "max_ms": round(max(times) * 1000), "response_kb": round(size / 1024)}
    app.server.extensions["salesbi_engine"].dispose()
    return figures


def run(var: Path | None = None, scale: int = 10, standard: bool = False) -> dict[str, Any]:
    """The figures of the module docstring."""
    database_url = None
    if standard:
        from bench.bench_callbacks import standard_dataset

        database_url, _, var = standard_dataset()
    elif var is None:
        from bench.bench_callbacks import small_dataset

        var = small_dataset()[2]
    mart = published_mart(var, database_url)
    today = mart.published_at.date()
    figures = {"batch": mart.batch_id, "as_of": today.isoformat(),
               "metric": _metric(mart, today), "live": _live(var, database_url, mart, today),
               **_http(var, database_url)}
    log.info("×1: %s", figures)
    if not standard:
        figures[f"metric_x{scale}"] = _metric(_scaled(mart, scale), today)
        log.info("×%d: %s", scale, figures[f"metric_x{scale}"])
    return figures


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    parser = argparse.ArgumentParser(description=__doc__)
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--var", type=Path, default=None)
    where.add_argument("--standard", action="store_true")
    parser.add_argument("--scale", type=int, default=10)
    arguments = parser.parse_args()
    log.info("%s", json.dumps(run(arguments.var, arguments.scale, arguments.standard),
                              indent=2))
