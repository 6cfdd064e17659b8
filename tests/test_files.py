"""FileResponse and StaticFiles, over ASGI and WSGI."""

from __future__ import annotations

import asyncio
import os
from typing import Any
from wsgiref.util import FileWrapper
from wsgiref.util import setup_testing_defaults

import pytest

from kettle import Kettle
from kettle._sansio import http_date
from kettle.exceptions import ImproperlyConfigured
from kettle.files import FileResponse
from kettle.files import StaticFiles
from kettle.files import content_disposition
from kettle.files import make_etag
from kettle.files import plan_file_response
from kettle.files import resolve_static_path

CONTENT = b"0123456789abcdefghijklmnopqrstuvwxyz"
SECRET = b"TOP-SECRET-CONTENT"


# -- helpers ------------------------------------------------------------------------


@pytest.fixture
def data_file(tmp_path):
    path = tmp_path / "data.txt"
    path.write_bytes(CONTENT)
    return path


@pytest.fixture
def file_client(app, make_client, data_file):
    """A client for an app answering /file with a FileResponse of data_file."""

    @app.get("/file")
    def send_file():
        return FileResponse(data_file)

    @app.post("/file")
    def post_file():
        return FileResponse(data_file)

    return make_client(app)


def run_asgi(asgi_app, scope_extra: dict[str, Any]) -> tuple[list[dict], bytes]:
    """Call an ASGI app directly with a hand-made scope; return messages and body."""
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/",
        "raw_path": b"/",
        "root_path": "",
        "query_string": b"",
        "headers": [],
        "server": ("testserver", 80),
        "client": ("testclient", 50000),
        "extensions": {},
    }
    scope.update(scope_extra)
    messages: list[dict] = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        messages.append(dict(message))

    asyncio.run(asgi_app(scope, receive, send))
    body = b"".join(m.get("body", b"") for m in messages)
    return messages, body


def run_wsgi(wsgi_app, path: str, **environ_extra: Any) -> tuple[str, dict, bytes]:
    """Call a WSGI app directly with a raw PATH_INFO (nothing normalised)."""
    environ: dict[str, Any] = {"PATH_INFO": path, "REQUEST_METHOD": "GET"}
    setup_testing_defaults(environ)
    environ.update(environ_extra)
    captured: dict[str, Any] = {}

    def start_response(status, headers, exc_info=None):
        captured["status"] = status
        captured["headers"] = dict((k.lower(), v) for k, v in headers)

    result = wsgi_app(environ, start_response)
    try:
        body = b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return captured["status"], captured["headers"], body


def parse_multipart(content_type: str, body: bytes) -> list[tuple[str, str, bytes]]:
    """Split a multipart/byteranges body strictly: (content-type, range, data)."""
    boundary = content_type.split("boundary=", 1)[1].encode()
    assert body.startswith(b"--" + boundary + b"\r\n")
    assert body.endswith(b"\r\n--" + boundary + b"--\r\n")
    inner = body[len(boundary) + 4 : -(len(boundary) + 8)]
    parts = []
    for chunk in inner.split(b"\r\n--" + boundary + b"\r\n"):
        head, _, data = chunk.partition(b"\r\n\r\n")
        fields = dict(line.split(b": ", 1) for line in head.split(b"\r\n"))
        parts.append(
            (fields[b"Content-Type"].decode(), fields[b"Content-Range"].decode(), data)
        )
    return parts


# -- FileResponse through a Kettle app ------------------------------------------------


def test_full_get(file_client, data_file):
    response = file_client.get("/file")
    assert response.status_code == 200
    assert response.content == CONTENT
    st = data_file.stat()
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.headers["content-length"] == str(len(CONTENT))
    assert response.headers["accept-ranges"] == "bytes"
    assert response.headers["last-modified"] == http_date(st.st_mtime)
    etag = response.headers["etag"]
    assert etag == make_etag(st)
    assert etag.startswith('"') and etag.endswith('"')
    assert "content-disposition" not in response.headers


def test_head(file_client):
    response = file_client.head("/file")
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-length"] == str(len(CONTENT))
    assert "etag" in response.headers


