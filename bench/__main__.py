"""Run every ``bench/bench_*.py`` module and write its figures to ``bench/results/<name>.json``."""

from __future__ import annotations

import importlib
import json
import logging
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path

log = logging.getLogger("bench")

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"


def bench_modules() -> list[str]:
    """Names of the benchmark modules, sorted (``bench_<name>``)."""
    return sorted(path.stem for path in BENCH_DIR.glob("bench_*.py"))


def run_one(module_name: str) -> Path:
    """Run one benchmark module's ``run()`` and write its figures; returns the result path."""
    module = importlib.import_module(f"bench.{module_name}")
    figures = module.run()
    result = {
        "benchmark": module_name.removeprefix("bench_"),
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "figures": figures,
    }
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"{result['benchmark']}.json"
    path.write_text(json.dumps(result, indent=2, default=str) + "\n")
    log.info("%s: %s", module_name, json.dumps(figures, default=str))
    return path


def main() -> int:
    """Run all benchmarks; exit status 1 if any failed."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    names = bench_modules()
    if not names:
        log.info("no benchmarks yet (add bench/bench_<name>.py with a run() function)")
        return 0
    failed = 0
    for name in names:
        try:
            log.info("wrote %s", run_one(name))
        except Exception:
            log.exception("%s failed", name)
            failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
