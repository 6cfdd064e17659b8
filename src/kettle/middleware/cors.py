"""Cross-Origin Resource Sharing (CORS), as the Fetch standard describes it."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING
from typing import NoReturn

from ..datastructures import encode_header
from ..exceptions import ImproperlyConfigured
from ..responses import PlainTextResponse
from ..responses import Response
from .base import HTTPMiddleware

if TYPE_CHECKING:
    from ..app import Kettle
    from ..requests import Request

__all__ = ("CORSMiddleware",)

_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_ORIGIN = re.compile(
    r"([a-z][a-z0-9+.-]*)://(\[[0-9a-f:.]+\]|[a-z0-9._~%!$&'()*+,;=-]+)(:\d{1,5})?"
)
_DEFAULT_PORTS = {"http": ":80", "https": ":443"}
# Browsers never check these against Access-Control-Allow-Methods/-Headers.
_SAFELISTED_METHODS = frozenset(("GET", "HEAD", "POST"))
_SAFELISTED_HEADERS = frozenset(
    ("accept", "accept-language", "content-language", "content-type")
)
_CREDENTIALS = (b"access-control-allow-credentials", b"true")
# Response headers this middleware sets besides Vary and Access-Control-Allow-Origin.
_ADDED = frozenset(
    (b"access-control-allow-credentials", b"access-control-expose-headers")
)


class CORSMiddleware(HTTPMiddleware):
    """Let pages from other origins call the application, within set limits.

    Preflight requests (``OPTIONS`` with ``Origin`` and
    ``Access-Control-Request-Method``) are answered here, before routing: with 200
    and the ``Access-Control-Allow-*`` headers, or with 400 and a plain message when
    the origin, method or headers are not allowed. Other responses to an allowed
    origin get ``Access-Control-Allow-Origin`` and, if set, the credentials and
    expose headers. When the answer depends on ``Origin`` (anything but a plain
    ``"*"``), every response gets ``Vary: Origin`` so caches keep them apart. An
    ``Access-Control-Allow-Origin`` set by a handler is left alone.

    Args:
        app: The application.
        allow_origins: Allowed origins such as ``"https://example.com"`` (scheme,
            host, optional port; no path), or ``"*"`` for any origin.
        allow_origin_regex: A regular expression (string or compiled) that allows
            each origin it fully matches, such as ``r"https://.*\\.example\\.com"``.
        allow_methods: Methods allowed in preflights, or ``"*"``. GET, HEAD and POST
            are always allowed, as browsers never check them.
        allow_headers: Request headers allowed in preflights (case-insensitive), or
            ``"*"``. Accept, Accept-Language, Content-Language and Content-Type are
            always allowed.
        allow_credentials: Allow cookies and HTTP authentication. With
            ``allow_origins=("*",)`` the request's origin is echoed instead of
            ``"*"`` (which browsers refuse with credentials): any site may then
            make credentialed requests, so list the origins instead if you can.
        expose_headers: Response headers that scripts may read, or ``"*"`` (not
            with credentials).
        max_age: Seconds browsers may cache a preflight answer.

    Raises:
        ImproperlyConfigured: An option has a wrong type or value.
    """

    def __init__(
        self,
        app: Kettle,
        *,
        allow_origins: Iterable[str] = (),
        allow_origin_regex: str | re.Pattern[str] | None = None,
        allow_methods: Iterable[str] = ("GET",),
        allow_headers: Iterable[str] = (),
        allow_credentials: bool = False,
        expose_headers: Iterable[str] = (),
        max_age: int = 600,
    ) -> None:
        super().__init__(app)
        origins = _items("allow_origins", allow_origins, tokens=False)
        methods = _items("allow_methods", allow_methods)
        allowed_headers = _items("allow_headers", allow_headers)
        exposed = _items("expose_headers", expose_headers)
        if type(allow_credentials) is not bool:
            _fail(f"allow_credentials must be True or False, not {allow_credentials!r}")
        if type(max_age) is not int or max_age < 0:
            _fail(f"max_age must be an int >= 0, not {max_age!r}")
        if allow_credentials and "*" in exposed:
            _fail("expose_headers cannot be '*' with allow_credentials=True; list them")
        self.allow_credentials = allow_credentials
        self._any_origin = "*" in origins
        self._origins = frozenset(_origin(o) for o in origins if o != "*")
        self._regex = _regex(allow_origin_regex)
        self._any_method = "*" in methods
        self._methods = frozenset(m.upper() for m in methods) | _SAFELISTED_METHODS
        self._any_header = "*" in allowed_headers
        self._headers = (
            frozenset(h.lower() for h in allowed_headers) | _SAFELISTED_HEADERS
        )
        # With a plain "*" the answer is the same for every origin: no Vary needed.
        self._static = self._any_origin and not allow_credentials
        self._expose = (
            encode_header("access-control-expose-headers", ", ".join(exposed))
            if exposed
            else None
        )
        preflight: dict[str, str] = {"access-control-max-age": str(max_age)}
        if not self._any_method:
            preflight["access-control-allow-methods"] = ", ".join(sorted(self._methods))
        if not self._any_header:
            preflight["access-control-allow-headers"] = ", ".join(sorted(self._headers))
        if allow_credentials:
            preflight["access-control-allow-credentials"] = "true"
        self._preflight_headers = preflight

    def is_allowed_origin(self, origin: str) -> bool:
        """Whether ``origin`` (an ``Origin`` header value) may use the app."""
        if self._any_origin or origin in self._origins:
            return True
        return self._regex is not None and self._regex.fullmatch(origin) is not None

    def process_request(self, request: Request) -> Response | None:
        """Answer preflight requests; let everything else through."""
        if request.method != "OPTIONS":
            return None
        headers = request.headers
        origin = headers.get("origin")
        method = headers.get("access-control-request-method")
        if origin is None or method is None:
            return None
        return self._preflight(
            origin, method, headers.get("access-control-request-headers")
        )

    def _preflight(self, origin: str, method: str, requested: str | None) -> Response:
        method = method.strip()
        names = [n.strip().lower() for n in (requested or "").split(",") if n.strip()]
        checks = (
            ("origin", self.is_allowed_origin(origin)),
            ("method", self._any_method or method in self._methods),
            ("headers", self._any_header or self._headers.issuperset(names)),
        )
        refused = [what for what, ok in checks if not ok]
        vary = [] if self._static else ["Origin"]
        if refused or not all(map(_TOKEN.fullmatch, [method, *names])):
            message = f"Disallowed CORS {', '.join(refused or ['method or headers'])}"
            response: Response = PlainTextResponse(message, 400)
        else:
            response = Response(b"", 200, self._preflight_headers)
            out = response.headers
            out["access-control-allow-origin"] = "*" if self._static else origin
            if self._any_method:
                out["access-control-allow-methods"] = method
                vary.append("Access-Control-Request-Method")
            if self._any_header:
                if names:
                    out["access-control-allow-headers"] = ", ".join(names)
                vary.append("Access-Control-Request-Headers")
        if vary:
            response.headers["vary"] = ", ".join(vary)
        return response

    def process_response(self, request: Request, response: Response) -> Response:
        """Add the CORS headers for the request's origin to the response."""
        if (
            request.method == "OPTIONS"
            and "access-control-request-method" in request.headers
            and "origin" in request.headers
        ):
            return response  # a preflight, answered by process_request
        # PERF: one pass over the byte pairs finds what the decisions need.
        raw = response.raw_headers
        has_vary = has_origin = has_other = False
        for name, _ in raw:
            if name == b"vary":
                has_vary = True
            elif name == b"access-control-allow-origin":
                has_origin = True
            elif name in _ADDED:
                has_other = True
        if self._static:
            if not has_origin:
                raw.append((b"access-control-allow-origin", b"*"))
                if self._expose:
                    self._add(response, has_other, self._expose)
            return response
        if has_vary:
            response.headers.add_vary("Origin")
        else:
            raw.append((b"vary", b"Origin"))
        origin = request.headers.get("origin")
        if origin is None or has_origin:
            return response
        if origin in self._origins:  # a configured origin: known to be a clean value
            raw.append((b"access-control-allow-origin", origin.encode("latin-1")))
        elif self.is_allowed_origin(origin):
            raw.append(encode_header("access-control-allow-origin", origin))
        else:
            return response
        if self.allow_credentials:
            self._add(response, has_other, _CREDENTIALS)
        if self._expose:
            self._add(response, has_other, self._expose)
        return response

    @staticmethod
    def _add(response: Response, replace: bool, pair: tuple[bytes, bytes]) -> None:
        """Add a header pair, replacing the handler's own value if it set one."""
        raw = response.raw_headers
        if replace:
            raw[:] = [h for h in raw if h[0] != pair[0]]
        raw.append(pair)


