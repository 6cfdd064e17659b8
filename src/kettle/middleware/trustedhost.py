"""Refuse requests whose ``Host`` header names a host the app does not serve."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from ..datastructures import URL
from ..exceptions import ImproperlyConfigured
from ..responses import PlainTextResponse
from ..responses import RedirectResponse
from .base import HTTPMiddleware

if TYPE_CHECKING:
    from ..app import Kettle
    from ..requests import Request
    from ..responses import Response

__all__ = ("TrustedHostMiddleware",)

_NAME = re.compile(r"[a-z0-9_-]+(?:\.[a-z0-9_-]+)*")
_IPV6 = re.compile(r"[0-9a-f:.]+")


class TrustedHostMiddleware(HTTPMiddleware):
    """Answer 400 ``Invalid host header`` to requests for hosts not listed.

    This guards against Host header attacks (poisoned password-reset links, cache
    poisoning) when the app builds absolute URLs from the request. The host is taken
    from ``Host`` (or from the ``X-Forwarded-Host``/``Forwarded`` host that
    :class:`~kettle.middleware.ProxyHeadersMiddleware` applied, when that middleware
    is added after this one, so that it runs first); the port is ignored, names are
    compared case-insensitively and without a trailing dot, and IPv6 literals are
    written without brackets in patterns (``"::1"``). A request without a host is
    refused.

    Args:
        app: The application.
        allowed_hosts: Host patterns: an exact name such as ``"example.com"``,
            ``"*.example.com"`` for any subdomain (not ``example.com`` itself), or
            ``"*"`` for any host (the check is then off).
        www_redirect: When a request for ``example.com`` is not allowed but
            ``"www.example.com"`` is listed, redirect it (307, same path and query)
            to ``www.example.com`` instead of refusing it.

    Raises:
        ImproperlyConfigured: An option has a wrong type or value.
    """

    def __init__(
        self,
        app: Kettle,
        *,
        allowed_hosts: Iterable[str] = ("*",),
        www_redirect: bool = True,
    ) -> None:
        super().__init__(app)
        if isinstance(allowed_hosts, str):
            raise ImproperlyConfigured(
                "TrustedHostMiddleware: allowed_hosts must be a sequence of host "
                f"patterns, not the string {allowed_hosts!r}"
            )
        if type(www_redirect) is not bool:
            raise ImproperlyConfigured(
                "TrustedHostMiddleware: www_redirect must be True or False, "
                f"not {www_redirect!r}"
            )
        exact: set[str] = set()
        suffixes: list[str] = []
        self.allow_any = False
        for pattern in allowed_hosts:
            if pattern == "*":
                self.allow_any = True
            elif isinstance(pattern, str) and pattern.startswith("*."):
                suffixes.append("." + _pattern(pattern[2:], pattern))
            else:
                exact.add(_pattern(pattern, pattern))
        if not self.allow_any and not exact and not suffixes:
            raise ImproperlyConfigured(
                "TrustedHostMiddleware: allowed_hosts is empty, so every request "
                "would be refused; list your hosts or use ('*',)"
            )
        self._exact = frozenset(exact)
        # Host header values already found allowed (bounded).
        self._accepted: set[str] = set()
        self._suffixes = tuple(suffixes)
        # Bare names whose "www." form is listed: redirected rather than refused.
        self._www = frozenset(
            h[4:] for h in exact if www_redirect and h.startswith("www.")
        )

    def is_allowed(self, host: str) -> bool:
        """Whether ``host`` (without port, lower-cased) matches a pattern."""
        return self.allow_any or host in self._exact or host.endswith(self._suffixes)

    def process_request(self, request: Request) -> Response | None:
        """Refuse (or redirect) a request for a host that is not allowed."""
        if self.allow_any:
            return None
        raw: str = request.host_override or request.headers.get("host") or ""
        if raw in self._accepted:  # PERF: the same few Host values come back
            return None
        host = _host_name(raw)
        if host is not None and self.is_allowed(host):
            if len(self._accepted) < 1000:
                self._accepted.add(raw)
            return None
        if host in self._www:
            query = request.query_string.decode("latin-1")
            path = request.root_path + request.path
            url = URL.build(request.scheme, "www." + raw.strip().lower(), path, query)
            return RedirectResponse(str(url), 307)
        return PlainTextResponse("Invalid host header", 400)


def _pattern(value: object, original: object) -> str:
    if not isinstance(value, str):
        raise ImproperlyConfigured(
            f"TrustedHostMiddleware: allowed_hosts must contain strings, not {value!r}"
        )
    host = value.strip().lower().rstrip(".")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if _NAME.fullmatch(host) or (":" in host and _IPV6.fullmatch(host)):
        return host
    raise ImproperlyConfigured(
        f"TrustedHostMiddleware: {original!r} in allowed_hosts is not a host pattern "
        "like 'example.com', '*.example.com' or '*' (no scheme, port or path)"
    )


def _host_name(value: str) -> str | None:
    """The host of a ``Host`` header value, lower-cased, without port or brackets."""
    value = value.strip().lower()
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            return None
        rest = value[end + 1 :]
        if rest and not (rest[0] == ":" and (rest[1:].isdigit() or rest == ":")):
            return None
        return value[1:end]
    name, colon, port = value.partition(":")
    if colon and port and not port.isdigit():
        return None
    return name.rstrip(".")
