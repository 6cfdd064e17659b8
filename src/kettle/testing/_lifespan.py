"""Running an application's ASGI ``lifespan`` scope."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from ._scope import ASGIApp
from ._scope import _asgi_version
from ._scope import _Message


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
