"""The base of middleware that watch each request from its start to its end
(access log, metrics, tracing)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING
from typing import Any

from .errors import logger
from .middleware.base import HTTPMiddleware
from .responses import _NO_BODY

if TYPE_CHECKING:
    from .app import Kettle
    from .requests import Request
    from .responses import Response

__all__ = ("Exchange", "RequestObserver", "route_label")


class Exchange:
    """What an observer knows about one request: when it started, and the status
    and size of its response (None until there is one; the size only for an
    observer that :attr:`~RequestObserver.measures_size`)."""

    __slots__ = ("data", "response", "size", "started", "status")

    def __init__(self, started: float) -> None:
        self.started = started
        self.status: int | None = None
        self.size: int | None = None
        #: The response, until the request ends (then its status is read).
        self.response: Response | None = None
        #: What the observer keeps for itself (a span...).
        self.data: Any = None


def _size(response: Response, status: int) -> int | None:
    """The body's bytes, as sent (None when streamed without a length)."""
    sent = response._sent
    if sent is not None:
        return sent[1]
    if status in _NO_BODY:
        return 0
    body = getattr(response, "body", None)
    if isinstance(body, bytes | bytearray | memoryview):
        return len(body)
    length = response.headers.get("content-length")
    return int(length) if length and length.isdigit() else None


def route_label(request: Request) -> str:
    """The route template of ``request`` (``/users/{id:int}``): its mount's prefix
    and ``/*`` for a mounted app, ``<unmatched>`` when nothing took it."""
    route = request.route
    if route is not None:
        return route.path
    mount = request.app.router.match_mount(request.path)
    return f"{mount.path}/*" if mount is not None else "<unmatched>"


class RequestObserver(HTTPMiddleware):
    """A middleware told when each request starts (:meth:`start`) and ends
    (:meth:`finish`, called inline before the ``teardown_request`` hooks).

    The request ends after its response is sent under ASGI, and when the server is
    done with the body under WSGI; a request whose client left first ends too,
    with no status. Responses of mounted apps are not seen (no status either).
    """

    #: Whether :attr:`Exchange.size` is wanted (work done per response).
    measures_size = False

    def __init__(self, app: Kettle, **options: Any) -> None:
        super().__init__(app)
        # One key per observer: several may watch the same request.
        self._key = f"_kettle_observer_{id(self)}"
        app._request_end.append(self._end)

    def start(self, request: Request, exchange: Exchange) -> None:
        """Called before the request is routed (override it)."""

    def finish(
        self, request: Request, exchange: Exchange, error: BaseException | None
    ) -> None:
        """Called when the request has ended (override it)."""

    def process_request(self, request: Request) -> Response | None:
        exchange = Exchange(time.perf_counter())
        vars(request)[self._key] = exchange
        self.start(request, exchange)
        return None

    def process_response(self, request: Request, response: Response) -> Response:
        exchange: Exchange | None = vars(request).get(self._key)
        if exchange is not None:
            # The status and size are read when the request ends: a file's are
            # only known once it is sent (304, 206, 416).
            exchange.response = response
        return response

    def _end(self, request: Request) -> None:
        exchange: Exchange | None = vars(request).pop(self._key, None)
        if exchange is not None:
            response = exchange.response
            if response is not None:
                exchange.response = None
                sent = response._sent
                status = exchange.status = (
                    response.status_code if sent is None else sent[0]
                )
                if self.measures_size:
                    exchange.size = (
                        0 if request.method == "HEAD" else _size(response, status)
                    )
            try:
                self.finish(request, exchange, request.error)
            except Exception:
                logger().exception("%s failed at the end of a request", self)
