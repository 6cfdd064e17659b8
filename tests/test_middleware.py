"""Tests for the built-in HTTP middleware, each through ASGI and WSGI."""

from __future__ import annotations

import asyncio
import gzip
import io
import json
import re
import sys
import zlib
from collections.abc import AsyncIterator
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from kettle import Kettle
from kettle import Request
from kettle import Response
from kettle import StreamingResponse
from kettle.exceptions import ImproperlyConfigured
from kettle.middleware import CORSMiddleware
from kettle.middleware import GZipMiddleware
from kettle.middleware import HTTPMiddleware
from kettle.middleware import ProxyHeadersMiddleware
from kettle.middleware import RequestIDMiddleware
from kettle.middleware import TrustedHostMiddleware

BIG = "kettle " * 200  # 1400 bytes, very compressible
CHUNKS = ["first chunk " * 20, "second chunk " * 20, "third " * 30]


@pytest.fixture(params=["asgi", "wsgi"])
def interface(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_client(interface: str) -> Callable[..., Any]:
    def make(app: Kettle, **kwargs: Any) -> Any:
        return app.test_client(interface=interface, **kwargs)

    return make


def raw_call(
    app: Kettle,
    interface: str,
    path: str = "/",
    *,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    client: tuple[str, int] = ("192.0.2.1", 4000),
) -> tuple[int, httpx.Headers, list[bytes]]:
    """Call the app without httpx: a chosen client address, raw body chunks."""
    pairs = list((headers or {}).items())
    if interface == "asgi":
        return asyncio.run(_asgi_call(app, method, path, pairs, client))
    return _wsgi_call(app, method, path, pairs, client)


async def _asgi_call(
    app: Kettle,
    method: str,
    path: str,
    headers: list[tuple[str, str]],
    client: tuple[str, int],
) -> tuple[int, httpx.Headers, list[bytes]]:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers],
        "client": client,
        "server": ("testserver", 80),
    }
    done = asyncio.Event()
    received = False
    result: dict[str, Any] = {"chunks": []}

    async def receive() -> dict[str, Any]:
        nonlocal received
        if not received:
            received = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await done.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            result["status"] = message["status"]
            result["headers"] = [
                (k.decode(), v.decode()) for k, v in message["headers"]
            ]
        else:
            if message.get("body"):
                result["chunks"].append(message["body"])
            if not message.get("more_body", False):
                done.set()

    await app(scope, receive, send)
    return result["status"], httpx.Headers(result["headers"]), result["chunks"]


def _wsgi_call(
    app: Kettle,
    method: str,
    path: str,
    headers: list[tuple[str, str]],
    client: tuple[str, int],
) -> tuple[int, httpx.Headers, list[bytes]]:
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": client[0],
        "REMOTE_PORT": str(client[1]),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    for name, value in headers:
        key = name.upper().replace("-", "_")
        environ[key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else "HTTP_" + key] = (
            value
        )
    started: dict[str, Any] = {}

    def start_response(status: str, response_headers: Any, exc_info: Any = None) -> Any:
        started["status"] = int(status.split()[0])
        started["headers"] = response_headers

    body = app.wsgi(environ, start_response)
    try:
        chunks = [chunk for chunk in body if chunk]
    finally:
        close = getattr(body, "close", None)
        if close is not None:
            close()
    return started["status"], httpx.Headers(started["headers"]), chunks


def echo_app() -> Kettle:
    """An app whose ``/`` reports what middleware made of the request (any host
    allowed: the middleware checks hosts here)."""
    app = Kettle(env_file=None, allowed_hosts=["*"])

    @app.get("/")
    def index(request: Request) -> dict[str, Any]:
        client = request.client
        return {
            "client": client.host if client else None,
            "scheme": request.scheme,
            "host": request.host,
            "url": str(request.url),
            "request_id": getattr(request.state, "request_id", None),
        }

    return app


# -- GZip ---------------------------------------------------------------------------


