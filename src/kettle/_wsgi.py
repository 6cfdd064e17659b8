"""The WSGI interface, and a bridge that runs ASGI apps (mounts, ASGI middleware)
under WSGI."""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Iterator
from collections.abc import Sequence
from contextvars import Token
from typing import TYPE_CHECKING
from typing import Any

from ._sansio import _STATUS_LINES
from ._sansio import status_line
from .concurrency import run_sync
from .context import request_var
from .datastructures import Headers
from .errors import error_response
from .exceptions import HTTPException
from .requests import CSP_NONCE_KEY
from .requests import Request
from .requests import wsgi_body
from .responses import Response
from .routing import Mount
from .types import ASGIApp
from .types import Message
from .types import StartResponse
from .types import WSGIEnviron

if TYPE_CHECKING:
    from .app import Kettle
    from .security import SecurityHeaders

__all__ = ("call_asgi", "handle")

#: Response classes whose ``wsgi`` is Response's, answered inline by handle().
_PLAIN: set[type[Response]] = {Response}
#: Whether a response class's ``wsgi`` takes ``extra_headers``, by class.
_TAKES_EXTRA: dict[type[Response], bool] = {}


def _takes_extra(cls: type[Response]) -> bool:
    """Whether ``cls.wsgi`` takes ``extra_headers`` (remembered for each class)."""
    code = getattr(cls.wsgi, "__code__", None)
    found = (
        code is not None
        and "extra_headers"
        in code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]
    )
    if len(_TAKES_EXTRA) < 1000:
        _TAKES_EXTRA[cls] = found
        if cls.wsgi is Response.wsgi:
            _PLAIN.add(cls)  # answered inline by handle() from now on
    return found


def _answer_secured(
    security: SecurityHeaders,
    request: Request,
    response: Response,
    environ: WSGIEnviron,
    start_response: StartResponse,
) -> Iterable[bytes]:
    """Answer with the security headers added (but none the response has)."""
    https = environ.get("wsgi.url_scheme") == "https"
    cls = type(response)
    takes_extra = _TAKES_EXTRA.get(cls)
    if takes_extra is None:
        takes_extra = _takes_extra(cls)
    raw = response._raw
    if takes_extra and (raw is None or security.missing_from(raw)):
        # PERF: str pairs made at start-up, which wsgi() puts in the header
        # list it makes (no bytes made, then decoded).
        extra: Sequence[tuple[str, str]] = (
            security.wsgi_https if https else security.wsgi_http
        )
        if CSP_NONCE_KEY in environ:  # the request read its nonce
            extra = security.wsgi_pairs(https, request._csp_nonce)
        return response.wsgi(environ, start_response, extra)
    # The response has some of them already, or a wsgi() of its own.
    security.add(response, https, request._csp_nonce)
    return response.wsgi(environ, start_response)


def handle(
    app: Kettle, environ: WSGIEnviron, start_response: StartResponse
) -> Iterable[bytes]:
    """Answer one WSGI request (``app.wsgi`` is this function bound to the app)."""
    if not app._wsgi_started:
        app.wsgi_startup()
    if app._has_asgi_middleware:
        # NOTE: plain ASGI middleware can only run over ASGI; bridge the whole app.
        return call_asgi(app._asgi_stack, environ, start_response)
    try:
        request = Request.from_wsgi(app, environ)
    except HTTPException as exc:
        error = error_response(None, exc.status_code, exc.detail)
        if app._security is not None:
            app._security.add(error, environ.get("wsgi.url_scheme") == "https")
        return error.wsgi(environ, start_response)
    token = request_var.set(request)
    try:
        response = app.dispatch_sync(request)
        if type(response) is Mount:
            body = call_asgi(response.app, environ, start_response, response.path)
        else:
            security = app._security
            if security is None:
                body = response.wsgi(environ, start_response)  # type: ignore[union-attr]
            elif (
                response._raw is None  # type: ignore[union-attr]
                and not response._cookies  # type: ignore[union-attr]
                and CSP_NONCE_KEY not in environ
                and type(response) in _PLAIN
            ):
                # PERF: Response.wsgi inlined for the common case, a response with
                # only its default headers: those (as str pairs) and the security
                # headers made at start-up, in one list. Keep in step with it.
                content: bytes = response.body  # type: ignore[union-attr]
                ctype = response._wsgi_content_type  # type: ignore[union-attr]
                length = ("content-length", str(len(content)))
                pairs = (
                    security.wsgi_https
                    if environ.get("wsgi.url_scheme") == "https"
                    else security.wsgi_http
                )
                code: int = response.status_code  # type: ignore[union-attr]
                start_response(
                    _STATUS_LINES.get(code) or status_line(code),
                    [("content-type", ctype), length, *pairs]
                    if ctype
                    else [length, *pairs],
                )
                body = [] if environ["REQUEST_METHOD"] == "HEAD" else [content]
            else:
                body = _answer_secured(
                    security,
                    request,
                    response,  # type: ignore[arg-type]
                    environ,
                    start_response,
                )
    except BaseException:
        _finish(app, request, token)
        raise
    if request.error is not None and environ.get("kettle.raise_exceptions"):
        _finish(app, request, token)
        raise request.error
    if type(body) is list:
        if app._has_teardown or request._form is not None:
            app.teardown_sync(request)
        request_var.reset(token)
        return body
    # A streamed body is produced after this returns: keep the request current, and
    # run teardown hooks when the server closes the body.
    return _ClosingBody(body, app, request, token)


