"""Sending files: :class:`FileResponse` and the :class:`StaticFiles` ASGI app.

Both interfaces share one pure decision function, :func:`plan_file_response`, which
turns the request method, the request headers and the file's ``stat`` into the
status, the headers and the byte ranges to send (conditional requests, ``Range``,
``HEAD``). ASGI and WSGI only differ in how the bytes are read and written.
"""

from __future__ import annotations

import errno
import mimetypes
import ntpath
import os
import re
import secrets
import stat as stat_module
import unicodedata
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Iterator
from collections.abc import Mapping
from dataclasses import dataclass
from typing import IO
from urllib.parse import quote

from ._sansio import http_date
from ._sansio import parse_http_date
from ._sansio import parse_range
from ._sansio import status_line
from .concurrency import run_in_threadpool
from .errors import error_response
from .exceptions import ImproperlyConfigured
from .responses import RedirectResponse
from .responses import Response
from .types import Receive
from .types import Scope
from .types import Send
from .types import StartResponse
from .types import WSGIEnviron

__all__ = (
    "FilePlan",
    "FileResponse",
    "StaticFiles",
    "content_disposition",
    "guess_media_type",
    "make_etag",
    "plan_file_response",
    "resolve_static_path",
)

#: Returns the value of a request header (case-insensitive name), or None.
HeaderGetter = Callable[[str], str | None]

#: A piece of a response body: literal bytes or a ``(start, end)`` slice of the file.
Segment = bytes | tuple[int, int]

#: More ranges than this in one request are answered with the whole file.
MAX_RANGES = 32

_CHUNK_SIZE = 64 * 1024
_ETAG = re.compile(r'\s*((?:W/)?"[^"]*")\s*(?:,|$)')
# Headers the plan always decides: any copy in the response's own headers is dropped.
_MANAGED = frozenset((b"content-length", b"content-range", b"accept-ranges"))
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
    return _ETAG.findall(value)


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


# -- FileResponse ------------------------------------------------------------------


def _scope_headers(scope: Scope) -> HeaderGetter:
    headers: dict[str, str] = {}
    for raw_name, raw_value in scope.get("headers", ()):
        name = raw_name.decode("latin-1").lower()
        value = raw_value.decode("latin-1")
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return headers.get


def _environ_headers(environ: WSGIEnviron) -> HeaderGetter:
    def get(name: str) -> str | None:
        value = environ.get("HTTP_" + name.upper().replace("-", "_"))
        return None if value is None else str(value)

    return get


def _error_status(exc: OSError) -> int | None:
    """The status answering a failed ``stat``/``open``, or None to let it raise."""
    if isinstance(exc, PermissionError):
        return 403
    if isinstance(exc, FileNotFoundError | NotADirectoryError | IsADirectoryError):
        return 404
    if exc.errno in (errno.ENAMETOOLONG, errno.ELOOP, errno.EINVAL):
        return 404
    return None


def _read_at(file: IO[bytes], offset: int, size: int) -> bytes:
    file.seek(offset)
    return file.read(size)


def _open(path: str) -> IO[bytes]:
    return open(path, "rb")


class _FileChunks:
    """A WSGI body reading planned segments from an open file; closes it."""

    def __init__(
        self, file: IO[bytes], body: tuple[Segment, ...], chunk_size: int
    ) -> None:
        self.file = file
        self.body = body
        self.chunk_size = chunk_size

    def __iter__(self) -> Iterator[bytes]:
        try:
            for part in self.body:
                if isinstance(part, bytes):
                    yield part
                    continue
                offset, end = part
                while offset < end:
                    data = _read_at(
                        self.file, offset, min(self.chunk_size, end - offset)
                    )
                    if not data:
                        raise RuntimeError(
                            f"{self.file.name!r} shrank while being sent"
                        )
                    offset += len(data)
                    yield data
        finally:
            self.file.close()

    def close(self) -> None:
        """Close the file (WSGI servers call this when done)."""
        self.file.close()


