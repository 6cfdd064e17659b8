"""The base class of Kettle middleware, which runs under ASGI and WSGI alike."""

from __future__ import annotations

from typing import TYPE_CHECKING
from typing import Any

if TYPE_CHECKING:
    from ..app import Kettle
    from ..requests import Request
    from ..responses import Response

__all__ = ("HTTPMiddleware",)


class HTTPMiddleware:
    """Middleware that sees each request before routing and each response after.

    Subclass it and override either method. Both are plain (sync) methods, called on
    the request path without a thread hop, so keep them quick and free of blocking
    I/O. Because they work on :class:`~kettle.Request` and :class:`~kettle.Response`
    objects, the same middleware runs under ASGI and WSGI. Register it with
    ``app.add_middleware(MyMiddleware, **options)``; options reach ``__init__``.

    For async work, or to wrap other ASGI apps too, write a plain ASGI middleware
    instead (``app.add_middleware`` accepts those as well).
    """

    def __init__(self, app: Kettle, **options: Any) -> None:
        self.app = app

    def process_request(self, request: Request) -> Response | None:
        """Inspect or change the request; return a Response to answer at once."""
        return None

    def process_response(self, request: Request, response: Response) -> Response:
        """Inspect or change the response (error responses included)."""
        return response
