"""The metric layer: one function per KPI (KPIS.md as code), computed from the published mart.

Every metric takes a ``Scope`` (derived on the server from the session) and returns plain data
that pages hand to figure builders. Metrics read the mart's Polars frames only; from ``core`` they
may import just ``core.config`` and ``core.types`` (checked by import-linter, DESIGN D12).
"""
