"""One HTTP request/response exchange with an ASGI application."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Mapping
from typing import Any

from ._scope import ASGIApp
from ._scope import _Message

_ERROR_BODY = b"Internal Server Error"
_ERROR_HEADERS = [
    (b"content-type", b"text/plain; charset=utf-8"),
    (b"content-length", str(len(_ERROR_BODY)).encode("ascii")),
]


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