def test_if_none_match_gives_304(file_client):
    etag = file_client.get("/file").headers["etag"]
    for value in (etag, f'"nope", {etag}', f"W/{etag}", "*"):
        response = file_client.get("/file", headers={"if-none-match": value})
        assert response.status_code == 304, value
        assert response.content == b""
        assert response.headers["etag"] == etag
        assert "content-length" not in response.headers
        assert "content-type" not in response.headers
    head = file_client.head("/file", headers={"if-none-match": etag})
    assert head.status_code == 304
    other = file_client.get("/file", headers={"if-none-match": '"other"'})
    assert other.status_code == 200
    assert other.content == CONTENT


def test_if_none_match_on_post_gives_412(file_client):
    response = file_client.post("/file", headers={"if-none-match": "*"})
    assert response.status_code == 412


def test_if_modified_since(file_client, data_file):
    last_modified = file_client.get("/file").headers["last-modified"]
    response = file_client.get("/file", headers={"if-modified-since": last_modified})
    assert response.status_code == 304
    assert response.content == b""
    older = http_date(data_file.stat().st_mtime - 3600)
    assert file_client.get("/file", headers={"if-modified-since": older}).content == (
        CONTENT
    )
    garbage = file_client.get("/file", headers={"if-modified-since": "yesterday"})
    assert garbage.status_code == 200
    # If-None-Match takes precedence over If-Modified-Since.
    both = file_client.get(
        "/file",
        headers={"if-modified-since": last_modified, "if-none-match": '"other"'},
    )
    assert both.status_code == 200


def test_if_match_and_if_unmodified_since(file_client, data_file):
    etag = file_client.get("/file").headers["etag"]
    assert file_client.get("/file", headers={"if-match": etag}).status_code == 200
    assert file_client.get("/file", headers={"if-match": '"x"'}).status_code == 412
    weak = file_client.get("/file", headers={"if-match": f"W/{etag}"})
    assert weak.status_code == 412  # If-Match uses the strong comparison
    older = http_date(data_file.stat().st_mtime - 3600)
    response = file_client.get("/file", headers={"if-unmodified-since": older})
    assert response.status_code == 412


def test_single_range(file_client):
    response = file_client.get("/file", headers={"range": "bytes=0-4"})
    assert response.status_code == 206
    assert response.content == CONTENT[:5]
    assert response.headers["content-range"] == f"bytes 0-4/{len(CONTENT)}"
    assert response.headers["content-length"] == "5"
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    tail = file_client.get("/file", headers={"range": "bytes=30-"})
    assert tail.status_code == 206
    assert tail.content == CONTENT[30:]
    beyond = file_client.get("/file", headers={"range": "bytes=30-1000"})
    assert beyond.content == CONTENT[30:]
    assert beyond.headers["content-range"] == f"bytes 30-35/{len(CONTENT)}"


def test_suffix_range(file_client):
    response = file_client.get("/file", headers={"range": "bytes=-5"})
    assert response.status_code == 206
    assert response.content == CONTENT[-5:]
    size = len(CONTENT)
    assert response.headers["content-range"] == f"bytes {size - 5}-{size - 1}/{size}"
    whole = file_client.get("/file", headers={"range": "bytes=-1000"})
    assert whole.status_code == 206
    assert whole.content == CONTENT


def test_unsatisfiable_range(file_client):
    for value in ("bytes=1000-2000", "bytes=-0", f"bytes={len(CONTENT)}-"):
        response = file_client.get("/file", headers={"range": value})
        assert response.status_code == 416, value
        assert response.headers["content-range"] == f"bytes */{len(CONTENT)}"
        assert response.content == b""


@pytest.mark.parametrize(
    "value", ["bytes=abc", "items=0-5", "bytes=5-3", "bytes", "bytes=x-", "0-5"]
)
def test_malformed_range_is_ignored(file_client, value):
    response = file_client.get("/file", headers={"range": value})
    assert response.status_code == 200
    assert response.content == CONTENT
    assert "content-range" not in response.headers


def test_range_ignored_for_head(file_client):
    response = file_client.head("/file", headers={"range": "bytes=0-4"})
    assert response.status_code == 200
    assert response.headers["content-length"] == str(len(CONTENT))