def gzip_app(**options: Any) -> Kettle:
    app = Kettle(env_file=None)

    @app.get("/text")
    def text() -> Response:
        return Response(BIG, media_type="text/plain")

    @app.get("/small")
    def small() -> Response:
        return Response("tiny", media_type="text/plain")

    @app.get("/png")
    def png() -> Response:
        return Response(BIG.encode(), media_type="image/png")

    @app.get("/encoded")
    def encoded() -> Response:
        return Response(
            BIG, media_type="text/plain", headers={"content-encoding": "br"}
        )

    @app.get("/vary")
    def vary() -> Response:
        headers = {"vary": "Cookie", "etag": '"v1"'}
        return Response(BIG, media_type="text/plain", headers=headers)

    @app.get("/partial")
    def partial() -> Response:
        headers = {"content-range": f"bytes 0-{len(BIG) - 1}/9999"}
        return Response(BIG, status_code=206, media_type="text/plain", headers=headers)

    @app.get("/stream")
    def stream() -> StreamingResponse:
        return StreamingResponse(iter(CHUNKS), media_type="text/plain")

    @app.get("/astream")
    def astream() -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            for chunk in CHUNKS:
                yield chunk.encode()

        return StreamingResponse(chunks(), media_type="text/plain")

    app.add_middleware(GZipMiddleware, **options)
    return app


def test_gzip_compresses_large_bodies(interface: str) -> None:
    status, headers, chunks = raw_call(
        gzip_app(), interface, "/text", headers={"accept-encoding": "gzip, br"}
    )
    body = b"".join(chunks)
    assert status == 200
    assert headers["content-encoding"] == "gzip"
    assert headers["vary"] == "Accept-Encoding"
    assert int(headers["content-length"]) == len(body) < len(BIG)
    assert gzip.decompress(body) == BIG.encode()


