"""Health endpoints for load balancers and orchestrators.

``HEALTH_URL`` (default ``/healthz``) answers 200 ``{"status": "ok", "checks":
{...}}`` when every dependency the app is configured with answers: each database
(``SELECT 1`` per bind) when :mod:`kettle.db` is set up, each Redis server the
settings name (sessions, cache, tasks, channels, rate limits, ``REDIS_URL``), and
the checks added with :func:`add_health_check`. Otherwise it answers 503 with
``"error"`` for the checks that failed (why is logged on ``kettle.health``, not
shown). ``LIVENESS_URL`` (off by default; ``/livez``) answers 200 without checking
anything: the process is up and serving.

Both are left out of the OpenAPI document, never cached, and answered whatever the
request's ``Host`` header and scheme (``ALLOWED_HOSTS`` and ``HTTPS_REDIRECT`` do
not apply to them), since load balancers probe by IP address over plain HTTP. A
route of the app's own at the same path wins.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait
from typing import TYPE_CHECKING
from typing import Any

from .exceptions import ImproperlyConfigured
from .helpers import extension
from .responses import JSONResponse

if TYPE_CHECKING:
    from .app import Kettle

__all__ = ("HealthChecks", "add_health_check", "get_health", "install")

log = logging.getLogger("kettle.health")

#: ``(backend setting, its Redis value, URL setting, check name)``: the batteries
#: that may keep their data in Redis.
_REDIS_USERS = (
    ("SESSION_BACKEND", "redis", "SESSION_REDIS_URL", "sessions"),
    ("CACHE_BACKEND", "redis", "CACHE_REDIS_URL", "cache"),
    ("TASKS_BACKEND", "dramatiq", "TASKS_REDIS_URL", "tasks"),
    ("CHANNELS_BACKEND", "redis", "CHANNELS_REDIS_URL", "channels"),
    ("RATELIMIT_BACKEND", "redis", "RATELIMIT_REDIS_URL", "ratelimit"),
)

_NO_STORE = {"cache-control": "no-store"}


class HealthChecks:
    """An app's health checks (``app.extensions["health"]``).

    Each check is a function taking no argument that raises (or returns False)
    when its dependency is unhealthy. The checks run at once, each in a thread,
    and the answer waits ``timeout`` seconds at most: a check still running then
    (a database that does not answer) is an error, and is not started again by
    the next probe until it has returned.
    """

    def __init__(self, app: Kettle) -> None:
        self.app = app
        self.checks: dict[str, Callable[[], object]] = {}
        #: The paths of the health endpoints that were installed.
        self.paths: frozenset[str] = frozenset()
        #: Seconds the checks may take (``HEALTH_TIMEOUT``).
        self.timeout = 2.0
        self._running: dict[str, Future[object]] = {}
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None

    def add(self, name: str, check: Callable[[], object]) -> None:
        """Add (or replace) the check called ``name``."""
        if not isinstance(name, str) or not name:
            raise ImproperlyConfigured(f"a health check needs a name, not {name!r}")
        if not callable(check):
            raise ImproperlyConfigured(
                f"health check {name!r} must be callable, not {check!r}"
            )
        self.checks[name] = check

    def _start(self, name: str, check: Callable[[], object]) -> Future[object]:
        """The check's run: the one still going since an earlier probe, or a new
        one."""
        with self._lock:
            running = self._running.get(name)
            if running is not None and not running.done():
                return running
            if self._pool is None:
                self._pool = ThreadPoolExecutor(
                    max_workers=8, thread_name_prefix="kettle-health"
                )
            started = self._pool.submit(check)
            self._running[name] = started
            return started

    def run(self) -> tuple[bool, dict[str, str]]:
        """Run every check: whether all passed, and ``{name: "ok" | "error"}``."""
        checks = [*self._database_checks(), *self.checks.items()]
        started = {name: self._start(name, check) for name, check in checks}
        wait(started.values(), timeout=self.timeout)
        results: dict[str, str] = {}
        healthy = True
        for name, future in started.items():
            passed = False
            if not future.done():
                log.warning(
                    "health check %s failed: no answer within %s s (HEALTH_TIMEOUT)",
                    name,
                    self.timeout,
                )
            elif (exc := future.exception()) is not None:
                log.warning("health check %s failed: %s", name, exc, exc_info=exc)
            elif future.result() is False:
                log.warning("health check %s failed", name)
            else:
                passed = True
            results[name] = "ok" if passed else "error"
            healthy = healthy and passed
        return healthy, results

    def _database_checks(self) -> list[tuple[str, Callable[[], object]]]:
        """``SELECT 1`` on each database, when the app uses :mod:`kettle.db`."""
        app = self.app
        db = app.extensions.get("db")
        if db is None:
            cfg = app.config
            if not (cfg.get("DATABASE_URL") or cfg.get("DATABASE_BINDS")):
                return []
            from .db import get_database

            db = get_database(app)
        return [
            ("database" if key is None else f"database:{key}", _select_one(db, key))
            for key in db.urls
        ]


def _select_one(db: Any, key: str | None) -> Callable[[], object]:
    def check() -> None:
        import sqlalchemy as sa

        with db.engine(key).connect() as connection:
            connection.execute(sa.select(sa.literal_column("1")))

    return check


def _ping(url: str, timeout: float) -> Callable[[], object]:
    client: list[Any] = []

    def check() -> object:
        if not client:
            import redis

            from ._redis import fail_fast_options

            client.append(redis.Redis.from_url(url, **fail_fast_options(timeout)))
        return client[0].ping()

    return check


def get_health(app: Kettle) -> HealthChecks:
    """The app's :class:`HealthChecks`, made on first use."""
    return extension(app, "health", HealthChecks)


