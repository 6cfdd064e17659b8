"""Protocol helpers without I/O: cookies, content negotiation, ranges, dates."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING
from typing import Literal

if TYPE_CHECKING:
    from datetime import datetime

# NOTE: email.utils, http.cookies and datetime are imported where used, to keep
# "import kettle" fast.

__all__ = (
    "format_cookie",
    "http_date",
    "parse_cookie_header",
    "parse_http_date",
    "parse_range",
    "prefers_html",
    "status_line",
)

_STATUS_LINES: dict[int, str] = {}


def status_line(status: int) -> str:
    """``200`` -> ``"200 OK"`` (for WSGI), cached."""
    line = _STATUS_LINES.get(status)
    if line is None:
        from http import HTTPStatus

        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "Unknown"
        line = _STATUS_LINES[status] = f"{status} {phrase}"
    return line


def parse_cookie_header(header: str) -> dict[str, str]:
    """Parse a ``Cookie`` request header into a dict (the last value of a name wins).

    Malformed pairs are skipped rather than failing the whole header, as browsers do.
    """
    cookies: dict[str, str] = {}
    for chunk in header.split(";"):
        name, sep, value = chunk.partition("=")
        if not sep:
            continue
        name = name.strip()
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        if name:
            cookies[name] = _unquote(value)
    return cookies


_ESCAPE = re.compile(r"\\(?:([0-3][0-7]{2})|(.))")


def _unescape(match: re.Match[str]) -> str:
    octal, char = match.groups()
    return chr(int(octal, 8)) if octal else char


def _unquote(value: str) -> str:
    """Undo the backslash escapes Python's cookie module writes (linear time)."""
    if "\\" in value:
        return _ESCAPE.sub(_unescape, value)
    return value


SameSite = Literal["lax", "strict", "none"]

_COOKIE_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_ATTRIBUTE_BAD = re.compile(r"[;\x00-\x1f\x7f]")


def check_cookie(
    key: str,
    path: str | None,
    domain: str | None,
    expires: object,
    samesite: str | None,
) -> None:
    """Refuse a cookie that would be malformed or inject attributes.

    Raises:
        ValueError: The name is not a token, an attribute holds ``;`` or a control
            character, or ``samesite`` is not lax/strict/none.
    """
    if _COOKIE_NAME.fullmatch(key) is None:
        raise ValueError(f"invalid cookie name {key!r}")
    for label, text in (("path", path), ("domain", domain), ("expires", expires)):
        if isinstance(text, str) and _ATTRIBUTE_BAD.search(text) is not None:
            raise ValueError(
                f"cookie {key!r}: {label} must not contain ';' or controls"
            )
    if samesite is not None and samesite.lower() not in ("lax", "strict", "none"):
        raise ValueError("samesite must be 'lax', 'strict' or 'none'")


def format_cookie(
    key: str,
    value: str,
    *,
    max_age: int | None = None,
    expires: datetime | str | int | None = None,
    path: str | None = "/",
    domain: str | None = None,
    secure: bool = False,
    httponly: bool = True,
    samesite: SameSite | None = "lax",
    partitioned: bool = False,
) -> str:
    """Format one ``Set-Cookie`` header value."""
    from datetime import datetime
    from http.cookies import SimpleCookie

    cookie: SimpleCookie = SimpleCookie()
    cookie[key] = value
    morsel = cookie[key]
    if max_age is not None:
        morsel["max-age"] = max_age
    if expires is not None:
        if isinstance(expires, datetime):
            morsel["expires"] = http_date(expires.timestamp())
        else:
            morsel["expires"] = expires
    if path is not None:
        morsel["path"] = path
    if domain is not None:
        morsel["domain"] = domain
    if secure:
        morsel["secure"] = True
    if httponly:
        morsel["httponly"] = True
    if samesite is not None:
        if samesite.lower() not in ("lax", "strict", "none"):
            raise ValueError("samesite must be 'lax', 'strict' or 'none'")
        morsel["samesite"] = samesite.capitalize()
    text = morsel.output(header="").strip()
    if partitioned:
        text += "; Partitioned"
    return text


def http_date(timestamp: float) -> str:
    """Format a POSIX timestamp as an HTTP date."""
    import email.utils

    return email.utils.formatdate(timestamp, usegmt=True)


def parse_http_date(value: str) -> float | None:
    """Parse an HTTP date into a POSIX timestamp, or None when malformed."""
    import email.utils
    from datetime import UTC

    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def parse_range(header: str, size: int) -> list[tuple[int, int]] | None:
    """Parse a ``Range: bytes=...`` header against a resource of ``size`` bytes.

    Returns:
        The satisfiable ranges as ``(start, end_exclusive)``; an empty list when none is
        satisfiable (answer 416); None when the header is malformed (ignore it).
    """
    unit, sep, spec = header.partition("=")
    if not sep or unit.strip().lower() != "bytes":
        return None
    ranges: list[tuple[int, int]] = []
    for part in spec.split(","):
        start_text, dash, end_text = part.strip().partition("-")
        start_text, end_text = start_text.strip(), end_text.strip()
        if (
            not dash
            or not _digits(start_text, end_text)
            or not (start_text or end_text)
        ):
            return None
        if not start_text:  # a suffix: the last N bytes
            length = int(end_text)
            if length > 0 and size > 0:
                ranges.append((max(size - length, 0), size))
            continue
        start = int(start_text)
        if end_text and int(end_text) < start:
            return None  # "bytes=5-3" is malformed, not unsatisfiable
        end = int(end_text) + 1 if end_text else size
        if start < size:
            ranges.append((start, min(end, size)))
    return ranges


def _digits(*texts: str) -> bool:
    """Whether each text is empty or plain ASCII digits (no sign, no underscore)."""
    return all(not t or (t.isascii() and t.isdigit()) for t in texts)


def prefers_html(accept: str | None) -> bool:
    """Whether a client sending ``Accept: accept`` wants HTML rather than JSON.

    Browsers ask for ``text/html`` first; API clients send ``application/json``,
    ``*/*`` or nothing.
    """
    if not accept:
        return False
    best_html = best_json = -1.0
    for item in accept.split(","):
        media, _, params = item.strip().partition(";")
        media = media.strip().lower()
        q = 1.0
        for param in params.split(";"):
            k, _, v = param.strip().partition("=")
            if k.strip() == "q":
                try:
                    q = float(v)
                except ValueError:
                    q = 0.0
        if media in ("text/html", "application/xhtml+xml"):
            best_html = max(best_html, q)
        elif media == "application/json" or media.endswith("+json"):
            best_json = max(best_json, q)
    return best_html > 0 and best_html >= best_json


def header_params(value: str) -> tuple[str, Mapping[str, str]]:
    """Split ``text/html; charset=utf-8`` into the value and its parameters."""
    main, *rest = value.split(";")
    params: dict[str, str] = {}
    for item in rest:
        k, _, v = item.strip().partition("=")
        if k:
            params[k.strip().lower()] = v.strip().strip('"')
    return main.strip().lower(), params