class FileResponse(Response):
    """A file, sent in chunks, with validators, conditional requests and ranges.

    The file is ``stat``-ed when the response is sent (unless ``stat_result`` is
    given); a missing file is answered with 404. ``ETag`` (strong, from the
    modification time and size), ``Last-Modified`` and ``Accept-Ranges`` are set;
    ``If-None-Match``/``If-Modified-Since`` give 304, ``If-Match``/
    ``If-Unmodified-Since`` 412, and ``Range`` 206 (several ranges as
    ``multipart/byteranges``) or 416; see :func:`plan_file_response`. ETag or
    Last-Modified headers passed in ``headers`` are used instead of generated ones.

    Under ASGI the file is read in the thread pool, or handed to the server with
    the ``http.response.pathsend`` extension for whole-file 200 answers. Under WSGI
    the server's ``wsgi.file_wrapper`` is used for whole-file 200 answers.

    Args:
        path: The file.
        status_code: The status of the full answer. Conditional requests and
            ranges only apply to 200.
        headers: Extra headers.
        media_type: The ``Content-Type``; guessed from ``filename`` or ``path``.
        filename: When given, sent in a ``Content-Disposition`` header.
        content_disposition_type: ``"attachment"`` (download) or ``"inline"``.
        stat_result: The file's ``stat``, when already known.
        chunk_size: How many bytes to read at a time.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
        filename: str | None = None,
        content_disposition_type: str = "attachment",
        stat_result: os.stat_result | None = None,
        chunk_size: int = _CHUNK_SIZE,
    ) -> None:
        if chunk_size < 1:
            raise ValueError("chunk_size must be positive")
        self.path = os.fspath(path)
        self.filename = filename
        self.stat_result = stat_result
        self.chunk_size = chunk_size
        if media_type is None:
            media_type = guess_media_type(filename or self.path)
        super().__init__(None, status_code, headers, media_type)
        own = self.raw_headers
        own[:] = [h for h in own if h[0] != b"content-length"]
        if filename is not None and not any(
            name == b"content-disposition" for name, _ in own
        ):
            value = content_disposition(content_disposition_type, filename)
            own.append((b"content-disposition", value.encode("latin-1")))

    def _header(self, name: bytes) -> str | None:
        for key, value in self.raw_headers:
            if key == name:
                return value.decode("latin-1")
        return None

    def plan(
        self, method: str, get_header: HeaderGetter, stat_result: os.stat_result
    ) -> FilePlan:
        """Decide what to send for a request (see :func:`plan_file_response`)."""
        return plan_file_response(
            method,
            get_header,
            stat_result,
            status_code=self.status_code,
            content_type=self.media_type_header or "application/octet-stream",
            etag=self._header(b"etag"),
            last_modified=self._header(b"last-modified"),
        )

    def _headers_for(self, plan: FilePlan) -> list[tuple[bytes, bytes]]:
        drop = _MANAGED | plan.drop
        own = [h for h in self.raw_headers if h[0] not in drop]
        return own + list(plan.headers)

    def _stat(self) -> os.stat_result:
        """Stat the file; a non-regular file counts as missing."""
        if self.stat_result is not None:
            return self.stat_result
        try:
            result = os.stat(self.path)
        except ValueError:  # an embedded NUL byte
            raise FileNotFoundError(f"{self.path!r} is not a valid path") from None
        if not stat_module.S_ISREG(result.st_mode):
            raise FileNotFoundError(f"{self.path!r} is not a regular file")
        return result

    # -- ASGI --

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.finalize(scope.get("scheme") == "https")
        method = scope["method"]
        try:
            stat_result = await run_in_threadpool(self._stat)
        except OSError as exc:
            await self._fail(exc)(scope, receive, send)
            return
        plan = self.plan(method, _scope_headers(scope), stat_result)
        headers = self._headers_for(plan)
        start = {
            "type": "http.response.start",
            "status": plan.status,
            "headers": headers,
        }
        extensions = scope.get("extensions") or {}
        if (
            plan.whole_file
            and plan.status == 200
            and "http.response.pathsend" in extensions
        ):
            await send(start)
            await send(
                {"type": "http.response.pathsend", "path": os.path.abspath(self.path)}
            )
            return
        file: IO[bytes] | None = None
        if plan.reads_file:
            try:
                file = await run_in_threadpool(_open, self.path)
            except OSError as exc:
                await self._fail(exc)(scope, receive, send)
                return
        try:
            await send(start)
            await self._send_body(plan, file, send)
        finally:
            if file is not None:
                await run_in_threadpool(file.close)

    async def _send_body(
        self, plan: FilePlan, file: IO[bytes] | None, send: Send
    ) -> None:
        for part in plan.body:
            if isinstance(part, bytes):
                await send(
                    {"type": "http.response.body", "body": part, "more_body": True}
                )
                continue
            assert file is not None
            offset, end = part
            while offset < end:
                size = min(self.chunk_size, end - offset)
                data = await run_in_threadpool(_read_at, file, offset, size)
                if not data:
                    raise RuntimeError(f"{self.path!r} shrank while being sent")
                offset += len(data)
                await send(
                    {"type": "http.response.body", "body": data, "more_body": True}
                )
        await send({"type": "http.response.body", "body": b""})

    def _fail(self, exc: OSError) -> Response:
        status = _error_status(exc)
        if status is None:
            raise exc
        return error_response(None, status)

    # -- WSGI --

    def wsgi(
        self, environ: WSGIEnviron, start_response: StartResponse
    ) -> Iterable[bytes]:
        """Answer through WSGI; the file is closed when the server closes the body."""
        self.finalize(environ.get("wsgi.url_scheme") == "https")
        try:
            stat_result = self._stat()
        except OSError as exc:
            return self._fail(exc).wsgi(environ, start_response)
        plan = self.plan(
            environ["REQUEST_METHOD"], _environ_headers(environ), stat_result
        )
        if not plan.reads_file:
            start_response(
                status_line(plan.status), _str_headers(self._headers_for(plan))
            )
            return [b"".join(p for p in plan.body if isinstance(p, bytes))]
        try:
            file = _open(self.path)
        except OSError as exc:
            return self._fail(exc).wsgi(environ, start_response)
        try:
            start_response(
                status_line(plan.status), _str_headers(self._headers_for(plan))
            )
            wrapper = environ.get("wsgi.file_wrapper")
            if wrapper is not None and plan.whole_file and plan.status == 200:
                wrapped: Iterable[bytes] = wrapper(file, self.chunk_size)
                return wrapped
            return _FileChunks(file, plan.body, self.chunk_size)
        except BaseException:
            file.close()
            raise


def _str_headers(raw: list[tuple[bytes, bytes]]) -> list[tuple[str, str]]:
    return [(k.decode("latin-1"), v.decode("latin-1")) for k, v in raw]


# -- StaticFiles ---------------------------------------------------------------------


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


@dataclass(frozen=True)
class _Found:
    path: str
    stat_result: os.stat_result
    status: int


def _stat_or_none(path: str | None) -> os.stat_result | None:
    if path is None:
        return None
    try:
        return os.stat(path)
    except (OSError, ValueError):
        return None


class StaticFiles:
    """An ASGI app serving the files of a directory (GET and HEAD only).

    Mount it: ``app.mount("/static", StaticFiles(directory="static"))``. The path
    served is the scope's ``path`` minus its ``root_path``. Files are sent with
    :class:`FileResponse`, so ``ETag``, 304 answers and ranges work. Paths that
    could leave the directory are answered with 404 (see
    :func:`resolve_static_path`). Under WSGI a mount runs through Kettle's bridge,
    which buffers each file in memory.

    Args:
        directory: The directory to serve.
        html: HTML mode: a directory serves its ``index.html`` (a directory URL
            without a trailing slash is redirected to one with it), and a
            missing file serves ``404.html`` from ``directory`` (status 404)
            when there is one.
        follow_symlinks: Serve symlinks that point outside ``directory``.
        check_dir: Check at construction that ``directory`` exists.

    Raises:
        ImproperlyConfigured: ``check_dir`` is on and ``directory`` is not a
            directory.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        html: bool = False,
        follow_symlinks: bool = False,
        check_dir: bool = True,
    ) -> None:
        self.directory = os.path.abspath(directory)
        self.html = html
        self.follow_symlinks = follow_symlinks
        if check_dir and not os.path.isdir(self.directory):
            raise ImproperlyConfigured(
                f"StaticFiles directory {os.fspath(directory)!r} does not exist"
            )

    def resolve(self, path: str) -> str | None:
        """The file path for a URL path under the mount, or None when refused."""
        return resolve_static_path(
            self.directory, path, follow_symlinks=self.follow_symlinks
        )

    def lookup(self, path: str) -> _Found | str | None:
        """Find what to serve (blocking; runs in the thread pool).

        Returns:
            The file to send, a ``str`` when the request should be redirected to
            ``path + "/"``, or None for 404.
        """
        full = self.resolve(path)
        found = _stat_or_none(full)
        if full is not None and found is not None:
            if stat_module.S_ISREG(found.st_mode):
                if path.endswith("/"):  # "file.txt/" names no directory
                    return None
                return _Found(full, found, 200)
            if stat_module.S_ISDIR(found.st_mode) and self.html:
                if not path.endswith("/"):
                    return path + "/"
                index = self.resolve(path + "index.html")
                index_stat = _stat_or_none(index)
                if index is not None and index_stat is not None:
                    if stat_module.S_ISREG(index_stat.st_mode):
                        return _Found(index, index_stat, 200)
        if self.html:
            page = self.resolve("404.html")
            page_stat = _stat_or_none(page)
            if page is not None and page_stat is not None:
                if stat_module.S_ISREG(page_stat.st_mode):
                    return _Found(page, page_stat, 404)
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await receive()
            await send({"type": "websocket.close", "code": 1000})
            return
        if scope["type"] != "http":
            raise RuntimeError(f"StaticFiles does not handle {scope['type']!r} scopes")
        response: Response
        if scope["method"] not in ("GET", "HEAD"):
            response = error_response(None, 405, headers={"allow": "GET, HEAD"})
            await response(scope, receive, send)
            return
        full_path: str = scope["path"]
        root_path: str = scope.get("root_path", "")
        path = full_path
        if root_path and full_path.startswith(root_path):
            path = full_path[len(root_path) :]
        found = await run_in_threadpool(self.lookup, path)
        if isinstance(found, _Found):
            response = FileResponse(
                found.path, status_code=found.status, stat_result=found.stat_result
            )
        elif isinstance(found, str):
            if not full_path.startswith(root_path):
                full_path = root_path + full_path  # a server that strips root_path
            url = "/" + quote(full_path + "/").lstrip("/")
            query = scope.get("query_string", b"")
            if query:
                url += "?" + query.decode("latin-1")
            response = RedirectResponse(url, 307)
        else:
            response = error_response(None, 404)
        await response(scope, receive, send)

    def __repr__(self) -> str:
        return f"StaticFiles({self.directory!r}, html={self.html!r})"
