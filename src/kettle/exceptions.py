"""HTTP exceptions and configuration errors raised by Kettle."""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any
from typing import NoReturn

__all__ = (
    "BadRequest",
    "BadRequestKeyError",
    "HTTPException",
    "ImproperlyConfigured",
    "NotFound",
    "RequestEntityTooLarge",
    "RequestValidationError",
    "WebSocketDisconnect",
    "WebSocketException",
    "abort",
)


def _phrase(status_code: int) -> str:
    try:
        return HTTPStatus(status_code).phrase
    except ValueError:
        return "Error"


class ImproperlyConfigured(Exception):
    """The application is set up in a way that cannot work; raised at start-up."""


class HTTPException(Exception):
    """An exception that is answered with an HTTP error response.

    Args:
        status_code: The HTTP status code of the response.
        detail: A message for the client. Defaults to the status phrase.
        headers: Extra response headers (for example ``Allow`` or ``WWW-Authenticate``).
    """

    def __init__(
        self,
        status_code: int,
        detail: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.status_code = status_code
        self.detail = _phrase(status_code) if detail is None else detail
        self.headers = dict(headers) if headers else None
        super().__init__(status_code, self.detail)

    def __str__(self) -> str:
        return f"{self.status_code}: {self.detail}"

    def __repr__(self) -> str:
        kind = type(self).__name__
        return f"{kind}(status_code={self.status_code!r}, detail={self.detail!r})"


class BadRequest(HTTPException):
    """400 Bad Request: the request could not be understood."""

    def __init__(
        self, detail: Any = None, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(400, detail, headers)


class NotFound(HTTPException):
    """404 Not Found."""

    def __init__(
        self, detail: Any = None, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(404, detail, headers)


class RequestEntityTooLarge(HTTPException):
    """413 Content Too Large: the body or an upload exceeds a configured limit."""

    def __init__(
        self, detail: Any = None, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(413, detail, headers)


class RequestValidationError(HTTPException):
    """Input that does not fit a handler's signature; answered with 422.

    ``errors`` (also the ``detail``) lists every problem as
    ``{"loc": [...], "msg": ..., "type": ...}``, the shape FastAPI users know.
    Handle it with ``@app.errorhandler(422)`` or ``(RequestValidationError)``.
    """

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        self.errors = errors
        super().__init__(422, errors)


class BadRequestKeyError(KeyError, BadRequest):
    """A key missing from the query string or form; answered with 400, like Flask.

    It is also a :class:`KeyError`, so ``except KeyError`` keeps working.
    """

    def __init__(self, key: str, where: str = "request") -> None:
        self.key = key
        BadRequest.__init__(self, f"Missing key {key!r} in the {where}.")

    def __str__(self) -> str:
        return str(self.detail)


class WebSocketDisconnect(Exception):
    """The WebSocket peer disconnected; ``code`` is the close code."""

    def __init__(self, code: int = 1000, reason: str | None = None) -> None:
        self.code = code
        self.reason = reason or ""
        super().__init__(code, self.reason)


class WebSocketException(Exception):
    """Raised in a WebSocket handler to close the connection with ``code``."""

    def __init__(self, code: int = 1008, reason: str | None = None) -> None:
        self.code = code
        self.reason = reason or ""
        super().__init__(code, self.reason)


def abort(
    status_code: int, detail: Any = None, headers: Mapping[str, str] | None = None
) -> NoReturn:
    """Stop handling the request and answer with ``status_code``.

    Args:
        status_code: The HTTP status code, for example ``404``.
        detail: A message for the client (shown in the HTML or JSON error body).
        headers: Extra response headers.

    Raises:
        HTTPException: Always.
    """
    raise HTTPException(status_code, detail, headers)
