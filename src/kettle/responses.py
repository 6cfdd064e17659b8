"""Responses: each is an ASGI application and can also answer through WSGI."""

from __future__ import annotations

from collections.abc import AsyncIterable
from collections.abc import AsyncIterator
from collections.abc import Iterable
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from datetime import datetime
from operator import itemgetter
from typing import Any
from typing import ClassVar
from urllib.parse import quote

from . import _json
from ._sansio import _STATUS_LINES
from ._sansio import SameSite
from ._sansio import check_cookie
from ._sansio import format_cookie
from ._sansio import status_line
from .concurrency import iterate_in_threadpool
from .concurrency import run_sync
from .datastructures import MutableHeaders
from .datastructures import encode_header
from .types import Receive
from .types import Scope
from .types import Send
from .types import StartResponse
from .types import WSGIEnviron

__all__ = (
    "EventSourceResponse",
    "HTMLResponse",
    "JSONResponse",
    "PlainTextResponse",
    "RedirectResponse",
    "Response",
    "ServerSentEvent",
    "StreamingResponse",
)

_NO_BODY = frozenset((204, 304))
# PERF: header pairs decoded for WSGI, by their byte pairs. Most responses repeat the
# same few (types, lengths, Vary, CORS), so each is decoded once. Bounded in count
# and size, and without the headers whose values are usually unique to a response.
_WSGI_PAIRS: dict[tuple[bytes, bytes], tuple[str, str]] = {}
_WSGI_PAIRS_LIMIT = 1000
_UNIQUE_HEADERS = frozenset(
    (
        b"set-cookie",
        b"etag",
        b"last-modified",
        b"location",
        b"date",
        b"expires",
        # Unique when they carry a request's nonce (kettle.security).
        b"content-security-policy",
        b"content-security-policy-report-only",
    )
)


_name_of = itemgetter(0)


def add_missing_headers(headers: list[Any], extra: Sequence[Any]) -> None:
    """Add the ``(name, value)`` pairs of ``extra`` to ``headers``, but none whose
    name ``headers`` has already (names lower-case, both ``bytes`` or ``str``)."""
    present = set(map(_name_of, headers))
    headers += [pair for pair in extra if pair[0] not in present]


def _content_type(media_type: str | None, charset: str) -> bytes | None:
    """The ``Content-Type`` value for a media type (``charset`` added to text)."""
    if media_type is None:
        return None
    if media_type.startswith("text/") and "charset=" not in media_type:
        media_type += "; charset=" + charset
    return media_type.encode("latin-1")


