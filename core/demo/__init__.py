"""Deterministic demo data at any scale: ``generate_demo(engine, customers=…, lines=…,
seed=…)`` builds a three-year order-to-cash history in frames (NumPy/Polars, no Python
loop per row) and bulk loads it (COPY on PostgreSQL, executemany on SQLite)."""

from core.demo.build import DemoSummary, generate_demo, generate_frames

__all__ = ["DemoSummary", "generate_demo", "generate_frames"]
