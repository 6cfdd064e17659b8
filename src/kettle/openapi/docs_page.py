"""The interactive API docs page: Swagger UI, served from the package itself.

The Swagger UI files in ``static/`` are vendored from the npm package
``swagger-ui-dist`` by ``scripts/vendor-swagger-ui`` (the exact release is in
``static/VERSION``); no CDN is involved. The page has no inline script: the
small ``kettle-docs.js`` reads its settings from ``data-`` attributes, so the
page works under a Content-Security-Policy without ``'unsafe-inline'``.
"""

from __future__ import annotations

import html
import pathlib

__all__ = ("ASSETS", "STATIC_DIR", "docs_html")

STATIC_DIR: pathlib.Path = pathlib.Path(__file__).parent / "static"
"""The folder holding the docs page's assets."""

ASSETS: dict[str, str] = {
    "swagger-ui-bundle.js": "application/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "kettle-docs.js": "application/javascript; charset=utf-8",
    "favicon-32x32.png": "image/png",
}
"""Each file of :data:`STATIC_DIR` the page loads, mapped to its media type."""


def docs_html(
    *,
    title: str,
    openapi_url: str,
    static_url: str,
    nonce: str | None = None,
) -> str:
    """Render the Swagger UI page for an OpenAPI document.

    Args:
        title: The page title; escaped.
        openapi_url: The URL of the OpenAPI document Swagger UI loads; escaped.
        static_url: The URL the files of :data:`ASSETS` are served under,
            without or with a trailing slash, e.g. ``"/docs/static"``.
        nonce: A Content-Security-Policy nonce put on every ``<script>`` and
            ``<link>`` tag, or ``None`` for no nonce attribute.

    Returns:
        A complete HTML5 document.
    """
    base = html.escape(static_url.rstrip("/"), quote=True)
    nonce_attr = "" if nonce is None else f' nonce="{html.escape(nonce, quote=True)}"'
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n'
        "<head>\n"
        '<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n"
        f'<link rel="stylesheet" href="{base}/swagger-ui.css"{nonce_attr}>\n'
        f'<link rel="icon" type="image/png" sizes="32x32"'
        f' href="{base}/favicon-32x32.png"{nonce_attr}>\n'
        "</head>\n"
        "<body>\n"
        f'<div id="swagger-ui"'
        f' data-openapi-url="{html.escape(openapi_url, quote=True)}"></div>\n'
        f'<script src="{base}/swagger-ui-bundle.js"{nonce_attr}></script>\n'
        f'<script src="{base}/kettle-docs.js"{nonce_attr}></script>\n'
        "</body>\n"
        "</html>\n"
    )
