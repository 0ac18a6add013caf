"""Benchmarks, run with ``make bench`` (``python -m bench``).

Each ``bench/bench_<name>.py`` module defines ``run() -> dict`` returning JSON-serialisable
figures (timings in milliseconds, sizes in bytes, row counts). ``python -m bench`` runs every such
module, logs its figures and writes them to ``bench/results/<name>.json``. Benchmarks measure;
they never assert timings.
"""
