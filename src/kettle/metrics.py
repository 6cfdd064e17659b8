"""Prometheus metrics of the app's requests (``kettle[metrics]``: prometheus-client).

Set ``METRICS_URL = "/metrics"`` to count requests and serve the metrics there (off
by default). The metrics are

- ``kettle_http_requests_total`` (counter; labels ``method``, ``route``,
  ``status``),
- ``kettle_http_request_duration_seconds`` (histogram; ``method``, ``route``),
- ``kettle_http_requests_in_progress`` (gauge; ``method``).

``route`` is the route's template (``/users/{id:int}``), never the raw path, and
``method`` is one of the standard methods or ``OTHER``: the number of series stays
bounded whatever clients send. ``status`` is ``none`` when no response was seen (the
client left first, or a mounted app answered).

Under ``kettle serve --workers N``, each worker counts in files of a directory
shared by all of them (prometheus-client's multiprocess mode, in a fresh temporary
directory that ``kettle serve`` makes and removes), so every scrape sees the sum
over the workers, whichever of them answers it.
"""

from __future__ import annotations

import contextlib
import hmac
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from collections.abc import Sequence
from typing import TYPE_CHECKING
from typing import Any

from ._observe import Exchange
from ._observe import RequestObserver
from ._observe import route_label
from .exceptions import ImproperlyConfigured
from .requests import Request
from .responses import Response

if TYPE_CHECKING:
    from .app import Kettle

__all__ = ("MULTIPROC_ENV", "PrometheusMiddleware", "install", "multiprocess_dir")

#: The environment variable naming prometheus-client's multiprocess directory.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

_METHODS = frozenset(
    ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT")
)
_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def _prometheus() -> Any:
    try:
        import prometheus_client
    except ImportError:
        raise ImproperlyConfigured(
            "metrics need prometheus-client: pip install 'kettle[metrics]' "
            "(or set METRICS_URL = None)"
        ) from None
    return prometheus_client


def _is_multiprocess() -> bool:
    """Whether prometheus-client counts in files shared by processes (it decides
    when first imported, from ``PROMETHEUS_MULTIPROC_DIR``)."""
    from prometheus_client import values

    return values.ValueClass is not values.MutexValue


