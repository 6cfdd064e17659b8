"""The ASGI interface: HTTP, WebSocket and lifespan scopes."""

from __future__ import annotations

from typing import TYPE_CHECKING
from typing import Any

from .context import request_var
from .csrf import exempt as csrf_exempt
from .csrf import websocket_origin_error
from .errors import logger
from .exceptions import HTTPException
from .exceptions import WebSocketDisconnect
from .exceptions import WebSocketException
from .requests import CSP_NONCE_KEY
from .requests import ClientDisconnect
from .requests import Request
from .routing import Mount
from .sessions import preload_async
from .types import Receive
from .types import Scope
from .types import Send

if TYPE_CHECKING:
    from .app import Kettle

__all__ = ("handle_http", "handle_lifespan", "handle_websocket")


async def handle_http(app: Kettle, scope: Scope, receive: Receive, send: Send) -> None:
    """Answer one HTTP request."""
    request = Request(app, scope, receive)
    token = request_var.set(request)
    try:
        try:
            response = await app.dispatch_async(request)
        except ClientDisconnect:
            return  # the client left while sending its body: nobody to answer
        if type(response) is Mount:
            child = dict(scope)
            child["root_path"] = scope.get("root_path", "") + response.path
            await response.app(child, receive, send)
        else:
            security = app._security
            if security is not None:
                # The scope's scheme is the request's (ProxyHeadersMiddleware sets
                # both); HSTS goes over HTTPS only.
                if response._raw is None and CSP_NONCE_KEY not in scope:  # type: ignore[union-attr]
                    # PERF: inlined: a response with only its default headers gets
                    # them made here, as Response.raw_headers makes them, with the
                    # pairs made at start-up, in one list.
                    pairs = (
                        security.https
                        if scope.get("scheme") == "https"
                        else security.http
                    )
                    ctype = response._content_type  # type: ignore[union-attr]
                    length = (b"content-length", str(len(response.body)).encode())  # type: ignore[union-attr]
                    response._raw = (  # type: ignore[union-attr]
                        [(b"content-type", ctype), length, *pairs]
                        if ctype
                        else [length, *pairs]
                    )
                else:  # headers of the response's own to keep, or a nonce
                    security.add_asgi(request, response, scope)  # type: ignore[arg-type]
            await response(scope, receive, send)  # type: ignore[operator]
    finally:
        try:
            if app._has_teardown or request._form is not None:
                await app.teardown_async(request)
        finally:
            request_var.reset(token)
    if request.error is not None and scope.get("kettle.raise_exceptions"):
        raise request.error


def _refused_origin(app: Kettle, websocket: Any, handler: Any) -> str | None:
    """Why the CSRF checks refuse this handshake's ``Origin``, or None."""
    checks = app._csrf
    if checks is None or not checks.enabled or csrf_exempt(handler):
        return None
    return websocket_origin_error(websocket, checks)


async def _refuse(receive: Receive, send: Send, code: int, reason: str) -> None:
    """Close a WebSocket before accepting it (the server answers the
    handshake with 403)."""
    await receive()  # websocket.connect
    await send({"type": "websocket.close", "code": code, "reason": reason})


async def handle_websocket(
    app: Kettle, scope: Scope, receive: Receive, send: Send
) -> None:
    """Run the WebSocket handler routed for this connection."""
    from .websockets import WebSocket
    from .websockets import WebSocketState

    websocket = WebSocket(app, scope, receive, send)
    for hook in app._ws_request:  # the proxy's client, scheme and host
        hook(websocket)  # type: ignore[arg-type]
    gate = app._host_gate
    if gate is not None and not gate.allows(websocket):
        await _refuse(receive, send, 1008, "Invalid Host header")
        return
    route, found = app.router.match("WEBSOCKET", websocket.path)
    if route is None:
        mount = app.router.match_mount(websocket.path)
        if mount is not None:
            child = dict(scope)
            child["root_path"] = scope.get("root_path", "") + mount.path
            await mount.app(child, receive, send)
            return
        await _refuse(receive, send, 1000, "No such WebSocket route")
        return
    websocket.route = route
    websocket.path_params = found  # type: ignore[assignment]
    refused = _refused_origin(app, websocket, route.handler.func)
    if refused is not None:  # another site's page, with the user's cookies
        await _refuse(receive, send, 1008, refused[:120])
        return
    plan = route.handler
    token = request_var.set(websocket)
    try:
        if app._server_sessions is not None:
            # read off the event loop, as for HTTP requests
            await preload_async(websocket, app._server_sessions)
        await plan.call_async(websocket)
    except WebSocketDisconnect:
        pass
    except WebSocketException as exc:
        await websocket.close(exc.code, exc.reason)
    except HTTPException as exc:
        reason = str(getattr(exc, "detail", "Invalid request"))[:120]
        await websocket.close(1008, reason)
    except Exception:
        logger().exception("Exception in WebSocket handler for %s", websocket.path)
        if websocket.client_state is not WebSocketState.DISCONNECTED:
            await websocket.close(1011, "Internal error")
        if scope.get("kettle.raise_exceptions"):
            raise
    else:
        if websocket.client_state is not WebSocketState.DISCONNECTED:
            await websocket.close(1000)
    finally:
        request_var.reset(token)


async def handle_lifespan(
    app: Kettle, scope: Scope, receive: Receive, send: Send
) -> None:
    """Run start-up and shutdown hooks when the server says so."""
    while True:
        message = await receive()
        kind = message["type"]
        if kind == "lifespan.startup":
            try:
                await app.startup()
            except BaseException:
                import traceback

                logger().exception("Application start-up failed")
                await send(
                    {
                        "type": "lifespan.startup.failed",
                        "message": traceback.format_exc(),
                    }
                )
                return
            await send({"type": "lifespan.startup.complete"})
        elif kind == "lifespan.shutdown":
            try:
                await app.shutdown()
            except BaseException:
                import traceback

                logger().exception("Application shutdown failed")
                await send(
                    {
                        "type": "lifespan.shutdown.failed",
                        "message": traceback.format_exc(),
                    }
                )
                return
            await send({"type": "lifespan.shutdown.complete"})
            return
