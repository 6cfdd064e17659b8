"""The pure decisions behind :mod:`kettle.files`.

:func:`plan_file_response` turns the request method, the request headers and the
file's ``stat`` into the status, the headers and the byte ranges to send
(conditional requests, ``Range``, ``HEAD``); the helpers here build its validators
and headers, and :func:`resolve_static_path` maps a URL path to a file path. None
of them read or write a file's bytes.
"""

from __future__ import annotations

import mimetypes
import ntpath
import os
import re
import secrets
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote

from ._sansio import http_date
from ._sansio import parse_http_date
from ._sansio import parse_range

#: Returns the value of a request header (case-insensitive name), or None.
HeaderGetter = Callable[[str], str | None]

#: A piece of a response body: literal bytes or a ``(start, end)`` slice of the file.
Segment = bytes | tuple[int, int]

#: More ranges than this in one request are answered with the whole file.
MAX_RANGES = 32

_ETAG = re.compile(r'(?:W/)?"[^"]*"')
# Longer If-Match/If-None-Match values are ignored (no real client sends them).
_MAX_ETAG_HEADER = 8192
_REPRESENTATION = frozenset((b"content-type", b"content-disposition"))
_ENCODING_TYPES = {
    "br": "application/x-brotli",
    "bzip2": "application/x-bzip2",
    "compress": "application/x-compress",
    "gzip": "application/gzip",
    "xz": "application/x-xz",
}


# -- pure helpers ------------------------------------------------------------------


def guess_media_type(name: str) -> str:
    """Guess a ``Content-Type`` from a file name.

    Compressed files (``.gz``, ``.svgz``...) get the type of the compression, since
    they are sent as they are, without a ``Content-Encoding``.

    Args:
        name: A file name or path.

    Returns:
        The media type; ``application/octet-stream`` when unknown.
    """
    media_type, encoding = mimetypes.guess_type(name)
    if encoding is not None:
        return _ENCODING_TYPES.get(encoding, "application/octet-stream")
    return media_type or "application/octet-stream"


def make_etag(stat_result: os.stat_result) -> str:
    """A strong, quoted entity tag from a file's modification time and size.

    Args:
        stat_result: The file's ``stat``.

    Returns:
        For example ``"17c3a5e0b1d2f400-1f4"``.
    """
    mtime_ns = getattr(stat_result, "st_mtime_ns", None)
    if mtime_ns is None:
        mtime_ns = int(stat_result.st_mtime * 1_000_000_000)
    return f'"{mtime_ns:x}-{stat_result.st_size:x}"'


