"""Cross-site request forgery (CSRF) protection, on for every unsafe method.

A request with the method POST, PUT, PATCH or DELETE to a route that is not
:func:`csrf_exempt` is refused with 403 (a page saying why) when:

1. its ``Origin`` header (or, without one, the origin of its ``Referer``) is
   neither the request's own (scheme, host and port) nor one of
   ``CSRF_TRUSTED_ORIGINS``; ``Origin: null`` is refused too; or
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
    from .requests import Request

__all__ = ("CSRFError", "csrf_exempt", "csrf_input", "csrf_token")

F = TypeVar("F")

SAFE_METHODS = frozenset(("GET", "HEAD", "OPTIONS", "TRACE"))
_SESSION_KEY = "_csrf"  # where the session keeps the secret
_SECRET_BYTES = 32
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


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
        self.trusted = frozenset(
            origin.rstrip("/").lower()
            for origin in cfg.get("CSRF_TRUSTED_ORIGINS") or ()
        )
        self.field: str = cfg["CSRF_FIELD_NAME"]
        self.header: str = cfg["CSRF_HEADER_NAME"].lower()

    def origin_error(self, request: Request) -> str | None:
        """Why the request's origin is refused, or None."""
        headers = request.headers
        origin = headers.get("origin")
        if origin is None:
            referer = headers.get("referer")
            if not referer:
                return None
            parts = urlsplit(referer)
            if not parts.scheme or not parts.netloc:
                return f"the Referer {referer!r} is not a URL"
            origin = f"{parts.scheme}://{parts.netloc}"
            what = "the Referer's origin"
        else:
            what = "the Origin"
        own = f"{request.scheme}://{request.host}".lower()
        seen = origin.rstrip("/").lower()
        if seen == own or seen in self.trusted:
            return None
        return (
            f"{what} {origin!r} is not this site ({own}) nor one of "
            "CSRF_TRUSTED_ORIGINS"
        )

    def needs_token(self, request: Request) -> bool:
        """Whether the request carries a browser's credentials (cookies)."""
        return bool(request.headers.get("cookie"))

    def token_error(self, request: Request, form: Any) -> str | None:
        """Why the request's token is refused, or None."""
        token = request.headers.get(self.header)
        if token is None and form is not None:
            value = form.get(self.field)
            token = value if isinstance(value, str) else None
        if not token:
            return (
                f"the token is missing: send it in the form field {self.field!r} "
                "({{ csrf_input() }} in the form) or the "
                f"{self.header!r} header"
            )
        if not _valid(token, _secret(request)):
            return "the token is wrong or from another session (reload the page)"
        return None


def _is_form(request: Request) -> bool:
    ctype = request.headers.get("content-type", "")
    return ctype.split(";", 1)[0].strip().lower() in _FORM_TYPES


def _test_client_pass(request: Request) -> bool:
    """A request of Kettle's test client, which does not enforce the checks
    (a key no server sets, and no client can)."""
    carrier = request.scope if request.scope is not None else request.environ
    return bool(carrier and carrier.get("kettle.skip_csrf"))


def check_sync(request: Request, checks: Checks) -> None:
    """Refuse a forged request (:class:`CSRFError`); from sync code."""
    if _test_client_pass(request):
        return
    reason = checks.origin_error(request)
    if reason is None and checks.needs_token(request):
        form = request.get_form() if _is_form(request) else None
        reason = checks.token_error(request, form)
    if reason is not None:
        raise CSRFError(reason)


async def check_async(request: Request, checks: Checks) -> None:
    """:func:`check_sync` from the event loop (a form body is read on it)."""
    if _test_client_pass(request):
        return
    reason = checks.origin_error(request)
    if reason is None and checks.needs_token(request):
        form = await request.form() if _is_form(request) else None
        reason = checks.token_error(request, form)
    if reason is not None:
        raise CSRFError(reason)


def exempt(handler: Callable[..., Any]) -> bool:
    """Whether a route's handler (or view class) is :func:`csrf_exempt`."""
    return bool(getattr(handler, "kettle_csrf_exempt", False))
