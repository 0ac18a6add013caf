"""Benchmarks, run with ``make bench`` (``python -m bench``).

Each ``bench/bench_<name>.py`` module defines ``run() -> dict`` returning JSON-serialisable
figures (timings in milliseconds, sizes in bytes, row counts). ``python -m bench`` runs every such
module, logs its figures and writes them to ``bench/results/<name>.json``. Benchmarks measure;
they never assert timings.
"""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any


def main_with_var(run: Callable[[Path | None], dict[str, Any]], description: str) -> None:
    """The command line of a benchmark whose ``run`` takes a demo's var folder
    (``--var DIR``; default: the benchmark's own): its figures logged as JSON."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--var", type=Path, default=None)
    arguments = parser.parse_args()
    logging.getLogger("bench").info("%s", json.dumps(run(arguments.var), indent=2))