def test_gzip_through_test_client(make_client: Callable[..., Any]) -> None:
    response = make_client(gzip_app()).get("/text", headers={"accept-encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"
    assert response.text == BIG


def test_gzip_skips_small_bodies_and_respects_minimum_size(interface: str) -> None:
    ae = {"accept-encoding": "gzip"}
    _, headers, chunks = raw_call(gzip_app(), interface, "/small", headers=ae)
    assert "content-encoding" not in headers
    assert "vary" not in headers
    assert b"".join(chunks) == b"tiny"
    app = gzip_app(minimum_size=len(BIG) + 1)
    _, headers, _ = raw_call(app, interface, "/text", headers=ae)
    assert "content-encoding" not in headers


@pytest.mark.parametrize(
    ("accept", "compressed"),
    [
        ("gzip;q=0, deflate", False),
        ("GZIP;q=0.5", True),
        ("identity", False),
        ("*", True),
        ("gzip;q=0, *;q=1", False),
        ("br;q=1, *;q=0", False),
        ("x-gzip", True),
        ("gzip;q=oops", False),
    ],
)
def test_gzip_accept_encoding(interface: str, accept: str, compressed: bool) -> None:
    _, headers, chunks = raw_call(
        gzip_app(), interface, "/text", headers={"accept-encoding": accept}
    )
    assert ("content-encoding" in headers) is compressed
    assert headers["vary"] == "Accept-Encoding"  # the answer depended on it
    body = b"".join(chunks)
    assert (gzip.decompress(body) if compressed else body) == BIG.encode()


def test_gzip_no_accept_encoding_header(interface: str) -> None:
    _, headers, chunks = raw_call(gzip_app(), interface, "/text")
    assert "content-encoding" not in headers
    assert b"".join(chunks) == BIG.encode()


@pytest.mark.parametrize("path", ["/encoded", "/png", "/partial"])
def test_gzip_leaves_some_responses_alone(interface: str, path: str) -> None:
    _, headers, chunks = raw_call(
        gzip_app(), interface, path, headers={"accept-encoding": "gzip"}
    )
    assert headers.get("content-encoding") in (None, "br")
    assert "vary" not in headers
    assert b"".join(chunks) == BIG.encode()


def test_gzip_appends_vary_and_weakens_etag(interface: str) -> None:
    _, headers, _ = raw_call(
        gzip_app(), interface, "/vary", headers={"accept-encoding": "gzip"}
    )
    assert headers["vary"] == "Cookie, Accept-Encoding"
    assert headers["etag"] == 'W/"v1"'


def test_gzip_head_has_the_get_headers(interface: str) -> None:
    ae = {"accept-encoding": "gzip"}
    _, get_headers, _ = raw_call(gzip_app(), interface, "/text", headers=ae)
    status, headers, chunks = raw_call(
        gzip_app(), interface, "/text", method="HEAD", headers=ae
    )
    assert status == 200
    assert chunks == []
    assert headers["content-encoding"] == "gzip"
    assert headers["content-length"] == get_headers["content-length"]


@pytest.mark.parametrize("path", ["/stream", "/astream"])
def test_gzip_streams_chunk_by_chunk(interface: str, path: str) -> None:
    status, headers, chunks = raw_call(
        gzip_app(), interface, path, headers={"accept-encoding": "gzip"}
    )
    assert status == 200
    assert headers["content-encoding"] == "gzip"
    assert "content-length" not in headers
    # Each chunk is flushed: it decompresses to its own part of the stream at once.
    decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
    parts = [decoder.decompress(chunk) for chunk in chunks]
    assert parts[: len(CHUNKS)] == [c.encode() for c in CHUNKS]
    assert gzip.decompress(b"".join(chunks)) == "".join(CHUNKS).encode()


def test_gzip_stream_through_test_client(make_client: Callable[..., Any]) -> None:
    client = make_client(gzip_app())
    with client.stream("GET", "/astream", headers={"accept-encoding": "gzip"}) as r:
        raw = b"".join(r.iter_raw())
    assert r.headers["content-encoding"] == "gzip"
    assert gzip.decompress(raw) == "".join(CHUNKS).encode()


# -- CORS ---------------------------------------------------------------------------


def cors_app(**options: Any) -> Kettle:
    app = Kettle(env_file=None)

    @app.get("/")
    def index() -> Response:
        return Response("hello", media_type="text/plain", headers={"x-total": "3"})

    @app.route("/items", methods=["GET", "PUT"])
    def items() -> str:
        return "items"

    app.add_middleware(CORSMiddleware, **options)
    return app


def preflight(
    origin: str = "https://a.example", method: str = "PUT", headers: str | None = None
) -> dict[str, str]:
    out = {"origin": origin, "access-control-request-method": method}
    if headers is not None:
        out["access-control-request-headers"] = headers
    return out


STRICT = {
    "allow_origins": ["https://a.example", "https://b.example:8443"],
    "allow_methods": ["GET", "PUT"],
    "allow_headers": ["X-Token"],
    "expose_headers": ["X-Total"],
}


def test_cors_preflight_allowed(make_client: Callable[..., Any]) -> None:
    client = make_client(cors_app(**STRICT))
    response = client.options(
        "/items", headers=preflight(headers="x-token, content-type")
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "https://a.example"
    assert response.headers["access-control-allow-methods"] == "GET, HEAD, POST, PUT"
    allowed = response.headers["access-control-allow-headers"].split(", ")
    assert {"x-token", "content-type"} <= set(allowed)
    assert response.headers["access-control-max-age"] == "600"
    assert response.headers["vary"] == "Origin"
    assert "access-control-allow-credentials" not in response.headers
    # Configured origins are normalized: the default port and case do not matter.
    other = client.options("/", headers=preflight(origin="https://b.example:8443"))
    assert other.status_code == 200


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        (preflight(origin="https://evil.example"), "Disallowed CORS origin"),
        (preflight(method="DELETE"), "Disallowed CORS method"),
        (preflight(headers="x-token, x-other"), "Disallowed CORS headers"),
        (
            preflight(origin="https://evil.example", method="PATCH"),
            "Disallowed CORS origin, method",
        ),
    ],
)
def test_cors_preflight_refused(
    make_client: Callable[..., Any], headers: dict[str, str], message: str
) -> None:
    response = make_client(cors_app(**STRICT)).options("/items", headers=headers)
    assert response.status_code == 400
    assert response.text == message
    assert response.headers["content-type"].startswith("text/plain")
    assert "access-control-allow-origin" not in response.headers


def test_cors_options_without_request_method_is_routed(
    make_client: Callable[..., Any],
) -> None:
    client = make_client(cors_app(**STRICT))
    response = client.options("/items", headers={"origin": "https://a.example"})
    assert response.status_code == 204
    assert "PUT" in response.headers["allow"]
    assert response.headers["access-control-allow-origin"] == "https://a.example"


def test_cors_simple_request(make_client: Callable[..., Any]) -> None:
    client = make_client(cors_app(**STRICT))
    response = client.get("/", headers={"origin": "https://a.example"})
    assert response.text == "hello"
    assert response.headers["access-control-allow-origin"] == "https://a.example"
    assert response.headers["access-control-expose-headers"] == "X-Total"
    assert response.headers["vary"] == "Origin"
    refused = client.get("/", headers={"origin": "https://evil.example"})
    assert refused.status_code == 200
    assert "access-control-allow-origin" not in refused.headers
    assert refused.headers["vary"] == "Origin"
    same_origin = client.get("/")
    assert "access-control-allow-origin" not in same_origin.headers
    assert same_origin.headers["vary"] == "Origin"  # caches must key on Origin
    missing = client.get("/missing", headers={"origin": "https://a.example"})
    assert missing.status_code == 404
    assert missing.headers["access-control-allow-origin"] == "https://a.example"


def test_cors_wildcard_without_credentials(make_client: Callable[..., Any]) -> None:
    client = make_client(cors_app(allow_origins=["*"], allow_headers=["*"]))
    response = client.get("/", headers={"origin": "https://any.example"})
    assert response.headers["access-control-allow-origin"] == "*"
    assert "vary" not in response.headers
    response = client.options(
        "/", headers=preflight(origin="https://any.example", headers="x-a, x-b")
    )
    assert response.status_code == 400  # PUT is not among the allowed methods
    response = client.options(
        "/", headers=preflight(method="POST", headers="authorization, x-b")
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["access-control-allow-headers"] == "authorization, x-b"


def test_cors_credentials_echo_origin(make_client: Callable[..., Any]) -> None:
    app = cors_app(allow_origins=["*"], allow_credentials=True, allow_methods=["*"])
    client = make_client(app)
    response = client.get("/", headers={"origin": "https://any.example"})
    assert response.headers["access-control-allow-origin"] == "https://any.example"
    assert response.headers["access-control-allow-credentials"] == "true"
    assert response.headers["vary"] == "Origin"
    response = client.options("/", headers=preflight(method="PATCH"))
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "https://a.example"
    assert response.headers["access-control-allow-methods"] == "PATCH"
    assert response.headers["access-control-allow-credentials"] == "true"
    assert response.headers["vary"] == "Origin, Access-Control-Request-Method"


def test_cors_origin_regex(make_client: Callable[..., Any]) -> None:
    client = make_client(cors_app(allow_origin_regex=r"https://[a-z]+\.example\.org"))
    ok = client.get("/", headers={"origin": "https://api.example.org"})
    assert ok.headers["access-control-allow-origin"] == "https://api.example.org"
    bad = client.get("/", headers={"origin": "https://api.example.org.evil.com"})
    assert "access-control-allow-origin" not in bad.headers


def test_cors_keeps_one_value_of_each_header(make_client: Callable[..., Any]) -> None:
    app = Kettle(env_file=None)

    @app.get("/own")
    def own() -> Response:
        return Response(
            "x",
            headers={
                "vary": "Accept-Encoding",
                "access-control-allow-credentials": "false",
                "access-control-expose-headers": "X-Old",
            },
        )

    app.add_middleware(
        CORSMiddleware,
        allow_origins=["https://a.example"],
        allow_credentials=True,
        expose_headers=["X-Total"],
    )
    client = make_client(app)
    response = client.get("/own", headers={"origin": "https://a.example"})
    assert response.headers["vary"] == "Accept-Encoding, Origin"
    # Replaced, not doubled: browsers refuse "true, false".
    assert response.headers.get_list("access-control-allow-credentials") == ["true"]
    assert response.headers.get_list("access-control-expose-headers") == ["X-Total"]
    assert response.headers["access-control-allow-origin"] == "https://a.example"


# -- Trusted host -------------------------------------------------------------------


def host_app(**options: Any) -> Kettle:
    app = echo_app()
    app.add_middleware(TrustedHostMiddleware, **options)
    return app


@pytest.mark.parametrize(
    ("host", "status"),
    [
        ("example.com", 200),
        ("EXAMPLE.com:8000", 200),
        ("example.com.", 200),
        ("api.example.org", 200),
        ("a.b.example.org", 200),
        ("example.org", 400),
        ("evil.com", 400),
        ("example.com.evil.com", 400),
        ("[::1]:8000", 200),
        ("[::2]", 400),
        ("example.com:port", 400),
    ],
)
def test_trusted_host(make_client: Callable[..., Any], host: str, status: int) -> None:
    app = host_app(allowed_hosts=["example.com", "*.example.org", "[::1]"])
    response = make_client(app).get("/", headers={"host": host})
    assert response.status_code == status
    if status == 400:
        assert response.text == "Invalid host header"


def test_trusted_host_refuses_requests_without_host(interface: str) -> None:
    app = host_app(allowed_hosts=["example.com"])
    status, _, chunks = raw_call(app, interface)
    assert (status, b"".join(chunks)) == (400, b"Invalid host header")


def test_trusted_host_wildcard(make_client: Callable[..., Any]) -> None:
    client = make_client(host_app())
    assert client.get("/", headers={"host": "anything.test"}).status_code == 200


def test_trusted_host_www_redirect(make_client: Callable[..., Any]) -> None:
    client = make_client(
        host_app(allowed_hosts=["www.example.com"]), follow_redirects=False
    )
    response = client.get("/?x=1", headers={"host": "example.com:8080"})
    assert response.status_code == 307
    assert response.headers["location"] == "http://www.example.com:8080/?x=1"
    assert client.get("/", headers={"host": "www.example.com"}).status_code == 200
    client = make_client(
        host_app(allowed_hosts=["www.example.com"], www_redirect=False),
        follow_redirects=False,
    )
    assert client.get("/", headers={"host": "example.com"}).status_code == 400


# -- Proxy headers ------------------------------------------------------------------


def proxy_app(**options: Any) -> Kettle:
    app = echo_app()
    app.add_middleware(ProxyHeadersMiddleware, **options)
    return app


def test_proxy_headers_trusted(make_client: Callable[..., Any]) -> None:
    client = make_client(proxy_app(trusted_hosts="*"))
    data = client.get(
        "/",
        headers={
            "x-forwarded-for": "203.0.113.7",
            "x-forwarded-proto": "https",
            "x-forwarded-host": "api.example.com",
        },
    ).json()
    assert data["client"] == "203.0.113.7"
    assert data["scheme"] == "https"
    assert data["host"] == "api.example.com"
    assert data["url"] == "https://api.example.com/"


def test_proxy_headers_untrusted_client(interface: str) -> None:
    app = proxy_app(trusted_hosts=["10.0.0.1"])
    headers = {"x-forwarded-for": "203.0.113.7", "x-forwarded-proto": "https"}
    _, _, chunks = raw_call(app, interface, headers=headers, client=("192.0.2.1", 1))
    data = json.loads(b"".join(chunks))
    assert data["client"] == "192.0.2.1"
    assert data["scheme"] == "http"
    # The test client's peer ("testclient") is not an IP address: never trusted.
    client = app.test_client(interface=interface)
    assert client.get("/", headers=headers).json()["client"] == "testclient"


def test_proxy_headers_rightmost_untrusted_address(interface: str) -> None:
    app = proxy_app(trusted_hosts=["10.0.0.0/8", "::1"])
    headers = {
        "x-forwarded-for": "1.1.1.1, 198.51.100.4, 10.0.0.5",
        "x-forwarded-proto": "http, https, http",
    }
    _, _, chunks = raw_call(app, interface, headers=headers, client=("10.0.0.2", 1))
    data = json.loads(b"".join(chunks))
    assert data["client"] == "198.51.100.4"  # 1.1.1.1 could be a spoof
    assert data["scheme"] == "https"  # the entry aligned with the chosen address
    _, _, chunks = raw_call(app, interface, headers=headers, client=("::1", 1))
    assert json.loads(b"".join(chunks))["client"] == "198.51.100.4"
    mapped = ("::ffff:10.1.2.3", 1)
    _, _, chunks = raw_call(app, interface, headers=headers, client=mapped)
    assert json.loads(b"".join(chunks))["client"] == "198.51.100.4"


def test_proxy_forwarded_header(make_client: Callable[..., Any]) -> None:
    client = make_client(proxy_app(trusted_hosts="*"))
    headers = {
        "forwarded": 'for="[2001:db8::17]:4711";proto=https;host="shop.example"',
        "x-forwarded-for": "203.0.113.7",
    }
    data = client.get("/", headers=headers).json()
    assert data["client"] == "2001:db8::17"
    assert data["url"] == "https://shop.example/"
    # Malformed Forwarded headers are ignored (X-Forwarded-* is used instead).
    headers["forwarded"] = "for=a for=b"
    assert client.get("/", headers=headers).json()["client"] == "203.0.113.7"
    off = make_client(proxy_app(trusted_hosts="*", use_forwarded=False))
    headers["forwarded"] = "for=192.0.2.60"
    assert off.get("/", headers=headers).json()["client"] == "203.0.113.7"


def test_proxy_invalid_values_are_ignored(make_client: Callable[..., Any]) -> None:
    client = make_client(proxy_app(trusted_hosts="*"))
    headers = {"x-forwarded-proto": "ftp", "x-forwarded-host": "bad host/"}
    data = client.get("/", headers=headers).json()
    assert data["scheme"] == "http"
    assert data["host"] == "testserver"


class TouchURL(HTTPMiddleware):
    def process_request(self, request: Request) -> None:
        assert str(request.url).startswith("http://")


def test_proxy_resets_cached_url(make_client: Callable[..., Any]) -> None:
    app = proxy_app(trusted_hosts="*")
    app.add_middleware(TouchURL)  # outermost: builds request.url first
    headers = {"x-forwarded-proto": "wss", "x-forwarded-host": "example.com:8443"}
    data = make_client(app).get("/", headers=headers).json()
    assert data["url"] == "https://example.com:8443/"


# -- Request ID ---------------------------------------------------------------------


def id_app(**options: Any) -> Kettle:
    app = echo_app()
    app.add_middleware(RequestIDMiddleware, **options)
    return app


def test_request_id_generated(make_client: Callable[..., Any]) -> None:
    response = make_client(id_app()).get("/")
    request_id = response.headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", request_id)
    assert response.json()["request_id"] == request_id
    assert make_client(id_app()).get("/").headers["x-request-id"] != request_id


def test_request_id_propagated(make_client: Callable[..., Any]) -> None:
    client = make_client(id_app())
    response = client.get("/", headers={"x-request-id": "abc-123 from proxy"})
    assert response.headers["x-request-id"] == "abc-123 from proxy"
    assert response.json()["request_id"] == "abc-123 from proxy"
    too_long = client.get("/", headers={"x-request-id": "a" * 201})
    assert re.fullmatch(r"[0-9a-f]{32}", too_long.headers["x-request-id"])
    missing = client.get("/missing", headers={"x-request-id": "on-errors-too"})
    assert missing.status_code == 404
    assert missing.headers["x-request-id"] == "on-errors-too"


def test_request_id_options(make_client: Callable[..., Any]) -> None:
    ids = iter(["id-1", "id-2"])
    app = id_app(
        header_name="X-Trace", trust_incoming=False, generator=lambda: next(ids)
    )
    client = make_client(app)
    response = client.get("/", headers={"x-trace": "client-chosen"})
    assert response.headers["x-trace"] == "id-1"
    assert response.json()["request_id"] == "id-1"
    assert "x-request-id" not in response.headers


# -- Order and configuration --------------------------------------------------------


def test_middleware_order_last_added_is_outermost(
    make_client: Callable[..., Any],
) -> None:
    calls: list[str] = []

    class Recorder(HTTPMiddleware):
        def __init__(self, app: Kettle, *, name: str) -> None:
            super().__init__(app)
            self.name = name

        def process_request(self, request: Request) -> None:
            calls.append(f"request {self.name}")

        def process_response(self, request: Request, response: Response) -> Response:
            calls.append(f"response {self.name}")
            response.headers.append("x-seen", self.name)
            return response

    app = echo_app()
    app.add_middleware(Recorder, name="inner")
    app.add_middleware(Recorder, name="outer")
    response = make_client(app).get("/")
    assert calls == [
        "request outer",
        "request inner",
        "response inner",
        "response outer",
    ]
    assert response.headers.get_list("x-seen") == ["inner", "outer"]


def test_proxy_headers_must_run_before_trusted_host(
    make_client: Callable[..., Any],
) -> None:
    headers = {"host": "internal:8000", "x-forwarded-host": "example.com"}
    app = echo_app()
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=["example.com"])
    app.add_middleware(ProxyHeadersMiddleware, trusted_hosts="*")
    assert make_client(app).get("/", headers=headers).status_code == 200
    app = echo_app()
    app.add_middleware(ProxyHeadersMiddleware, trusted_hosts="*")
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=["example.com"])
    assert make_client(app).get("/", headers=headers).status_code == 400