def _finish(app: Kettle, request: Request, token: Token[Any]) -> None:
    """End a request: teardown hooks, uploads released, the context restored."""
    try:
        app.teardown_sync(request)
    finally:
        try:
            request_var.reset(token)
        except ValueError:  # closed from another context by the server
            request_var.set(None)


class _ClosingBody:
    """A WSGI body that ends its request once the server has finished with it."""

    __slots__ = ("_app", "_body", "_request", "_token")

    def __init__(
        self, body: Iterable[bytes], app: Kettle, request: Request, token: Token[Any]
    ) -> None:
        self._body = body
        self._app = app
        self._request = request
        self._token = token

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._body)

    def close(self) -> None:
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                close()
        finally:
            _finish(self._app, self._request, self._token)


def _scope_from_environ(environ: WSGIEnviron, mount_path: str) -> dict[str, Any]:
    script = environ.get("SCRIPT_NAME", "")
    path = environ.get("PATH_INFO", "") or "/"
    path = path.encode("latin-1").decode("utf-8", "replace")
    headers = Headers.from_environ(environ).raw
    port = environ.get("SERVER_PORT")
    remote_port = environ.get("REMOTE_PORT")
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": environ.get("SERVER_PROTOCOL", "HTTP/1.1").split("/")[-1],
        "method": environ["REQUEST_METHOD"],
        "scheme": environ.get("wsgi.url_scheme", "http"),
        "path": script + path,
        "raw_path": (script + path).encode("utf-8"),
        "root_path": script + mount_path,
        "query_string": environ.get("QUERY_STRING", "").encode("latin-1"),
        "headers": headers,
        "server": (
            environ.get("SERVER_NAME", "localhost"),
            int(port) if port else None,
        ),
        "client": (
            environ.get("REMOTE_ADDR", ""),
            int(remote_port) if remote_port else 0,
        ),
        "extensions": {},
        "kettle.raise_exceptions": environ.get("kettle.raise_exceptions", False),
    }


def call_asgi(
    asgi_app: ASGIApp,
    environ: WSGIEnviron,
    start_response: StartResponse,
    mount_path: str = "",
) -> Iterable[bytes]:
    """Run an ASGI app for one WSGI request on the worker thread's event loop.

    The response body is collected before it is returned, so streaming responses
    are buffered through this bridge.
    """
    scope = _scope_from_environ(environ, mount_path)
    try:
        chunks = wsgi_body(environ)
    except HTTPException as exc:
        return error_response(None, exc.status_code, exc.detail).wsgi(
            environ, start_response
        )
    state: dict[str, Any] = {"status": 500, "headers": [], "body": [], "sent": False}

    async def run() -> None:
        import asyncio

        finished = asyncio.Event()

        async def receive() -> Message:
            if state["sent"]:
                # The client stays until the whole response is produced.
                await finished.wait()
                return {"type": "http.disconnect"}
            chunk = next(chunks, None)
            if chunk is None:
                state["sent"] = True
                return {"type": "http.request", "body": b"", "more_body": False}
            return {"type": "http.request", "body": chunk, "more_body": True}

        async def send(message: Message) -> None:
            if message["type"] == "http.response.start":
                state["status"] = message["status"]
                state["headers"] = message.get("headers", [])
            elif message["type"] == "http.response.body":
                state["body"].append(message.get("body", b""))
                if not message.get("more_body", False):
                    finished.set()

        try:
            await asgi_app(scope, receive, send)
        finally:
            finished.set()

    run_sync(run())
    headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in state["headers"]]
    start_response(status_line(state["status"]), headers)
    if environ["REQUEST_METHOD"] == "HEAD":
        return []
    return [b"".join(state["body"])]
