"""The WebSocket session opened by :meth:`TestClient.websocket_connect`."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from types import TracebackType
from typing import Any
from typing import Literal
from typing import NoReturn
from typing import Self

from kettle.exceptions import WebSocketDisconnect

from ._scope import ASGIApp
from ._scope import _Message
from ._transport import _LoopThread


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
