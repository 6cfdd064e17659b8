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

import asyncio
import json
import sys
import threading
import weakref
from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Coroutine
from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
from http.cookiejar import CookieJar
from types import TracebackType
from typing import Any
from typing import Literal
from typing import NoReturn
from typing import Self
from typing import TypeVar

import httpx

from kettle.exceptions import WebSocketDisconnect

__all__ = (
    "AsyncTestClient",
    "TestClient",
    "WebSocketTestSession",
)

_T = TypeVar("_T")

#: An ASGI message or scope.
_Message = dict[str, Any]

#: Any ASGI 3 application.
ASGIApp = Callable[
    [dict[str, Any], Callable[..., Any], Callable[..., Any]], Awaitable[None]
]

#: Header types accepted by the clients.
_Headers = httpx.Headers | Mapping[str, str] | Sequence[tuple[str, str]]

#: Cookie types accepted by the clients.
_Cookies = httpx.Cookies | CookieJar | dict[str, str] | list[tuple[str, str]]

#: The WSGI start_response callable.
_StartResponse = Callable[..., Callable[[bytes], object]]

#: A WSGI application.
_WSGIApp = Callable[[dict[str, Any], _StartResponse], Iterable[bytes]]

_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
_CLIENT_ADDRESS = ("testclient", 50000)
_ERROR_BODY = b"Internal Server Error"
_ERROR_HEADERS = [
    (b"content-type", b"text/plain; charset=utf-8"),
    (b"content-length", str(len(_ERROR_BODY)).encode("ascii")),
]


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
) -> _Message:
    """Build the parts of an ``http`` or ``websocket`` scope common to both.

    Args:
        request: The request built by httpx (URL, merged headers and cookies).
        kind: The scope type, ``"http"`` or ``"websocket"``.
        scheme: The URL scheme to report.
        root_path: The ``root_path`` to report.
        raise_exceptions: The value for ``scope["kettle.raise_exceptions"]``.
        state: The lifespan state, shallow-copied into the scope when set.

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
    }
    if state is not None:
        scope["state"] = dict(state)
    return scope


class _HTTPExchange:
    """One HTTP request/response cycle against an ASGI application.

    Args:
        app: The application.
        scope: The ``http`` scope.
        next_chunk: Returns the next request body chunk, or ``None`` at the end.
        raise_exceptions: Whether exceptions escaping the app propagate.
    """

    def __init__(
        self,
        app: ASGIApp,
        scope: _Message,
        next_chunk: Callable[[], Awaitable[bytes | None]],
        raise_exceptions: bool,
    ) -> None:
        self.app = app
        self.scope = scope
        self.next_chunk = next_chunk
        self.raise_exceptions = raise_exceptions
        self.is_head = scope["method"] == "HEAD"
        self.lookahead: bytes | None = None
        self.request_done = False
        self.response_done = asyncio.Event()
        self.status: int | None = None
        self.headers: list[tuple[bytes, bytes]] = []
        self.body = bytearray()

    async def _next_nonempty(self) -> bytes | None:
        while True:
            chunk = await self.next_chunk()
            if chunk is None or chunk:
                return chunk

    async def receive(self) -> _Message:
        """The ASGI ``receive`` callable.

        Returns:
            An ``http.request`` message while body remains, then (once the
            response is complete) ``http.disconnect``.
        """
        if self.request_done:
            await self.response_done.wait()
            return {"type": "http.disconnect"}
        chunk = self.lookahead
        if chunk is None:
            chunk = await self._next_nonempty()
        following = None if chunk is None else await self._next_nonempty()
        self.lookahead = following
        if following is None:
            self.request_done = True
        return {
            "type": "http.request",
            "body": chunk or b"",
            "more_body": following is not None,
        }

    async def send(self, message: Mapping[str, Any]) -> None:
        """The ASGI ``send`` callable.

        Args:
            message: An ``http.response.start`` or ``http.response.body`` message.

        Raises:
            RuntimeError: The message is out of order or of an unknown type.
        """
        kind = message["type"]
        if kind == "http.response.start":
            if self.status is not None:
                raise RuntimeError("'http.response.start' was sent twice.")
            self.status = int(message["status"])
            self.headers = [
                (bytes(key), bytes(value)) for key, value in message.get("headers", ())
            ]
        elif kind == "http.response.body":
            if self.status is None:
                raise RuntimeError(
                    "'http.response.body' was sent before 'http.response.start'."
                )
            if self.response_done.is_set():
                raise RuntimeError("The response is already complete.")
            if not self.is_head:
                self.body.extend(message.get("body", b""))
            if not message.get("more_body", False):
                self.response_done.set()
        else:
            raise RuntimeError(f"Unexpected ASGI message {kind!r}.")

    async def run(self) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        """Run the application.

        Returns:
            The status code, headers and body of the response.

        Raises:
            Exception: Whatever the application raised, when exceptions are to
                be raised.
            RuntimeError: The application returned without starting a response
                and exceptions are to be raised.
        """
        try:
            await self.app(self.scope, self.receive, self.send)
        except Exception:
            if self.raise_exceptions:
                raise
        else:
            if self.status is None and self.raise_exceptions:
                raise RuntimeError(
                    "The application returned without starting a response."
                )
        finally:
            # Release anything still waiting for http.disconnect.
            self.response_done.set()
        if self.status is None:
            return 500, list(_ERROR_HEADERS), b"" if self.is_head else _ERROR_BODY
        return self.status, self.headers, bytes(self.body)


class _Lifespan:
    """Runs an application's ``lifespan`` scope on the current event loop.

    Args:
        app: The application.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.state: dict[str, Any] = {}
        self.running = False
        self._to_app: asyncio.Queue[_Message] | None = None
        self._from_app: asyncio.Queue[_Message | None] | None = None
        self._task: asyncio.Task[None] | None = None
        self._error: Exception | None = None

    async def _run(self, scope: _Message) -> None:
        assert self._from_app is not None
        try:
            await self.app(scope, self._receive, self._send)
        except Exception as exc:
            self._error = exc
        finally:
            self._from_app.put_nowait(None)

    async def _receive(self) -> _Message:
        assert self._to_app is not None
        return await self._to_app.get()

    async def _send(self, message: Mapping[str, Any]) -> None:
        assert self._from_app is not None
        expected = (
            "lifespan.startup.complete",
            "lifespan.startup.failed",
            "lifespan.shutdown.complete",
            "lifespan.shutdown.failed",
        )
        if message["type"] not in expected:
            raise RuntimeError(f"Unexpected ASGI message {message['type']!r}.")
        self._from_app.put_nowait(dict(message))

    async def startup(self) -> None:
        """Send ``lifespan.startup`` and wait for the answer.

        An application that raises (or returns) instead of answering does not
        support lifespan; that is not an error.

        Raises:
            RuntimeError: The application sent ``lifespan.startup.failed``.
        """
        self._to_app = asyncio.Queue()
        self._from_app = asyncio.Queue()
        scope: _Message = {
            "type": "lifespan",
            "asgi": _asgi_version(),
            "state": self.state,
        }
        self._task = asyncio.get_running_loop().create_task(self._run(scope))
        self._to_app.put_nowait({"type": "lifespan.startup"})
        message = await self._from_app.get()
        if message is None:
            await self._task
            return
        if message["type"] == "lifespan.startup.failed":
            await self._task
            raise RuntimeError(message.get("message", "") or "Lifespan startup failed.")
        if message["type"] != "lifespan.startup.complete":
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            raise RuntimeError(f"Unexpected ASGI message {message['type']!r}.")
        self.running = True

    async def shutdown(self) -> None:
        """Send ``lifespan.shutdown`` and wait for the application to finish.

        Raises:
            RuntimeError: The application sent ``lifespan.shutdown.failed``.
            Exception: Whatever the application raised while shutting down.
        """
        if not self.running:
            return
        self.running = False
        assert self._to_app is not None
        assert self._from_app is not None
        assert self._task is not None
        self._to_app.put_nowait({"type": "lifespan.shutdown"})
        message = await self._from_app.get()
        await self._task
        if message is not None and message["type"] == "lifespan.shutdown.failed":
            raise RuntimeError(
                message.get("message", "") or "Lifespan shutdown failed."
            )
        if self._error is not None:
            raise self._error