def test_multiple_ranges(file_client):
    response = file_client.get("/file", headers={"range": "bytes=0-1, 10-12, -2"})
    assert response.status_code == 206
    content_type = response.headers["content-type"]
    assert content_type.startswith("multipart/byteranges; boundary=")
    assert response.headers["content-length"] == str(len(response.content))
    parts = parse_multipart(content_type, response.content)
    size = len(CONTENT)
    assert parts == [
        ("text/plain; charset=utf-8", f"bytes 0-1/{size}", CONTENT[0:2]),
        ("text/plain; charset=utf-8", f"bytes 10-12/{size}", CONTENT[10:13]),
        (
            "text/plain; charset=utf-8",
            f"bytes {size - 2}-{size - 1}/{size}",
            CONTENT[-2:],
        ),
    ]


def test_overlapping_ranges_are_merged(file_client):
    response = file_client.get("/file", headers={"range": "bytes=0-9,5-14,0-3"})
    assert response.status_code == 206
    assert response.headers["content-range"] == f"bytes 0-14/{len(CONTENT)}"
    assert response.content == CONTENT[:15]


def test_many_ranges(app, make_client, tmp_path):
    payload = bytes(range(256))
    (tmp_path / "bytes.bin").write_bytes(payload)

    @app.get("/bytes")
    def send_bytes():
        return FileResponse(tmp_path / "bytes.bin")

    client = make_client(app)
    wanted = [(i, i) for i in range(0, 64, 2)]  # 32 disjoint ranges: the limit
    spec = "bytes=" + ",".join(f"{a}-{b}" for a, b in wanted)
    response = client.get("/bytes", headers={"range": spec})
    assert response.status_code == 206
    parts = parse_multipart(response.headers["content-type"], response.content)
    assert [data for _, _, data in parts] == [payload[a : b + 1] for a, b in wanted]
    spec += ",100-100"  # one more: the whole file instead
    response = client.get("/bytes", headers={"range": spec})
    assert response.status_code == 200
    assert response.content == payload


def test_if_range(file_client):
    first = file_client.get("/file")
    etag, last_modified = first.headers["etag"], first.headers["last-modified"]
    for validator in (etag, last_modified):
        response = file_client.get(
            "/file", headers={"range": "bytes=0-4", "if-range": validator}
        )
        assert response.status_code == 206, validator
        assert response.content == CONTENT[:5]
    for validator in ('"stale"', f"W/{etag}", "Thu, 01 Jan 1970 00:00:00 GMT", "junk"):
        response = file_client.get(
            "/file", headers={"range": "bytes=0-4", "if-range": validator}
        )
        assert response.status_code == 200, validator
        assert response.content == CONTENT


def test_content_disposition(app, make_client, data_file):
    @app.get("/ascii")
    def ascii_name():
        return FileResponse(data_file, filename='report "final".txt')

    @app.get("/unicode")
    def unicode_name():
        return FileResponse(data_file, filename="résumé €.pdf")

    @app.get("/inline")
    def inline():
        return FileResponse(
            data_file, filename="a.txt", content_disposition_type="inline"
        )

    client = make_client(app)
    response = client.get("/ascii")
    assert response.headers["content-disposition"] == (
        'attachment; filename="report \\"final\\".txt"'
    )
    response = client.get("/unicode")
    assert response.headers["content-disposition"] == (
        "attachment; filename=\"resume _.pdf\"; filename*=utf-8''r%C3%A9sum%C3%A9%20%E2%82%AC.pdf"
    )
    assert response.headers["content-type"] == "application/pdf"
    assert response.content == CONTENT
    assert client.get("/inline").headers["content-disposition"] == (
        'inline; filename="a.txt"'
    )


def test_content_disposition_refuses_header_injection():
    value = content_disposition("attachment", "a\r\nSet-Cookie: x=1")
    assert "\r" not in value and "\n" not in value
    with pytest.raises(ValueError):
        content_disposition("attachment\r\nX: y", "a.txt")


def test_media_type(app, make_client, tmp_path):
    (tmp_path / "x.unknownext").write_bytes(b"?")
    (tmp_path / "page.html").write_bytes(b"<p>hi</p>")
    (tmp_path / "a.tar.gz").write_bytes(b"\x1f\x8b")

    @app.get("/{name}")
    def send(name: str):
        media = "application/custom" if name == "custom" else None
        target = "x.unknownext" if name == "custom" else name
        return FileResponse(tmp_path / target, media_type=media)

    client = make_client(app)
    assert client.get("/x.unknownext").headers["content-type"] == (
        "application/octet-stream"
    )
    assert client.get("/page.html").headers["content-type"] == (
        "text/html; charset=utf-8"
    )
    assert client.get("/a.tar.gz").headers["content-type"] == "application/gzip"
    assert client.get("/custom").headers["content-type"] == "application/custom"