class Response:
    """An HTTP response with a body known in advance.

    Args:
        content: ``bytes`` or ``str`` (encoded with :attr:`charset`); subclasses
            accept other types (see :class:`JSONResponse`).
        status_code: The HTTP status code.
        headers: Extra headers.
        media_type: The ``Content-Type`` (``charset`` is added for ``text/*``).
    """

    media_type: ClassVar[str | None] = None
    charset: ClassVar[str] = "utf-8"
    #: The class's ``Content-Type`` header value, computed once per class, as
    #: bytes (ASGI) and as a ``str`` (WSGI).
    _content_type: ClassVar[bytes | None] = None
    _wsgi_content_type: ClassVar[str | None] = None
    #: Whether the class renders ``str`` content as Response does (encoded).
    _text_render: ClassVar[bool] = True
    #: The header pairs; None until asked for when they are only the defaults.
    _raw: list[tuple[bytes, bytes]] | None = None
    #: ``(status, body bytes)`` actually sent, for a response that decides them
    #: when sent (a file's 304, 206 or 416); None: its status and body.
    _sent: tuple[int, int | None] | None = None
    _headers: MutableHeaders | None = None
    _cookies: list[tuple[str, dict[str, Any]]] | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._set_content_type()
        cls._text_render = cls.render is Response.render

    @classmethod
    def _set_content_type(cls) -> None:
        ctype = _content_type(cls.media_type, cls.charset)
        cls._content_type = ctype
        cls._wsgi_content_type = ctype.decode("latin-1") if ctype else None

    def __init__(
        self,
        content: Any = None,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
    ) -> None:
        self.status_code = status_code
        if type(content) is str and self._text_render:
            body = content.encode(self.charset)  # PERF: render() without the call
        else:
            body = self.render(content)
        if headers is None and media_type is None and status_code == 200:
            # PERF: the common case: the class's Content-Type and the length, made
            # when the headers are first asked for, in the form the interface wants.
            self.body = body
            # PERF: attributes of the instance are read faster than the class's.
            self._raw = self._cookies = None
            return
        if status_code in _NO_BODY or status_code < 200:
            body = b""  # these statuses never carry a body
        self.body = body
        self._raw = self._initial_headers(headers, media_type or self.media_type)

    @property
    def raw_headers(self) -> list[tuple[bytes, bytes]]:
        """The ``(name, value)`` byte pairs sent, names lower-cased; changeable in
        place."""
        raw = self._raw
        if raw is None:
            length = (b"content-length", str(len(self.body)).encode())
            ctype = self._content_type
            raw = self._raw = [(b"content-type", ctype), length] if ctype else [length]
        return raw

    @raw_headers.setter
    def raw_headers(self, value: list[tuple[bytes, bytes]]) -> None:
        self._raw = value
        self._headers = None

    def render(self, content: Any) -> bytes:
        """Turn ``content`` into the body bytes."""
        if content is None:
            return b""
        if isinstance(content, bytes):
            return content
        if isinstance(content, str):
            return content.encode(self.charset)
        if isinstance(content, bytearray | memoryview):
            return bytes(content)
        raise TypeError(
            f"{type(self).__name__} content must be str or bytes, not "
            f"{type(content).__name__}; use JSONResponse for data"
        )

    def _initial_headers(
        self, headers: Mapping[str, str] | None, media_type: str | None
    ) -> list[tuple[bytes, bytes]]:
        raw: list[tuple[bytes, bytes]] = []
        has_type = has_length = False
        if headers:
            for k, v in headers.items():
                name, value = encode_header(k, str(v))
                has_type = has_type or name == b"content-type"
                has_length = has_length or name == b"content-length"
                raw.append((name, value))
        if media_type is not None and not has_type:
            raw.append(
                (b"content-type", _content_type(media_type, self.charset) or b"")
            )
        if (
            not has_length
            and self.status_code not in _NO_BODY
            and self.status_code >= 200
        ):
            raw.append((b"content-length", str(len(self.body)).encode("latin-1")))
        return raw

    @property
    def headers(self) -> MutableHeaders:
        """The response headers, changeable in place."""
        if self._headers is None:
            self._headers = MutableHeaders(raw=self.raw_headers)
        return self._headers

    @property
    def media_type_header(self) -> str | None:
        """The ``Content-Type`` header, if set."""
        for k, v in self.raw_headers:
            if k == b"content-type":
                return v.decode("latin-1")
        return None

    def set_cookie(
        self,
        key: str,
        value: str = "",
        max_age: int | None = None,
        expires: datetime | str | int | None = None,
        path: str | None = "/",
        domain: str | None = None,
        secure: bool | None = None,
        httponly: bool = True,
        samesite: SameSite | None = "lax",
        partitioned: bool = False,
    ) -> None:
        """Set a cookie, with safe defaults.

        Cookies are ``HttpOnly`` and ``SameSite=Lax`` unless told otherwise.
        ``secure=None`` (the default) marks the cookie ``Secure`` when the request came
        over HTTPS or the app sets ``COOKIE_SECURE = True``.

        Raises:
            ValueError: The name is not a token, or ``path``, ``domain`` or
                ``expires`` contain ``;`` or control characters.
        """
        check_cookie(key, path, domain, expires, samesite)
        if self._cookies is None:
            self._cookies = []
        self._cookies.append(
            (
                key,
                {
                    "value": value,
                    "max_age": max_age,
                    "expires": expires,
                    "path": path,
                    "domain": domain,
                    "secure": secure,
                    "httponly": httponly,
                    "samesite": samesite,
                    "partitioned": partitioned,
                },
            )
        )

    def delete_cookie(
        self,
        key: str,
        path: str | None = "/",
        domain: str | None = None,
        secure: bool | None = None,
        httponly: bool = True,
        samesite: SameSite | None = "lax",
    ) -> None:
        """Tell the client to forget a cookie (matched by ``path`` and ``domain``)."""
        self.set_cookie(
            key,
            "",
            max_age=0,
            expires="Thu, 01 Jan 1970 00:00:00 GMT",
            path=path,
            domain=domain,
            secure=secure,
            httponly=httponly,
            samesite=samesite,
        )

    def finalize(self, secure: bool) -> None:
        """Write pending cookies into headers; ``secure`` is the default for
        cookies set with ``secure=None``. Called once, just before sending."""
        cookies = self._cookies
        if cookies:
            for key, opts in cookies:
                if opts["secure"] is None:
                    opts["secure"] = secure
                value = opts.pop("value")
                self.raw_headers.append(
                    (b"set-cookie", format_cookie(key, value, **opts).encode("latin-1"))
                )
            self._cookies = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._cookies:
            self.finalize(scope.get("scheme") == "https")
        await send(
            {
                "type": "http.response.start",
                "status": self.status_code,
                "headers": self.raw_headers,
            }
        )
        body = self.body if scope["method"] != "HEAD" else b""
        await send({"type": "http.response.body", "body": body})

    def wsgi(
        self,
        environ: WSGIEnviron,
        start_response: StartResponse,
        extra_headers: Sequence[tuple[str, str]] = (),
    ) -> Iterable[bytes]:
        """Answer through WSGI: call ``start_response`` and return the body.

        ``extra_headers`` (``str`` pairs) are sent after the response's own:
        Kettle passes its security headers, when the response has none of them.
        """
        if self._cookies:
            self.finalize(environ.get("wsgi.url_scheme") == "https")
        body = self.body
        if self._raw is None:  # PERF: the default headers, made here as str pairs
            length = ("content-length", str(len(body)))
            ctype = self._wsgi_content_type
            headers = (
                [("content-type", ctype), length, *extra_headers]
                if ctype
                else [length, *extra_headers]
            )
        else:
            headers = self.wsgi_headers()
            if extra_headers:
                headers += extra_headers
        code = self.status_code
        start_response(_STATUS_LINES.get(code) or status_line(code), headers)
        if environ["REQUEST_METHOD"] == "HEAD":
            return []
        return [body]

    def wsgi_headers(self) -> list[tuple[str, str]]:
        """The headers as WSGI wants them (``str`` pairs)."""
        raw = self._raw
        if raw is None:  # PERF: the defaults, never made as bytes
            length = ("content-length", str(len(self.body)))
            ctype = self._wsgi_content_type
            return [("content-type", ctype), length] if ctype else [length]
        headers = []
        known = _WSGI_PAIRS
        for pair in raw:  # PERF: a loop beats a comprehension here (3.11)
            try:
                text = known.get(pair)
            except TypeError:  # a list, not a tuple: fine, but not a key
                text = None
            if text is None:
                name, value = pair
                text = (name.decode("latin-1"), value.decode("latin-1"))
                if (
                    len(known) < _WSGI_PAIRS_LIMIT
                    and type(pair) is tuple
                    and len(value) <= 200
                    and name not in _UNIQUE_HEADERS
                ):
                    known[pair] = text
            headers.append(text)
        return headers

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.status_code}>"


