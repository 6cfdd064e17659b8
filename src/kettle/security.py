"""Security defaults: response headers, Host checking, the HTTPS redirect, safe
redirect targets, and the checks of ``kettle check --deploy``.

The app builds :class:`SecurityHeaders` and :class:`HostGate` once, when it starts
(this module is imported then, not by ``import kettle``; it needs the standard
library only). Per request the headers cost one list extend, and the Host check
one dict look-up of the raw ``Host`` value.

Settings (see ``docs/security.md``): ``SECURITY_HEADERS``, ``CONTENT_TYPE_NOSNIFF``,
``REFERRER_POLICY``, ``X_FRAME_OPTIONS``, ``CROSS_ORIGIN_OPENER_POLICY``,
``HSTS_SECONDS``, ``HSTS_INCLUDE_SUBDOMAINS``, ``HSTS_PRELOAD``, ``CSP``,
``CSP_REPORT_ONLY``, ``ALLOWED_HOSTS`` and ``HTTPS_REDIRECT``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING
from typing import Any
from unicodedata import category as _category
from urllib.parse import SplitResult
from urllib.parse import urlsplit

from .config import CSP_NONCE
from .config import DEFAULT_CSP
from .exceptions import HTTPException
from .exceptions import ImproperlyConfigured
from .requests import CSP_NONCE_KEY
from .responses import PlainTextResponse
from .responses import RedirectResponse
from .responses import Response
from .responses import add_missing_headers

if TYPE_CHECKING:
    from .app import Kettle
    from .config import Config
    from .requests import HTTPConnection
    from .requests import Request
    from .types import Scope

__all__ = (
    "CHECKS",
    "DEFAULT_CSP",
    "DEPLOY_CHECKS",
    "LOCAL_HOSTS",
    "NONCE",
    "HostGate",
    "Issue",
    "SecurityHeaders",
    "check_app",
    "csp_nonce",
    "deploy_checks",
    "host_name",
    "is_safe_url",
    "safe_next",
)

#: Put in a ``CSP`` directive's sources where the request's nonce goes:
#: ``{"script-src": ("'self'", NONCE)}``. When the request read
#: ``request.csp_nonce`` it becomes ``'nonce-<value>'``; otherwise it is left out.
NONCE = CSP_NONCE

#: The hosts allowed when ``ALLOWED_HOSTS`` is empty: this machine, and the test
#: client's ``testserver``.
LOCAL_HOSTS = frozenset(("localhost", "127.0.0.1", "::1", "testserver"))

_TOKEN = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+")
_DIRECTIVE = re.compile(r"[a-z][a-z0-9-]*")
# A CSP source: printable ASCII without whitespace, ';' or ','.
_SOURCE = re.compile(r"[!-+\--:<-~]+")
_FRAME_ANCESTORS = {"DENY": "'none'", "SAMEORIGIN": "'self'"}
_MARK = "\x00"  # where the nonce goes in a policy, while it is put together

# A Host header value (lower-cased): a name or an IPv4 address, or a bracketed
# IPv6 address; then an optional port.
_HOST = re.compile(r"(\[[0-9a-f:.]+\]|[a-z0-9_.-]+)(?::[0-9]{0,5})?")
_NAME = re.compile(r"[a-z0-9_-]+(?:\.[a-z0-9_-]+)*")
_IPV6 = re.compile(r"[0-9a-f]*:[0-9a-f]*:[0-9a-f:.]*")  # at least two colons

#: How many distinct ``Host`` values the Host check remembers its verdict for.
HOST_CACHE_SIZE = 1000


# -- response headers ------------------------------------------------------------------


def _fail(setting: str, value: object, expected: str) -> ImproperlyConfigured:
    return ImproperlyConfigured(f"setting {setting} must be {expected}, not {value!r}")


def _text(config: Mapping[str, Any], setting: str) -> str | None:
    """A header value setting: a string, a sequence of tokens (joined with ``, ``),
    or None/empty for no header."""
    value = config.get(setting)
    if value is None or value == "" or value is False:
        return None
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not all(
        isinstance(item, str) and _TOKEN.fullmatch(item.strip()) for item in items
    ):
        raise _fail(
            setting, value, "a token like 'same-origin', a list of them or None"
        )
    return ", ".join(item.strip() for item in items)


def _csp_items(csp: object) -> list[tuple[str, list[str]]]:
    """The directives of a ``CSP`` setting, as ``(name, sources)``."""
    items: list[tuple[str, list[str]]] = []
    if isinstance(csp, str):
        for part in csp.split(";"):
            words = part.split()
            if words:
                items.append((words[0].lower(), words[1:]))
        return items
    if not isinstance(csp, Mapping):
        raise _fail("CSP", csp, "a dict of directives, a policy string or None")
    for name, value in csp.items():
        if value is None or value is False:
            continue  # a directive turned off: {**DEFAULT_CSP, "style-src": None}
        if value is True:
            sources: list[str] = []
        elif isinstance(value, str):
            sources = value.split()
        elif isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
            sources = list(value)
        else:
            raise ImproperlyConfigured(
                f"setting CSP: directive {name!r} must have a list of sources, a "
                f"string, True (no sources) or None (left out), not {value!r}"
            )
        items.append((str(name).lower(), sources))
    return items


def csp_policy(
    csp: object, frame_ancestors: str | None = None
) -> tuple[str, tuple[str, ...] | None]:
    """Put a ``CSP`` setting together.

    Args:
        csp: A dict of directives (``{"img-src": ("'self'", "data:")}``) or a
            policy string; :data:`NONCE` among the sources marks where the
            request's nonce goes.
        frame_ancestors: The ``frame-ancestors`` sources to add when ``csp`` has
            none (from ``X_FRAME_OPTIONS``).

    Returns:
        The policy without a nonce, and the pieces to join with
        ``'nonce-<value>'`` for a request that has one (None when no directive
        takes a nonce).

    Raises:
        ImproperlyConfigured: A directive name or a source is malformed.
    """
    items = _csp_items(csp)
    if frame_ancestors and all(name != "frame-ancestors" for name, _ in items):
        items.append(("frame-ancestors", [frame_ancestors]))
    takes_nonce = False
    for name, sources in items:
        if not _DIRECTIVE.fullmatch(name):
            raise ImproperlyConfigured(f"setting CSP: {name!r} is not a directive name")
        for source in sources:
            if source == NONCE:
                takes_nonce = True
            elif not _SOURCE.fullmatch(source):
                raise ImproperlyConfigured(
                    f"setting CSP: source {source!r} of {name} must be printable "
                    "ASCII without spaces, ';' or ','"
                )

    def render(nonce: str | None) -> str:
        out = []
        for name, sources in items:
            kept: list[str] = []
            for source in sources:
                if source != NONCE:
                    kept.append(source)
                elif nonce is not None:
                    kept.append(nonce)
            if sources and not kept:
                kept = ["'none'"]  # only a nonce was allowed, and there is none
            out.append(" ".join([name, *kept]))
        return "; ".join(out)

    plain = render(None)
    return plain, (tuple(render(_MARK).split(_MARK)) if takes_nonce else None)


class SecurityHeaders:
    """The security headers of an app's responses, made once from its settings.

    :meth:`add` puts them on a response (a name the response already has is
    left alone, so a handler can set its own); ``Strict-Transport-Security``
    only on requests that came over HTTPS (``request.scheme``, which
    :class:`~kettle.middleware.ProxyHeadersMiddleware` sets from a proxy's
    headers).

    Raises:
        ImproperlyConfigured: A setting has a wrong type or value.
    """

    __slots__ = (
        "csp_index",
        "csp_name",
        "csp_parts",
        "hsts",
        "http",
        "https",
        "names",
        "wsgi_http",
        "wsgi_https",
    )

    def __init__(self, config: Mapping[str, Any]) -> None:
        pairs: list[tuple[str, str]] = []
        if config.get("CONTENT_TYPE_NOSNIFF", True):
            pairs.append(("x-content-type-options", "nosniff"))
        referrer = _text(config, "REFERRER_POLICY")
        if referrer:
            pairs.append(("referrer-policy", referrer))
        frame = config.get("X_FRAME_OPTIONS")
        frame_ancestors = None
        if frame:
            frame_ancestors = (
                _FRAME_ANCESTORS.get(frame.upper()) if isinstance(frame, str) else None
            )
            if frame_ancestors is None:
                raise _fail("X_FRAME_OPTIONS", frame, "'DENY', 'SAMEORIGIN' or None")
            pairs.append(("x-frame-options", frame.upper()))
        coop = _text(config, "CROSS_ORIGIN_OPENER_POLICY")
        if coop:
            pairs.append(("cross-origin-opener-policy", coop))
        csp = config.get("CSP")
        self.csp_parts: tuple[str, ...] | None = None
        self.csp_index = -1
        self.csp_name = b""
        if csp is not None and csp != "":
            policy, self.csp_parts = csp_policy(csp, frame_ancestors)
            if policy:
                report_only = config.get("CSP_REPORT_ONLY")
                name = "content-security-policy" + (
                    "-report-only" if report_only else ""
                )
                self.csp_index = len(pairs)
                self.csp_name = name.encode("latin-1")
                pairs.append((name, policy))
            else:
                self.csp_parts = None
        seconds = config.get("HSTS_SECONDS")
        if isinstance(seconds, str) and seconds.strip().isdigit():
            seconds = int(seconds)
        if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds < 0:
            raise _fail("HSTS_SECONDS", seconds, "a whole number of seconds >= 0")
        secure = list(pairs)  # over HTTPS: the same and HSTS
        if seconds:
            hsts = f"max-age={seconds}"
            if config.get("HSTS_INCLUDE_SUBDOMAINS"):
                hsts += "; includeSubDomains"
            if config.get("HSTS_PRELOAD"):
                hsts += "; preload"
            secure.append(("strict-transport-security", hsts))
        #: Whether requests over HTTPS get more headers (HSTS).
        self.hsts = bool(seconds)
        # PERF: each form a response may need, made now: bytes pairs (ASGI, and
        # responses with headers of their own) and str pairs (WSGI).
        self.http = tuple(_encode(p) for p in pairs)
        self.https = tuple(_encode(p) for p in secure)
        self.wsgi_http = tuple(pairs)
        self.wsgi_https = tuple(secure)
        self.names = frozenset(name for name, _ in self.https)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> SecurityHeaders | None:
        """The headers the settings ask for, or None when ``SECURITY_HEADERS`` is
        off (or none is left)."""
        if not config.get("SECURITY_HEADERS", True):
            return None
        made = cls(config)
        return made if made.https else None

    def pairs(self, https: bool, nonce: str | None = None) -> list[tuple[bytes, bytes]]:
        """The header pairs (``bytes``) for a request over HTTPS or not, with the
        nonce it read (or None)."""
        pairs = list(self.https if https else self.http)
        if nonce is not None and self.csp_parts is not None:
            value = ("'nonce-" + nonce + "'").join(self.csp_parts)
            pairs[self.csp_index] = (self.csp_name, value.encode("latin-1"))
        return pairs

    def wsgi_pairs(
        self, https: bool, nonce: str | None = None
    ) -> list[tuple[str, str]]:
        """:meth:`pairs` as ``str`` pairs, for :meth:`Response.wsgi`."""
        pairs = list(self.wsgi_https if https else self.wsgi_http)
        if nonce is not None and self.csp_parts is not None:
            value = ("'nonce-" + nonce + "'").join(self.csp_parts)
            pairs[self.csp_index] = (self.csp_name.decode("latin-1"), value)
        return pairs

    def add_asgi(self, request: Request, response: Response, scope: Scope) -> None:
        """:meth:`add`, for an ASGI request (the fast path is inlined in
        ``kettle._asgi``)."""
        https = scope.get("scheme") == "https"
        raw = response._raw
        if raw is not None and CSP_NONCE_KEY not in scope:
            names = self.names
            for name, _ in raw:  # PERF: missing_from() inlined
                if name in names:
                    break
            else:  # none of them: the common case
                raw.extend(self.https if https else self.http)
                return
        self.add(response, https, request._csp_nonce)

    def missing_from(self, raw: list[tuple[bytes, bytes]]) -> bool:
        """Whether none of the headers is in ``raw`` (a response's header pairs):
        then they can be added as they are (PERF: the common case)."""
        names = self.names
        for name, _ in raw:
            if name in names:
                return False
        return True

    def add(self, response: Response, https: bool, nonce: str | None = None) -> None:
        """Add the headers to ``response`` (but none whose name it has already),
        for a request over HTTPS or not, with the nonce it read (or None)."""
        if nonce is None or self.csp_parts is None:
            pairs: Sequence[tuple[bytes, bytes]] = self.https if https else self.http
        else:
            pairs = self.pairs(https, nonce)
        add_missing_headers(response.raw_headers, pairs)


def _encode(pair: tuple[str, str]) -> tuple[bytes, bytes]:
    return pair[0].encode("latin-1"), pair[1].encode("latin-1")


class _CSPNonce:
    """The template global ``csp_nonce``: the current request's nonce, made when
    first read (``<script nonce="{{ csp_nonce }}">``); empty outside a request."""

    __slots__ = ()

    def __str__(self) -> str:
        from .context import request_var

        current = request_var.get(None)
        return "" if current is None else str(current.csp_nonce)

    def __html__(self) -> str:
        return str(self)  # base64url: nothing to escape

    def __call__(self) -> str:
        return str(self)

    def __repr__(self) -> str:
        return "<csp_nonce>"


#: The template global ``csp_nonce`` (also callable: ``csp_nonce()``).
csp_nonce = _CSPNonce()


# -- the Host check and the HTTPS redirect --------------------------------------------


def host_name(value: str) -> str | None:
    """The host of a ``Host`` header value: lower-cased, without port, brackets or
    trailing dot; None when the value is not a valid host."""
    value = value.strip().lower()
    match = _HOST.fullmatch(value)
    if match is None:
        return None
    name = match.group(1)
    if name.startswith("["):
        name = name[1:-1]
        return name if ":" in name else None
    name = name[:-1] if name.endswith(".") else name
    return name if _NAME.fullmatch(name) else None


def _allowed_entries(value: object) -> list[str]:
    if isinstance(value, str):  # from the environment: "example.com,.example.org"
        return [item.strip() for item in value.split(",") if item.strip()]
    if not isinstance(value, list | tuple | set | frozenset):
        raise _fail("ALLOWED_HOSTS", value, "a list of host names")
    return list(value)


class HostGate:
    """The checks made before routing: the request's host must be allowed
    (``ALLOWED_HOSTS``), and, with ``HTTPS_REDIRECT``, plain HTTP requests are
    redirected to HTTPS.

    Args:
        allowed_hosts: The ``ALLOWED_HOSTS`` entries: ``"*"`` (any host), a name
            or address (``"example.com"``, ``"::1"``), or ``".example.com"`` for
            the domain and its subdomains. Empty: :data:`LOCAL_HOSTS` only.
        check_hosts: Whether to check hosts at all.
        https_redirect: Whether to redirect plain HTTP requests to HTTPS.

    Raises:
        ImproperlyConfigured: An entry is not a host name, address or pattern.
    """

    def __init__(
        self,
        allowed_hosts: Iterable[str] | str = (),
        *,
        check_hosts: bool = True,
        https_redirect: bool = False,
    ) -> None:
        entries = _allowed_entries(allowed_hosts)
        exact: set[str] = set()
        suffixes: list[str] = []
        any_host = False
        for entry in entries:
            if not isinstance(entry, str):
                raise _fail("ALLOWED_HOSTS", entries, "a list of strings")
            item = entry.strip().lower()
            if item == "*":
                any_host = True
                continue
            domain = item.startswith(".")
            candidate = item[1:] if domain else item
            if _IPV6.fullmatch(candidate):  # "::1" written without brackets
                candidate = f"[{candidate}]"
            name = host_name(candidate)
            if name is None or _has_port(item) or (domain and ":" in name):
                raise ImproperlyConfigured(
                    f"ALLOWED_HOSTS: {entry!r} is not a host name or address "
                    "(no scheme, port or path); use '.example.com' for a domain "
                    "and its subdomains, '*' for any host"
                )
            exact.add(name)
            if domain:
                suffixes.append("." + name)
        #: Whether the host is checked (False: any host, or the check is off).
        self.check_hosts = check_hosts and not any_host
        self.https_redirect = https_redirect
        self.exact = frozenset(exact or (() if suffixes else LOCAL_HOSTS))
        self.suffixes = tuple(suffixes)
        # {raw Host value: allowed?}, bounded: values past the limit are checked
        # every time, so a client sending many hosts cannot fill the memory.
        self._verdicts: dict[str | bytes, bool] = {}
        #: Keys of requests known to name an allowed host, which the app's
        #: dispatchers look up themselves (PERF: no call): the ASGI ``Host``
        #: header pair, when it comes first (as clients send it), or the WSGI
        #: ``HTTP_HOST``; not for a host a middleware set. Bounded like the
        #: verdicts. It stays empty with ``HTTPS_REDIRECT``: every request
        #: needs :meth:`check` then.
        self.fast_path: dict[Any, bool] = {}
        self._fill_fast_path = self.check_hosts and not https_redirect
        #: Paths answered whatever their host and scheme: the health endpoints,
        #: which load balancers probe by IP address over plain HTTP.
        self.exempt_paths: frozenset[str] = frozenset()

    @classmethod
    def from_config(cls, config: Config) -> HostGate | None:
        """The gate an app's settings ask for; None when there is nothing to do
        (``DEBUG`` on, or any host allowed and no HTTPS redirect)."""
        if config.get("DEBUG"):
            return None
        gate = cls(
            config.get("ALLOWED_HOSTS") or (),
            https_redirect=bool(config.get("HTTPS_REDIRECT")),
        )
        return gate if gate.check_hosts or gate.https_redirect else None

    def is_allowed(self, name: str) -> bool:
        """Whether ``name`` (as :func:`host_name` gives it) is allowed."""
        return name in self.exact or (
            bool(self.suffixes) and name.endswith(self.suffixes)
        )

    def check(self, request: Request) -> Response | None:
        """A 400 for a host that is not allowed, a redirect to HTTPS, or None.

        The app's dispatchers call it unless the request's key is in
        :attr:`fast_path`.
        """
        if (
            self.exempt_paths
            and request.path in self.exempt_paths
            and request.method in ("GET", "HEAD")
        ):
            return None  # Kettle's probes; other methods reach the app's routes
        if self.check_hosts:
            host: str | bytes | None = request.host_override
            if host is None:
                environ = request.environ
                if environ is None:
                    for name, value in request.scope["headers"]:  # type: ignore[index]
                        if name == b"host":
                            host = value
                            break
                else:
                    host = environ.get("HTTP_HOST")
            allowed = None if host is None else self._verdicts.get(host)
            if allowed is None:
                allowed = self._judge(request, host)
            if not allowed:
                return self._refuse(request, host)
            if (
                self._fill_fast_path
                and request.host_override is None
                and len(self.fast_path) < HOST_CACHE_SIZE
            ):
                self._remember(request)
        if self.https_redirect and request.scheme != "https":
            return self._redirect(request)
        return None

    def _remember(self, request: Request) -> None:
        """Put the key of ``request`` (allowed) in :attr:`fast_path`: its first
        ASGI header pair if that is ``Host`` (usually), or its WSGI ``HTTP_HOST``."""
        environ = request.environ
        if environ is not None:
            key: Any = environ.get("HTTP_HOST")
        else:
            headers = request.scope["headers"]  # type: ignore[index]
            key = headers[0] if headers and headers[0][0] == b"host" else None
        if key is not None:
            try:
                self.fast_path[key] = True
            except TypeError:  # a list, not a tuple: fine, but not a key
                pass

    def allows(self, conn: HTTPConnection) -> bool:
        """Whether the host of ``conn`` (a request or a WebSocket) is allowed."""
        if not self.check_hosts:
            return True
        host = conn.host_override or conn.headers.get("host")
        allowed = None if host is None else self._verdicts.get(host)
        return self._judge(conn, host) if allowed is None else allowed

    def _judge(self, conn: HTTPConnection, host: str | bytes | None) -> bool:
        if host is None:
            # No Host header (HTTP/1.0): the server's address, as request.host has.
            server = conn.server
            name = host_name(_bracket(server[0])) if server else "localhost"
            return name is not None and self.is_allowed(name)
        text = host.decode("latin-1") if isinstance(host, bytes) else host
        name = host_name(text)
        allowed = name is not None and self.is_allowed(name)
        if len(self._verdicts) < HOST_CACHE_SIZE:
            self._verdicts[host] = allowed
        return allowed

    def _refuse(self, conn: HTTPConnection, host: str | bytes | None) -> Response:
        if host is None:
            message = "Missing Host header, and the server's address is not allowed."
            return PlainTextResponse(message, 400)
        text = host.decode("latin-1") if isinstance(host, bytes) else host
        shown = repr(text if len(text) <= 100 else text[:100] + "...")
        if host_name(text) is None:
            message = f"Invalid Host header: {shown}."
        else:
            message = f"Invalid Host header: {shown}. Add it to ALLOWED_HOSTS."
        return PlainTextResponse(message, 400)

    def _redirect(self, request: Request) -> Response:
        from .app import _location

        try:
            host = request.host
        except HTTPException:  # malformed (only when any host is allowed)
            return PlainTextResponse("Invalid Host header.", 400)
        if host.endswith(":80"):
            host = host[:-3]
        url = "https://" + host + _location(request, request.path)
        status = 301 if request.method in ("GET", "HEAD") else 308
        return RedirectResponse(url, status)


def _bracket(address: str) -> str:
    return f"[{address}]" if ":" in address else address


def _has_port(entry: str) -> bool:
    """Whether an ``ALLOWED_HOSTS`` entry names a port (``example.com:8000``)."""
    if entry.startswith("["):
        return "]:" in entry
    return ":" in entry and not _IPV6.fullmatch(entry)


# -- safe redirect targets ------------------------------------------------------------

# Characters browsers drop or act on inside URLs: C0 and C1 controls and DEL.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _split(url: str) -> SplitResult | None:
    try:
        return urlsplit(url)
    except ValueError:  # an invalid IPv6 address, a bad port
        return None


def is_safe_url(
    url: str | None,
    request_or_host: HTTPConnection | str | None = None,
    *,
    allowed_hosts: Iterable[str] | None = None,
    require_https: bool = False,
) -> bool:
    """Whether redirecting to ``url`` keeps the user on this site.

    Relative URLs (``/account``, ``page?x=1``, ``#top``) are safe. Absolute ones
    (``https://example.com/``, ``//example.com/``) are safe when their host is the
    request's (or ``request_or_host``, a ``Host`` value such as
    ``"example.com:8000"``) or one of ``allowed_hosts``, and their scheme is
    ``http`` or ``https``. Refused: other hosts, other schemes (``javascript:``,
    ``data:``), backslashes (``/\\evil.com``), control characters and leading
    whitespace (which browsers drop, or act on), user names in the host, and
    ``http:`` URLs when ``require_https`` is set, or when the request came over
    HTTPS.

    Args:
        url: The URL, typically a ``next`` parameter from the client.
        request_or_host: The current request, or the host URLs may point to.
        allowed_hosts: Other hosts absolute URLs may point to (with their port,
            if not the default one).
        require_https: Refuse absolute ``http:`` URLs.
    """
    if not isinstance(url, str) or not url or _category(url[0])[0] in "CZ":
        return False  # leading whitespace, controls and invisible characters
    if _CONTROL.search(url) or "\\" in url or url.startswith("///"):
        return False
    hosts = {h.lower() for h in allowed_hosts or ()}
    if isinstance(request_or_host, str):
        hosts.add(request_or_host.lower())
    elif request_or_host is not None:
        if request_or_host.scheme in ("https", "wss"):
            require_https = True
        try:
            hosts.add(request_or_host.host.lower())
        except HTTPException:  # a malformed Host header: no host is the request's
            pass
    parts = _split(url)
    if parts is None:
        return False
    scheme = parts.scheme
    netloc = parts.netloc
    if not netloc:
        # "http:evil.com" has a scheme but no host: browsers may read it as
        # "http://evil.com" (from an https page); "mailto:", "javascript:"...
        return not scheme and not url.startswith("//")
    if scheme and scheme not in ("http", "https"):
        return False
    if require_https and scheme == "http":
        return False
    if "@" in netloc:
        return False
    return netloc.lower() in hosts


def safe_next(request: Request, default: str = "/", *, field: str = "next") -> str:
    """The redirect target the client asked for in ``next`` (the query string,
    then the form), if :func:`is_safe_url` says it is safe, else ``default``.

    The form is read when it is a POST form and has not been read yet, from sync
    code only: in an ``async def`` handler, ``await request.form()`` first.
    """
    candidate = request.query.get(field)
    if candidate is None:
        form = request._form
        if (
            form is None
            and request.method not in ("GET", "HEAD")
            and request.content_type
            in ("application/x-www-form-urlencoded", "multipart/form-data")
        ):
            try:
                form = request.get_form()
            except RuntimeError:  # from async code: the form was not read
                form = None
        value = form.get(field) if form is not None else None
        candidate = value if isinstance(value, str) else None
    if candidate is not None and is_safe_url(candidate, request):
        return candidate
    return default


# -- checks ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Issue:
    """A problem found by ``kettle check``: an id (``security.W001``), what is
    wrong, and how to fix it."""

    id: str
    message: str
    hint: str

    def __str__(self) -> str:
        return f"{self.id}: {self.message} Fix: {self.hint}"


Check = Callable[["Kettle"], Iterable[Issue]]

_INSECURE_PREFIXES = (
    "dev",
    "change-me",
    "changeme",
    "change_me",
    "insecure",
    "django-insecure",
    "replace-me",
    "secret",
    "test",
    "example",
)
_KEY_HINT = (
    "use 50 or more random characters from the environment, e.g. "
    "KETTLE_SECRET_KEY=$(python -c 'import secrets; print(secrets.token_urlsafe(50))')"
)


def weak_secret(key: object) -> str | None:
    """Why ``key`` is too weak to sign with, or None when it is fine."""
    if isinstance(key, bytes):
        key = key.decode("latin-1")
    if not isinstance(key, str) or not key:
        return "is missing"
    if len(key) < 50:
        return f"is {len(key)} characters long (fewer than 50)"
    if len(set(key)) < 5:
        return f"has {len(set(key))} distinct characters (fewer than 5)"
    lowered = key.lower()
    for prefix in _INSECURE_PREFIXES:
        if lowered.startswith(prefix):
            return f"starts with {prefix!r}, like a placeholder"
    return None


def _config_errors(app: Kettle) -> Iterable[Issue]:
    """Settings the app cannot start with."""
    try:
        SecurityHeaders.from_config(app.config)
        HostGate.from_config(app.config)
        app.setup()
    except ImproperlyConfigured as exc:
        yield Issue(
            "kettle.E001",
            f"The app cannot start: {exc}.",
            "correct the setting it names.",
        )


def _security_settings(app: Kettle) -> Iterable[Issue]:
    cfg = app.config
    if cfg.get("DEBUG"):
        yield Issue(
            "security.W001",
            "DEBUG is on: error pages show tracebacks, and any host is allowed.",
            "set DEBUG = False in production (kettle serve sets KETTLE_DEBUG=0).",
        )
    reason = weak_secret(cfg.get("SECRET_KEY"))
    if reason is not None:
        yield Issue(
            "security.W002",
            f"SECRET_KEY {reason}: signed sessions and tokens can be forged.",
            _KEY_HINT + ".",
        )
    fallbacks = cfg.get("SECRET_KEY_FALLBACKS") or []
    if isinstance(fallbacks, str | bytes):
        fallbacks = [fallbacks]
    for index, key in enumerate(fallbacks):
        reason = weak_secret(key)
        if reason is not None:
            yield Issue(
                "security.W003",
                f"SECRET_KEY_FALLBACKS[{index}] {reason}: data signed with it "
                "can be forged.",
                "remove it once it is no longer needed, or replace it with a "
                "strong key.",
            )
    hosts = cfg.get("ALLOWED_HOSTS") or []
    entries = _allowed_entries(hosts) if hosts else []
    if not entries:
        yield Issue(
            "security.W004",
            "ALLOWED_HOSTS is empty: only localhost is served.",
            "list the site's host names: ALLOWED_HOSTS = ['example.com'].",
        )
    elif "*" in [e.strip() if isinstance(e, str) else e for e in entries]:
        yield Issue(
            "security.W005",
            "ALLOWED_HOSTS contains '*': any Host header is accepted, so links "
            "built from it (password resets) can point to another site.",
            "list the site's host names instead of '*'.",
        )
    if cfg.get("SESSION_COOKIE_SECURE") is not True:
        yield Issue(
            "security.W006",
            "SESSION_COOKIE_SECURE is not True: the session cookie may be sent "
            "over plain HTTP.",
            "set SESSION_COOKIE_SECURE = True.",
        )
    if not cfg.get("COOKIE_SECURE"):
        yield Issue(
            "security.W007",
            "COOKIE_SECURE is False: cookies are marked Secure only on requests "
            "that Kettle sees as HTTPS.",
            "set COOKIE_SECURE = True when the site is served over HTTPS only.",
        )
    if not cfg.get("CSRF_ENABLED", True):
        yield Issue(
            "security.W008",
            "CSRF_ENABLED is False: forms can be submitted from other sites.",
            "set CSRF_ENABLED = True (exempt single routes with @csrf_exempt).",
        )


def _header_settings(app: Kettle) -> Iterable[Issue]:
    cfg = app.config
    if not cfg.get("SECURITY_HEADERS", True):
        yield Issue(
            "security.W009",
            "SECURITY_HEADERS is False: no security headers are sent.",
            "set SECURITY_HEADERS = True.",
        )
        return  # the settings below have no effect
    if not cfg.get("HSTS_SECONDS"):
        yield Issue(
            "security.W010",
            "HSTS_SECONDS is 0: browsers may go to the site over plain HTTP.",
            "set HSTS_SECONDS = 31536000 (one year) once the site is HTTPS only.",
        )
    if not cfg.get("HTTPS_REDIRECT"):
        yield Issue(
            "security.W011",
            "HTTPS_REDIRECT is False: plain HTTP requests are answered.",
            "set HTTPS_REDIRECT = True (behind a proxy, with "
            "ProxyHeadersMiddleware), or redirect at the proxy and ignore this.",
        )
    if cfg.get("CSP") is None or cfg.get("CSP") == "":
        yield Issue(
            "security.W012",
            "CSP is None: no Content-Security-Policy limits what pages load.",
            "set CSP to a dict of directives (kettle.security.DEFAULT_CSP).",
        )
    elif cfg.get("CSP_REPORT_ONLY"):
        yield Issue(
            "security.W013",
            "CSP_REPORT_ONLY is True: the policy is reported, not enforced.",
            "set CSP_REPORT_ONLY = False once the policy causes no reports.",
        )
    if not cfg.get("X_FRAME_OPTIONS"):
        yield Issue(
            "security.W014",
            "X_FRAME_OPTIONS is None: other sites may frame the pages "
            "(clickjacking) in browsers without CSP frame-ancestors.",
            "set X_FRAME_OPTIONS = 'DENY' (or 'SAMEORIGIN').",
        )
    if not cfg.get("CONTENT_TYPE_NOSNIFF", True):
        yield Issue(
            "security.W015",
            "CONTENT_TYPE_NOSNIFF is False: browsers may guess content types.",
            "set CONTENT_TYPE_NOSNIFF = True.",
        )


#: The checks of ``kettle check``: functions ``check(app)`` returning
#: :class:`Issue` s. Batteries append theirs.
CHECKS: list[Check] = [_config_errors]


def _operations_settings(app: Kettle) -> Iterable[Issue]:
    from .operations import deploy_issues

    return deploy_issues(app)


#: The checks ``kettle check --deploy`` adds: settings a production deployment
#: needs. Batteries append theirs.
DEPLOY_CHECKS: list[Check] = [
    _security_settings,
    _header_settings,
    _operations_settings,
]


def check_app(app: Kettle, *, deploy: bool = False) -> list[Issue]:
    """Run :data:`CHECKS` (and :data:`DEPLOY_CHECKS` when ``deploy``) on ``app``."""
    issues: list[Issue] = []
    for check in [*CHECKS, *(DEPLOY_CHECKS if deploy else ())]:
        issues.extend(check(app))
    return issues


def deploy_checks(app: Kettle) -> list[Issue]:
    """The issues ``kettle check --deploy`` reports for ``app``."""
    return check_app(app, deploy=True)
