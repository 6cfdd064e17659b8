"""The request object, over an ASGI scope or a WSGI environ."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from collections.abc import Iterator
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING
from typing import Any
from urllib.parse import quote_from_bytes

from . import _json
from ._sansio import header_params
from ._sansio import parse_cookie_header
from .concurrency import run_sync
from .datastructures import URL
from .datastructures import Address
from .datastructures import Headers
from .datastructures import QueryParams
from .datastructures import State
from .exceptions import BadRequest
from .exceptions import HTTPException
from .exceptions import RequestEntityTooLarge
from .types import Receive
from .types import Scope
from .types import WSGIEnviron

if TYPE_CHECKING:
    from .app import Kettle
    from .formparsers import FormData
    from .responses import Response
    from .routing import BaseRoute
    from .sessions import Session

__all__ = ("ClientDisconnect", "HTTPConnection", "Request", "wsgi_body")

_CHUNK = 64 * 1024
_new = object.__new__
# A host name or IPv4 address, or a bracketed IPv6 address, and an optional port.
_HOST = re.compile(
    r"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~%!$&'()*+,;=-]+)(?::[0-9]{1,5})?"
)
_QUERY_SAFE = "/?&=%+;:@!$'()*,~-._"
#: The scope or environ key holding the request's CSP nonce, once made.
CSP_NONCE_KEY = "kettle.csp_nonce"


class ClientDisconnect(Exception):
    """The client went away before sending the whole body."""


def _parse_length(value: str | None) -> int | None:
    if value is None or value == "":
        return None
    value = value.strip()
    if not (value.isascii() and value.isdigit()):
        raise BadRequest("The Content-Length header is not a whole number.")
    return int(value)


def wsgi_body(environ: WSGIEnviron) -> Iterator[bytes]:
    """The body of a WSGI request in chunks: up to ``CONTENT_LENGTH``, or to the end
    of the input for a chunked request.

    Raises:
        BadRequest: ``CONTENT_LENGTH`` is malformed (at once), or the body ends early
            (while iterating).
    """
    length = _parse_length(environ.get("CONTENT_LENGTH"))
    stream = environ["wsgi.input"]
    if length is None:
        chunked = "chunked" in (environ.get("HTTP_TRANSFER_ENCODING") or "").lower()
        if not (chunked or environ.get("wsgi.input_terminated")):
            return iter(())
        return iter(lambda: stream.read(_CHUNK), b"")
    return _read_exactly(stream, length)


def _read_exactly(stream: Any, length: int) -> Iterator[bytes]:
    remaining = length
    while remaining > 0:
        chunk = stream.read(min(_CHUNK, remaining))
        if not chunk:
            raise BadRequest("The request body ended before its Content-Length.")
        remaining -= len(chunk)
        yield chunk


class HTTPConnection:
    """What a request and a WebSocket share: URL, headers, query, cookies, client.

    PERF: only what routing needs (method, path) is set when a request starts;
    everything else is read from the ASGI scope or WSGI environ when first asked
    for. Class attributes are the defaults, so a fresh request writes few fields.
    """

    scope: Scope | None = None
    environ: WSGIEnviron | None = None
    method: str = ""
    path: str = "/"
    root_path: str = ""
    route: BaseRoute | None = None
    #: The converted path parameters (read-only until a route sets its own).
    path_params: Mapping[str, Any] = MappingProxyType({})
    #: A host set by a trusted proxy's headers (``ProxyHeadersMiddleware``).
    host_override: str | None = None
    _scheme: str | None = None
    _client: Address | None | bool = False  # False: not computed yet
    _raw_headers: list[tuple[bytes, bytes]] | None = None
    _headers: Headers | None = None
    _query: QueryParams | None = None
    _cookies: dict[str, str] | None = None
    _state: State | None = None
    _url: URL | None = None
    _receive: Receive | None = None
    _session: Session | None = None  # read on first use of .session
    _flashes: list[tuple[str, str]] | None = None  # taken out of the session
    _csp_nonce: str | None = None  # made on first use of .csp_nonce

    def __init__(
        self, app: Kettle, scope: Scope | None = None, receive: Receive | None = None
    ) -> None:
        self.app = app
        if scope is not None:  # ASGI: the path within the app, below root_path
            self.scope = scope
            path: str = scope["path"]
            root_path: str | None = scope.get("root_path")
            if root_path:
                self.root_path = root_path
                if path.startswith(root_path):
                    path = path[len(root_path) :] or "/"
            self.path = path
            method = scope.get("method")  # none for a WebSocket
            if method is not None:
                self.method = method
            self._receive = receive

    @property
    def scheme(self) -> str:
        """``"http"`` or ``"https"`` (``"ws"``/``"wss"`` for WebSockets)."""
        if self._scheme is not None:
            return self._scheme
        if self.scope is not None:
            return str(self.scope.get("scheme", "http"))
        assert self.environ is not None
        return str(self.environ.get("wsgi.url_scheme", "http"))

    @scheme.setter
    def scheme(self, value: str) -> None:
        self._scheme = value
        self._url = None
        # The scope or environ says the same (read by mounted apps, and by the
        # security headers: HSTS is sent over HTTPS only).
        if self.scope is not None:
            self.scope["scheme"] = value
        elif self.environ is not None:
            self.environ["wsgi.url_scheme"] = value

    @property
    def query_string(self) -> bytes:
        """The raw query string, without ``?``."""
        if self.scope is not None:
            return bytes(self.scope.get("query_string", b""))
        assert self.environ is not None
        return str(self.environ.get("QUERY_STRING", "")).encode("latin-1")

    @property
    def client(self) -> Address | None:
        """The peer's address (``host``, ``port``), or None when unknown."""
        client = self._client
        if client is False:
            client = self._client = self._peer()
        return client  # type: ignore[return-value]

    @client.setter
    def client(self, value: Address | None) -> None:
        self._client = value

    def _peer(self) -> Address | None:
        if self.scope is not None:
            peer = self.scope.get("client")
            return Address(peer[0], peer[1]) if peer else None
        assert self.environ is not None
        addr = self.environ.get("REMOTE_ADDR")
        port = self.environ.get("REMOTE_PORT")
        return Address(addr, int(port) if port else 0) if addr else None

    @property
    def server(self) -> tuple[str, int | None] | None:
        """``(host, port)`` of the server socket, or None."""
        if self.scope is not None:
            server = self.scope.get("server")
            return (server[0], server[1]) if server else None
        assert self.environ is not None
        name = self.environ.get("SERVER_NAME")
        port = self.environ.get("SERVER_PORT")
        return (name, int(port) if port else None) if name else None

    @property
    def raw_headers(self) -> list[tuple[bytes, bytes]]:
        """The request headers as lower-cased ``(name, value)`` byte pairs."""
        raw = self._raw_headers
        if raw is None:
            if self.scope is not None:
                raw = self._raw_headers = self.scope["headers"]
            else:
                raw = self._raw_headers = self.headers.raw
        return raw

    @property
    def headers(self) -> Headers:
        """The request headers, case-insensitive and multi-valued."""
        if self._headers is None:
            if self.scope is not None:
                self._headers = Headers(raw=self.scope["headers"])
            else:
                assert self.environ is not None
                self._headers = Headers.from_environ(self.environ)
        return self._headers

    @property
    def query(self) -> QueryParams:
        """The query string as a multi-dict (``query["k"]``, ``query.getlist("k")``)."""
        query = self._query
        if query is None:
            environ = self.environ
            if environ is not None:
                # PEP 3333: bytes carried as latin-1; escaped ASCII needs no trip.
                text = environ.get("QUERY_STRING", "")
                if not text.isascii():
                    text = text.encode("latin-1").decode("utf-8", "replace")
                query = self._query = QueryParams(text)
            else:
                query = self._query = QueryParams(self.query_string)
        return query

    @property
    def cookies(self) -> dict[str, str]:
        """The request cookies."""
        if self._cookies is None:
            header = self.headers.get("cookie")
            self._cookies = parse_cookie_header(header) if header else {}
        return self._cookies

    @property
    def session(self) -> Session:
        """The browser's session: a dict kept from one request to the next
        (see :mod:`kettle.sessions`), read when first used."""
        session = self._session
        if session is None:
            from .sessions import open_session

            session = self._session = open_session(self)
        return session

    @property
    def state(self) -> State:
        """A place for per-request attributes (``request.state.user = ...``)."""
        if self._state is None:
            self._state = State()
        return self._state

    @property
    def csp_nonce(self) -> str:
        """This request's Content-Security-Policy nonce: a random value, made when
        first read, for ``<script nonce="...">`` and ``<style nonce="...">``.

        Once read, the response's ``Content-Security-Policy`` header allows it
        (``'nonce-...'`` in ``script-src`` and ``style-src``; see
        :mod:`kettle.security`). Templates read it as ``{{ csp_nonce }}``.
        """
        nonce = self._csp_nonce
        if nonce is None:
            import secrets

            nonce = self._csp_nonce = secrets.token_urlsafe(18)
            # PERF: also in the scope or environ, where the code adding the
            # security headers looks (a dict look-up beats this attribute's).
            if self.scope is not None:
                self.scope[CSP_NONCE_KEY] = nonce
            elif self.environ is not None:
                self.environ[CSP_NONCE_KEY] = nonce
        return nonce

    @property
    def host(self) -> str:
        """The ``Host`` the client asked for (with port if given).

        Raises:
            BadRequest: The ``Host`` header is not a valid host (answered with 400).
        """
        if self.host_override is not None:
            return self.host_override
        host = self.headers.get("host")
        if host:
            if _HOST.fullmatch(host) is None:
                raise BadRequest("Invalid Host header.")
            return str(host)
        if self.server:
            name, port = self.server
            if ":" in name:  # an IPv6 address
                name = f"[{name}]"
            default = 443 if self.scheme in ("https", "wss") else 80
            return name if port in (None, default) else f"{name}:{port}"
        return "localhost"

    @property
    def url(self) -> URL:
        """The full URL of the request."""
        if self._url is None:
            query = quote_from_bytes(self.query_string, safe=_QUERY_SAFE)
            self._url = URL.build(
                self.scheme, self.host, self.root_path + self.path, query
            )
        return self._url

    @property
    def base_url(self) -> str:
        """Scheme, host and root path, without a trailing slash."""
        return f"{self.scheme}://{self.host}{self.root_path}"

    def url_for(self, name: str, /, **params: Any) -> str:
        """Reverse a route name to a path under this request's root path."""
        return self.app.url_for(name, _root_path=self.root_path, **params)


