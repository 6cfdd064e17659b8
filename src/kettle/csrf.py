"""Cross-site request forgery (CSRF) protection, on for every unsafe method.

A request with the method POST, PUT, PATCH or DELETE to a route that is not
:func:`csrf_exempt` is refused with 403 (a page saying why) when:

1. its ``Origin`` header (or, without one, the origin of its ``Referer``) is
   neither the request's own (scheme, host and port) nor one of
   ``CSRF_TRUSTED_ORIGINS``; ``Origin: null`` is refused too. This applies to a
   request with cookies, and to one whose body a page of another site could
   send without the browser asking the server first (a form's types, text, or
   none); other bodies (JSON) are preflighted, and CORS decides; or
2. it carries cookies (a browser's credentials, which a forged request would
   carry too) and no valid token: the form field ``csrf_token`` (put in forms by
   ``{{ csrf_input() }}``), or the ``X-CSRF-Token`` header (for ``fetch`` and
   htmx: ``{{ csrf_token() }}``).

Browsers send ``Origin`` with every cross-site POST, so a forged request fails
the first check even from a browser holding no cookie (a forged login). A
request with neither cookies nor ``Origin``/``Referer`` is no browser's: an API
client, a webhook, a test; it passes.

The token is the session's secret (``session["_csrf"]``, made on first use),
masked with fresh random bytes each time it is written into a page, so pages
never carry the same bytes (against BREACH-style compression attacks). It is
compared in constant time. ``session.rotate()`` (at login and logout) replaces
the secret.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
import secrets
from collections.abc import Callable
from typing import TYPE_CHECKING
from typing import Any
from typing import TypeVar
from urllib.parse import urlsplit

from .exceptions import HTTPException

if TYPE_CHECKING:
    from markupsafe import Markup

    from .app import Kettle
    from .requests import HTTPConnection
    from .requests import Request

__all__ = ("CSRFError", "csrf_exempt", "csrf_input", "csrf_token")

F = TypeVar("F")

SAFE_METHODS = frozenset(("GET", "HEAD", "OPTIONS", "TRACE"))
_SESSION_KEY = "_csrf"  # where the session keeps the secret
_SECRET_BYTES = 32
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
#: A WebSocket's scheme, as the scheme of the site its page came from.
_SITE_SCHEMES = {"ws": "http", "wss": "https"}


class CSRFError(HTTPException):
    """A request refused by the CSRF checks (403)."""

    def __init__(self, reason: str) -> None:
        super().__init__(403, detail=f"CSRF check failed: {reason}")
        self.reason = reason


def csrf_exempt(handler: F) -> F:
    """Leave a handler (or a :class:`~kettle.View`) out of the CSRF checks: for
    a webhook whose sender proves itself otherwise (a signature header)::

        @app.post("/hooks/payments")
        @csrf_exempt
        def payment_hook(request: Request): ...
    """
    handler.kettle_csrf_exempt = True  # type: ignore[attr-defined]
    return handler


# -- the token ------------------------------------------------------------------------


def _secret(request: Request) -> bytes:
    """The session's CSRF secret, made (and stored) on first use."""
    session = request.session
    stored = session.get(_SESSION_KEY)
    raw = _decode(stored) if isinstance(stored, str) else None
    if raw is None or len(raw) != _SECRET_BYTES:
        raw = secrets.token_bytes(_SECRET_BYTES)
        session[_SESSION_KEY] = _encode(raw)
    return raw


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _decode(text: str) -> bytes | None:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None


def csrf_token() -> str:
    """A token for the current request's session, to send back in the form field
    ``csrf_token`` or the ``X-CSRF-Token`` header. Also a template global."""
    from .context import request

    conn = request._get_current_object()  # type: ignore[attr-defined]
    secret = _secret(conn)
    mask = secrets.token_bytes(_SECRET_BYTES)
    return _encode(mask + bytes(a ^ b for a, b in zip(secret, mask, strict=True)))


def csrf_input() -> Markup:
    """The hidden form field holding :func:`csrf_token` (a template global:
    ``{{ csrf_input() }}`` inside each ``<form method="post">``)."""
    from markupsafe import Markup
    from markupsafe import escape

    from .context import current_app

    name = escape(current_app.config["CSRF_FIELD_NAME"])
    value = escape(csrf_token())
    html = f'<input type="hidden" name="{name}" value="{value}">'
    return Markup(html)  # noqa: S704 - name and value are escaped