Response._set_content_type()


class HTMLResponse(Response):
    """A ``text/html`` response."""

    media_type = "text/html"


class PlainTextResponse(Response):
    """A ``text/plain`` response."""

    media_type = "text/plain"


class JSONResponse(Response):
    """A JSON response: ``content`` is encoded with orjson (or the json module).

    Dicts, lists, dataclasses, datetimes, UUIDs, enums and pydantic models encode.
    """

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return _json.dumps(content)


class RedirectResponse(Response):
    """A redirect to ``url`` (status 302 unless told otherwise)."""

    def __init__(
        self,
        url: str,
        status_code: int = 302,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(b"", status_code, headers)
        self.raw_headers.append(
            (
                b"location",
                quote(str(url), safe=":/%#?=@[]!$&'()*+,;~").encode("latin-1"),
            )
        )


Content = Iterable[str | bytes] | AsyncIterable[str | bytes]


class StreamingResponse(Response):
    """A response whose body comes from an iterator, sent as it is produced.

    Args:
        content: A sync or async iterable of ``bytes`` or ``str`` chunks. A sync
            iterator runs in the thread pool under ASGI, so it may block.
    """

    def __init__(
        self,
        content: Content,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
    ) -> None:
        self.content = content
        super().__init__(None, status_code, headers, media_type)
        self.raw_headers[:] = [h for h in self.raw_headers if h[0] != b"content-length"]

    def _encode(self, chunk: str | bytes) -> bytes:
        return chunk if isinstance(chunk, bytes) else chunk.encode(self.charset)

    async def _aiter(self) -> AsyncIterator[bytes]:
        content = self.content
        if isinstance(content, AsyncIterable):
            async for chunk in content:
                yield self._encode(chunk)
        else:
            async for chunk in iterate_in_threadpool(iter(content)):
                yield self._encode(chunk)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._cookies:
            self.finalize(scope.get("scheme") == "https")
        await send(
            {
                "type": "http.response.start",
                "status": self.status_code,
                "headers": self.raw_headers,
            }
        )
        if scope["method"] == "HEAD":
            await send({"type": "http.response.body", "body": b""})
            return
        import asyncio

        # Stop producing as soon as the client goes away (endless event streams).
        stream = asyncio.ensure_future(self._stream(send))
        disconnect = asyncio.ensure_future(_wait_for_disconnect(receive))
        try:
            await asyncio.wait(
                (stream, disconnect), return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            for task in (stream, disconnect):
                if not task.done():
                    task.cancel()
            await asyncio.gather(disconnect, return_exceptions=True)
            if stream.cancelled():
                await asyncio.gather(stream, return_exceptions=True)
            elif stream.done():
                stream.result()  # re-raise an error from the iterator

    async def _stream(self, send: Send) -> None:
        async for chunk in self._aiter():
            if chunk:
                await send(
                    {"type": "http.response.body", "body": chunk, "more_body": True}
                )
        await send({"type": "http.response.body", "body": b""})

    def wsgi(
        self,
        environ: WSGIEnviron,
        start_response: StartResponse,
        extra_headers: Sequence[tuple[str, str]] = (),
    ) -> Iterable[bytes]:
        self.finalize(environ.get("wsgi.url_scheme") == "https")
        headers = self.wsgi_headers()
        if extra_headers:
            headers += extra_headers
        start_response(status_line(self.status_code), headers)
        if environ["REQUEST_METHOD"] == "HEAD":
            return []
        return self._wsgi_iter()

    def _wsgi_iter(self) -> Iterator[bytes]:
        content = self.content
        if isinstance(content, AsyncIterable):
            iterator = aiter(content)
            while True:
                try:
                    chunk = run_sync(_anext(iterator))
                except StopAsyncIteration:
                    break
                yield self._encode(chunk)
        else:
            for chunk in content:
                yield self._encode(chunk)


async def _anext(iterator: AsyncIterator[Any]) -> Any:
    return await iterator.__anext__()


async def _wait_for_disconnect(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return


class ServerSentEvent:
    """One server-sent event. ``data`` that is not a string is sent as JSON."""

    __slots__ = ("comment", "data", "event", "id", "retry")

    def __init__(
        self,
        data: Any = None,
        event: str | None = None,
        id: str | None = None,
        retry: int | None = None,
        comment: str | None = None,
    ) -> None:
        self.data = data
        self.event = event
        self.id = id
        self.retry = retry
        self.comment = comment

    def __repr__(self) -> str:
        return f"ServerSentEvent(data={self.data!r}, event={self.event!r})"

    def encode(self) -> str:
        """Format the event in the ``text/event-stream`` wire format."""
        lines: list[str] = []
        if self.comment is not None:
            lines.extend(": " + line for line in self.comment.splitlines() or [""])
        if self.event is not None:
            lines.append("event: " + _one_line(self.event))
        if self.id is not None:
            lines.append("id: " + _one_line(self.id))
        if self.retry is not None:
            lines.append(f"retry: {int(self.retry)}")
        if self.data is not None:
            data = self.data
            if not isinstance(data, str):
                data = _json.dumps(data).decode("utf-8")
            lines.extend("data: " + line for line in data.splitlines() or [""])
        return "\n".join(lines) + "\n\n"


def _one_line(value: str) -> str:
    if "\n" in value or "\r" in value:
        raise ValueError("event names and ids must not contain line breaks")
    return value


def _as_event(item: Any) -> str:
    if isinstance(item, ServerSentEvent):
        return item.encode()
    if isinstance(item, Mapping):
        return ServerSentEvent(**item).encode()
    return ServerSentEvent(data=item).encode()


class EventSourceResponse(StreamingResponse):
    """Server-sent events (``text/event-stream``) from a sync or async iterator.

    Each item is a :class:`ServerSentEvent`, a dict of its fields, or the data of
    an event (strings as they are, anything else as JSON).
    """

    media_type = "text/event-stream"

    def __init__(
        self,
        content: Iterable[Any] | AsyncIterable[Any],
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        if isinstance(content, AsyncIterable):
            encoded: Content = _aevents(content)
        else:
            encoded = (_as_event(item) for item in content)
        base = {"cache-control": "no-cache", "x-accel-buffering": "no"}
        if headers:
            base.update({k.lower(): v for k, v in headers.items()})
        super().__init__(encoded, status_code, base)


async def _aevents(content: AsyncIterable[Any]) -> AsyncIterator[str]:
    async for item in content:
        yield _as_event(item)
