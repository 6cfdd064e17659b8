"""Gzip compression of response bodies, for clients that accept it."""

from __future__ import annotations

import functools
import re
import zlib
from collections.abc import AsyncIterable
from collections.abc import AsyncIterator
from collections.abc import Iterable
from collections.abc import Iterator
from typing import TYPE_CHECKING

from ..exceptions import ImproperlyConfigured
from ..responses import StreamingResponse
from .base import HTTPMiddleware

if TYPE_CHECKING:
    from ..app import Kettle
    from ..requests import Request
    from ..responses import Response

__all__ = ("GZipMiddleware",)

#: Media types that are already compressed, or must not be buffered by a decoder.
DEFAULT_EXCLUDED_MEDIA_TYPES = tuple(
    "image/* video/* audio/* font/woff font/woff2 application/zip application/gzip "
    "application/x-gzip application/x-bzip2 application/x-xz application/zstd "
    "application/x-7z-compressed application/x-rar-compressed text/event-stream".split()
)

_MEDIA_PATTERN = re.compile(r"[a-z0-9!#$&^_.+-]+/(?:\*|[a-z0-9!#$&^_.+-]+)")
_GZIP_WBITS = 16 + zlib.MAX_WBITS  # a gzip header and trailer around the deflate data
_SKIP_STATUS = frozenset((204, 206, 304))


class GZipMiddleware(HTTPMiddleware):
    """Compress response bodies with gzip when the client accepts it.

    A response is compressed when all of these hold: the request's
    ``Accept-Encoding`` allows ``gzip`` (``gzip;q=0`` refuses it, ``*`` allows it);
    the status is 2xx-5xx but not 204, 206 or 304; the response has no
    ``Content-Encoding``, ``Content-Range`` or ``Cache-Control: no-transform``; its
    media type is not excluded; and its body is at least ``minimum_size`` bytes.
    Compressed responses get ``Content-Encoding: gzip``, the new ``Content-Length``
    and a weak ``ETag`` (the bytes changed). ``Vary: Accept-Encoding`` is added to
    every response that could have been compressed, whatever the client accepts.

    A :class:`~kettle.StreamingResponse` is compressed chunk by chunk (each chunk is
    flushed, so event-like streams keep flowing) whatever its size, and loses its
    ``Content-Length``. HEAD responses get the headers the GET response would have.

    Args:
        app: The application.
        minimum_size: Bodies shorter than this many bytes are sent as they are.
        compresslevel: The zlib level, from 0 (no compression) to 9 (smallest).
        exclude_media_types: Media types never compressed: exact ones such as
            ``"application/zip"`` or whole types such as ``"image/*"``. The default
            covers already-compressed formats and ``text/event-stream``; note that
            ``"image/*"`` also excludes ``image/svg+xml``.

    Raises:
        ImproperlyConfigured: An option has a wrong type or value.
    """

    def __init__(
        self,
        app: Kettle,
        *,
        minimum_size: int = 500,
        compresslevel: int = 6,
        exclude_media_types: Iterable[str] = DEFAULT_EXCLUDED_MEDIA_TYPES,
    ) -> None:
        super().__init__(app)
        if type(minimum_size) is not int or minimum_size < 0:
            raise ImproperlyConfigured(
                "GZipMiddleware: minimum_size must be an int >= 0, "
                f"not {minimum_size!r}"
            )
        if type(compresslevel) is not int or not 0 <= compresslevel <= 9:
            raise ImproperlyConfigured(
                "GZipMiddleware: compresslevel must be an int from 0 to 9, "
                f"not {compresslevel!r}"
            )
        if isinstance(exclude_media_types, str):
            raise ImproperlyConfigured(
                "GZipMiddleware: exclude_media_types must be a sequence of media "
                f"types, not the string {exclude_media_types!r}"
            )
        exact: set[str] = set()
        prefixes: list[str] = []
        for item in exclude_media_types:
            value = item.strip().lower() if isinstance(item, str) else ""
            if not _MEDIA_PATTERN.fullmatch(value):
                raise ImproperlyConfigured(
                    f"GZipMiddleware: {item!r} in exclude_media_types is not a media "
                    "type like 'application/zip' or 'image/*'"
                )
            if value.endswith("/*"):
                prefixes.append(value[:-1])
            else:
                exact.add(value)
        self.minimum_size = max(minimum_size, 1)  # an empty body never shrinks
        self.compresslevel = compresslevel
        self._excluded = frozenset(exact)
        self._excluded_prefixes = tuple(prefixes)

    def process_response(self, request: Request, response: Response) -> Response:
        """Compress the response if the request and the response allow it."""
        status = response.status_code
        if status < 200 or status in _SKIP_STATUS:
            return response
        streaming = isinstance(response, StreamingResponse)
        if not streaming and len(response.body) < self.minimum_size:
            return response  # never compressed, so it does not vary either
        headers = response.headers
        if "content-encoding" in headers or "content-range" in headers:
            return response
        if not self._compressible_type(headers.get("content-type")):
            return response
        cache_control = headers.get("cache-control")
        if cache_control and "no-transform" in cache_control.lower():
            return response
        headers.add_vary("Accept-Encoding")
        accept_encoding = request.headers.get("accept-encoding")
        if not accept_encoding or not _accepts_gzip(accept_encoding):
            return response
        if isinstance(response, StreamingResponse):
            content = response.content
            if isinstance(content, AsyncIterable):
                response.content = _gzip_aiter(content, self.compresslevel, response)
            else:
                response.content = _gzip_iter(content, self.compresslevel, response)
            del headers["content-length"]
        else:
            body = zlib.compress(response.body, self.compresslevel, wbits=_GZIP_WBITS)
            if len(body) >= len(response.body):
                return response
            response.body = body
            headers["content-length"] = str(len(body))
        headers["content-encoding"] = "gzip"
        etag = headers.get("etag")
        if etag and not etag.startswith("W/"):
            headers["etag"] = "W/" + etag
        return response

    def _compressible_type(self, content_type: str | None) -> bool:
        if not content_type:
            return True
        media_type = content_type.partition(";")[0].strip().lower()
        if media_type in self._excluded:
            return False
        return not media_type.startswith(self._excluded_prefixes)


