"""OpenTelemetry tracing of the app's requests (``kettle[tracing]``:
opentelemetry-api and -sdk).

Set ``TRACING = True`` (or ``app.add_middleware(TracingMiddleware)``) to get a
server span per request, named ``"GET /users/{id:int}"`` (the route's template),
with the HTTP semantic conventions' attributes. An incoming W3C ``traceparent``
header makes the span a child of the caller's. The span is current while the
handler runs, so spans the app starts are its children. Kettle only uses the
OpenTelemetry API: the app configures the SDK (tracer provider, exporter).
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from typing import Any

from ._observe import Exchange
from ._observe import RequestObserver
from .exceptions import ImproperlyConfigured

if TYPE_CHECKING:
    from .app import Kettle
    from .requests import Request
    from .responses import Response

__all__ = ("TracingMiddleware",)


def _opentelemetry() -> Any:
    try:
        from opentelemetry import trace
    except ImportError:
        raise ImproperlyConfigured(
            "tracing needs OpenTelemetry: pip install 'kettle[tracing]' "
            "(or set TRACING = False)"
        ) from None
    return trace


class TracingMiddleware(RequestObserver):
    """Trace each request as an OpenTelemetry server span.

    The span's attributes: ``http.request.method``, ``url.path``, ``url.scheme``,
    ``client.address``, ``user_agent.original``, ``http.route`` and
    ``http.response.status_code``. An unhandled exception is recorded on the span
    (with ``error.type``), and the span's status is an error for it and for any
    5xx response.

    Args:
        app: The application.
        tracer_provider: The tracer provider (default: the global one).
        propagator: A text map propagator to read the caller's context with
            (default: the global one, W3C trace context unless configured).

    Raises:
        ImproperlyConfigured: OpenTelemetry is not installed.
    """

    def __init__(
        self,
        app: Kettle,
        *,
        tracer_provider: Any = None,
        propagator: Any = None,
    ) -> None:
        super().__init__(app)
        trace = _opentelemetry()
        from opentelemetry import context
        from opentelemetry import propagate

        from . import __version__

        self._trace = trace
        self._context = context
        self._propagator = propagator or propagate.get_global_textmap()
        self._server = trace.SpanKind.SERVER
        self._status = trace.Status
        self._error = trace.StatusCode.ERROR
        self.tracer = trace.get_tracer(
            "kettle", __version__, tracer_provider=tracer_provider
        )

    def start(self, request: Request, exchange: Exchange) -> None:
        """Start the request's span and make it current."""
        parent = self._propagator.extract(request.headers)
        # The scheme and client address are set at the end: ProxyHeadersMiddleware
        # may not have read the proxy's headers yet.
        attributes: dict[str, Any] = {
            "http.request.method": request.method,
            "url.path": request.root_path + request.path,
        }
        agent = request.headers.get("user-agent")
        if agent is not None:
            attributes["user_agent.original"] = agent
        span = self.tracer.start_span(
            request.method,
            context=parent,
            kind=self._server,
            attributes=attributes,
        )
        token = self._context.attach(self._trace.set_span_in_context(span, parent))
        exchange.data = [span, token]

    def process_response(self, request: Request, response: Response) -> Response:
        response = super().process_response(request, response)
        # Back to the caller's context here, where the span was made current.
        exchange: Exchange | None = vars(request).get(self._key)
        if exchange is not None and exchange.data[1] is not None:
            self._context.detach(exchange.data[1])
            exchange.data[1] = None
        return response

    def finish(
        self, request: Request, exchange: Exchange, error: BaseException | None
    ) -> None:
        """End the request's span."""
        span, token = exchange.data
        if token is not None:  # no response was made: detach here
            self._context.detach(token)
        span.set_attribute("url.scheme", request.scheme)
        client = request.client
        if client is not None:
            span.set_attribute("client.address", client.host)
        route = request.route
        if route is not None:
            span.update_name(f"{request.method} {route.path}")
            span.set_attribute("http.route", route.path)
        status = exchange.status
        if status is not None:
            span.set_attribute("http.response.status_code", status)
        if error is not None:
            span.record_exception(error)
            span.set_attribute("error.type", type(error).__qualname__)
            span.set_status(self._status(self._error, type(error).__name__))
        elif status is not None and status >= 500:
            span.set_attribute("error.type", str(status))
            span.set_status(self._status(self._error))
        span.end()


def install(app: Kettle) -> None:
    """Add :class:`TracingMiddleware` (``TRACING = True``), unless the app has it."""
    if not any(isinstance(m, TracingMiddleware) for m in app._http_middleware):
        app.add_middleware(TracingMiddleware)
