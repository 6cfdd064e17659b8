"""One log record per request, with the request's ID, on the ``kettle.access``
logger."""

from __future__ import annotations

import logging
import os
import time
from typing import TYPE_CHECKING
from typing import Any

from .._observe import Exchange
from .._observe import RequestObserver
from ..exceptions import ImproperlyConfigured
from .request_id import RequestIDMiddleware

if TYPE_CHECKING:
    from collections.abc import Callable

    from ..app import Kettle
    from ..requests import Request

__all__ = ("AccessLogMiddleware",)


def _random_id() -> str:
    return os.urandom(16).hex()


class AccessLogMiddleware(RequestObserver):
    """Log each request when it ends, as one INFO record on ``kettle.access``.

    The record's message is ``"GET /path 200"``; its fields (attributes of the
    record, written out by :class:`~kettle.logs.JSONFormatter` and
    :class:`~kettle.logs.KeyValueFormatter`) are ``request_id``, ``method``,
    ``path`` (without the query string, which may hold secrets), ``route`` (the
    route template), ``status`` (None when the client left before the answer, or a
    mounted app answered), ``duration_ms`` (from the start of the request to the
    end of its response), ``size`` (the body's bytes, None when streamed without a
    length), ``client`` (the client's address, as ``ProxyHeadersMiddleware`` sets
    it) and ``user_agent``.

    The request's ID is the one :class:`RequestIDMiddleware` gives when the app
    has it; otherwise the request's valid ``X-Request-ID`` header (when
    ``trust_incoming``) or a new one. It is kept on ``request.state.request_id``
    so that every record logged while the request runs can carry it (see
    :class:`~kettle.logs.RequestIDFilter`).

    The ``ACCESS_LOG`` setting adds this middleware (``kettle serve`` turns it on
    unless the setting is False).

    Args:
        app: The application.
        logger: The logger's name, or the logger.
        header_name: The request header holding an incoming ID (when the app has
            no :class:`RequestIDMiddleware`).
        trust_incoming: Reuse a valid incoming ID.

    Raises:
        ImproperlyConfigured: An option has a wrong type or value.
    """

    measures_size = True

    def __init__(
        self,
        app: Kettle,
        *,
        logger: str | logging.Logger = "kettle.access",
        header_name: str = "X-Request-ID",
        trust_incoming: bool = True,
    ) -> None:
        super().__init__(app)
        if isinstance(logger, str):
            logger = logging.getLogger(logger)
        if not isinstance(logger, logging.Logger):
            raise ImproperlyConfigured(
                "AccessLogMiddleware: logger must be a name or a Logger, "
                f"not {logger!r}"
            )
        self.logger = logger
        # Used when the app has no RequestIDMiddleware: the same rules.
        self._own_ids = RequestIDMiddleware(
            app,
            header_name=header_name,
            trust_incoming=trust_incoming,
            generator=_random_id,  # PERF: a quarter of uuid4()'s time, same form
        )
        self._request_id: Callable[[Request], str] | None = None

    def _find_request_ids(self) -> Callable[[Request], str]:
        """The app's RequestIDMiddleware's ``request_id``, or this one's own."""
        for middleware in self.app._http_middleware:
            if isinstance(middleware, RequestIDMiddleware):
                return middleware.request_id
        return self._own_ids.request_id

    def start(self, request: Request, exchange: Exchange) -> None:
        """Give the request its ID."""
        request_id = self._request_id
        if request_id is None:  # the app's middleware are all known by now
            request_id = self._request_id = self._find_request_ids()
        request_id(request)

    def finish(
        self, request: Request, exchange: Exchange, error: BaseException | None
    ) -> None:
        """Log the request."""
        logger = self.logger
        if not logger.isEnabledFor(logging.INFO):
            return
        duration = (time.perf_counter() - exchange.started) * 1000
        client = request.client
        route = request.route
        status = exchange.status
        environ = request.environ
        agent = (
            request.headers.get("user-agent")
            if environ is None
            else environ.get("HTTP_USER_AGENT")
        )
        path = request.root_path + request.path
        fields: dict[str, Any] = {
            "request_id": request.state.request_id,
            "method": request.method,
            "path": path,
            "route": route.path if route is not None else None,
            "status": status,
            "duration_ms": round(duration, 3),
            "size": exchange.size,
            "client": client.host if client is not None else None,
            "user_agent": agent,
        }
        # PERF: the record made here: logger.info() would look for its caller.
        record = logging.LogRecord(
            logger.name,
            logging.INFO,
            __file__,
            0,
            "%s %s %s",
            (request.method, path, status if status is not None else "-"),
            None,
        )
        vars(record).update(fields)
        logger.handle(record)
