"""Default error responses: HTML for browsers, JSON for API clients, debug page."""

from __future__ import annotations

import html
from collections.abc import Mapping
from http import HTTPStatus
from typing import TYPE_CHECKING
from typing import Any

from ._sansio import prefers_html
from .requests import HTTPConnection
from .responses import HTMLResponse
from .responses import JSONResponse
from .responses import Response

if TYPE_CHECKING:
    import logging

__all__ = ("debug_response", "error_response", "logger")

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{status} {phrase}</title>
<style{nonce}>body{{font:16px/1.5 system-ui,sans-serif;max-width:48rem;margin:3rem auto;
padding:0 1rem;color:#222}}h1{{font-size:1.6rem}}pre{{background:#f4f4f4;padding:1rem;
overflow:auto;font-size:.85rem}}</style></head>
<body><h1>{status} {phrase}</h1><p>{detail}</p>{extra}</body></html>
"""


def logger() -> logging.Logger:
    """The ``kettle.error`` logger (logging is imported on the first error)."""
    import logging

    return logging.getLogger("kettle.error")


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _nonce(conn: HTTPConnection | None) -> str:
    """The page's ``<style>`` nonce attribute, so that the default
    Content-Security-Policy lets it style the page."""
    return "" if conn is None else f' nonce="{conn.csp_nonce}"'


def error_response(
    conn: HTTPConnection | None,
    status: int,
    detail: Any = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """The default response for an HTTP error.

    Clients that prefer ``text/html`` get a small page; others get
    ``{"detail": ...}`` as JSON.
    """
    phrase = _phrase(status)
    if detail is None:
        detail = phrase
    wants_html = conn is not None and prefers_html(conn.headers.get("accept"))
    if wants_html and isinstance(detail, str):
        body = _PAGE.format(
            status=status,
            phrase=html.escape(phrase),
            detail=html.escape(detail),
            extra="",
            nonce=_nonce(conn),
        )
        return HTMLResponse(body, status, headers)
    return JSONResponse({"detail": detail}, status, headers)


def debug_response(conn: HTTPConnection | None, exc: BaseException) -> Response:
    """A 500 response showing the traceback; only used when ``DEBUG`` is on."""
    import traceback

    lines = traceback.format_exception(exc)
    text = "".join(lines)
    if conn is not None and prefers_html(conn.headers.get("accept")):
        where = f"{conn.method} {conn.path}" if hasattr(conn, "method") else conn.path
        extra = (
            f"<p>While handling <code>{html.escape(where)}</code></p>"
            f"<pre>{html.escape(text)}</pre>"
        )
        body = _PAGE.format(
            status=500,
            phrase="Internal Server Error",
            detail=html.escape(f"{type(exc).__name__}: {exc}"),
            extra=extra,
            nonce=_nonce(conn),
        )
        return HTMLResponse(body, 500)
    return JSONResponse(
        {
            "detail": "Internal Server Error",
            "exception": f"{type(exc).__name__}: {exc}",
            "traceback": text.splitlines(),
        },
        500,
    )