def _stop_loop(loop: asyncio.AbstractEventLoop, thread: threading.Thread) -> None:
    try:
        loop.call_soon_threadsafe(loop.stop)
    except RuntimeError:  # Already closed.
        pass
    if thread is not threading.current_thread():
        thread.join()


def _serve_loop(loop: asyncio.AbstractEventLoop) -> None:
    asyncio.set_event_loop(loop)
    try:
        loop.run_forever()
    finally:
        try:
            tasks = asyncio.all_tasks(loop)
            for task in tasks:
                task.cancel()
            if tasks:
                loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            asyncio.set_event_loop(None)
            loop.close()


class _LoopThread:
    """An event loop running in a daemon thread, started on first use."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._finalizer: weakref.finalize[Any, Any] | None = None
        self._closed = False

    def _ensure(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._closed:
                raise RuntimeError("The test client has been closed.")
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(
                    target=_serve_loop,
                    args=(loop,),
                    name="kettle-testclient",
                    daemon=True,
                )
                thread.start()
                self._loop, self._thread = loop, thread
                self._finalizer = weakref.finalize(self, _stop_loop, loop, thread)
            return self._loop

    def run(self, coro: Coroutine[Any, Any, _T]) -> _T:
        """Run ``coro`` on the loop and wait for its result.

        Args:
            coro: The coroutine.

        Returns:
            The coroutine's result.

        Raises:
            RuntimeError: Called from the loop's own thread (it would deadlock)
                or after :meth:`close`.
        """
        if self._thread is threading.current_thread():
            coro.close()
            raise RuntimeError(
                "The test client cannot be used from inside the application it runs."
            )
        try:
            loop = self._ensure()
        except RuntimeError:
            coro.close()
            raise
        return asyncio.run_coroutine_threadsafe(coro, loop).result()

    def call_soon(self, callback: Callable[..., object], *args: Any) -> None:
        """Schedule ``callback(*args)`` on the loop from another thread.

        Args:
            callback: The callback.
            *args: Its arguments.
        """
        self._ensure().call_soon_threadsafe(callback, *args)

    def close(self) -> None:
        """Stop the loop (cancelling anything still running) and join the thread."""
        with self._lock:
            self._closed = True
            finalizer = self._finalizer
        if finalizer is not None:
            finalizer()


class _ThreadedASGITransport(httpx.BaseTransport):
    """Sends requests to an ASGI app running on a background event loop."""

    def __init__(self, app: ASGIApp, *, root_path: str, raise_exceptions: bool) -> None:
        self.app = app
        self.root_path = root_path
        self.raise_exceptions = raise_exceptions
        self.loop = _LoopThread()
        self.lifespan = _Lifespan(app)

    def _state(self) -> dict[str, Any] | None:
        return self.lifespan.state if self.lifespan.running else None

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Run the application for one request.

        Args:
            request: The request.

        Returns:
            The buffered response.
        """
        stream = request.stream
        if isinstance(stream, httpx.SyncByteStream):
            chunks = [bytes(chunk) for chunk in stream]
        else:
            chunks = [request.read()]
        scope = _build_scope(
            request,
            kind="http",
            scheme=request.url.scheme,
            root_path=self.root_path,
            raise_exceptions=self.raise_exceptions,
            state=self._state(),
        )
        scope["method"] = request.method
        remaining = iter(chunks)

        async def next_chunk() -> bytes | None:
            return next(remaining, None)

        async def exchange() -> tuple[int, list[tuple[bytes, bytes]], bytes]:
            return await _HTTPExchange(
                self.app, scope, next_chunk, self.raise_exceptions
            ).run()

        status, headers, body = self.loop.run(exchange())
        return httpx.Response(status, headers=headers, stream=httpx.ByteStream(body))

    def startup(self) -> None:
        """Run the lifespan startup."""
        self.loop.run(self.lifespan.startup())

    def shutdown(self) -> None:
        """Run the lifespan shutdown."""
        if self.lifespan.running:
            self.loop.run(self.lifespan.shutdown())

    def close(self) -> None:
        """Stop the background event loop."""
        self.loop.close()


