"""The export route answers a file for a signed-in user of a role the page allows, with a
file name and no caching; anything else is refused or not found, never a partial file."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import dash

from dashboard.downloads import export_url
from tests.dashboard.dash_client import export, exported_rows, login


def test_an_export_is_a_named_attachment_that_is_not_cached(demo_app: dash.Dash) -> None:
    client = demo_app.server.test_client()
    login(client, "finance")
    response = export(client, "collections", "/collections")
    rows = exported_rows(response)
    assert rows
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;") and "collections-" in disposition
    assert disposition.endswith(".csv")
    assert response.mimetype == "text/csv"
    assert response.headers["Cache-Control"] == "no-store"
    xlsx = export(client, "collections", "/collections", fmt="xlsx")
    assert xlsx.status_code == 200 and xlsx.get_data()[:2] == b"PK"
    assert xlsx.mimetype.endswith("spreadsheetml.sheet")


def test_the_page_query_travels_whole_in_the_address() -> None:
    address = export_url("ar-open-items", "csv", "/ar-aging",
                         "?as_of=2026-03-31&customer=7&basis=invoice date")
    parts = urlsplit(address)
    assert parts.path == "/export/ar-open-items.csv"
    query = parse_qs(parts.query)
    assert query["page"] == ["/ar-aging"]
    assert parse_qs(query["q"][0]) == {"as_of": ["2026-03-31"], "customer": ["7"],
                                       "basis": ["invoice date"]}


def test_without_a_login_an_export_is_refused_not_a_saved_sign_in_page(
        demo_app: dash.Dash) -> None:
    response = export(demo_app.server.test_client(), "collections", "/collections")
    assert response.status_code == 401 and "Content-Disposition" not in response.headers


def test_an_unknown_format_table_or_page_without_exports_gets_no_file(
        demo_app: dash.Dash) -> None:
    client = demo_app.server.test_client()
    login(client, "finance")
    assert export(client, "collections", "/collections", fmt="pdf").status_code == 404
    assert export(client, "no-such-table", "/collections").status_code == 404
    assert export(client, "collections", "/statement").status_code == 403  # no exports
    assert export(client, "collections", "/nowhere").status_code == 403