def add_health_check(app: Kettle, name: str, check: Callable[[], object]) -> None:
    """Check ``check()`` at ``HEALTH_URL``: it raises or returns False when what it
    checks is unhealthy (blocking calls are fine: checks run in a worker thread).

    Args:
        app: The application.
        name: The check's name in the answer (``"payments"``).
        check: A function taking no argument.

    Raises:
        ImproperlyConfigured: ``name`` is empty or ``check`` is not callable.
    """
    get_health(app).add(name, check)


def _redis_checks(app: Kettle, timeout: float) -> dict[str, Callable[[], object]]:
    """A ping per Redis server the settings name, named by what uses it."""
    cfg = app.config
    users: dict[str, list[str]] = {}
    for backend, value, url_setting, name in _REDIS_USERS:
        if cfg.get(backend) == value:
            url = cfg.get(url_setting) or cfg.get("REDIS_URL")
            if url:
                users.setdefault(str(url), []).append(name)
    default = cfg.get("REDIS_URL")
    if default and str(default) not in users:
        users[str(default)] = []
    return {
        ("redis:" + ",".join(names) if names else "redis"): _ping(url, timeout)
        for url, names in users.items()
    }


def path_setting(app: Kettle, key: str, example: str) -> str | None:
    """The setting ``key``: a path of one of Kettle's own routes, or None (off).

    Raises:
        ImproperlyConfigured: It is set but not a path.
    """
    url = app.config.get(key)
    if not url:
        return None
    if not isinstance(url, str) or not url.startswith("/"):
        raise ImproperlyConfigured(
            f"{key} must be a path starting with '/' (such as {example!r}), or None "
            f"to turn it off; not {url!r}"
        )
    return url


def install(app: Kettle) -> None:
    """Add the ``HEALTH_URL`` and ``LIVENESS_URL`` routes (at start-up).

    Raises:
        ImproperlyConfigured: A setting has a wrong value.
    """
    health_url = path_setting(app, "HEALTH_URL", "/healthz")
    live_url = path_setting(app, "LIVENESS_URL", "/livez")
    setting = app.config.get("HEALTH_TIMEOUT", 2.0)
    try:
        timeout = float(setting)
    except (TypeError, ValueError):
        timeout = float("nan")
    if not 0 < timeout < float("inf"):
        raise ImproperlyConfigured(
            f"HEALTH_TIMEOUT must be a positive number of seconds, not {setting!r}"
        )
    taken = {route.path for route in app.router.routes}
    health = get_health(app)
    health.timeout = timeout
    paths: set[str] = set()
    if health_url and health_url not in taken:  # the app's own route wins
        for name, check in _redis_checks(app, timeout).items():
            health.checks.setdefault(name, check)

        def health_check() -> JSONResponse:
            healthy, results = health.run()
            return JSONResponse(
                {"status": "ok" if healthy else "error", "checks": results},
                status_code=200 if healthy else 503,
                headers=_NO_STORE,
            )

        health_check.kettle_no_hooks = True  # type: ignore[attr-defined]
        app._add_http(
            health_url,
            health_check,
            ["GET"],
            "_health",
            None,
            {"include_in_schema": False},
        )
        paths.add(health_url)
    if live_url and live_url not in taken:
        # NOTE: sync, like every route Kettle adds, so that it does not make
        # `kettle serve` pick ASGI for an app that is sync otherwise.
        def liveness() -> JSONResponse:
            return JSONResponse({"status": "ok"}, headers=_NO_STORE)

        liveness.kettle_no_hooks = True  # type: ignore[attr-defined]
        app._add_http(
            live_url, liveness, ["GET"], "_liveness", None, {"include_in_schema": False}
        )
        paths.add(live_url)
    health.paths = frozenset(paths)
