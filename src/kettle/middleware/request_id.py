"""Give each request an ID, for logs and for tracing a request across services."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..exceptions import ImproperlyConfigured
from .base import HTTPMiddleware

if TYPE_CHECKING:
    from ..app import Kettle
    from ..requests import Request
    from ..responses import Response

__all__ = ("RequestIDMiddleware",)

_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_VALID_ID = re.compile(r"[\x20-\x7e]{1,200}")


def _uuid4_hex() -> str:
    return uuid.uuid4().hex


class RequestIDMiddleware(HTTPMiddleware):
    """Store an ID on ``request.state.request_id`` and send it back in a header.

    The ID comes from the request's header when it is trusted and valid (1 to 200
    printable ASCII characters), otherwise from ``generator``. Responses carry it
    in the same header, error responses and those answered early by other
    middleware included.

    Args:
        app: The application.
        header_name: The request and response header holding the ID.
        trust_incoming: Reuse the ID sent by the client or a proxy in
            ``header_name``. Turn it off when clients could reach the app directly
            and the ID must not be chosen by them.
        generator: A function returning a new ID (a string valid as a header
            value); a random UUID in hex by default.

    Raises:
        ImproperlyConfigured: An option has a wrong type or value.
    """

    def __init__(
        self,
        app: Kettle,
        *,
        header_name: str = "X-Request-ID",
        trust_incoming: bool = True,
        generator: Callable[[], str] | None = None,
    ) -> None:
        super().__init__(app)
        if not isinstance(header_name, str) or not _TOKEN.fullmatch(header_name):
            raise ImproperlyConfigured(
                "RequestIDMiddleware: header_name must be a header name such as "
                f"'X-Request-ID', not {header_name!r}"
            )
        if type(trust_incoming) is not bool:
            raise ImproperlyConfigured(
                "RequestIDMiddleware: trust_incoming must be True or False, "
                f"not {trust_incoming!r}"
            )
        if generator is not None and not callable(generator):
            raise ImproperlyConfigured(
                f"RequestIDMiddleware: generator must be callable, not {generator!r}"
            )
        self.header_name = header_name.lower()
        self.trust_incoming = trust_incoming
        self.generator: Callable[[], str] = generator or _uuid4_hex

    def request_id(self, request: Request) -> str:
        """The ID of ``request``: its own, or a new one (then stored on it)."""
        state = request.state
        if "request_id" in state:
            return str(state.request_id)
        value: str | None = None
        if self.trust_incoming:
            value = request.headers.get(self.header_name)
            if value is not None and not _VALID_ID.fullmatch(value):
                value = None
        if value is None:
            value = self.generator()
        state.request_id = value
        return value

    def process_request(self, request: Request) -> Response | None:
        """Set ``request.state.request_id``."""
        self.request_id(request)
        return None

    def process_response(self, request: Request, response: Response) -> Response:
        """Send the request's ID in the response header."""
        response.headers[self.header_name] = self.request_id(request)
        return response