#: A token as :func:`csrf_token` writes it: 64 bytes in unpadded base64url.
_TOKEN_TEXT = re.compile(r"(?<![\w-])[\w-]{86}(?![\w-])", re.ASCII)


def holds_token(conn: HTTPConnection, text: str) -> bool:
    """Whether ``text`` (rendered HTML) holds a valid token of ``conn``'s
    session: such text must not be cached for other visitors."""
    session = conn._session  # a token was made: the session is open
    if session is None:
        return False
    stored = session.get(_SESSION_KEY)
    secret = _decode(stored) if isinstance(stored, str) else None
    if not secret:
        return False
    return any(_valid(found, secret) for found in _TOKEN_TEXT.findall(text))


def _valid(token: str, secret: bytes) -> bool:
    raw = _decode(token)
    if raw is None or len(raw) != 2 * _SECRET_BYTES:
        return False
    mask, masked = raw[:_SECRET_BYTES], raw[_SECRET_BYTES:]
    unmasked = bytes(a ^ b for a, b in zip(masked, mask, strict=True))
    return hmac.compare_digest(unmasked, secret)


# -- the checks -----------------------------------------------------------------------


class Checks:
    """An app's CSRF settings, read once (at start-up)."""

    def __init__(self, app: Kettle) -> None:
        cfg = app.config
        self.enabled = bool(cfg.get("CSRF_ENABLED", True))
        origins = cfg.get("CSRF_TRUSTED_ORIGINS") or ()
        self.trusted = frozenset(_normal(origin.rstrip("/")) for origin in origins)
        self.field: str = cfg["CSRF_FIELD_NAME"]
        self.header: str = cfg["CSRF_HEADER_NAME"].lower()
        self.header_bytes = self.header.encode("latin-1")
        self.environ_key = _environ_key(self.header)

    def origin_error(
        self, request: HTTPConnection, origin: str | None, referer: str | None
    ) -> str | None:
        """Why the request's origin (its ``Origin``, or its ``Referer``'s) is
        refused, or None. A WebSocket's own origin is its site's (``wss`` is
        ``https``)."""
        if origin is None:
            if not referer:
                return None
            parts = urlsplit(referer)
            if not parts.scheme or not parts.netloc:
                return f"the Referer {referer!r} is not a URL"
            origin = f"{parts.scheme}://{parts.netloc}"
            what = "the Referer's origin"
        else:
            what = "the Origin"
        scheme = _SITE_SCHEMES.get(request.scheme, request.scheme)
        own = _normal(f"{scheme}://{request.host}")
        seen = _normal(origin.rstrip("/"))
        if seen == own or seen in self.trusted:
            return None
        return (
            f"{what} {origin!r} is not this site ({own}) nor one of "
            "CSRF_TRUSTED_ORIGINS"
        )

    def token_error(self, request: Request, token: str | None) -> str | None:
        """Why the request's token is refused, or None."""
        if not token:
            return (
                f"the token is missing: send it in the form field {self.field!r} "
                "({{ csrf_input() }} in the form) or the "
                f"{self.header!r} header"
            )
        if not _valid(token, _secret(request)):
            return "the token is wrong or from another session (reload the page)"
        return None


_DEFAULT_PORTS = {"http": ":80", "https": ":443"}


def _normal(origin: str) -> str:
    """An origin lower-cased, without its scheme's default port."""
    origin = origin.lower()
    scheme = origin.partition("://")[0]
    port = _DEFAULT_PORTS.get(scheme)
    if port is not None and origin.endswith(port):
        return origin[: -len(port)]
    return origin


def _environ_key(name: str) -> str:
    key = name.upper().replace("-", "_")
    return key if key == "CONTENT_TYPE" else f"HTTP_{key}"


def _is_form(ctype: str | None) -> bool:
    return (ctype or "").split(";", 1)[0].strip().lower() in _FORM_TYPES


def _simple(ctype: str | None) -> bool:
    """Whether a page of another site could send a body of this type without
    asking the server first (a form's types, or text): anything else is
    preflighted by the browser, and the app's CORS policy decides."""
    kind = (ctype or "").split(";", 1)[0].strip().lower()
    return not kind or kind in _FORM_TYPES or kind == "text/plain"


#: The request headers the checks read (and the token's, added per app).
_ASGI_NAMES: dict[bytes, str | None] = dict.fromkeys(
    (b"cookie", b"content-type", b"origin", b"referer", b"authorization")
)