class Request(HTTPConnection):
    """An HTTP request.

    Available as a handler parameter annotated ``Request`` (or named ``request``) and
    as the context-local :data:`kettle.request`. The body is read on demand with
    ``await request.body()``, ``json()``, ``form()`` or ``stream()``; sync handlers use
    :meth:`get_body`, :meth:`get_json` and :meth:`get_form`.
    """

    _body: bytes | None = None
    _json: Any = None  # set to _MISSING below
    _form: FormData | None = None
    _stream_consumed = False
    #: The unhandled exception answered with 500, if any (seen by teardown hooks).
    error: Exception | None = None
    #: What routing answered when no route took the request (404, 405, ...).
    unrouted: Response | HTTPException | None = None

    @classmethod
    def from_asgi(cls, app: Kettle, scope: Scope, receive: Receive) -> Request:
        """Make a request from an ASGI HTTP scope."""
        return cls(app, scope, receive)

    @classmethod
    def from_wsgi(cls, app: Kettle, environ: WSGIEnviron) -> Request:
        """Make a request from a WSGI environ."""
        request = _new(cls)  # PERF: no __init__ calls; only the WSGI fields are set
        request.app = app
        request.environ = environ
        request.method = environ["REQUEST_METHOD"]
        path = environ.get("PATH_INFO") or "/"
        if not path.isascii():  # PEP 3333: UTF-8 bytes carried as latin-1
            try:
                path = path.encode("latin-1").decode("utf-8")
            except UnicodeError:
                raise BadRequest("The request path is not valid UTF-8.") from None
        request.path = path
        root_path = environ.get("SCRIPT_NAME")
        if root_path:
            request.root_path = root_path
        return request

    @property
    def content_type(self) -> str:
        """The media type of the body, lower-cased, without parameters."""
        header = self.headers.get("content-type")
        return header_params(header)[0] if header else ""

    @property
    def content_length(self) -> int | None:
        """The declared body length, or None.

        Raises:
            BadRequest: The header is not a whole number (answered with 400).
        """
        return _parse_length(self.headers.get("content-length"))

    async def stream(self) -> AsyncIterator[bytes]:
        """Yield the body in chunks as it arrives, without a size limit.

        Raises:
            RuntimeError: The body was already consumed by another reader.
        """
        if self._body is not None:
            yield self._body
            return
        if self._stream_consumed:
            raise RuntimeError("the request body was already read as a stream")
        self._stream_consumed = True
        if self.environ is not None:
            for chunk in self._wsgi_chunks():
                yield chunk
            return
        receive = self._receive
        assert receive is not None
        while True:
            message = await receive()
            kind = message["type"]
            if kind == "http.request":
                chunk = message.get("body", b"")
                if chunk:
                    yield chunk
                if not message.get("more_body", False):
                    return
            elif kind == "http.disconnect":
                raise ClientDisconnect("the client disconnected while sending the body")

    def _wsgi_chunks(self) -> Iterator[bytes]:
        assert self.environ is not None
        return wsgi_body(self.environ)

    async def body(self) -> bytes:
        """Read the whole body (at most ``MAX_BODY_SIZE`` bytes, default 1 MiB).

        Raises:
            RequestEntityTooLarge: The body is over the limit (answered with 413).
        """
        if self._body is None:
            if self.environ is not None:
                return self._read_wsgi_body()
            limit = self._body_limit()
            chunks: list[bytes] = []
            size = 0
            async for chunk in self.stream():
                size += len(chunk)
                if size > limit:
                    raise _too_large(limit)
                chunks.append(chunk)
            self._body = b"".join(chunks)
        return self._body

    async def json(self, *, force: bool = False) -> Any:
        """Decode the body as JSON.

        Args:
            force: Decode even when ``Content-Type`` is not a JSON type.

        Raises:
            HTTPException: 415 when the body is not declared as JSON, 400 when it is
                malformed.
        """
        if self._json is _MISSING:
            ctype = self.content_type
            if not force and not (
                ctype == "application/json" or ctype.endswith("+json")
            ):
                raise HTTPException(
                    415,
                    "Expected a JSON body (Content-Type: application/json), "
                    f"got {ctype or 'no Content-Type'}.",
                )
            body = await self.body()
            if not body:
                raise BadRequest("Malformed JSON: the body is empty.")
            try:
                self._json = _json.loads(body)
            except ValueError as exc:
                raise BadRequest(f"Malformed JSON: {exc}") from None
        return self._json

    async def form(self) -> FormData:
        """Parse an urlencoded or multipart body into a :class:`~kettle.FormData`.

        Uploaded files are :class:`~kettle.UploadFile` objects, spooled to a temporary
        file above a size threshold and closed when the request ends.

        A request without a body and without a ``Content-Type`` (a GET) has an
        empty form.

        Raises:
            HTTPException: 400 for a malformed body, 413 over a limit, 415 for another
                content type.
        """
        if self._form is None:
            from .formparsers import FormData
            from .formparsers import parse_form

            header = self.headers.get("content-type") or ""
            limits = self.app.limits
            ctype = self.content_type
            length = self.content_length
            if not header and (length == 0 or self.method in ("GET", "HEAD")):
                # No body (a GET of a page whose handler also takes its POST):
                # an empty form, as Flask's request.form is.
                self._form = FormData()
                return self._form
            cap = (
                limits.max_upload_size
                if ctype == "multipart/form-data"
                else limits.max_body_size
            )
            if length is not None and length > cap:
                raise _too_large(cap)
            # Uploads rolled over to disk are written from a worker thread; on an
            # error (a client disconnect too) no temporary file is left behind.
            self._form = await parse_form(header, self.stream(), limits)
        return self._form

    def get_body(self) -> bytes:
        """Sync :meth:`body`, for ``def`` handlers (under ASGI and WSGI)."""
        if self._body is not None:
            return self._body
        if self.environ is not None:
            # PERF: under WSGI the body is read straight from wsgi.input.
            return self._read_wsgi_body()
        return run_sync(self.body())

    def _read_wsgi_body(self) -> bytes:
        limit = self._body_limit()
        if self._stream_consumed:
            raise RuntimeError("the request body was already read as a stream")
        self._stream_consumed = True
        chunks: list[bytes] = []
        size = 0
        for chunk in self._wsgi_chunks():
            size += len(chunk)
            if size > limit:
                raise _too_large(limit)
            chunks.append(chunk)
        self._body = b"".join(chunks)
        return self._body

    def _body_limit(self) -> int:
        """``MAX_BODY_SIZE``, checked against ``Content-Length`` up front."""
        limit = self.app.limits.max_body_size
        length = self.content_length
        if length is not None and length > limit:
            raise _too_large(limit)
        return limit

    def get_json(self, *, force: bool = False) -> Any:
        """Sync :meth:`json`, for ``def`` handlers."""
        if self._json is not _MISSING:
            return self._json
        return run_sync(self.json(force=force))

    def get_form(self) -> FormData:
        """Sync :meth:`form`, for ``def`` handlers."""
        return self._form if self._form is not None else run_sync(self.form())

    async def close(self) -> None:
        """Release uploaded files; Kettle calls this when the request ends."""
        if self._form is not None:
            await self._form.close()

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.path}>"


_MISSING: Any = object()
Request._json = _MISSING


def _too_large(limit: int) -> RequestEntityTooLarge:
    return RequestEntityTooLarge(
        f"The request body is larger than the limit of {limit} bytes."
    )
