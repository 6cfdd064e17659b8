"""The raw WSGI callable: the server's physical limit.

Every endpoint is answered with a precomputed body chosen by path; nothing is parsed.
"""

_TEXT = [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", "13")]
_PLAIN = b"Hello, World!"


def _json(body: bytes) -> tuple[list[tuple[str, str]], bytes]:
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    return headers, body


_ROUTES = {
    "/plaintext": (_TEXT, _PLAIN),
    "/mw/plaintext": (_TEXT, _PLAIN),
    "/json": _json(b'{"message":"Hello, World!"}'),
    "/items/42": _json(b'{"id":42}'),
    "/query": _json(b'{"page":2,"size":10,"q":"tea"}'),
}
_NOT_FOUND = ([("Content-Type", "text/plain"), ("Content-Length", "9")], b"Not Found")


def app(environ, start_response):
    route = _ROUTES.get(environ["PATH_INFO"])
    if route is None:
        start_response("404 Not Found", _NOT_FOUND[0])
        return [_NOT_FOUND[1]]
    start_response("200 OK", route[0])
    return [route[1]]


mw_app = app