class _AsyncASGITransport(httpx.AsyncBaseTransport):
    """Sends requests to an ASGI app on the caller's event loop."""

    def __init__(self, app: ASGIApp, *, root_path: str, raise_exceptions: bool) -> None:
        self.app = app
        self.root_path = root_path
        self.raise_exceptions = raise_exceptions
        self.lifespan = _Lifespan(app)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Run the application for one request.

        Args:
            request: The request.

        Returns:
            The buffered response.
        """
        scope = _build_scope(
            request,
            kind="http",
            scheme=request.url.scheme,
            root_path=self.root_path,
            raise_exceptions=self.raise_exceptions,
            state=self.lifespan.state if self.lifespan.running else None,
        )
        scope["method"] = request.method
        stream = request.stream
        if isinstance(stream, httpx.AsyncByteStream):
            iterator = stream.__aiter__()

            async def next_chunk() -> bytes | None:
                try:
                    return bytes(await iterator.__anext__())
                except StopAsyncIteration:
                    return None

        else:
            remaining = iter([await request.aread()])

            async def next_chunk() -> bytes | None:
                return next(remaining, None)

        exchange = _HTTPExchange(self.app, scope, next_chunk, self.raise_exceptions)
        status, headers, body = await exchange.run()
        return httpx.Response(status, headers=headers, stream=httpx.ByteStream(body))


class _AppExit:
    """Queued when a WebSocket application returns or raises."""

    def __init__(self, error: Exception | None) -> None:
        self.error = error


class WebSocketTestSession:
    """A WebSocket connection to an application, opened by the test client.

    Created by :meth:`TestClient.websocket_connect`, which has already
    completed the handshake.  Use it as a context manager so it is closed at
    the end of the block.

    Attributes:
        accepted_subprotocol: The subprotocol the application accepted, if any.
        extra_headers: Extra headers the application sent with its accept.
        scope: The ``websocket`` scope the application received.
    """

    def __init__(self, loop: _LoopThread, app: ASGIApp, scope: _Message) -> None:
        self.scope = scope
        self.accepted_subprotocol: str | None = None
        self.extra_headers: list[tuple[bytes, bytes]] = []
        self._loop = loop
        self._app = app
        self._to_app: asyncio.Queue[_Message] | None = None
        self._from_app: asyncio.Queue[_Message | _AppExit] | None = None
        self._task: asyncio.Task[None] | None = None
        self._connect_sent = False
        self._app_closed = False
        self._client_disconnect: _Message | None = None
        self._close_message: _Message | None = None
        self._exit: _AppExit | None = None
        self._error_reported = False
        self._closed = False

    # -- application side (runs on the loop) ---------------------------------

    async def _run_app(self) -> None:
        assert self._from_app is not None
        error: Exception | None = None
        try:
            await self._app(self.scope, self._app_receive, self._app_send)
        except Exception as exc:
            error = exc
        finally:
            self._from_app.put_nowait(_AppExit(error))

    async def _app_receive(self) -> _Message:
        assert self._to_app is not None
        if not self._connect_sent:
            self._connect_sent = True
            return {"type": "websocket.connect"}
        if self._client_disconnect is not None:
            return dict(self._client_disconnect)
        if self._app_closed:
            code = 1000
            if self._close_message is not None:
                code = self._close_message.get("code", 1000)
            return {"type": "websocket.disconnect", "code": code}
        message = await self._to_app.get()
        if message["type"] == "websocket.disconnect":
            self._client_disconnect = message
        return message

    async def _app_send(self, message: Mapping[str, Any]) -> None:
        assert self._from_app is not None
        kind = message["type"]
        if kind not in ("websocket.accept", "websocket.send", "websocket.close"):
            raise RuntimeError(f"Unexpected ASGI message {kind!r}.")
        if self._app_closed:
            raise RuntimeError(f"Cannot send {kind!r} after 'websocket.close'.")
        if self._client_disconnect is not None:
            return  # The client has gone; drop the message.
        if kind == "websocket.close":
            self._app_closed = True
        self._from_app.put_nowait(dict(message))

    async def _start(self) -> _Message | _AppExit:
        self._to_app = asyncio.Queue()
        self._from_app = asyncio.Queue()
        self._task = asyncio.get_running_loop().create_task(self._run_app())
        return await self._from_app.get()

    async def _get(self) -> _Message | _AppExit:
        assert self._from_app is not None
        return await self._from_app.get()

    # -- test side -----------------------------------------------------------

    def _connect(self) -> None:
        first = self._loop.run(self._start())
        if isinstance(first, _AppExit):
            self._exit = first
            self._closed = True
            if first.error is not None:
                self._error_reported = True
                raise first.error
            raise WebSocketDisconnect(
                1006, "The application returned without accepting the connection."
            )
        if first["type"] == "websocket.close":
            self._close_message = first
            self._closed = True
            self._wait_for_exit()
            if self._exit is not None and self._exit.error is not None:
                self._error_reported = True
                raise self._exit.error
            raise WebSocketDisconnect(
                first.get("code", 1000), first.get("reason") or None
            )
        if first["type"] != "websocket.accept":
            self.close()
            raise RuntimeError(
                f"Expected 'websocket.accept', the application sent {first['type']!r}."
            )
        self.accepted_subprotocol = first.get("subprotocol")
        self.extra_headers = [
            (bytes(key), bytes(value)) for key, value in first.get("headers", ())
        ]

    def _wait_for_exit(self) -> None:
        while self._exit is None:
            item = self._loop.run(self._get())
            if isinstance(item, _AppExit):
                self._exit = item

    def _raise_closed(self) -> NoReturn:
        if self._exit is not None and self._exit.error is not None:
            if not self._error_reported:
                self._error_reported = True
                raise self._exit.error
        if self._close_message is not None:
            raise WebSocketDisconnect(
                self._close_message.get("code", 1000),
                self._close_message.get("reason") or None,
            )
        if self._exit is not None:
            raise WebSocketDisconnect(1006, "The application returned.")
        raise WebSocketDisconnect(1000, "The client closed the connection.")

    def _send(self, message: _Message) -> None:
        if self._closed:
            raise RuntimeError("The WebSocket session is closed.")
        assert self._to_app is not None
        self._loop.call_soon(self._to_app.put_nowait, message)

    def send_text(self, data: str) -> None:
        """Send a text message to the application.

        Args:
            data: The text.
        """
        self._send({"type": "websocket.receive", "text": data})

    def send_bytes(self, data: bytes) -> None:
        """Send a binary message to the application.

        Args:
            data: The bytes.
        """
        self._send({"type": "websocket.receive", "bytes": bytes(data)})

    def send_json(self, data: Any, mode: Literal["text", "binary"] = "text") -> None:
        """Send ``data`` encoded as JSON.

        Args:
            data: A JSON-serialisable value.
            mode: Send a ``"text"`` or a ``"binary"`` (UTF-8) message.
        """
        text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
        if mode == "binary":
            self.send_bytes(text.encode("utf-8"))
        else:
            self.send_text(text)

    def receive(self) -> _Message:
        """Wait for the next message the application sends.

        Returns:
            The raw ASGI message (``websocket.send`` or ``websocket.close``).

        Raises:
            WebSocketDisconnect: The connection was already closed.
            Exception: Whatever the application raised.
        """
        if self._closed or self._close_message is not None or self._exit is not None:
            self._raise_closed()
        item = self._loop.run(self._get())
        if isinstance(item, _AppExit):
            self._exit = item
            self._raise_closed()
        if item["type"] == "websocket.close":
            self._close_message = item
        return item

    def _receive_data(self) -> _Message:
        message = self.receive()
        if message["type"] == "websocket.close":
            self._raise_closed()
        return message

    def receive_text(self) -> str:
        """Wait for a text message.

        Returns:
            The text.

        Raises:
            WebSocketDisconnect: The application closed the connection.
            TypeError: The application sent a binary message.
        """
        message = self._receive_data()
        text = message.get("text")
        if text is None:
            raise TypeError(f"Expected a text message, received {message!r}.")
        return str(text)

    def receive_bytes(self) -> bytes:
        """Wait for a binary message.

        Returns:
            The bytes.

        Raises:
            WebSocketDisconnect: The application closed the connection.
            TypeError: The application sent a text message.
        """
        message = self._receive_data()
        data = message.get("bytes")
        if data is None:
            raise TypeError(f"Expected a binary message, received {message!r}.")
        return bytes(data)

    def receive_json(self) -> Any:
        """Wait for a text or binary message and decode it as JSON.

        Returns:
            The decoded value.

        Raises:
            WebSocketDisconnect: The application closed the connection.
        """
        message = self._receive_data()
        text = message.get("text")
        if text is None:
            text = bytes(message.get("bytes") or b"").decode("utf-8")
        return json.loads(text)

    def close(self, code: int = 1000, reason: str | None = None) -> None:
        """Disconnect and wait for the application to return.

        Args:
            code: The close code reported to the application.
            reason: The close reason reported to the application.

        Raises:
            Exception: Whatever the application raised, unless already raised
                (a :class:`~kettle.exceptions.WebSocketDisconnect` is ignored).
        """
        if not self._closed:
            self._closed = True
            self._loop.call_soon(
                self._put_to_app,
                {"type": "websocket.disconnect", "code": code, "reason": reason or ""},
            )
        self._wait_for_exit()
        assert self._exit is not None
        error = self._exit.error
        if (
            error is not None
            and not self._error_reported
            and not isinstance(error, WebSocketDisconnect)
        ):
            self._error_reported = True
            raise error

    def _put_to_app(self, message: _Message) -> None:
        assert self._to_app is not None
        self._to_app.put_nowait(message)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
            return
        try:
            self.close()
        except Exception:  # noqa: S110 - the exception in flight matters more.
            pass


def _wrap_wsgi(wsgi: _WSGIApp, raise_exceptions: bool) -> _WSGIApp:
    """Wrap a WSGI app to flag ``kettle.raise_exceptions`` and answer 500s.

    Args:
        wsgi: The WSGI application.
        raise_exceptions: The value for ``environ["kettle.raise_exceptions"]``.

    Returns:
        The wrapped WSGI application.
    """

    def app(environ: dict[str, Any], start_response: _StartResponse) -> Iterable[bytes]:
        environ["kettle.raise_exceptions"] = raise_exceptions
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
            transport = self._asgi
        elif interface == "wsgi":
            wsgi = getattr(app, "wsgi", None)
            if not callable(wsgi):
                raise TypeError(
                    "interface='wsgi' needs an application with a 'wsgi' attribute."
                )
            transport = httpx.WSGITransport(
                app=_wrap_wsgi(wsgi, raise_server_exceptions),
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
    ) -> None:
        self.app = app
        self.raise_server_exceptions = raise_server_exceptions
        self.root_path = root_path
        self._asgi = _AsyncASGITransport(
            app, root_path=root_path, raise_exceptions=raise_server_exceptions
        )
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
