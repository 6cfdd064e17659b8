"""Sending files: :class:`FileResponse` and the :class:`StaticFiles` ASGI app.

Both interfaces share one pure decision function, :func:`plan_file_response`, which
turns the request method, the request headers and the file's ``stat`` into the
status, the headers and the byte ranges to send (conditional requests, ``Range``,
``HEAD``). ASGI and WSGI only differ in how the bytes are read and written.
"""

from __future__ import annotations

import errno
import os
import stat as stat_module
from collections.abc import Iterable
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from typing import IO
from urllib.parse import quote

from ._fileplan import MAX_RANGES as MAX_RANGES
from ._fileplan import FilePlan as FilePlan
from ._fileplan import HeaderGetter as HeaderGetter
from ._fileplan import Segment as Segment
from ._fileplan import content_disposition as content_disposition
from ._fileplan import guess_media_type as guess_media_type
from ._fileplan import make_etag as make_etag
from ._fileplan import plan_file_response as plan_file_response
from ._fileplan import resolve_static_path as resolve_static_path
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

_CHUNK_SIZE = 64 * 1024
# Headers the plan always decides: any copy in the response's own headers is dropped.
_MANAGED = frozenset((b"content-length", b"content-range", b"accept-ranges"))


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
        self._sent = (plan.status, plan.content_length)
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
        answer = error_response(None, status)
        self._sent = (status, len(answer.body))
        return answer

    # -- WSGI --

    def wsgi(
        self,
        environ: WSGIEnviron,
        start_response: StartResponse,
        extra_headers: Sequence[tuple[str, str]] = (),
    ) -> Iterable[bytes]:
        """Answer through WSGI; the file is closed when the server closes the body.

        ``extra_headers`` as for :meth:`Response.wsgi`.
        """
        self.finalize(environ.get("wsgi.url_scheme") == "https")
        try:
            stat_result = self._stat()
        except OSError as exc:
            return self._fail(exc).wsgi(environ, start_response, extra_headers)
        plan = self.plan(
            environ["REQUEST_METHOD"], _environ_headers(environ), stat_result
        )
        self._sent = (plan.status, plan.content_length)
        headers = _str_headers(self._headers_for(plan))
        if extra_headers:
            headers += extra_headers
        if not plan.reads_file:
            start_response(status_line(plan.status), headers)
            return [b"".join(p for p in plan.body if isinstance(p, bytes))]
        try:
            file = _open(self.path)
        except OSError as exc:
            return self._fail(exc).wsgi(environ, start_response, extra_headers)
        try:
            start_response(status_line(plan.status), headers)
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
