"""The ``salesbi`` command line: the composition root that drives core, etl and dashboard."""
