"""Exports: base amounts with the base currency's digits, document amounts (``*_doc_minor``)
with each row's currency's digits — also when the currencies' digits differ — in CSV and
XLSX; text that a spreadsheet would run stays text."""

from __future__ import annotations

import io
import zipfile
from decimal import Decimal

import polars as pl

from dashboard.export import in_row_currency, readable, to_csv, to_xlsx


def test_document_amounts_carry_their_own_currencys_digits() -> None:
    frame = pl.DataFrame({"currency": ["USD", "JPY", "KWD"], "open_doc_minor": [12_345, 500, -7],
                          "open_minor": [100, 200, 300]})
    table = readable(frame, "USD")
    assert table.columns == ["currency", "open_doc", "open"]
    assert table["open_doc"].to_list() == [Decimal("123.45"), Decimal("500"),
                                           Decimal("-0.007")]
    assert table["open"].to_list() == [Decimal("1.00"), Decimal("2.00"), Decimal("3.00")]
    assert to_csv(table).decode("utf-8-sig").splitlines() == [
        "currency,open_doc,open", "USD,123.45,1.00", "JPY,500,2.00", "KWD,-0.007,3.00"]
    with zipfile.ZipFile(io.BytesIO(to_xlsx(table))) as book:
        styles = book.read("xl/styles.xml").decode()
    assert all(f'formatCode="{code}"' in styles for code in ("#,##0.00", "#,##0", "#,##0.000"))


def test_one_digit_count_keeps_a_decimal_column() -> None:
    frame = pl.DataFrame({"currency": ["USD", "EUR"], "limit_minor": [1_000_00, None]})
    column = in_row_currency(frame, "limit_minor")
    assert column.name == "limit" and column.dtype == pl.Decimal(38, 2)
    assert column.to_list() == [Decimal("1000.00"), None]


def test_formula_like_text_stays_text() -> None:
    assert to_csv(pl.DataFrame({"name": ["=1+1"]})).decode("utf-8-sig").splitlines()[1] \
        == "'=1+1"


def test_csv_is_what_a_row_by_row_writer_gives() -> None:
    """Every kind of column the pages export (but floats: Polars writes ``1e-7``, the
    ``csv`` module ``1e-07``), against the ``csv`` module's output; text of every type
    neutralised."""
    import csv
    from datetime import date, datetime

    from dashboard.export import neutralise

    mixed = in_row_currency(pl.DataFrame({"currency": ["USD", "JPY", "KWD", "USD"],
                                          "x_doc_minor": [1_50, 7, None, -3]}), "x_doc_minor")
    frame = pl.DataFrame({
        "=name": ["+1", "-2", "@sum", "\tx", "a, \"b\"", None, "=cmd", "\rz"],
        "kind": pl.Series(["=a", "b", "+c", "b", "=a", "b", "@d", "b"], dtype=pl.Categorical),
        "state": pl.Series(["=x", "y"] * 4, dtype=pl.Enum(["=x", "y"])),
        "note": pl.Series([f"-{i}" if i % 2 else i for i in range(8)], dtype=pl.Object),
        "flag": [True, False, None, True, False, True, False, True],
        "n": [1, None, -3, 4, 5, 6, 7, 8],
        "day": [date(2026, 1, 2)] * 7 + [None],
        "at": [datetime(2026, 1, 2, 3, 4, 5), datetime(2026, 1, 2, 3, 4, 5, 6)] * 4,
    }).with_columns(pl.Series("amount", [Decimal("1.20"), None] * 4, pl.Decimal(38, 2)))
    frame = frame.with_columns(pl.concat([mixed, mixed]).alias("doc"))
    expected = io.StringIO()
    writer = csv.writer(expected)
    writer.writerow([neutralise(c) for c in frame.columns])
    for row in frame.iter_rows():
        writer.writerow([neutralise(v) for v in row])
    assert to_csv(frame).decode("utf-8-sig") == expected.getvalue()


def test_scaled_amounts_equal_python_decimals() -> None:
    """The vectorised scaling is exact at every digit count, sign and size (BIGINT's
    extremes included)."""
    from dashboard.export import scaled

    values = [0, 1, -1, 5, -5, 99, -100, 123_456_789, 2**63 - 1, -(2**63), None]
    for digits in (0, 2, 3):
        column = scaled(pl.Series("x", values, dtype=pl.Int64), digits)
        assert column.dtype == pl.Decimal(38, digits)
        assert column.to_list() == [None if v is None else Decimal(v).scaleb(-digits)
                                    for v in values]
