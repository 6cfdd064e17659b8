"""Structured logs under another server (kettle serve does this by itself)."""

import logging.config

from kettle.logs import logging_config

# JSON lines on stderr, each with the request's ID; "logfmt" for key=value pairs.
LOGGING = logging_config("json", level="INFO")


def configure() -> None:
    """Call once per worker process, before serving (e.g. in gunicorn's
    post_fork hook), or pass LOGGING to uvicorn.run(..., log_config=LOGGING)."""
    logging.config.dictConfig(LOGGING)