class PrometheusMiddleware(RequestObserver):
    """Count each request, time it, and track those in progress.

    The metrics go to ``registry`` (a registry of the middleware's own by default,
    so that several apps in one process do not clash). :meth:`exposition` gives
    them in Prometheus' text format, with those of prometheus-client's default
    registry (the process' and the app's own metrics), or under multiprocess mode
    the sum over every process.

    Args:
        app: The application.
        registry: A ``prometheus_client.CollectorRegistry``.
        prefix: Put before each metric's name.
        buckets: The upper bounds of the latency histogram, in seconds.

    Raises:
        ImproperlyConfigured: prometheus-client is not installed, or its
            multiprocess directory does not exist.
    """

    def __init__(
        self,
        app: Kettle,
        *,
        registry: Any = None,
        prefix: str = "kettle_",
        buckets: Sequence[float] = _BUCKETS,
    ) -> None:
        super().__init__(app)
        prom = _prometheus()
        self.multiprocess = _is_multiprocess()
        if self.multiprocess:
            folder = os.environ.get(MULTIPROC_ENV, "")
            if not os.path.isdir(folder):
                raise ImproperlyConfigured(
                    f"{MULTIPROC_ENV} is {folder!r}, which is not a directory: make "
                    "it before starting the app, or unset it"
                )
            app.on_shutdown(_mark_dead)
        self.registry = registry if registry is not None else prom.CollectorRegistry()
        self.requests = prom.Counter(
            f"{prefix}http_requests_total",
            "HTTP requests answered, by method, route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.duration = prom.Histogram(
            f"{prefix}http_request_duration_seconds",
            "Time from the start of a request to the end of its response.",
            ["method", "route"],
            buckets=tuple(buckets),
            registry=self.registry,
        )
        self.in_progress = prom.Gauge(
            f"{prefix}http_requests_in_progress",
            "HTTP requests being handled.",
            ["method"],
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        self._gauges: dict[str, Any] = {}
        self._children: dict[tuple[str, str, int | None], tuple[Any, Any]] = {}

    def start(self, request: Request, exchange: Exchange) -> None:
        """Count the request in progress."""
        method = request.method if request.method in _METHODS else "OTHER"
        gauge = self._gauges.get(method)
        if gauge is None:
            gauge = self._gauges.setdefault(method, self.in_progress.labels(method))
        gauge.inc()
        exchange.data = (method, gauge)

    def finish(
        self, request: Request, exchange: Exchange, error: BaseException | None
    ) -> None:
        """Count and time the request."""
        method, gauge = exchange.data
        gauge.dec()
        key = (method, route_label(request), exchange.status)
        # PERF: each label set's metrics, looked up once (labels() takes a lock)
        children = self._children.get(key)
        if children is None:
            status = str(key[2]) if key[2] is not None else "none"
            children = self._children.setdefault(
                key,
                (
                    self.requests.labels(key[0], key[1], status),
                    self.duration.labels(key[0], key[1]),
                ),
            )
        children[0].inc()
        children[1].observe(time.perf_counter() - exchange.started)

    def exposition(self) -> bytes:
        """The metrics in Prometheus' text format."""
        prom = _prometheus()
        if self.multiprocess:
            from prometheus_client import multiprocess

            registry = prom.CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return bytes(prom.generate_latest(registry))
        return bytes(prom.generate_latest(prom.REGISTRY)) + bytes(
            prom.generate_latest(self.registry)
        )


def _mark_dead() -> None:
    """Drop this (stopping) worker's gauges from the shared files."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]


@contextlib.contextmanager
def multiprocess_dir() -> Iterator[str]:
    """Set ``PROMETHEUS_MULTIPROC_DIR`` to a fresh temporary directory for the
    worker processes started inside, and remove it afterwards. One already set is
    used as it is (and left in place)."""
    given = os.environ.get(MULTIPROC_ENV)
    if given:
        yield given
        return
    folder = tempfile.mkdtemp(prefix="kettle-metrics-")
    os.environ[MULTIPROC_ENV] = folder
    try:
        yield folder
    finally:
        os.environ.pop(MULTIPROC_ENV, None)
        shutil.rmtree(folder, ignore_errors=True)


def install(app: Kettle) -> None:
    """Add :class:`PrometheusMiddleware` and the ``METRICS_URL`` route (at
    start-up).

    With ``METRICS_TOKEN`` set, the route asks for it as a bearer token
    (``Authorization: Bearer <token>``).

    Raises:
        ImproperlyConfigured: A setting has a wrong value, or the route's path is
            taken.
    """
    from .health import path_setting

    cfg = app.config
    url = path_setting(app, "METRICS_URL", "/metrics")
    if url is None:
        return
    if any(route.path == url for route in app.router.routes):
        raise ImproperlyConfigured(
            f"METRICS_URL {url!r} is already a route of the app; set METRICS_URL to "
            "another path"
        )
    token = cfg.get("METRICS_TOKEN")
    if token is not None and (not isinstance(token, str) or not token):
        raise ImproperlyConfigured(
            f"METRICS_TOKEN must be a non-empty string or None, not {token!r}"
        )
    app.add_middleware(PrometheusMiddleware)
    middleware = app._http_middleware[-1]
    assert isinstance(middleware, PrometheusMiddleware)
    expected = f"Bearer {token}".encode() if token else None
    content_type = _prometheus().CONTENT_TYPE_LATEST

    def metrics(request: Request) -> Response:
        if expected is not None:
            given = (request.headers.get("authorization") or "").encode()
            if not hmac.compare_digest(given, expected):
                return Response(
                    b"A bearer token is needed.\n",
                    401,
                    {"www-authenticate": "Bearer", "cache-control": "no-store"},
                    "text/plain; charset=utf-8",
                )
        return Response(
            middleware.exposition(),
            headers={"cache-control": "no-store"},
            media_type=content_type,
        )

    app._add_http(url, metrics, ["GET"], "_metrics", None, {"include_in_schema": False})