def test_full_stack(make_client: Callable[..., Any]) -> None:
    app = gzip_app()
    app.add_middleware(RequestIDMiddleware)
    app.add_middleware(CORSMiddleware, allow_origins=["https://a.example"])
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=["testserver"])
    app.add_middleware(ProxyHeadersMiddleware, trusted_hosts="*")
    client = make_client(app)
    headers = {"accept-encoding": "gzip", "origin": "https://a.example"}
    response = client.get("/text", headers=headers)
    assert response.text == BIG
    assert response.headers["content-encoding"] == "gzip"
    assert response.headers["vary"] == "Accept-Encoding, Origin"
    assert response.headers["access-control-allow-origin"] == "https://a.example"
    assert response.headers["x-request-id"]
    refused = client.get("/text", headers={"host": "evil.example"})
    assert refused.status_code == 400


def test_add_middleware_with_bad_option_raises() -> None:
    app = echo_app()
    with pytest.raises(ImproperlyConfigured, match="compresslevel"):
        app.add_middleware(GZipMiddleware, compresslevel=42)


def test_early_response_passes_only_through_outer_middleware(make_client) -> None:
    """A response returned by process_request skips the inner middleware."""
    from kettle import PlainTextResponse
    from kettle.middleware import HTTPMiddleware

    seen: list[str] = []

    class Mark(HTTPMiddleware):
        def __init__(self, app, *, name: str, stop: bool = False) -> None:
            super().__init__(app)
            self.name = name
            self.stop = stop

        def process_request(self, request):
            seen.append(f"request {self.name}")
            return PlainTextResponse("stopped") if self.stop else None

        def process_response(self, request, response):
            seen.append(f"response {self.name}")
            return response

    app = echo_app()
    app.add_middleware(Mark, name="inner")
    app.add_middleware(Mark, name="middle", stop=True)
    app.add_middleware(Mark, name="outer")
    response = make_client(app).get("/")
    assert response.text == "stopped"
    assert seen == [
        "request outer",
        "request middle",
        "response middle",
        "response outer",
    ]


