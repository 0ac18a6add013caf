"""Cash-forecast benchmark: the ETL's forecast builders timed alone on the 1M-line SQLite
demo (5,000 customers, seed 42, as ``bench_demo_load``), then the page's scenarios timed on
the same forecast scaled ×10 to the standard dataset's size (50,000 customers; every
customer, item, pool and customer-week copied ten times under new ids, the simulation cells
— one per account manager × on hold × disputed — as they are, since they do not grow with
the data): the baseline and each scenario for finance (every customer) and for the demo's
sales manager (a regional tree).

Run alone with ``python -m bench.bench_cash_forecast [--lines N --customers N]
[--var DIR]`` (``--var``: a folder that already holds a demo database and a published mart,
e.g. from ``salesbi demo`` + ``salesbi etl run``; otherwise a temporary one is built).
"""

from __future__ import annotations

import argparse
import logging
import statistics
import tempfile
import time
from datetime import date, datetime
from pathlib import Path

import polars as pl

log = logging.getLogger("bench.cash_forecast")

LINES = 1_000_000
CUSTOMERS = 5_000
SEED = 42
SCALE = 10
REPEAT = 3


def _best(fn, repeat: int = REPEAT) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), result


def _prepare(var: Path, lines: int, customers: int) -> None:
    from bench.bench_demo_load import _seed_schema
    from core.config import Settings
    from core.db import make_engine
    from core.demo import generate_demo
    from etl.publish import mart_target
    from etl.run import run_etl

    settings = Settings(var_dir=var)
    engine = make_engine(settings.resolved_database_url)
    _seed_schema(engine)
    generate_demo(engine, customers=customers, lines=lines, seed=SEED)
    run_etl(engine, mart_target(settings.resolved_mart_url, settings.resolved_mart_dir),
            full=True)
    engine.dispose()


def demo_settings(var: Path, database_url: str | None = None,  # type: ignore[no-untyped-def]
                  **overrides):
    """The settings of the demo in ``var``: its core in ``database_url`` if given, else the
    embedded one."""
    from core.config import Settings

    return Settings(var_dir=var, **overrides,
                    **({"database_url": database_url} if database_url else {}))


def published(var: Path, database_url: str | None = None):  # type: ignore[no-untyped-def]
    """The settings of the demo in ``var`` (``demo_settings``) and its published batch."""
    from etl.publish import mart_target, published_batch

    settings = demo_settings(var, database_url)
    target = mart_target(settings.resolved_mart_url, settings.resolved_mart_dir)
    batch = published_batch(target.engine)
    if batch is None:
        raise RuntimeError(f"no published batch in {var}")
    return settings, batch


def _builders(var: Path, today: date) -> dict[str, object]:
    from core.db import make_engine
    from etl.batch_folder import read_batch
    from etl.checks import forecast_failures
    from etl.extract import extract
    from etl.facts import cash_forecast, forecast_backtest

    settings, batch = published(var)
    tables = read_batch(Path(settings.resolved_mart_dir), batch.batch_id, (
        "dim_customer", "fct_ar_item", "fct_ar_allocation", "fct_order", "fct_order_line"))
    if tables is None:
        raise RuntimeError(f"batch {batch.batch_id} is incomplete")
    core = extract(make_engine(settings.resolved_database_url), cash_forecast.CORE_COLUMNS)
    forecast_s, built = _best(lambda: cash_forecast.build(core, tables, today=today))
    backtest_s, backtest = _best(
        lambda: forecast_backtest.build(tables, today=today, timezone="UTC"))
    tables |= built  # type: ignore[arg-type]
    tables[forecast_backtest.TABLE] = backtest  # type: ignore[assignment]
    checks_s, failures = _best(lambda: forecast_failures(tables))
    done = backtest.filter(pl.col("is_complete"))  # type: ignore[union-attr]
    actual = done["actual_minor"].sum()
    return {
        "forecast_seconds": round(forecast_s, 2), "backtest_seconds": round(backtest_s, 2),
        "checks_seconds": round(checks_s, 2), "check_failures": failures,
        "rows": {name: frame.height for name, frame in built.items()},  # type: ignore[union-attr]
        "wape": round(float((done["actual_minor"] - done["p50_minor"]).abs().sum() / actual), 4),
        "naive_wape": round(float((done["actual_minor"] - done["naive_minor"]).abs().sum()
                                  / actual), 4),
    }


def copied(frame: pl.DataFrame, ids: dict[str, int], scale: int) -> pl.DataFrame:
    """``frame`` ``scale`` times, copy k with ``k × offset`` added to each id column of
    ``ids`` (id → offset; negative "unknown" ids kept)."""
    parts = [frame.with_columns(
        (pl.when(pl.col(c) >= 0).then(pl.col(c) + k * offset).otherwise(pl.col(c)))
        .cast(frame.schema[c]) for c, offset in ids.items()) for k in range(scale)]
    return pl.concat(parts)


