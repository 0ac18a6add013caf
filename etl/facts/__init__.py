"""Fact tables of the mart, one module per table; each module's docstring states the grain.

Every fact module exposes ``build(core, dims, base_currency) -> pl.DataFrame`` returning
exactly the columns of its ``etl.schema`` table, in that order, with the dtypes of
``etl.conform.polars_schema``, ``CORE_COLUMNS``: the core tables it reads and their columns
(``CORE_TABLES`` = its keys), and, when it uses only some rows of a table, ``ROW_FILTERS``.
"""
