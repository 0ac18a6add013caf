"""CSV and XLSX exports of a table a page shows, safe to open in a spreadsheet.

Text that a spreadsheet would run as a formula (starting with = + - @ tab or CR) is
prefixed with an apostrophe in CSV; XLSX is written with formulas and URLs off, so every
string is stored as text.
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import polars as pl
import xlsxwriter

from core.types import currency_digits

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: object) -> object:
    """A cell value that cannot run as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def readable(frame: pl.DataFrame, currency: str) -> pl.DataFrame:
    """``*_minor`` integer columns as exact decimal amounts of ``currency`` (suffix dropped)."""
    digits = currency_digits(currency)
    columns = []
    for name in frame.columns:
        if name.endswith("_minor"):
            values = [None if v is None else Decimal(int(v)).scaleb(-digits)
                      for v in frame[name]]
            columns.append(pl.Series(name.removesuffix("_minor"), values,
                                     dtype=pl.Decimal(38, digits)))
        else:
            columns.append(frame[name])
    return pl.DataFrame(columns)


def to_csv(frame: pl.DataFrame) -> bytes:
    """UTF-8 CSV with a header row (with BOM, so spreadsheets detect the encoding)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([neutralise(c) for c in frame.columns])
    for row in frame.iter_rows():
        writer.writerow([neutralise(v) for v in row])
    return ("\ufeff" + buffer.getvalue()).encode()


def to_xlsx(frame: pl.DataFrame, sheet: str = "data") -> bytes:
    """One worksheet with a bold header; Decimals are written as numbers."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_formulas": False,
                                        "strings_to_urls": False,
                                        "strings_to_numbers": False})
    bold = book.add_format({"bold": True})
    sheet_ = book.add_worksheet(sheet[:31])
    for col, name in enumerate(frame.columns):
        sheet_.write_string(0, col, name, bold)
    for r, row in enumerate(frame.iter_rows(), start=1):
        for c, value in enumerate(row):
            if value is None:
                continue
            if isinstance(value, bool):
                sheet_.write_boolean(r, c, value)
            elif isinstance(value, int | float | Decimal):
                sheet_.write_number(r, c, float(value))
            elif isinstance(value, str):
                sheet_.write_string(r, c, value)
            else:
                sheet_.write(r, c, value)
    book.close()
    return buffer.getvalue()
