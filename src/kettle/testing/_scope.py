"""Building the ASGI scopes the test clients send to an application."""

from __future__ import annotations

from collections.abc import Awaitable
from collections.abc import Callable
from typing import Any

import httpx

#: An ASGI message or scope.
_Message = dict[str, Any]

#: Any ASGI 3 application.
ASGIApp = Callable[
    [dict[str, Any], Callable[..., Any], Callable[..., Any]], Awaitable[None]
]

_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
_CLIENT_ADDRESS = ("testclient", 50000)


def _asgi_version() -> dict[str, str]:
    return {"version": "3.0", "spec_version": "2.4"}


def _build_scope(
    request: httpx.Request,
    *,
    kind: str,
    scheme: str,
    root_path: str,
    raise_exceptions: bool,
    state: dict[str, Any] | None,
    skip_csrf: bool = False,
) -> _Message:
    """Build the parts of an ``http`` or ``websocket`` scope common to both.

    Args:
        request: The request built by httpx (URL, merged headers and cookies).
        kind: The scope type, ``"http"`` or ``"websocket"``.
        scheme: The URL scheme to report.
        root_path: The ``root_path`` to report.
        raise_exceptions: The value for ``scope["kettle.raise_exceptions"]``.
        state: The lifespan state, shallow-copied into the scope when set.
        skip_csrf: The value for ``scope["kettle.skip_csrf"]`` (the test
            client's requests pass the CSRF checks unless it enforces them).

    Returns:
        The scope.
    """
    url = request.url
    scope: _Message = {
        "type": kind,
        "asgi": _asgi_version(),
        "http_version": "1.1",
        "scheme": scheme,
        "server": (url.host, url.port or _DEFAULT_PORTS.get(scheme, 80)),
        "client": _CLIENT_ADDRESS,
        "root_path": root_path,
        "path": url.path,
        "raw_path": url.raw_path.split(b"?", 1)[0],
        "query_string": url.query,
        "headers": [(key.lower(), value) for key, value in request.headers.raw],
        "extensions": {"kettle.testclient": {}},
        "kettle.raise_exceptions": raise_exceptions,
        "kettle.skip_csrf": skip_csrf,
    }
    if state is not None:
        scope["state"] = dict(state)
    return scope