@pytest.mark.parametrize(
    ("cls", "options", "message"),
    [
        (GZipMiddleware, {"minimum_size": -1}, "minimum_size"),
        (GZipMiddleware, {"minimum_size": True}, "minimum_size"),
        (GZipMiddleware, {"exclude_media_types": "image/*"}, "exclude_media_types"),
        (GZipMiddleware, {"exclude_media_types": ["image"]}, "not a media type"),
        (CORSMiddleware, {"allow_origins": "https://a.example"}, "allow_origins"),
        (CORSMiddleware, {"allow_origins": ["https://a.example/"]}, "did you mean"),
        (CORSMiddleware, {"allow_origins": ["a.example"]}, "not an origin"),
        (CORSMiddleware, {"allow_origin_regex": "("}, "does not compile"),
        (CORSMiddleware, {"allow_methods": ["GET POST"]}, "not a valid HTTP token"),
        (CORSMiddleware, {"allow_headers": [1]}, "must contain strings"),
        (CORSMiddleware, {"allow_credentials": "yes"}, "allow_credentials"),
        (CORSMiddleware, {"max_age": -5}, "max_age"),
        (
            CORSMiddleware,
            {"expose_headers": ["*"], "allow_credentials": True},
            "expose_headers",
        ),
        (TrustedHostMiddleware, {"allowed_hosts": "example.com"}, "sequence"),
        (TrustedHostMiddleware, {"allowed_hosts": []}, "empty"),
        (TrustedHostMiddleware, {"allowed_hosts": ["https://x.com"]}, "not a host"),
        (TrustedHostMiddleware, {"allowed_hosts": ["a.*.com"]}, "not a host"),
        (TrustedHostMiddleware, {"www_redirect": None}, "www_redirect"),
        (ProxyHeadersMiddleware, {"trusted_hosts": ["10.0.0.1/8"]}, "CIDR"),
        (ProxyHeadersMiddleware, {"trusted_hosts": ["localhost"]}, "not an IP"),
        (ProxyHeadersMiddleware, {"trusted_hosts": []}, "empty"),
        (ProxyHeadersMiddleware, {"use_forwarded": 1}, "use_forwarded"),
        (RequestIDMiddleware, {"header_name": "X Request"}, "header_name"),
        (RequestIDMiddleware, {"trust_incoming": "no"}, "trust_incoming"),
        (RequestIDMiddleware, {"generator": "uuid"}, "generator"),
    ],
)
def test_bad_options(cls: Any, options: dict[str, Any], message: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=message):
        cls(Kettle(env_file=None), **options)