def _fail(message: str) -> NoReturn:
    raise ImproperlyConfigured(f"CORSMiddleware: {message}")


def _items(option: str, value: Iterable[str], tokens: bool = True) -> list[str]:
    if isinstance(value, str):
        _fail(f"{option} must be a sequence of strings, not the string {value!r}")
    items = list(value)
    for item in items:
        if not isinstance(item, str):
            _fail(f"{option} must contain strings, not {item!r}")
        if tokens and item != "*" and not _TOKEN.fullmatch(item):
            _fail(f"{item!r} in {option} is not a valid HTTP token")
    return items


def _origin(value: str) -> str:
    normalized = value.lower()
    match = _ORIGIN.fullmatch(normalized)
    if match is None:
        hint = f"; did you mean {value.rstrip('/')!r}?" if value.endswith("/") else ""
        _fail(
            f"{value!r} in allow_origins is not an origin like 'https://example.com' "
            f"(scheme, host and optional port, without a path){hint}"
        )
    scheme, host, port = match.groups()
    if port is None or port == _DEFAULT_PORTS.get(scheme):
        return f"{scheme}://{host}"
    return f"{scheme}://{host}{port}"


def _regex(value: str | re.Pattern[str] | None) -> re.Pattern[str] | None:
    if value is None or isinstance(value, re.Pattern):
        return value
    if not isinstance(value, str):
        _fail(f"allow_origin_regex must be a string or a pattern, not {value!r}")
    try:
        return re.compile(value)
    except re.error as exc:
        _fail(f"allow_origin_regex {value!r} does not compile: {exc}")