def content_disposition(disposition_type: str, filename: str) -> str:
    """Format a ``Content-Disposition`` header value (RFC 6266).

    Printable ASCII names are sent as a quoted ``filename``; other names also get
    an RFC 5987 ``filename*=utf-8''...`` parameter after an ASCII fallback.

    Args:
        disposition_type: ``"attachment"`` or ``"inline"``.
        filename: The name the client should save the file as.

    Returns:
        The header value.

    Raises:
        ValueError: ``disposition_type`` is not a plain token.
    """
    if not re.fullmatch(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+", disposition_type):
        raise ValueError(f"invalid content disposition type {disposition_type!r}")
    if all(" " <= ch <= "~" for ch in filename):
        return f'{disposition_type}; filename="{_quote_string(filename)}"'
    fallback = unicodedata.normalize("NFKD", filename)
    fallback = "".join(
        ch if " " <= ch <= "~" else "_"
        for ch in fallback
        if not unicodedata.combining(ch)
    )
    encoded = quote(filename, safe="!#$&+-.^_`|~")
    return (
        f'{disposition_type}; filename="{_quote_string(fallback or "download")}"; '
        f"filename*=utf-8''{encoded}"
    )


def _quote_string(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def _entity_tags(value: str) -> list[str] | None:
    """The entity tags of an ``If-Match``/``If-None-Match`` value; None for ``*``."""
    if value.strip() == "*":
        return None
    if len(value) > _MAX_ETAG_HEADER:
        return []
    # NOTE: split first and match each item whole: linear in the header's length.
    return [tag for part in value.split(",") if _ETAG.fullmatch(tag := part.strip())]


def _opaque(tag: str) -> str:
    return tag[2:] if tag.startswith("W/") else tag


def _weak_match(tags: list[str] | None, etag: str) -> bool:
    if tags is None:
        return True
    current = _opaque(etag)
    return any(_opaque(tag) == current for tag in tags)


def _strong_match(tags: list[str] | None, etag: str) -> bool:
    if tags is None:
        return True
    if etag.startswith("W/"):
        return False
    return any(tag == etag for tag in tags)


def _precondition(
    method: str, get_header: HeaderGetter, etag: str, modified: float | None
) -> int | None:
    """Evaluate conditional headers in RFC 9110 (section 13.2.2) order.

    Returns:
        412 or 304 when the request's preconditions say so, else None.
    """
    if_match = get_header("if-match")
    if if_match is not None:
        if not _strong_match(_entity_tags(if_match), etag):
            return 412
    else:
        since = _header_date(get_header("if-unmodified-since"))
        if since is not None and modified is not None and modified > since:
            return 412
    safe = method in ("GET", "HEAD")
    if_none_match = get_header("if-none-match")
    if if_none_match is not None:
        if _weak_match(_entity_tags(if_none_match), etag):
            return 304 if safe else 412
    elif safe:
        since = _header_date(get_header("if-modified-since"))
        if since is not None and modified is not None and modified <= since:
            return 304
    return None


def _header_date(value: str | None) -> float | None:
    return None if value is None else parse_http_date(value)


def _if_range_allows(value: str | None, etag: str, modified: float | None) -> bool:
    """Whether ``If-Range: value`` lets the ``Range`` header apply."""
    if value is None:
        return True
    value = value.strip()
    if value.startswith(('"', "W/")):
        return not value.startswith("W/") and _strong_match([value], etag)
    date = parse_http_date(value)
    return date is not None and modified is not None and date == modified


def _coalesce(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sort ranges and merge the overlapping or adjacent ones (RFC 9110 14.3)."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(ranges):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


@dataclass(frozen=True)
class FilePlan:
    """What to send for a file: decided by :func:`plan_file_response`.

    Attributes:
        status: The status code.
        headers: Headers to add to the response's own.
        drop: Names (lower-case bytes) of the response's own headers to leave out.
        body: The body, in order: literal bytes or ``(start, end)`` file slices.
        whole_file: Whether ``body`` is exactly the whole file.
    """

    status: int
    headers: tuple[tuple[bytes, bytes], ...]
    drop: frozenset[bytes] = frozenset()
    body: tuple[Segment, ...] = ()
    whole_file: bool = False

    @property
    def content_length(self) -> int:
        """The number of body bytes."""
        return _body_length(self.body)

    @property
    def reads_file(self) -> bool:
        """Whether any part of the body comes from the file."""
        return any(not isinstance(part, bytes) for part in self.body)


def _body_length(body: tuple[Segment, ...] | list[Segment]) -> int:
    return sum(
        len(part) if isinstance(part, bytes) else part[1] - part[0] for part in body
    )


def _length(value: int) -> tuple[bytes, bytes]:
    return (b"content-length", str(value).encode("latin-1"))


def plan_file_response(
    method: str,
    get_header: HeaderGetter,
    stat_result: os.stat_result,
    *,
    status_code: int = 200,
    content_type: str = "application/octet-stream",
    etag: str | None = None,
    last_modified: str | None = None,
    boundary: str | None = None,
) -> FilePlan:
    """Decide the status, headers and byte ranges of a file response.

    Pure: it depends only on its arguments (and the random multipart boundary
    unless ``boundary`` is given). Conditional requests and ranges only apply when
    ``status_code`` is 200; a page served with another status (a ``404.html``) is
    always sent whole.

    * ``If-Match`` / ``If-Unmodified-Since`` failing: 412.
    * ``If-None-Match`` matching (weak comparison, ``*``): 304 for GET and HEAD,
      412 otherwise; without it, ``If-Modified-Since`` not older than the file: 304.
    * ``Range`` (GET only; ignored when ``If-Range`` does not match, or when it is
      malformed): one range gives 206 with ``Content-Range``; several give 206
      ``multipart/byteranges`` (ranges sorted, overlapping ones merged; more than
      :data:`MAX_RANGES` gives the whole file); none satisfiable gives 416 with
      ``Content-Range: bytes */size``.
    * ``HEAD`` gets the headers of the GET answer and no body.

    Args:
        method: The request method.
        get_header: Returns a request header's value (lower-case name) or None.
        stat_result: The file's ``stat``.
        status_code: The status of the full response.
        content_type: The ``Content-Type`` (used in multipart parts).
        etag: The entity tag the response already carries; generated (and
            added to ``headers``) from ``stat_result`` when None.
        last_modified: The ``Last-Modified`` the response already carries;
            generated (and added) when None.
        boundary: The multipart boundary; random when None.

    Returns:
        The plan.
    """
    size = stat_result.st_size
    is_head = method == "HEAD"
    whole: tuple[Segment, ...] = () if is_head else ((0, size),)
    if status_code != 200:
        return FilePlan(
            status_code, (_length(size),), body=whole, whole_file=not is_head
        )
    validators: list[tuple[bytes, bytes]] = []
    if etag is None:
        etag = make_etag(stat_result)
        validators.append((b"etag", etag.encode("latin-1")))
    if last_modified is None:
        last_modified = http_date(stat_result.st_mtime)
        validators.append((b"last-modified", last_modified.encode("latin-1")))
    modified = parse_http_date(last_modified)
    condition = _precondition(method, get_header, etag, modified)
    if condition == 304:
        return FilePlan(304, tuple(validators), drop=_REPRESENTATION)
    if condition is not None:
        return FilePlan(condition, (_length(0),), drop=_REPRESENTATION)
    validators.append((b"accept-ranges", b"bytes"))
    ranges = None
    range_header = get_header("range")
    if method == "GET" and range_header is not None:
        if _if_range_allows(get_header("if-range"), etag, modified):
            ranges = parse_range(range_header, size)
    if ranges is not None:
        ranges = _coalesce([(start, end) for start, end in ranges if end > start])
        if len(ranges) > MAX_RANGES:
            ranges = None
    if ranges is None:
        headers = (*validators, _length(size))
        return FilePlan(200, headers, body=whole, whole_file=not is_head)
    if not ranges:
        unsatisfied = (b"content-range", f"bytes */{size}".encode("latin-1"))
        return FilePlan(416, (unsatisfied, _length(0)), drop=_REPRESENTATION)
    if len(ranges) == 1:
        start, end = ranges[0]
        content_range = f"bytes {start}-{end - 1}/{size}".encode("latin-1")
        headers = (*validators, (b"content-range", content_range), _length(end - start))
        return FilePlan(206, headers, body=((start, end),))
    return _multipart_plan(ranges, size, content_type, validators, boundary)


def _multipart_plan(
    ranges: list[tuple[int, int]],
    size: int,
    content_type: str,
    validators: list[tuple[bytes, bytes]],
    boundary: str | None,
) -> FilePlan:
    boundary = boundary or secrets.token_hex(16)
    body: list[Segment] = []
    delimiter = f"--{boundary}\r\n"
    for start, end in ranges:
        head = (
            f"{delimiter}Content-Type: {content_type}\r\n"
            f"Content-Range: bytes {start}-{end - 1}/{size}\r\n\r\n"
        )
        body.append(head.encode("latin-1"))
        body.append((start, end))
        delimiter = f"\r\n--{boundary}\r\n"
    body.append(f"\r\n--{boundary}--\r\n".encode("latin-1"))
    multipart = f"multipart/byteranges; boundary={boundary}".encode("latin-1")
    headers = (
        *validators,
        (b"content-type", multipart),
        _length(_body_length(body)),
    )
    return FilePlan(206, headers, drop=frozenset((b"content-type",)), body=tuple(body))


# -- static paths ------------------------------------------------------------------


def _within(root: str, path: str) -> bool:
    root, path = os.path.normcase(root), os.path.normcase(path)
    try:
        return os.path.commonpath((root, path)) == root
    except ValueError:  # different drives
        return False


def resolve_static_path(
    directory: str | os.PathLike[str], path: str, *, follow_symlinks: bool = False
) -> str | None:
    """Map a URL path (already percent-decoded) to a file path under ``directory``.

    Hostile paths give None: NUL bytes, backslashes, ``..`` segments, drive
    letters, (on Windows) colons and names ending in a dot or space, anything whose
    normalised path leaves ``directory`` and, unless ``follow_symlinks``, anything
    whose real path (symlinks resolved) leaves it. Empty and ``.`` segments are
    skipped, so ``//etc/passwd`` means ``etc/passwd`` under ``directory``.

    Args:
        directory: The directory served.
        path: The path relative to the mount point, e.g. ``"/css/site.css"``.
        follow_symlinks: Allow symlinks that point outside ``directory``.

    Returns:
        The absolute file path (which may not exist), or None.
    """
    if "\x00" in path or "\\" in path:
        return None
    parts: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == ".." or ntpath.splitdrive(part)[0]:
            return None
        if os.name == "nt" and (":" in part or part[-1] in ". "):
            return None
        parts.append(part)
    root = os.path.realpath(directory)
    candidate = os.path.normpath(os.path.join(root, *parts))
    if not _within(root, candidate):
        return None
    if follow_symlinks:
        return candidate
    real = os.path.realpath(candidate)
    return real if _within(root, real) else None
