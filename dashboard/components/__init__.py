"""Reusable layout pieces: filter bar, KPI card, data table with export."""
