"""Operations settings: wiring the access log, health endpoints, metrics and
tracing into an app at start-up, and the settings that keep state per worker
process (warned about by ``kettle serve --workers N`` and ``kettle check
--deploy``)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from collections.abc import Mapping
from typing import TYPE_CHECKING
from typing import Any
from typing import NamedTuple

if TYPE_CHECKING:
    from .app import Kettle
    from .security import Issue

__all__ = (
    "WORKERS_ENV",
    "PerProcessSetting",
    "install",
    "per_process_settings",
    "worker_warning",
)


def install(app: Kettle) -> None:
    """Add what the operations settings ask for (at start-up): the health routes
    (``HEALTH_URL``, ``LIVENESS_URL``), metrics (``METRICS_URL``), tracing
    (``TRACING``) and the access log (``ACCESS_LOG``), outermost, in that order.

    Raises:
        ImproperlyConfigured: A setting has a wrong value.
    """
    from .middleware.access_log import AccessLogMiddleware

    cfg = app.config
    if cfg.get("HEALTH_URL") or cfg.get("LIVENESS_URL"):
        from . import health

        health.install(app)
    if cfg.get("METRICS_URL"):
        from . import metrics

        metrics.install(app)
    if cfg.get_flag("TRACING"):
        from . import tracing

        tracing.install(app)
    if cfg.get_flag("ACCESS_LOG") and not any(
        isinstance(m, AccessLogMiddleware) for m in app._http_middleware
    ):
        app.add_middleware(AccessLogMiddleware)


class PerProcessSetting(NamedTuple):
    """A setting whose value keeps state in each worker process."""

    id: str
    setting: str
    value: str
    effect: str
    fix: str


_PER_PROCESS = (
    (
        "operations.W001",
        "CACHE_BACKEND",
        "memory",
        "each worker has its own cache, so a value set or deleted in one is not "
        "seen by the others",
        "CACHE_BACKEND = 'redis'",
    ),
    (
        "operations.W002",
        "RATELIMIT_BACKEND",
        "memory",
        "each worker counts requests on its own, so a client gets up to N times "
        "the limit",
        "RATELIMIT_BACKEND = 'redis'",
    ),
    (
        "operations.W003",
        "TASKS_BACKEND",
        "in-process",
        "tasks run in the worker that queued them and are lost when it stops",
        "TASKS_BACKEND = 'dramatiq'",
    ),
    (
        "operations.W004",
        "CHANNELS_BACKEND",
        "memory",
        "messages reach only the clients connected to the same worker",
        "CHANNELS_BACKEND = 'redis'",
    ),
)


def per_process_settings(config: Mapping[str, Any]) -> list[PerProcessSetting]:
    """The settings of ``config`` that keep state in each worker process, and so
    behave differently with several workers (``kettle serve --workers N``)."""
    found: list[PerProcessSetting] = []
    for check_id, setting, value, effect, fix in _PER_PROCESS:
        if setting == "RATELIMIT_BACKEND" and not config.get("RATELIMIT_ENABLED", True):
            continue
        current = config.get(setting) or value  # unset: the battery's default
        if current == value:
            found.append(PerProcessSetting(check_id, setting, value, effect, fix))
    return found


def worker_warning(config: Mapping[str, Any], workers: int) -> str | None:
    """What ``kettle serve --workers N`` prints about per-process settings (None
    when there is nothing to say)."""
    found = per_process_settings(config)
    if workers < 2 or not found:
        return None
    lines = [
        f"kettle: warning: with {workers} workers, these settings keep state in "
        "each worker process (if the app uses them):"
    ]
    lines += [f"  {s.setting} = {s.value!r}: {s.effect}; use {s.fix}" for s in found]
    return "\n".join(lines)


#: The environment variable naming the number of worker processes (as for
#: gunicorn and uvicorn); ``kettle check --workers N`` sets it.
WORKERS_ENV = "WEB_CONCURRENCY"


def _workers() -> int:
    value = os.environ.get(WORKERS_ENV, "")
    return int(value) if value.strip().isdigit() else 1


def deploy_issues(app: Kettle) -> Iterable[Issue]:
    """``kettle check --deploy``: the per-process settings when the app runs with
    several workers (``WEB_CONCURRENCY``, or ``kettle check --workers N``), and
    metrics open to anyone."""
    from .security import Issue

    found_settings = per_process_settings(app.config) if _workers() > 1 else []
    for found in found_settings:
        yield Issue(
            found.id,
            f"{found.setting} is {found.value!r}: with several worker processes, "
            f"{found.effect}.",
            f"set {found.fix} when serving with --workers N > 1 (if the app uses it).",
        )
    if app.config.get("METRICS_URL") and not app.config.get("METRICS_TOKEN"):
        yield Issue(
            "operations.W005",
            "METRICS_URL is set without METRICS_TOKEN: anyone who reaches the app "
            "can read its metrics.",
            "set METRICS_TOKEN (Prometheus sends it as a bearer token), or block "
            "the path at the proxy.",
        )