def check_headers(request: Request, checks: Checks) -> bool:
    """The checks a request's headers settle (raising :class:`CSRFError`);
    True when the token is still to be read from the form body
    (:func:`check_form` or :func:`check_form_async`).

    PERF: on every unsafe request; the headers are read in one pass."""
    cookie = ctype = origin = referer = token = authorization = None
    environ = request.environ
    if environ is not None:
        if environ.get("kettle.skip_csrf"):
            return False
        cookie = environ.get("HTTP_COOKIE")
        ctype = environ.get("CONTENT_TYPE")
        origin = environ.get("HTTP_ORIGIN")
        referer = environ.get("HTTP_REFERER")
        token = environ.get(checks.environ_key)
        authorization = environ.get("HTTP_AUTHORIZATION")
    else:
        scope = request.scope
        if scope is not None and scope.get("kettle.skip_csrf"):
            return False
        found = _ASGI_NAMES.copy()
        found[checks.header_bytes] = None
        for name, value in request.raw_headers:
            if name in found:
                found[name] = value.decode("latin-1")
        cookie = found[b"cookie"]
        ctype = found[b"content-type"]
        origin = found[b"origin"]
        referer = found[b"referer"]
        authorization = found[b"authorization"]
        token = found[checks.header_bytes]
    if (origin is not None or referer is not None) and _unasked(
        cookie, ctype, authorization
    ):
        reason = checks.origin_error(request, origin, referer)
        if reason is not None:
            raise CSRFError(reason)
    if not cookie:
        return False
    if token is not None:
        _check_token(request, checks, token)
        return False
    if _is_form(ctype):
        return True
    _check_token(request, checks, None)
    return False


#: ``Authorization`` schemes a browser may add by itself (HTTP authentication
#: it remembers): ambient credentials, like cookies.
_AMBIENT_SCHEMES = frozenset(("basic", "digest", "negotiate", "ntlm"))


def _unasked(cookie: str | None, ctype: str | None, authorization: str | None) -> bool:
    """Whether another site's page could have sent this request without the
    browser asking first (and so the Origin check is CSRF's to make): it
    carries cookies, or it is a simple request (no preflight)."""
    return bool(cookie) or (_simple(ctype) and not _preflighted(authorization))


def _preflighted(authorization: str | None) -> bool:
    """Whether a browser would have asked first (a CORS preflight) before
    sending this ``Authorization`` header to another site: a token its page's
    code set (``Bearer``, ``Token``), not credentials the browser adds."""
    if not authorization:
        return False
    scheme = authorization.split(None, 1)[0].lower()
    return scheme not in _AMBIENT_SCHEMES


def websocket_origin_error(conn: HTTPConnection, checks: Checks) -> str | None:
    """Why a WebSocket handshake is refused, or None: one that carries cookies
    from a page of another site (its ``Origin``, which browsers always send
    with a WebSocket) would act with the user's session (cross-site WebSocket
    hijacking). Trusted: the socket's own site and ``CSRF_TRUSTED_ORIGINS``."""
    origin = None
    cookie = False
    for name, value in conn.raw_headers:
        if name == b"origin":
            origin = value.decode("latin-1")
        elif name == b"cookie":
            cookie = True
    if origin is None or not cookie:
        return None
    try:
        return checks.origin_error(conn, origin, None)
    except HTTPException:
        return "the Host header is not valid"


def _check_token(request: Request, checks: Checks, token: Any) -> None:
    reason = checks.token_error(request, token if isinstance(token, str) else None)
    if reason is not None:
        raise CSRFError(reason)


def _urlencoded(request: Request) -> bool:
    ctype: str = request.headers.get("content-type") or ""
    return ctype.split(";", 1)[0].strip().lower() == _FORM_TYPES[0]


def check_form(request: Request, checks: Checks) -> None:
    """The token of a form body, from sync code. An urlencoded body is read
    whole first (it is small: ``MAX_BODY_SIZE``), so the handler can still read
    it raw as well as parsed."""
    if _urlencoded(request):
        request.get_body()
    _check_token(request, checks, request.get_form().get(checks.field))


async def check_form_async(request: Request, checks: Checks) -> None:
    """The token of a form body, read on the event loop (see :func:`check_form`)."""
    if _urlencoded(request):
        await request.body()
    form = await request.form()
    _check_token(request, checks, form.get(checks.field))


def exempt(handler: Callable[..., Any]) -> bool:
    """Whether a route's handler (or view class), or the function it wraps, is
    :func:`csrf_exempt`."""
    return bool(
        getattr(handler, "kettle_csrf_exempt", False)
        or getattr(getattr(handler, "__wrapped__", None), "kettle_csrf_exempt", False)
    )
