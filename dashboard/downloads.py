"""Exports as file downloads: ``GET /export/<table>.<csv|xlsx>?page=<path>&q=<the page's
query>`` answers the file itself, built on the server from the page's own metric calls
(``export_tables``) for the signed-in user's role and scope. A page's CSV and Excel buttons
(``dashboard.components.data_table.export_buttons``) open that address
(``assets/export.js``), so the browser saves the bytes as they come. Through a Dash callback
the file went base64-encoded inside JSON: the collections export's 139,295 rows at 10M
lines were 34 MB of CSV sent as 45 MB of JSON, ~0.25 s of encoding on the server and a
JSON parse and decode in the browser.
"""

from __future__ import annotations

import io
from types import ModuleType
from urllib.parse import parse_qs, urlencode

from flask import Flask, Response, request, send_file
from werkzeug.exceptions import Forbidden, NotFound

from dashboard.export import readable, to_csv, to_xlsx
from dashboard.metrics.scope import ALL_ROLES
from dashboard.secure import RequestContext, secured

EXPORT_PATH = "/export"
EXPORTERS = {
    "csv": (to_csv, "text/csv"),
    "xlsx": (to_xlsx, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
}


def export_url(table: str, fmt: str, pathname: str, search: str = "") -> str:
    """The address of ``table``'s ``fmt`` export on ``pathname`` + ``search`` (what
    ``assets/export.js`` builds in the browser)."""
    query = urlencode({"page": pathname, "q": search.lstrip("?")})
    return f"{EXPORT_PATH}/{table}.{fmt}?{query}"


def register_downloads(server: Flask, pages: tuple[ModuleType, ...]) -> None:
    """The export route, for every page with ``export_tables``."""

    @server.route(f"{EXPORT_PATH}/<table>.<fmt>")
    @secured(ALL_ROLES)
    def download(context: RequestContext, table: str, fmt: str) -> Response:
        pathname = request.args.get("page", "")
        page = next((p for p in pages if p.PATH == pathname), None)
        if page is None or context.scope.role not in page.ROLES \
                or not hasattr(page, "export_tables"):
            raise Forbidden("no export here for this role")
        if fmt not in EXPORTERS:
            raise NotFound(f"no {fmt} export")
        query = {k: v[-1] for k, v in parse_qs(request.args.get("q", "")).items()}
        tables = page.export_tables(context, query)
        if table not in tables:
            raise NotFound(f"nothing to export as {table} on this page")
        writer, mimetype = EXPORTERS[fmt]
        body = writer(readable(tables[table], context.base_currency))
        response = send_file(io.BytesIO(body), mimetype=mimetype, as_attachment=True,
                             download_name=f"{table}-{context.today.isoformat()}.{fmt}")
        response.headers["Cache-Control"] = "no-store"  # the reader's own rows
        return response
