"""The raw ASGI callable: the server's physical limit.

Every endpoint is answered with a precomputed body chosen by path; nothing is parsed.
"""

_TEXT = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", b"13")]
_PLAIN = b"Hello, World!"


def _json(body: bytes) -> tuple[list[tuple[bytes, bytes]], bytes]:
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    return headers, body


_ROUTES = {
    "/plaintext": (_TEXT, _PLAIN),
    "/mw/plaintext": (_TEXT, _PLAIN),
    "/json": _json(b'{"message":"Hello, World!"}'),
    "/items/42": _json(b'{"id":42}'),
    "/query": _json(b'{"page":2,"size":10,"q":"tea"}'),
}
_NOT_FOUND = (
    [(b"content-type", b"text/plain"), (b"content-length", b"9")],
    b"Not Found",
)


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    route = _ROUTES.get(scope["path"])
    headers, body = route if route is not None else _NOT_FOUND
    await send(
        {
            "type": "http.response.start",
            "status": 200 if route is not None else 404,
            "headers": headers,
        }
    )
    await send({"type": "http.response.body", "body": body})


mw_app = app
