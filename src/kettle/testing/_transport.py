"""httpx transports to an ASGI application, and the background event loop."""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import Callable
from collections.abc import Coroutine
from typing import Any
from typing import TypeVar

import httpx

from ._http import _HTTPExchange
from ._lifespan import _Lifespan
from ._scope import ASGIApp
from ._scope import _build_scope

_T = TypeVar("_T")


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
        self.skip_csrf = False
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
            skip_csrf=self.skip_csrf,
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
        self.skip_csrf = False
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
            skip_csrf=self.skip_csrf,
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