@functools.lru_cache(maxsize=256)
def _accepts_gzip(accept_encoding: str) -> bool:
    """Whether an ``Accept-Encoding`` value allows gzip (RFC 9110, section 12.5.3)."""
    gzip_q: float | None = None
    star_q: float | None = None
    for item in accept_encoding.split(","):
        coding, _, params = item.partition(";")
        coding = coding.strip().lower()
        if coding not in ("gzip", "x-gzip", "*"):
            continue
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value.strip())
                except ValueError:
                    q = 0.0
        if coding == "*":
            star_q = q
        else:
            gzip_q = q if gzip_q is None else max(gzip_q, q)
    chosen = gzip_q if gzip_q is not None else star_q
    return chosen is not None and chosen > 0


def _to_bytes(chunk: str | bytes, response: Response) -> bytes:
    return chunk if isinstance(chunk, bytes) else chunk.encode(response.charset)


def _gzip_iter(
    content: Iterable[str | bytes], level: int, response: Response
) -> Iterator[bytes]:
    compressor = zlib.compressobj(level, zlib.DEFLATED, _GZIP_WBITS)
    iterator = iter(content)
    try:
        for chunk in iterator:
            data = _to_bytes(chunk, response)
            if data:
                yield compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)
        yield compressor.flush()
    finally:
        close = getattr(iterator, "close", None)
        if close is not None:
            close()


async def _gzip_aiter(
    content: AsyncIterable[str | bytes], level: int, response: Response
) -> AsyncIterator[bytes]:
    compressor = zlib.compressobj(level, zlib.DEFLATED, _GZIP_WBITS)
    iterator = aiter(content)
    try:
        async for chunk in iterator:
            data = _to_bytes(chunk, response)
            if data:
                yield compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)
        yield compressor.flush()
    finally:
        aclose = getattr(iterator, "aclose", None)
        if aclose is not None:
            await aclose()
