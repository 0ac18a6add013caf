"""Callback benchmark: the app served by gunicorn as in production (``salesbi serve --prod``:
2 workers × 4 threads; ``--workers``/``--threads`` to change), result cache off, answering
a fixed, seeded mix of page renders and exports over HTTP (``POST /_dash-update-component``
and ``GET /export/…``, as the browser sends them) as logged-in users of every demo role;
then the same headline figures straight from the core tables with SQL, for the ratio.

- Sequential: 200 requests, one at a time, the roles taking turns (rep, manager, finance,
  exec, admin), each request a page the role may open (``dashboard.pages.PAGES``) with
  random filters (period preset or custom dates, regions, channels, reps, a Documents kind,
  a customer of the role's scope), about one in ten an export of one of the page's tables.
- Concurrent: 8 users (threads; rep, manager, finance, exec, admin, rep, manager, exec), 25
  requests each, all at once.
- p50/p95/max per page and overall (client-side wall time of the HTTP call), and the peak
  RSS of every gunicorn worker (``VmHWM``, which counts the pages of the memory-mapped mart
  it touched: file cache shared by the workers) and its peak private memory (``RssAnon``,
  sampled every 0.2 s).
- SQL: net sales year to date by rep, open receivables by currency and open pipeline by
  stage, each by one query set on the core (best of 3); the ratio is SQL seconds / the
  p50 of the page that shows the figure.

``python -m bench.bench_callbacks`` (``make bench-callbacks``) benchmarks a 1M-line SQLite
demo company in ``var/bench-1m`` (built on first use: ``salesbi init-db``, ``salesbi demo
--customers 5000 --lines 1000000 --seed 42``, ``salesbi etl run --full``);
``--standard`` the standard dataset (``bench_demo_load --standard``, PostgreSQL
``salesbi_bench``) with its Parquet mart in ``var/bench-standard`` (the ETL run on first use
needs 13–16 GiB). Never part of ``make test``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

from dashboard.downloads import export_url
from dashboard.serve import GUNICORN_THREADS, GUNICORN_WORKERS, gunicorn_argv
from tests.dashboard.dash_client import router_body

log = logging.getLogger("bench.callbacks")

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = Path(__file__).resolve().parent / "results"
REQUESTS = 200
USERS = 8
SEED = 42
EXPORT_SHARE = 0.1
SMALL = {"customers": 5_000, "lines": 1_000_000, "seed": 42}
SMALL_VAR = ROOT / "var" / "bench-1m"
STANDARD_VAR = ROOT / "var" / "bench-standard"
LOGINS = {"rep": "rep", "sales_manager": "manager", "finance": "finance",
          "executive": "exec", "admin": "admin"}
CONCURRENT_ROLES = ("rep", "sales_manager", "finance", "executive", "admin", "rep",
                    "sales_manager", "executive")
PASSWORD = "demo"  # noqa: S105 - the documented demo logins
REQUEST_TIMEOUT_S = 300


@dataclass(frozen=True)
class Call:
    """One request of the mix: who, which page (its path template for the report), what:
    a callback's body to POST, or an export's address to GET."""

    role: str
    page: str
    body: dict[str, Any] | None = None
    address: str | None = None


@dataclass(frozen=True)
class Timing:
    page: str
    role: str
    seconds: float
    status: int
    size: int


# --- the mix -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Choices:
    """What the filters may pick (from the published mart and the core)."""

    today: date
    regions: list[str]
    channels: list[str]
    rep_ids: list[int]
    categories: list[str]
    customers: dict[str, list[int]]  # role → customers in its scope
    exports: dict[tuple[str, str], list[str]]  # (role, page) → export table ids


def _search(rng: random.Random, c: Choices, page: str) -> str:
    from dashboard.metrics.period import PRESETS
    from dashboard.view import query_string

    query: dict[str, object] = {"period": rng.choice(sorted(PRESETS))}
    if query["period"] == "custom":
        end = c.today - timedelta(days=rng.randrange(0, 400))
        query |= {"start": (end - timedelta(days=rng.randrange(7, 500))).isoformat(),
                  "end": end.isoformat()}
    if rng.random() < 0.3:
        query["region"] = rng.sample(c.regions, k=min(len(c.regions), rng.randint(1, 2)))
    if rng.random() < 0.3:
        query["channel"] = rng.sample(c.channels, k=1)
    if rng.random() < 0.15:
        query["rep"] = rng.sample(c.rep_ids, k=min(len(c.rep_ids), rng.randint(1, 3)))
    if page == "/documents":
        from dashboard.metrics.documents import KINDS

        query["kind"] = rng.choice(sorted(KINDS))
        if rng.random() < 0.2 and c.categories and query["kind"] == "sales":
            query["category"] = rng.choice(c.categories)
    return query_string(query)


def build_mix(rng: random.Random, roles: list[str], choices: Choices) -> list[Call]:
    """One request per entry of ``roles``: a page the role may open, random filters."""
    from dashboard.pages import PAGES
    from dashboard.view import query_string

    calls = []
    for role in roles:
        page = rng.choice([p for p in PAGES if role in p.ROLES])
        search = _search(rng, choices, page.PATH)
        pathname = page.PATH
        if "<customer_id>" in page.PATH:
            pathname = f"/customers/{rng.choice(choices.customers[role])}"
            search = ""
        elif page.PATH == "/statement":  # as the AR aging page links it: customer, as of
            search = query_string({"customer": rng.choice(choices.customers[role]),
                                   "as_of": choices.today.isoformat()})
        elif page.PATH == "/documents" and rng.random() < 0.3 and choices.customers[role]:
            search += f"&customer={rng.choice(choices.customers[role])}"
        tables = choices.exports.get((role, page.PATH), [])
        if tables and rng.random() < EXPORT_SHARE:
            calls.append(Call(role, f"export {page.PATH}", address=export_url(
                rng.choice(tables), "csv", pathname, search)))
        else:
            calls.append(Call(role, page.PATH, router_body(pathname, search)))
    return calls


def _choices(database_url: str, mart_dir: Path, var_dir: Path) -> Choices:
    """Filter values from the published mart's dimensions; customers per role from the
    core (managed by a rep of the role's scope)."""
    import polars as pl
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from core.access import customers_in_scope
    from core.config import Settings
    from core.customers.models import Customer
    from core.db import make_engine
    from core.users.models import User
    from core.users.services import actor_for
    from etl.publish import mart_engine, published_batch

    settings = Settings(database_url=database_url, var_dir=var_dir, mart_dir=mart_dir)
    mart = mart_engine(settings.resolved_mart_url, schema=settings.mart_schema)
    batch = published_batch(mart)
    mart.dispose()
    if batch is None:
        raise SystemExit(f"no published batch in {settings.resolved_mart_url}")
    folder = mart_dir / batch.batch_id

    def column(table: str, name: str) -> list[Any]:
        frame = pl.read_parquet(folder / f"{table}.parquet", columns=[name])
        return sorted(v for v in frame[name].unique().to_list() if v is not None)

    rep_ids = [r for r in column("dim_rep", "rep_id") if r > 0]
    core = make_engine(database_url)
    customers: dict[str, list[int]] = {}
    with Session(core) as session:
        for role, username in LOGINS.items():
            user_id = session.scalars(select(User.id).where(User.username == username)).one()
            actor = actor_for(session, user_id)
            condition = customers_in_scope(session, actor)
            query = select(Customer.id).order_by(Customer.id).limit(2000)
            if condition is not None:
                query = query.where(condition)
            customers[role] = list(session.scalars(query))
        today = _company_today(session)
    core.dispose()
    return Choices(today, [r for r in column("dim_region", "region_code") if r != "?"],
                   [c for c in column("dim_channel", "channel_code") if c != "?"], rep_ids,
                   column("dim_product", "category"), customers, {})


def _company_today(session: Any) -> date:
    from zoneinfo import ZoneInfo

    from core.company.models import CompanySettings

    settings = session.get_one(CompanySettings, 1)
    return datetime.now(ZoneInfo(settings.timezone)).date()


# --- the server ----------------------------------------------------------------------------

class Server:
    """gunicorn (production settings) in a subprocess, result cache off."""

    def __init__(self, database_url: str, mart_dir: Path, var_dir: Path,
                 result_cache: bool, workers: int, threads: int) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "SALESBI_DATABASE_URL": database_url,
               "SALESBI_MART_DIR": str(mart_dir), "SALESBI_VAR_DIR": str(var_dir),
               "SALESBI_RESULT_CACHE": "1" if result_cache else "0", "SALESBI_REDIS_URL": "",
               "SALESBI_ENV": "development"}
        self.log_path = var_dir / "bench-gunicorn.log"
        self._log = self.log_path.open("w")
        argv = gunicorn_argv("127.0.0.1", self.port)
        argv[argv.index("-w") + 1] = str(workers)
        argv[argv.index("--threads") + 1] = str(threads)
        self.process = subprocess.Popen(  # noqa: S603 - fixed argv
            argv, cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"gunicorn exited; see {self.log_path}")
            try:
                if requests.get(self.url + "/healthz", timeout=5).status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.5)
        raise SystemExit(f"gunicorn not ready after {timeout} s; see {self.log_path}")

    def workers(self) -> list[int]:
        """Worker process ids (children of the gunicorn master)."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(p) for p in children.read_text().split()]

    @staticmethod
    def memory_mib(pid: int) -> dict[str, int]:
        """Current (``VmRSS``) and peak (``VmHWM``) resident memory of ``pid``, and of its
        current resident memory the private part (``RssAnon``) and the mapped files'
        (``RssFile``: shared with other processes, reclaimable)."""
        fields = {}
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
                fields[name] = round(int(value.split()[0]) / 1024)
        return {"rss_mib": fields["VmRSS"], "peak_rss_mib": fields["VmHWM"],
                "private_mib": fields["RssAnon"], "file_mib": fields["RssFile"]}

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self._log.close()


class PrivatePeaks(threading.Thread):
    """The largest private memory (``RssAnon``) each worker reached, sampled every
    ``interval`` seconds until ``stop``."""

    def __init__(self, server: Server, interval: float = 0.2) -> None:
        super().__init__(daemon=True, name="private-memory")
        self._server, self._interval = server, interval
        self._stopped = threading.Event()
        self.peaks: dict[int, int] = {}

    def run(self) -> None:
        while not self._stopped.wait(self._interval):
            for pid in self._server.workers():
                try:
                    private = Server.memory_mib(pid)["private_mib"]
                except (OSError, KeyError):  # the worker ended meanwhile
                    continue
                self.peaks[pid] = max(self.peaks.get(pid, 0), private)

    def stop(self) -> dict[int, int]:
        self._stopped.set()
        self.join()
        return self.peaks


def login(url: str, role: str) -> requests.Session:
    session = requests.Session()
    response = session.post(url + "/login", data={"username": LOGINS[role],
                                                  "password": PASSWORD},
                            allow_redirects=False, timeout=30)
    if response.status_code != 302:
        raise SystemExit(f"login as {LOGINS[role]} failed: HTTP {response.status_code}")
    return session


def call(session: requests.Session, url: str, c: Call) -> Timing:
    t0 = time.perf_counter()
    if c.address is not None:
        response = session.get(url + c.address, timeout=REQUEST_TIMEOUT_S)
    else:
        response = session.post(url + "/_dash-update-component", json=c.body,
                                timeout=REQUEST_TIMEOUT_S)
    seconds = time.perf_counter() - t0
    if response.status_code not in (200, 204):
        log.warning("%s as %s: HTTP %s %s", c.page, c.role, response.status_code,
                    response.text[:200])
    return Timing(c.page, c.role, seconds, response.status_code, len(response.content))


def _export_tables(layout: Any) -> list[str]:
    """Export button table ids in a serialised layout."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            ident = node.get("props", {}).get("id") if "props" in node else None
            if isinstance(ident, dict) and ident.get("type") == "export-button" \
                    and ident.get("format") == "csv":
                found.append(ident["table"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(layout)
    return sorted(set(found))


def warm_up(server: Server, choices: Choices) -> Choices:
    """Every role opens every page it may (loads the mart in every worker: rounds of
    concurrent fresh connections until all workers hold it) and notes its export tables."""
    from dashboard.pages import PAGES

    exports: dict[tuple[str, str], list[str]] = {}
    for role in LOGINS:
        session = login(server.url, role)
        for page in PAGES:
            if role not in page.ROLES or "<" in page.PATH:
                continue
            response = session.post(server.url + "/_dash-update-component",
                                    json=router_body(page.PATH, ""), timeout=REQUEST_TIMEOUT_S)
            response.raise_for_status()
            exports[(role, page.PATH)] = _export_tables(
                response.json()["response"]["_pages_content"]["children"])

    def one() -> None:
        login(server.url, "executive").post(server.url + "/_dash-update-component",
                                            json=router_body("/", ""),
                                            timeout=REQUEST_TIMEOUT_S)

    for _ in range(10):
        rss = [Server.memory_mib(pid)["rss_mib"] for pid in server.workers()]
        if min(rss) > 0.6 * max(rss):
            break
        with ThreadPoolExecutor(max_workers=16) as pool:
            for future in [pool.submit(one) for _ in range(16)]:
                future.result()
    return Choices(choices.today, choices.regions, choices.channels, choices.rep_ids,
                   choices.categories, choices.customers, exports)


def run_sequential(url: str, calls: list[Call]) -> list[Timing]:
    sessions = {role: login(url, role) for role in LOGINS}
    return [call(sessions[c.role], url, c) for c in calls]


def run_concurrent(url: str, users: list[list[Call]]) -> tuple[list[Timing], float]:
    """Each user (thread) logs in and sends its calls one after another; all start
    together. Returns the timings and the wall time of the whole run."""
    barrier = threading.Barrier(len(users))

    def user(calls: list[Call]) -> list[Timing]:
        session = login(url, calls[0].role)
        barrier.wait()
        return [call(session, url, c) for c in calls]

    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=len(users)) as pool:
        results = [f.result() for f in [pool.submit(user, calls) for calls in users]]
    return [t for r in results for t in r], time.perf_counter() - t0


def summary(timings: list[Timing]) -> dict[str, Any]:
    """p50/p95/max in milliseconds per page and overall."""

    def stats(values: list[float]) -> dict[str, float | int]:
        ms = sorted(v * 1000 for v in values)
        return {"n": len(ms), "p50_ms": round(statistics.median(ms), 1),
                "p95_ms": round(ms[max(0, round(0.95 * len(ms)) - 1)], 1),
                "max_ms": round(ms[-1], 1)}

    by_page: dict[str, list[float]] = defaultdict(list)
    by_page_role: dict[str, list[float]] = defaultdict(list)
    for t in timings:
        by_page[t.page].append(t.seconds)
        by_page_role[f"{t.page} as {t.role}"].append(t.seconds)
    return {"overall": stats([t.seconds for t in timings]),
            "by_page": {page: stats(v) for page, v in sorted(by_page.items())},
            "by_page_and_role": {key: stats(v) for key, v in sorted(by_page_role.items())},
            "errors": sum(1 for t in timings if t.status not in (200, 204)),
            "mean_response_kib": round(statistics.mean(t.size for t in timings) / 1024, 1)}


def page_p50(timings: list[Timing], page: str, role: str) -> float | None:
    values = [t.seconds for t in timings if t.page == page and t.role == role]
    return statistics.median(values) if values else None


# --- the same figures from the core with SQL ----------------------------------------------

def _timed(fn: Callable[[], Any], repeat: int = 3) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def core_sql_figures(database_url: str, today: date) -> dict[str, Any]:
    """Headline figures straight from the core tables (the ETL's sources) by SQL."""
    from sqlalchemy import func, select
    from sqlalchemy.orm import Session

    from core.billing.models import (
        Allocation,
        CreditNote,
        CreditNoteLine,
        DocumentStatus,
        Invoice,
        InvoiceLine,
    )
    from core.db import make_engine
    from core.sales.models import Opportunity, OpportunityState, SalesOrder

    engine = make_engine(database_url)
    start = date(today.year, 1, 1)

    def net_sales_ytd_by_rep() -> dict[int | None, float]:
        """Σ posted invoice lines − Σ posted credit-note lines (not settlement discount or
        bad debt), dated this year, by the order's rep (credit notes through their invoice)."""
        totals: dict[int | None, float] = defaultdict(float)
        with Session(engine) as session:
            for rep, amount in session.execute(
                select(SalesOrder.rep_id, func.sum(InvoiceLine.base_net_amount))
                .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
                .join(SalesOrder, SalesOrder.id == Invoice.order_id, isouter=True)
                .where(Invoice.status == DocumentStatus.POSTED,
                       Invoice.invoice_date.between(start, today))
                .group_by(SalesOrder.rep_id)):
                totals[rep] += float(amount or 0)
            for rep, amount in session.execute(
                select(SalesOrder.rep_id, func.sum(CreditNoteLine.base_net_amount))
                .join(CreditNote, CreditNote.id == CreditNoteLine.credit_note_id)
                .join(Invoice, Invoice.id == CreditNote.invoice_id, isouter=True)
                .join(SalesOrder, SalesOrder.id == Invoice.order_id, isouter=True)
                .where(CreditNote.status == DocumentStatus.POSTED,
                       CreditNote.credit_date.between(start, today),
                       CreditNote.reason.not_in(["settlement_discount", "bad_debt"]))
                .group_by(SalesOrder.rep_id)):
                totals[rep] -= float(amount or 0)
        return dict(totals)

    def open_receivables() -> dict[str, float]:
        """Posted invoice totals − allocations to them, per currency."""
        totals: dict[str, float] = defaultdict(float)
        with Session(engine) as session:
            posted = Invoice.status == DocumentStatus.POSTED
            for currency, amount in session.execute(
                    select(Invoice.currency, func.sum(Invoice.total_amount)).where(posted)
                    .group_by(Invoice.currency)):
                totals[currency] += float(amount)
            for currency, amount in session.execute(
                    select(Invoice.currency, func.sum(Allocation.amount))
                    .join(Invoice, Invoice.id == Allocation.target_invoice_id).where(posted)
                    .group_by(Invoice.currency)):
                totals[currency] -= float(amount)
        return dict(totals)

    def open_pipeline_by_stage() -> dict[str, float]:
        with Session(engine) as session:
            return {str(stage): float(amount) for stage, amount in session.execute(
                select(Opportunity.stage, func.sum(Opportunity.amount))
                .where(Opportunity.state == OpportunityState.OPEN)
                .group_by(Opportunity.stage))}

    figures = {}
    for name, fn in (("net_sales_ytd_by_rep", net_sales_ytd_by_rep),
                     ("open_receivables_by_currency", open_receivables),
                     ("open_pipeline_by_stage", open_pipeline_by_stage)):
        seconds, result = _timed(fn)
        figures[name] = {"seconds": round(seconds, 3), "groups": len(result),
                         "total": round(sum(result.values()), 2)}
    engine.dispose()
    return figures


SQL_PAGES = {"net_sales_ytd_by_rep": ("/team", "executive"),
             "open_receivables_by_currency": ("/ar-aging", "finance"),
             "open_pipeline_by_stage": ("/pipeline", "executive")}
"""Which page shows each SQL figure to whom: the ratio's denominator is its p50."""


# --- datasets ------------------------------------------------------------------------------

def _salesbi(env: dict[str, str], *args: str) -> None:
    command = [str(Path(sys.executable).with_name("salesbi")), *args]
    log.info("%s", " ".join(command))
    subprocess.run(command, cwd=ROOT, env={**os.environ, **env}, check=True)  # noqa: S603


def _has_batch(database_url: str, var_dir: Path, mart_dir: Path) -> bool:
    from core.config import Settings
    from etl.publish import mart_engine, published_batch

    settings = Settings(database_url=database_url, var_dir=var_dir, mart_dir=mart_dir)
    if settings.resolved_mart_url.startswith("sqlite") and \
            not (var_dir / "mart.db").exists():
        return False
    engine = mart_engine(settings.resolved_mart_url, schema=settings.mart_schema)
    try:
        return published_batch(engine) is not None
    finally:
        engine.dispose()


def small_dataset(var_dir: Path = SMALL_VAR) -> tuple[str, Path, Path]:
    """The 1M-line SQLite demo company (built on first use); (core URL, mart dir, var)."""
    database_url = f"sqlite:///{var_dir / 'salesbi.db'}"
    mart_dir = var_dir / "mart"
    if not _has_batch(database_url, var_dir, mart_dir):
        var_dir.mkdir(parents=True, exist_ok=True)
        env = {"SALESBI_VAR_DIR": str(var_dir)}
        _salesbi(env, "init-db")
        _salesbi(env, "demo", *(f"--{k}={v}" for k, v in SMALL.items()))
        _salesbi(env, "etl", "run", "--full")
    return database_url, mart_dir, var_dir


def standard_dataset(var_dir: Path = STANDARD_VAR) -> tuple[str, Path, Path]:
    """The standard dataset in PostgreSQL with its Parquet mart under ``var_dir``."""
    from bench.bench_demo_load import ensure_standard_dataset

    database_url = ensure_standard_dataset()
    mart_dir = var_dir / "mart"
    if not _has_batch(database_url, var_dir, mart_dir):
        var_dir.mkdir(parents=True, exist_ok=True)
        _salesbi({"SALESBI_DATABASE_URL": database_url, "SALESBI_MART_DIR": str(mart_dir),
                  "SALESBI_VAR_DIR": str(var_dir)}, "etl", "run", "--full")
    return database_url, mart_dir, var_dir


# --- the run -------------------------------------------------------------------------------

def measure(database_url: str, mart_dir: Path, var_dir: Path, *, requests_: int = REQUESTS,
            users: int = USERS, seed: int = SEED, result_cache: bool = False,
            workers: int = GUNICORN_WORKERS, threads: int = GUNICORN_THREADS,
            label: str = "") -> dict[str, Any]:
    """Serve, warm up, replay the mixes, read the workers' memory, time the SQL."""
    choices = _choices(database_url, mart_dir, var_dir)
    server = Server(database_url, mart_dir, var_dir, result_cache, workers, threads)
    sampler = PrivatePeaks(server)
    try:
        server.wait_ready()
        sampler.start()
        t0 = time.perf_counter()
        choices = warm_up(server, choices)
        warm = time.perf_counter() - t0
        roles = list(LOGINS)
        rng = random.Random(seed)
        sequential_mix = build_mix(rng, [roles[i % len(roles)] for i in range(requests_)],
                                   choices)
        per_user = requests_ // users
        concurrent_mix = [build_mix(rng, [CONCURRENT_ROLES[u % len(CONCURRENT_ROLES)]]
                                    * per_user, choices) for u in range(users)]
        log.info("sequential: %s requests …", len(sequential_mix))
        sequential = run_sequential(server.url, sequential_mix)
        log.info("concurrent: %s users × %s requests …", users, per_user)
        concurrent, wall = run_concurrent(server.url, concurrent_mix)
        peaks = sampler.stop()
        memory = {str(pid): Server.memory_mib(pid) | {"peak_private_mib": peaks.get(pid, 0)}
                  for pid in server.workers()}
    finally:
        if sampler.is_alive():
            sampler.stop()
        server.stop()
    log.info("SQL on the core …")
    sql = core_sql_figures(database_url, choices.today)
    for name, figure in sql.items():
        page, role = SQL_PAGES[name]
        p50 = page_p50(sequential, page, role)
        figure |= {"page": page, "role": role,
                   "page_p50_ms": round(p50 * 1000, 1) if p50 else None,
                   "sql_over_page": round(figure["seconds"] / p50, 1) if p50 else None}
    return {
        "dataset": label, "database": database_url.split("@")[-1],
        "server": f"gunicorn (dashboard.serve.gunicorn_argv), {workers} worker(s) × {threads} "
                  "threads",
        "result_cache": result_cache, "seed": seed, "warm_up_seconds": round(warm, 1),
        "sequential": summary(sequential),
        "concurrent": {"users": users, "wall_seconds": round(wall, 1),
                       "requests_per_second": round(len(concurrent) / wall, 1),
                       **summary(concurrent)},
        "workers_memory_mib": memory,
        "max_worker_peak_rss_mib": max(m["peak_rss_mib"] for m in memory.values()),
        "max_worker_peak_private_mib": max(m["peak_private_mib"] for m in memory.values()),
        "core_sql": sql,
    }


def run() -> dict[str, Any]:
    """``make bench`` entry point: the 1M-line SQLite demo company."""
    database_url, mart_dir, var_dir = small_dataset()
    return measure(database_url, mart_dir, var_dir,
                   label="1M invoice lines, 5,000 customers, seed 42, SQLite")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--standard", action="store_true",
                        help="the standard 10M-line dataset on PostgreSQL")
    parser.add_argument("--requests", type=int, default=REQUESTS)
    parser.add_argument("--users", type=int, default=USERS)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--workers", type=int, default=GUNICORN_WORKERS,
                        help="gunicorn workers (production: %(default)s; each holds the mart)")
    parser.add_argument("--threads", type=int, default=GUNICORN_THREADS)
    parser.add_argument("--result-cache", action="store_true",
                        help="leave the result cache on (in-process)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.standard:
        database_url, mart_dir, var_dir = standard_dataset()
        label, name = "standard: 10M invoice lines, 50,000 customers, seed 42, PostgreSQL", \
            "callbacks-standard"
    else:
        database_url, mart_dir, var_dir = small_dataset()
        label, name = "1M invoice lines, 5,000 customers, seed 42, SQLite", "callbacks-1m"
    figures = measure(database_url, mart_dir, var_dir, requests_=args.requests,
                      users=args.users, seed=args.seed, result_cache=args.result_cache,
                      workers=args.workers, threads=args.threads, label=label)
    RESULTS_DIR.mkdir(exist_ok=True)
    suffix = ("-cached" if args.result_cache else "") + (
        f"-{args.workers}x{args.threads}"
        if (args.workers, args.threads) != (GUNICORN_WORKERS, GUNICORN_THREADS) else "")
    path = RESULTS_DIR / f"{name}{suffix}.json"
    path.write_text(json.dumps({"benchmark": name, "finished_at": datetime.now(UTC).isoformat(
        timespec="seconds"), "figures": figures}, indent=2) + "\n")
    log.info("%s", json.dumps(figures, indent=2))
    log.info("wrote %s", path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