def test_missing_file_is_404(app, make_client, tmp_path):
    @app.get("/missing")
    def missing():
        return FileResponse(tmp_path / "nope.txt")

    @app.get("/directory")
    def directory():
        return FileResponse(tmp_path)

    client = make_client(app)
    response = client.get("/missing")
    assert response.status_code == 404
    assert client.head("/missing").status_code == 404
    assert client.get("/directory").status_code == 404


def test_user_validators_and_status(app, make_client, data_file):
    @app.get("/tagged")
    def tagged():
        return FileResponse(data_file, headers={"etag": '"v1"', "x-extra": "yes"})

    @app.get("/created")
    def created():
        return FileResponse(data_file, status_code=201)

    client = make_client(app)
    response = client.get("/tagged")
    assert response.headers["etag"] == '"v1"'
    assert response.headers["x-extra"] == "yes"
    assert client.get("/tagged", headers={"if-none-match": '"v1"'}).status_code == 304
    created_response = client.get("/created", headers={"range": "bytes=0-1"})
    assert created_response.status_code == 201  # ranges only apply to 200
    assert created_response.content == CONTENT


def test_cookies_are_sent(app, make_client, data_file):
    @app.get("/cookie")
    def cookie():
        response = FileResponse(data_file)
        response.set_cookie("seen", "1")
        return response

    client = make_client(app)
    assert client.get("/cookie").cookies["seen"] == "1"


def test_empty_file(app, make_client, tmp_path):
    (tmp_path / "empty.bin").write_bytes(b"")

    @app.get("/empty")
    def empty():
        return FileResponse(tmp_path / "empty.bin")

    client = make_client(app)
    response = client.get("/empty")
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-length"] == "0"
    for value in ("bytes=0-", "bytes=-5"):
        response = client.get("/empty", headers={"range": value})
        assert response.status_code == 416, value


def test_large_file_round_trip(app, make_client, tmp_path):
    payload = os.urandom(3 * 1024 * 1024 + 12345)
    path = tmp_path / "large.bin"
    path.write_bytes(payload)

    @app.get("/large")
    def large():
        return FileResponse(path, chunk_size=100_000)

    client = make_client(app)
    response = client.get("/large")
    assert response.status_code == 200
    assert response.content == payload
    start, end = 1_000_000, 2_500_000
    response = client.get("/large", headers={"range": f"bytes={start}-{end - 1}"})
    assert response.status_code == 206
    assert response.content == payload[start:end]


# -- the interfaces directly ----------------------------------------------------------


def test_asgi_pathsend_for_whole_file(data_file):
    extensions = {"http.response.pathsend": {}}
    messages, _ = run_asgi(FileResponse(data_file), {"extensions": extensions})
    assert [m["type"] for m in messages] == [
        "http.response.start",
        "http.response.pathsend",
    ]
    assert messages[1]["path"] == os.path.abspath(data_file)
    # A range is read and sent by the app itself.
    messages, body = run_asgi(
        FileResponse(data_file),
        {"extensions": extensions, "headers": [(b"range", b"bytes=0-2")]},
    )
    assert messages[0]["status"] == 206
    assert "http.response.pathsend" not in [m["type"] for m in messages]
    assert body == CONTENT[:3]


def test_asgi_chunks_with_more_body(data_file):
    messages, body = run_asgi(FileResponse(data_file, chunk_size=10), {})
    bodies = [m for m in messages if m["type"] == "http.response.body"]
    assert [len(m["body"]) for m in bodies] == [10, 10, 10, 6, 0]
    assert [m.get("more_body", False) for m in bodies] == [True] * 4 + [False]
    assert body == CONTENT


def test_wsgi_file_wrapper(data_file):
    opened: list[Any] = []

    def file_wrapper(file, block_size):
        opened.append(file)
        return FileWrapper(file, block_size)

    status, headers, body = run_wsgi(
        FileResponse(data_file).wsgi, "/", **{"wsgi.file_wrapper": file_wrapper}
    )
    assert status == "200 OK"
    assert body == CONTENT
    assert headers["content-length"] == str(len(CONTENT))
    assert len(opened) == 1 and opened[0].closed
    # Ranges do not use the wrapper.
    status, headers, body = run_wsgi(
        FileResponse(data_file).wsgi,
        "/",
        HTTP_RANGE="bytes=1-2",
        **{"wsgi.file_wrapper": file_wrapper},
    )
    assert status == "206 Partial Content"
    assert body == CONTENT[1:3]
    assert len(opened) == 1


