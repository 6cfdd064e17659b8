"""Structured logs: JSON-lines and ``key=value`` formatters, and a filter that
stamps every record emitted during a request with the request's ID.

``kettle serve`` configures logging with these (see :func:`logging_config`); under
another server, pass that dict to :func:`logging.config.dictConfig` yourself::

    import logging.config
    from kettle.logs import logging_config

    logging.config.dictConfig(logging_config("json"))

The request ID is the one :class:`~kettle.middleware.RequestIDMiddleware` or
:class:`~kettle.middleware.AccessLogMiddleware` stored on ``request.state``; a
record logged outside a request, or in a request neither of them saw, has none.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any
from typing import Literal

from .context import request_var

__all__ = (
    "JSONFormatter",
    "KeyValueFormatter",
    "LogFormat",
    "RequestIDFilter",
    "current_request_id",
    "logging_config",
)

LogFormat = Literal["json", "logfmt"]

#: The attributes every :class:`logging.LogRecord` has; the others came from
#: ``extra=`` (or a filter) and are written out as fields.
_STANDARD = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys()
    | {"message", "asctime", "taskName", "request_id"}
)


def current_request_id() -> str | None:
    """The ID of the request being handled in this context, or None."""
    request = request_var.get(None)
    if request is None:
        return None
    state = request._state
    if state is None or "request_id" not in state:
        return None
    return str(state.request_id)


class RequestIDFilter(logging.Filter):
    """Set ``record.request_id`` to the current request's ID (None outside one).

    Attach it to a handler, so that records of every logger that reach the handler
    get it, the application's included. It never drops a record.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = current_request_id()
        return True


def _timestamp(created: float) -> str:
    """``created`` as an ISO 8601 UTC time with milliseconds."""
    seconds = int(created)
    millis = int((created - seconds) * 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}Z"


def _fields(record: logging.LogRecord, formatter: logging.Formatter) -> dict[str, Any]:
    """The fields of a structured record, in a stable order."""
    fields: dict[str, Any] = {
        "time": _timestamp(record.created),
        "level": record.levelname,
        "logger": record.name,
        "message": record.getMessage(),
    }
    request_id = getattr(record, "request_id", None)
    if request_id is not None:
        fields["request_id"] = request_id
    for key, value in vars(record).items():
        if key not in _STANDARD and not key.startswith("_"):
            fields[key] = value
    if record.exc_info:
        fields["exception"] = formatter.formatException(record.exc_info)
    elif record.exc_text:
        fields["exception"] = record.exc_text
    if record.stack_info:
        fields["stack"] = formatter.formatStack(record.stack_info)
    return fields


class JSONFormatter(logging.Formatter):
    """Format each record as one JSON object on one line.

    The fields are ``time`` (UTC, ISO 8601), ``level``, ``logger``, ``message``,
    ``request_id`` (when there is one), every attribute passed with ``extra=``,
    and ``exception`` with the traceback when there is one. Values JSON cannot
    hold are written as their ``str()``.
    """

    def format(self, record: logging.LogRecord) -> str:
        return _dumps(_fields(record, self))


def _std_dumps(fields: dict[str, Any]) -> str:
    return json.dumps(fields, default=str, ensure_ascii=False, separators=(",", ":"))


_dumps = _std_dumps

try:  # PERF: orjson encodes a record in a fraction of the time
    import orjson
except ImportError:  # pragma: no cover - orjson is an optional speed-up
    pass
else:

    def _dumps(fields: dict[str, Any]) -> str:
        try:
            return orjson.dumps(fields, default=str).decode()
        except TypeError:  # keys that are not strings, integers too big...
            return _std_dumps(fields)


def _logfmt_value(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    text = value if isinstance(value, str) else str(value)
    if text and not any(c in text for c in ' "=\\') and text.isprintable():
        return text
    return json.dumps(text, ensure_ascii=False)


class KeyValueFormatter(logging.Formatter):
    """Format each record as ``key=value`` pairs on one line (logfmt).

    The same fields as :class:`JSONFormatter`; values with spaces, quotes or
    ``=`` are double-quoted with JSON escapes, and None is ``-``.
    """

    def format(self, record: logging.LogRecord) -> str:
        return " ".join(
            f"{key}={_logfmt_value(value)}"
            for key, value in _fields(record, self).items()
        )


_FORMATTERS: dict[str, str] = {
    "json": "kettle.logs.JSONFormatter",
    "logfmt": "kettle.logs.KeyValueFormatter",
}


def logging_config(
    format: LogFormat = "json",
    *,
    level: str = "WARNING",
    access_log: bool = True,
    stream: str = "ext://sys.stderr",
) -> dict[str, Any]:
    """A :func:`logging.config.dictConfig` dict for structured logs.

    The root logger writes to ``stream`` at ``level``; the ``kettle.access``
    logger writes its records (INFO) there too, whatever the root's level. Every
    record gets the request's ID. Loggers that exist already are left on.

    Args:
        format: ``"json"`` (JSON lines) or ``"logfmt"`` (``key=value`` pairs).
        level: The root logger's level.
        access_log: Whether ``kettle.access`` records are written.
        stream: Where to write (a ``dictConfig`` ``ext://`` reference).

    Raises:
        ValueError: ``format`` is not ``"json"`` or ``"logfmt"``.
    """
    if format not in _FORMATTERS:
        raise ValueError(f"log format must be 'json' or 'logfmt', not {format!r}")
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"kettle_request_id": {"()": "kettle.logs.RequestIDFilter"}},
        "formatters": {"kettle": {"()": _FORMATTERS[format]}},
        "handlers": {
            "kettle": {
                "class": "logging.StreamHandler",
                "formatter": "kettle",
                "filters": ["kettle_request_id"],
                "stream": stream,
            }
        },
        "loggers": {
            "kettle.access": {
                "handlers": ["kettle"],
                "level": "INFO" if access_log else "CRITICAL",
                "propagate": False,
            }
        },
        "root": {"handlers": ["kettle"], "level": level},
    }
