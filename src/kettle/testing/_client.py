"""The test clients: :class:`TestClient` and :class:`AsyncTestClient`."""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
from http.cookiejar import CookieJar
from types import TracebackType
from typing import Literal
from typing import Self

import httpx

from ._scope import _CLIENT_ADDRESS
from ._scope import ASGIApp
from ._scope import _build_scope
from ._transport import _AsyncASGITransport
from ._transport import _ThreadedASGITransport
from ._websocket import WebSocketTestSession
from ._wsgi import _wrap_wsgi

#: Header types accepted by the clients.
_Headers = httpx.Headers | Mapping[str, str] | Sequence[tuple[str, str]]

#: Cookie types accepted by the clients.
_Cookies = httpx.Cookies | CookieJar | dict[str, str] | list[tuple[str, str]]


class TestClient(httpx.Client):
    """A synchronous HTTP and WebSocket client for an application.

    Use it as a context manager to run the application's lifespan startup on
    entry and shutdown on exit; without ``with`` requests still work, but no
    lifespan events are sent.  Once closed the client cannot be reused.

    Args:
        app: The application (an ASGI callable; with ``interface="wsgi"`` an
            object with a ``wsgi`` attribute holding the WSGI callable).
        base_url: The URL relative request URLs are resolved against.
        raise_server_exceptions: Re-raise unhandled application exceptions in
            the test instead of returning a 500 response.
        interface: ``"asgi"`` (default) or ``"wsgi"``.
        root_path: The ``root_path`` (``SCRIPT_NAME``) to report.
        headers: Default headers sent with every request.
        follow_redirects: Follow redirects by default.
        cookies: Initial cookies.
        enforce_csrf_checks: Check this client's requests for CSRF as a real
            browser's are (see :mod:`kettle.csrf`); by default they pass, as
            Django's test client's do.

    Raises:
        ValueError: ``interface`` is neither ``"asgi"`` nor ``"wsgi"``.
        TypeError: ``interface="wsgi"`` but the app has no ``wsgi`` attribute.
    """

    __test__ = False  # Not a pytest test class.

    def __init__(
        self,
        app: ASGIApp,
        base_url: str = "http://testserver",
        raise_server_exceptions: bool = False,
        interface: Literal["asgi", "wsgi"] = "asgi",
        root_path: str = "",
        headers: _Headers | None = None,
        follow_redirects: bool = True,
        cookies: _Cookies | None = None,
        enforce_csrf_checks: bool = False,
    ) -> None:
        self.app = app
        self.interface = interface
        self.raise_server_exceptions = raise_server_exceptions
        self.root_path = root_path
        self._asgi: _ThreadedASGITransport | None = None
        transport: httpx.BaseTransport
        if interface == "asgi":
            self._asgi = _ThreadedASGITransport(
                app, root_path=root_path, raise_exceptions=raise_server_exceptions
            )
            self._asgi.skip_csrf = not enforce_csrf_checks
            transport = self._asgi
        elif interface == "wsgi":
            wsgi = getattr(app, "wsgi", None)
            if not callable(wsgi):
                raise TypeError(
                    "interface='wsgi' needs an application with a 'wsgi' attribute."
                )
            transport = httpx.WSGITransport(
                app=_wrap_wsgi(wsgi, raise_server_exceptions, not enforce_csrf_checks),
                raise_app_exceptions=raise_server_exceptions,
                script_name=root_path,
                remote_addr=_CLIENT_ADDRESS[0],
            )
        else:
            raise ValueError(f"interface must be 'asgi' or 'wsgi', not {interface!r}.")
        super().__init__(
            base_url=base_url,
            headers=headers,
            cookies=cookies,
            follow_redirects=follow_redirects,
            transport=transport,
        )

    def websocket_connect(
        self,
        path: str,
        subprotocols: Sequence[str] | None = None,
        headers: _Headers | None = None,
    ) -> WebSocketTestSession:
        """Open a WebSocket connection to the application.

        Args:
            path: The path (or ``ws://`` / ``http://`` URL) to connect to.
            subprotocols: Subprotocols to offer.
            headers: Extra request headers.

        Returns:
            The open session, already accepted by the application.

        Raises:
            RuntimeError: The client uses the WSGI interface.
            WebSocketDisconnect: The application closed the connection instead
                of accepting it.
            Exception: Whatever the application raised before accepting.
        """
        if self._asgi is None:
            raise RuntimeError(
                "WebSockets need the ASGI interface; create the TestClient with "
                "interface='asgi'."
            )
        merged = httpx.Headers(headers)
        merged.setdefault("connection", "upgrade")
        merged.setdefault("upgrade", "websocket")
        merged.setdefault("sec-websocket-version", "13")
        merged.setdefault("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        offered = list(subprotocols or ())
        if offered:
            merged["sec-websocket-protocol"] = ", ".join(offered)
        request = self.build_request("GET", path, headers=merged)
        scheme = {"http": "ws", "https": "wss"}.get(
            request.url.scheme, request.url.scheme
        )
        scope = _build_scope(
            request,
            kind="websocket",
            scheme=scheme,
            root_path=self.root_path,
            raise_exceptions=self.raise_server_exceptions,
            state=self._asgi._state(),
        )
        scope["subprotocols"] = offered
        session = WebSocketTestSession(self._asgi.loop, self.app, scope)
        session._connect()
        return session

    def __enter__(self) -> Self:
        super().__enter__()
        try:
            if self._asgi is not None:
                self._asgi.startup()
            else:
                startup = getattr(self.app, "wsgi_startup", None)
                if callable(startup):
                    startup()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        try:
            if self._asgi is not None:
                self._asgi.shutdown()
            else:
                shutdown = getattr(self.app, "wsgi_shutdown", None)
                if callable(shutdown):
                    shutdown()
        finally:
            super().__exit__(exc_type, exc_value, traceback)


class AsyncTestClient(httpx.AsyncClient):
    """An asynchronous HTTP client for an ASGI application.

    The application runs on the caller's event loop.  Use ``async with`` to
    run the lifespan startup on entry and shutdown on exit.

    Args:
        app: The ASGI application.
        base_url: The URL relative request URLs are resolved against.
        raise_server_exceptions: Re-raise unhandled application exceptions in
            the test instead of returning a 500 response.
        root_path: The ``root_path`` to report.
        headers: Default headers sent with every request.
        follow_redirects: Follow redirects by default.
        cookies: Initial cookies.
        enforce_csrf_checks: As for :class:`TestClient`.
    """

    __test__ = False  # Not a pytest test class.

    def __init__(
        self,
        app: ASGIApp,
        base_url: str = "http://testserver",
        raise_server_exceptions: bool = False,
        root_path: str = "",
        headers: _Headers | None = None,
        follow_redirects: bool = True,
        cookies: _Cookies | None = None,
        enforce_csrf_checks: bool = False,
    ) -> None:
        self.app = app
        self.raise_server_exceptions = raise_server_exceptions
        self.root_path = root_path
        self._asgi = _AsyncASGITransport(
            app, root_path=root_path, raise_exceptions=raise_server_exceptions
        )
        self._asgi.skip_csrf = not enforce_csrf_checks
        super().__init__(
            base_url=base_url,
            headers=headers,
            cookies=cookies,
            follow_redirects=follow_redirects,
            transport=self._asgi,
        )

    async def __aenter__(self) -> Self:
        await super().__aenter__()
        try:
            await self._asgi.lifespan.startup()
        except BaseException:
            await self.aclose()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        try:
            await self._asgi.lifespan.shutdown()
        finally:
            await super().__aexit__(exc_type, exc_value, traceback)