def test_wsgi_body_closes_file_when_not_iterated(data_file):
    environ: dict[str, Any] = {"REQUEST_METHOD": "GET"}
    setup_testing_defaults(environ)
    environ.pop("wsgi.file_wrapper", None)
    result = FileResponse(data_file).wsgi(environ, lambda status, headers: None)
    file = result.file  # type: ignore[attr-defined]
    assert not file.closed
    result.close()  # type: ignore[attr-defined]
    assert file.closed
    result = FileResponse(data_file, chunk_size=4).wsgi(environ, lambda s, h: None)
    iterator = iter(result)
    assert next(iterator) == CONTENT[:4]
    result.close()  # type: ignore[attr-defined]
    assert result.file.closed  # type: ignore[attr-defined]


def test_plan_is_pure(data_file):
    st = data_file.stat()
    headers = {"range": "bytes=0-1,4-5"}
    plan = plan_file_response("GET", headers.get, st, boundary="B")
    assert plan == plan_file_response("GET", headers.get, st, boundary="B")
    assert plan.status == 206
    assert plan.body[1] == (0, 2) and plan.body[3] == (4, 6)
    assert plan_file_response("HEAD", {}.get, st).body == ()
    not_modified = plan_file_response("GET", {"if-none-match": "*"}.get, st)
    assert not_modified.status == 304 and not not_modified.reads_file


# -- StaticFiles ------------------------------------------------------------------------


@pytest.fixture
def site(tmp_path):
    """tmp_path/secret.txt outside tmp_path/static, which is served."""
    (tmp_path / "secret.txt").write_bytes(SECRET)
    static = tmp_path / "static"
    static.mkdir()
    (static / "hello.txt").write_bytes(b"hello")
    (static / "sub").mkdir()
    (static / "sub" / "index.html").write_bytes(b"<h1>sub index</h1>")
    (static / "index.html").write_bytes(b"<h1>root index</h1>")
    (static / "with space.txt").write_bytes(b"spaced")
    (static / "café.txt").write_bytes(b"unicode name")
    return static


def static_app(directory, **options: Any) -> Kettle:
    app = Kettle(env_file=None)
    app.mount("/static", StaticFiles(directory=directory, **options))

    @app.get("/")
    def home():
        return "home"

    return app


def test_static_serves_file(site, make_client):
    client = make_client(static_app(site))
    response = client.get("/static/hello.txt")
    assert response.status_code == 200
    assert response.content == b"hello"
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert client.get("/static/sub/index.html").content == b"<h1>sub index</h1>"
    assert client.get("/static/with%20space.txt").content == b"spaced"
    assert client.get("/").text == "home"


def test_static_non_ascii_name(site):
    # Through the raw interfaces: httpx's WSGITransport puts the decoded path in
    # PATH_INFO instead of its UTF-8 bytes as latin-1 (PEP 3333), so the WSGI
    # TestClient cannot send non-ASCII paths.
    app = static_app(site)
    messages, body = run_asgi(app, {"path": "/static/café.txt"})
    assert messages[0]["status"] == 200
    assert body == b"unicode name"
    wsgi_path = "/static/café.txt".encode().decode("latin-1")
    status, _, body = run_wsgi(app.wsgi, wsgi_path)
    assert status == "200 OK"
    assert body == b"unicode name"


def test_static_conditional_and_range(site, make_client):
    client = make_client(static_app(site))
    etag = client.get("/static/hello.txt").headers["etag"]
    assert (
        client.get("/static/hello.txt", headers={"if-none-match": etag}).status_code
        == 304
    )
    response = client.get("/static/hello.txt", headers={"range": "bytes=1-3"})
    assert response.status_code == 206
    assert response.content == b"ell"
    head = client.head("/static/hello.txt")
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == "5"


