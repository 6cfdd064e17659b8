"""Wrapping an application's WSGI side for the test client."""

from __future__ import annotations

import sys
from collections.abc import Callable
from collections.abc import Iterable
from typing import Any

from ._http import _ERROR_BODY
from ._http import _ERROR_HEADERS

#: The WSGI start_response callable.
_StartResponse = Callable[..., Callable[[bytes], object]]

#: A WSGI application.
_WSGIApp = Callable[[dict[str, Any], _StartResponse], Iterable[bytes]]


def _wrap_wsgi(
    wsgi: _WSGIApp, raise_exceptions: bool, skip_csrf: bool = False
) -> _WSGIApp:
    """Wrap a WSGI app to flag ``kettle.raise_exceptions`` and answer 500s.

    Args:
        wsgi: The WSGI application.
        raise_exceptions: The value for ``environ["kettle.raise_exceptions"]``.
        skip_csrf: The value for ``environ["kettle.skip_csrf"]``.

    Returns:
        The wrapped WSGI application.
    """

    def app(environ: dict[str, Any], start_response: _StartResponse) -> Iterable[bytes]:
        environ["kettle.raise_exceptions"] = raise_exceptions
        environ["kettle.skip_csrf"] = skip_csrf
        # NOTE: httpx puts the decoded path in PATH_INFO; PEP 3333 wants its UTF-8
        # bytes as latin-1 characters, which is what real servers pass.
        for key in ("PATH_INFO", "SCRIPT_NAME"):
            environ[key] = environ.get(key, "").encode("utf-8").decode("latin-1")
        try:
            return wsgi(environ, start_response)
        except Exception:
            if raise_exceptions:
                raise
            start_response(
                "500 Internal Server Error",
                [(key.decode(), value.decode()) for key, value in _ERROR_HEADERS],
                sys.exc_info(),
            )
            return [_ERROR_BODY]

    return app