def published_mart(var: Path, database_url: str | None = None):  # type: ignore[no-untyped-def]
    """The published batch of the demo in ``var`` (see ``published``), as the app loads it
    (``dashboard.mart_reader.load_batch``)."""
    from dashboard.mart_reader import load_batch

    settings, batch = published(var, database_url)
    return load_batch(Path(settings.resolved_mart_dir), batch)


def _scaled(var: Path, scale: int):  # type: ignore[no-untyped-def]
    """The published batch's forecast tables (and customer dimensions) copied ``scale``
    times under new customer, document and location ids."""
    from dashboard.metrics.mart import Mart

    mart = published_mart(var)
    step = int(mart.frame("dim_customer")["customer_id"].max()) + 1

    def copies(name: str, ids: dict[str, int]) -> pl.DataFrame:
        return copied(mart.frame(name), ids, scale)

    document_step = 10 ** 8
    tables = dict(mart.tables)
    tables["dim_customer"] = copies("dim_customer", {"customer_id": step,
                                                     "customer_key": step * 4})
    tables["dim_location"] = copies("dim_location", {"customer_id": step,
                                                     "location_key": step * 8,
                                                     "location_id": step * 8})
    tables["fct_cash_forecast_item"] = copies("fct_cash_forecast_item",
                                              {"customer_id": step,
                                               "document_id": document_step})
    tables["fct_cash_forecast"] = copies("fct_cash_forecast", {"customer_id": step})
    pools = mart.frame("fct_payment_days_late")
    own = pools.filter(pl.col("pool") == "customer")
    tables["fct_payment_days_late"] = pl.concat([
        pools.filter(pl.col("pool") != "customer"),
        *(own.with_columns(pl.col("customer_id") + k * step) for k in range(scale))])
    return Mart(mart.batch_id, mart.published_at, tables)


def _scenarios(mart) -> dict[str, object]:  # type: ignore[no-untyped-def]
    from dashboard.metrics import cash_forecast as cf
    from dashboard.metrics.scope import Scope

    reps = mart.frame("dim_rep")
    tree = frozenset(reps.filter(pl.col("tree_path").str.starts_with("/1/2/"))["rep_id"])
    scopes = {"finance": Scope("finance", 1, all_reps=True),
              "manager": Scope("sales_manager", 2, rep_ids=tree)}
    figures: dict[str, object] = {
        "items": mart.frame("fct_cash_forecast_item").height,
        "customers": mart.frame("dim_customer").filter(pl.col("is_current")).height,
        "customer_weeks": mart.frame("fct_cash_forecast").height,
        "simulation_rows": mart.frame("fct_cash_forecast_sim").height}
    for label, scope in scopes.items():
        top = cf.forecast(mart, scope).customers
        customer = int(top["customer_id"][0])
        scenarios = {
            "baseline": cf.BASELINE,
            "pays_30_days_later": cf.Scenario(customer, 30),
            "exclude_on_hold": cf.Scenario(exclude_on_hold=True),
            "exclude_disputed": cf.Scenario(exclude_disputed=True),
            "all_three": cf.Scenario(customer, 30, True, True),
        }
        timings = {}
        for name, scenario in scenarios.items():
            runs = []
            for _ in range(5):
                t0 = time.perf_counter()
                cf.forecast(mart, scope, scenario)
                runs.append(time.perf_counter() - t0)
            timings[name] = {"median_ms": round(statistics.median(runs) * 1000),
                             "max_ms": round(max(runs) * 1000)}
        t0 = time.perf_counter()
        rows = cf.backtest(mart, scope)
        if rows is not None:
            cf.backtest_wape(rows)
            cf.backtest_wape(rows, by_origin=True)
        timings["backtest_ms"] = round((time.perf_counter() - t0) * 1000)
        figures[label] = timings
    return figures


def run(lines: int = LINES, customers: int = CUSTOMERS, var: Path | None = None,
        scale: int = SCALE) -> dict[str, object]:
    """Time the builders on a demo of ``lines`` lines, then the scenarios at ×``scale``."""
    with tempfile.TemporaryDirectory(prefix="bench-cash-forecast-") as folder:
        where = var or Path(folder)
        if var is None:
            t0 = time.perf_counter()
            _prepare(where, lines, customers)
            log.info("demo and full ETL run in %.1f s", time.perf_counter() - t0)
        today = datetime.now().date()
        figures: dict[str, object] = {"builders": _builders(where, today)}
        log.info("builders: %s", figures["builders"])
        figures["scenarios_scaled"] = {"scale": scale, **_scenarios(_scaled(where, scale))}
        log.info("scenarios: %s", figures["scenarios_scaled"])
        return figures


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=LINES)
    parser.add_argument("--customers", type=int, default=CUSTOMERS)
    parser.add_argument("--var", type=Path, default=None)
    parser.add_argument("--scale", type=int, default=SCALE)
    arguments = parser.parse_args()
    log.info("%s", run(arguments.lines, arguments.customers, arguments.var, arguments.scale))