def test_static_missing_is_404(site, make_client):
    client = make_client(static_app(site))
    assert client.get("/static/nope.txt").status_code == 404
    assert client.get("/static/sub").status_code == 404  # a directory, html off
    assert client.get("/static/").status_code == 404
    assert client.get("/static/hello.txt/more").status_code == 404
    assert client.get("/static/hello.txt/").status_code == 404


def test_static_post_is_405(site, make_client):
    client = make_client(static_app(site))
    response = client.post("/static/hello.txt")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD"
    assert client.delete("/static/hello.txt").status_code == 405


TRAVERSALS = [
    "/static/../secret.txt",
    "/static/%2e%2e/secret.txt",
    "/static/%2E%2E/secret.txt",
    "/static/..%2fsecret.txt",
    "/static/%2e%2e%2fsecret.txt",
    "/static/sub/..%2f..%2fsecret.txt",
    "/static/%2e%2e%5csecret.txt",
    "/static/..%5csecret.txt",
    "/static//../secret.txt",
    "/static/%2f..%2fsecret.txt",
    "/static/sub/%2e%2e/%2e%2e/secret.txt",
]


@pytest.mark.parametrize("url", TRAVERSALS)
def test_static_traversal_over_http(site, make_client, url):
    client = make_client(static_app(site, html=True))
    response = client.get(url)
    # httpx itself turns '/static/../secret.txt' into '/secret.txt': 404 as well.
    assert response.status_code == 404
    assert SECRET not in response.content


def test_static_absolute_paths(site, make_client, tmp_path):
    client = make_client(static_app(site))
    secret = str(tmp_path / "secret.txt")
    for url in ("/static/" + secret, "/static/" + secret.replace("/", "%2F")):
        response = client.get(url)
        assert response.status_code == 404
        assert SECRET not in response.content


def test_static_symlink_outside(site, make_client, tmp_path):
    (site / "link.txt").symlink_to(tmp_path / "secret.txt")
    (site / "linkdir").symlink_to(tmp_path)
    (site / "inside.txt").symlink_to(site / "hello.txt")
    client = make_client(static_app(site))
    for url in ("/static/link.txt", "/static/linkdir/secret.txt"):
        response = client.get(url)
        assert response.status_code == 404
        assert SECRET not in response.content
    assert client.get("/static/inside.txt").content == b"hello"
    follower = make_client(static_app(site, follow_symlinks=True))
    assert follower.get("/static/link.txt").content == SECRET


def test_static_html_mode(site, make_client):
    client = make_client(static_app(site, html=True))
    assert client.get("/static/").content == b"<h1>root index</h1>"
    assert client.get("/static/sub/").content == b"<h1>sub index</h1>"
    redirect = client.get("/static/sub?x=1", follow_redirects=False)
    assert redirect.status_code == 307
    assert redirect.headers["location"] == "/static/sub/?x=1"
    root = client.get("/static", follow_redirects=False)
    assert root.status_code == 307
    assert root.headers["location"] == "/static/"
    assert client.get("/static/sub").content == b"<h1>sub index</h1>"
    # No 404.html yet: the default 404.
    assert client.get("/static/nope.html").status_code == 404
    (site / "404.html").write_bytes(b"<h1>custom 404</h1>")
    response = client.get("/static/nope.html")
    assert response.status_code == 404
    assert response.content == b"<h1>custom 404</h1>"
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    etag_ignored = client.get("/static/nope.html", headers={"if-none-match": "*"})
    assert etag_ignored.status_code == 404
    (site / "empty").mkdir()
    assert client.get("/static/empty/").status_code == 404


def test_static_html_redirect_is_not_open(site, make_client):
    (site / "evil.com").mkdir()
    (site / "evil.com" / "index.html").write_bytes(b"x")
    messages, _ = run_asgi(
        StaticFiles(directory=site, html=True), {"path": "//evil.com"}
    )
    assert messages[0]["status"] == 307
    location = dict(messages[0]["headers"])[b"location"]
    assert location == b"/evil.com/"


def test_static_check_dir(tmp_path):
    with pytest.raises(ImproperlyConfigured):
        StaticFiles(directory=tmp_path / "missing")
    lazy = StaticFiles(directory=tmp_path / "missing", check_dir=False)
    messages, _ = run_asgi(lazy, {"path": "/x.txt"})
    assert messages[0]["status"] == 404


# -- raw paths: nothing normalised on the way ----------------------------------------

