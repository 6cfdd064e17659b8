"""Test clients that drive an application in-process, without a network.

:class:`TestClient` is a synchronous :class:`httpx.Client` for ordinary tests.
With the default ASGI interface it runs the application on an event loop in a
background thread, so the same client works from plain functions and from
inside a running event loop alike.  It also opens WebSocket sessions
(:meth:`TestClient.websocket_connect`) and, used as a context manager, runs the
application's lifespan (startup on entry, shutdown on exit).  With
``interface="wsgi"`` it calls the application's WSGI side (``app.wsgi``)
instead.

:class:`AsyncTestClient` is the :class:`httpx.AsyncClient` counterpart for
``async`` tests; it runs the application on the caller's event loop.

The application is treated as any ASGI 3 callable.  Every scope carries
``scope["kettle.raise_exceptions"]`` (and every WSGI environ
``environ["kettle.raise_exceptions"]``) so the application knows whether to
re-raise unhandled exceptions after sending its error response; the client then
raises them in the test.  When the flag is off, an exception that escapes the
application before a response has started becomes a plain ``500 Internal
Server Error`` response, as it would behind a real server.

The request URL's path is what the application sees as ``scope["path"]`` (or
``PATH_INFO``); ``root_path`` is only reported (as ``scope["root_path"]`` or
``SCRIPT_NAME``) and never prepended.
"""

from __future__ import annotations

from ._client import AsyncTestClient as AsyncTestClient
from ._client import TestClient as TestClient
from ._websocket import WebSocketTestSession as WebSocketTestSession

__all__ = (
    "AsyncTestClient",
    "TestClient",
    "WebSocketTestSession",
)
