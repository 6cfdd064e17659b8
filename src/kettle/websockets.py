"""The WebSocket connection object (ASGI only)."""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator
from collections.abc import Iterable
from typing import TYPE_CHECKING
from typing import Any

from . import _json
from .exceptions import WebSocketDisconnect
from .requests import HTTPConnection
from .types import Message
from .types import Receive
from .types import Scope
from .types import Send

if TYPE_CHECKING:
    from .app import Kettle

__all__ = ("WebSocket", "WebSocketState")


class WebSocketState(enum.Enum):
    """Where a WebSocket connection is in its life."""

    CONNECTING = 0
    CONNECTED = 1
    DISCONNECTED = 2


class WebSocket(HTTPConnection):
    """A WebSocket connection, given to handlers annotated ``WebSocket``.

    Accept it, then exchange messages; iterate over it to receive until the client
    disconnects::

        @app.websocket("/echo")
        async def echo(ws: WebSocket):
            await ws.accept()
            async for message in ws:
                await ws.send_text(message)
    """

    _receive: Receive

    def __init__(self, app: Kettle, scope: Scope, receive: Receive, send: Send) -> None:
        super().__init__(app, scope, receive)
        self.method = "WEBSOCKET"
        self._send = send
        self.client_state = WebSocketState.CONNECTING
        self.subprotocols: list[str] = list(scope.get("subprotocols", ()))

    async def receive(self) -> Message:
        """Receive the next raw ASGI message."""
        message = await self._receive()
        kind = message["type"]
        if kind == "websocket.disconnect":
            self.client_state = WebSocketState.DISCONNECTED
        return message

    async def accept(
        self,
        subprotocol: str | None = None,
        headers: Iterable[tuple[str, str]] | None = None,
    ) -> None:
        """Accept the connection, optionally choosing a subprotocol."""
        if self.client_state is WebSocketState.CONNECTING:
            message = await self._receive()
            if message["type"] != "websocket.connect":
                raise RuntimeError(f"expected websocket.connect, got {message['type']}")
        await self._send(
            {
                "type": "websocket.accept",
                "subprotocol": subprotocol,
                "headers": [
                    (k.lower().encode("latin-1"), v.encode("latin-1"))
                    for k, v in headers or ()
                ],
            }
        )
        self.client_state = WebSocketState.CONNECTED

    async def _data(self) -> Message:
        if self.client_state is not WebSocketState.CONNECTED:
            raise RuntimeError("WebSocket is not connected; call accept() first")
        message = await self.receive()
        if message["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(message.get("code", 1000), message.get("reason"))
        return message

    async def receive_text(self) -> str:
        """Receive a text message."""
        message = await self._data()
        text = message.get("text")
        if text is None:
            raise TypeError("expected a text message, got bytes")
        return str(text)

    async def receive_bytes(self) -> bytes:
        """Receive a binary message."""
        message = await self._data()
        data = message.get("bytes")
        if data is None:
            raise TypeError("expected a binary message, got text")
        return bytes(data)

    async def receive_json(self) -> Any:
        """Receive a message (text or bytes) and decode it as JSON."""
        message = await self._data()
        payload = message.get("text")
        if payload is None:
            payload = message.get("bytes") or b""
        return _json.loads(payload)

    async def send_text(self, data: str) -> None:
        """Send a text message."""
        await self._send({"type": "websocket.send", "text": data})

    async def send_bytes(self, data: bytes) -> None:
        """Send a binary message."""
        await self._send({"type": "websocket.send", "bytes": data})

    async def send_json(self, data: Any, mode: str = "text") -> None:
        """Send ``data`` as JSON, in a text (default) or binary message."""
        encoded = _json.dumps(data)
        if mode == "binary":
            await self.send_bytes(encoded)
        else:
            await self.send_text(encoded.decode("utf-8"))

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        """Close the connection (before accepting: refuse it)."""
        if self.client_state is WebSocketState.DISCONNECTED:
            return
        await self._send(
            {"type": "websocket.close", "code": code, "reason": reason or ""}
        )
        self.client_state = WebSocketState.DISCONNECTED

    async def __aiter__(self) -> AsyncIterator[str | bytes]:
        """Yield text or binary messages until the client disconnects."""
        while True:
            try:
                message = await self._data()
            except WebSocketDisconnect:
                return
            text = message.get("text")
            yield text if text is not None else bytes(message.get("bytes") or b"")

    async def iter_json(self) -> AsyncIterator[Any]:
        """Yield JSON-decoded messages until the client disconnects."""
        async for message in self:
            yield _json.loads(message)

    def __repr__(self) -> str:
        return f"<WebSocket {self.path} {self.client_state.name}>"