RAW_TRAVERSALS = [
    "/static/../secret.txt",
    "/static/sub/../../secret.txt",
    "/static/./../secret.txt",
    "/static/..\\secret.txt",
    "/static/\\..\\secret.txt",
    "/static/..",
    "/static/../static/../secret.txt",
    "/static/secret.txt\x00.png",
    "/static/C:/secret.txt",
    "/static/c:secret.txt",
]


@pytest.mark.parametrize("path", RAW_TRAVERSALS)
def test_static_raw_traversal_asgi(site, path):
    app = static_app(site, html=True)
    messages, body = run_asgi(app, {"path": path, "raw_path": path.encode()})
    assert messages[0]["status"] == 404
    assert SECRET not in body


@pytest.mark.parametrize("path", RAW_TRAVERSALS)
def test_static_raw_traversal_wsgi(site, path):
    app = static_app(site, html=True)
    status, _, body = run_wsgi(app.wsgi, path.encode().decode("latin-1"))
    assert status.startswith("404")
    assert SECRET not in body


def test_static_direct_app_raw_paths(site):
    files = StaticFiles(directory=site)
    for path in RAW_TRAVERSALS:
        relative = path.removeprefix("/static")
        messages, body = run_asgi(files, {"path": relative})
        assert messages[0]["status"] == 404, path
        assert SECRET not in body
    messages, body = run_asgi(
        files, {"path": "/static/hello.txt", "root_path": "/static"}
    )
    assert messages[0]["status"] == 200
    assert body == b"hello"


@pytest.mark.parametrize(
    "path",
    [
        "../secret.txt",
        "/../secret.txt",
        "/sub/../../secret.txt",
        "/..",
        "..",
        "/a/b/../../../secret.txt",
        "/..\\secret.txt",
        "\\..\\secret.txt",
        "/secret.txt\x00",
        "/C:/Windows/win.ini",
        "/c:secret.txt",
        "/sub/D:secret.txt",
    ],
)
def test_resolver_refuses_hostile_paths(site, path):
    assert resolve_static_path(site, path) is None
    assert resolve_static_path(site, path, follow_symlinks=True) is None


def test_resolver_keeps_paths_inside(site, tmp_path):
    root = os.path.realpath(site)
    assert resolve_static_path(site, "/hello.txt") == os.path.join(root, "hello.txt")
    assert resolve_static_path(site, "hello.txt") == os.path.join(root, "hello.txt")
    assert resolve_static_path(site, "//hello.txt") == os.path.join(root, "hello.txt")
    assert resolve_static_path(site, "/./sub/./index.html") == os.path.join(
        root, "sub", "index.html"
    )
    absolute = str(tmp_path / "secret.txt")
    resolved = resolve_static_path(site, absolute)
    assert resolved is not None and resolved.startswith(root + os.sep)
    assert resolve_static_path(site, "/") == root
    assert resolve_static_path(site, "") == root


def test_resolver_symlinks(site, tmp_path):
    (site / "out").symlink_to(tmp_path / "secret.txt")
    (site / "outdir").symlink_to(tmp_path)
    assert resolve_static_path(site, "/out") is None
    assert resolve_static_path(site, "/outdir/secret.txt") is None
    assert resolve_static_path(site, "/out", follow_symlinks=True) == str(site / "out")


def test_static_under_symlinked_root(site, tmp_path):
    link = tmp_path / "current"
    link.symlink_to(site)
    messages, body = run_asgi(StaticFiles(directory=link), {"path": "/hello.txt"})
    assert messages[0]["status"] == 200
    assert body == b"hello"


def test_static_websocket_is_closed(site):
    sent: list[dict] = []

    async def receive():
        return {"type": "websocket.connect"}

    async def send(message):
        sent.append(message)

    scope = {"type": "websocket", "path": "/x", "root_path": "", "headers": []}
    asyncio.run(StaticFiles(directory=site)(scope, receive, send))
    assert sent == [{"type": "websocket.close", "code": 1000}]


def test_static_large_file_over_mount(site, make_client):
    payload = os.urandom(2 * 1024 * 1024 + 7)
    (site / "big.bin").write_bytes(payload)
    client = make_client(static_app(site))
    response = client.get("/static/big.bin")
    assert response.status_code == 200
    assert response.content == payload
    assert response.headers["content-type"] == "application/octet-stream"
