"""Hostile and malformed input: clear 4xx answers, no 500s, no hangs, no injection."""

from __future__ import annotations

import asyncio
import io
import sys
import time

import pytest

from kettle import Blueprint
from kettle import Kettle
from kettle import Request
from kettle import Response
from kettle import request
from kettle.exceptions import ImproperlyConfigured


def _asgi_call(app, path="/", method="GET", headers=(), query=b"", body=b""):
    async def scenario():
        sent = []
        done = False

        async def receive():
            nonlocal done
            if done:
                await asyncio.sleep(3600)
            done = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message):
            sent.append(message)

        scope = {
            "type": "http",
            "method": method,
            "path": path,
            "root_path": "",
            "query_string": query,
            "headers": [(k.encode(), v.encode("latin-1")) for k, v in headers],
            "scheme": "http",
            "server": ("testserver", 80),
            "client": ("127.0.0.1", 1234),
        }
        await asyncio.wait_for(app(scope, receive, send), 10)
        return sent

    sent = asyncio.run(scenario())
    return (
        sent[0]["status"],
        dict(sent[0]["headers"]),
        b"".join(m.get("body", b"") for m in sent[1:]),
    )


def _wsgi_call(app, path="/", method="GET", headers=(), query="", body=b""):
    environ = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
    }
    for name, value in headers:
        key = name.upper().replace("-", "_")
        environ[key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else "HTTP_" + key] = (
            value
        )
    started = {}

    def start_response(status, response_headers, exc_info=None):
        started["status"] = int(status.split()[0])
        started["headers"] = {
            k.lower().encode(): v.encode("latin-1") for k, v in response_headers
        }

    result = app.wsgi(environ, start_response)
    try:
        body_out = b"".join(result)
    finally:
        if hasattr(result, "close"):  # as PEP 3333 servers do
            result.close()
    return started["status"], started["headers"], body_out


@pytest.fixture(params=["asgi", "wsgi"])
def call(request):
    return _asgi_call if request.param == "asgi" else _wsgi_call


@pytest.mark.parametrize("allowed", [[], ["*"]])  # refused by the Host check, or
@pytest.mark.parametrize("host", ["[bad", "[::1", "a b", "evil.com/path?x", "a:b:c"])
def test_invalid_host_is_400_not_500(call, host, allowed):  # by request.host
    app = Kettle(env_file=None, allowed_hosts=allowed)
    app.get("/")(lambda: str(request.url))
    status, _, body = call(app, headers=[("host", host)])
    assert status == 400, body
    assert b"Invalid Host header" in body


def test_valid_hosts_and_ipv6_server(call):
    app = Kettle(env_file=None, allowed_hosts=["*"])
    app.get("/")(lambda: str(request.url))
    assert call(app, headers=[("host", "[::1]:8000")])[2] == b"http://[::1]:8000/"
    assert call(app, headers=[("host", "example.com")])[2] == b"http://example.com/"
    assert call(app, headers=[("host", "a:99999")])[0] == 200  # no 500 for a bad port


def test_slash_redirect_is_never_protocol_relative(call):
    app = Kettle(env_file=None)
    app.get("/{slug:path}/edit")(lambda slug: slug)
    for path in ("//evil.com/edit/", "///evil.com/edit/"):
        status, headers, _ = call(app, path=path)
        assert status != 308 or not headers[b"location"].startswith(b"//")


def test_slash_redirect_keeps_encoded_characters(call):
    app = Kettle(env_file=None)
    app.get("/u/{name}")(lambda name: name)
    status, headers, _ = call(
        app, path="/u/a?b#c%d/", query=b"q=%C3%A9" if call is _asgi_call else "q=%C3%A9"
    )
    assert status == 308
    assert headers[b"location"] == b"/u/a%3Fb%23c%25d?q=%C3%A9"


def test_raw_utf8_query_is_decoded_as_utf8(make_client):
    app = Kettle(env_file=None)
    app.get("/")(lambda: request.query["a"])
    status, _, body = _asgi_call(app, query="a=é".encode())
    assert body.decode() == "é"


def test_quadratic_if_none_match_is_linear(tmp_path, call):
    from kettle.files import FileResponse

    target = tmp_path / "a.txt"
    target.write_text("hello")
    app = Kettle(env_file=None)
    app.get("/f")(lambda: FileResponse(target))
    start = time.monotonic()
    status, _, _ = call(
        app, path="/f", headers=[("if-none-match", "x" + " " * 60000 + "x")]
    )
    assert status == 200
    assert time.monotonic() - start < 10  # quadratic parsing took over a minute here


def test_quadratic_cookie_unquoting_is_linear(call):
    app = Kettle(env_file=None)
    app.get("/")(lambda: str(len(request.cookies["a"])))
    start = time.monotonic()
    status, _, body = call(app, headers=[("cookie", 'a="' + "\\\\" * 60000 + '"')])
    assert status == 200 and body == b"60000"
    assert time.monotonic() - start < 10  # quadratic unquoting: about 40 s here


def test_out_of_range_http_date_is_ignored(tmp_path, call):
    from kettle.files import FileResponse

    target = tmp_path / "a.txt"
    target.write_text("hello")
    app = Kettle(env_file=None)
    app.get("/f")(lambda: FileResponse(target))
    for header in ("if-modified-since", "if-unmodified-since", "if-range"):
        status, _, _ = call(
            app,
            path="/f",
            headers=[
                (header, "Mon, 01 Jan 9999999999999999999999 00:00:00 GMT"),
                ("range", "bytes=0-1"),
            ],
        )
        assert status in (200, 206)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"key": "a b"}, "invalid cookie name"),
        ({"key": "sid", "path": "/; Domain=evil.com"}, "path"),
        ({"key": "sid", "domain": "x\r\nX-Injected: 1"}, "domain"),
        ({"key": "sid", "samesite": "sometimes"}, "samesite"),
    ],
)
def test_set_cookie_refuses_injection(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Response("x").set_cookie(**kwargs)


def test_header_values_cannot_split_the_response(call):
    app = Kettle(env_file=None)
    app.get("/")(lambda: ("x", {"X-Test": request.query["v"]}))
    status, headers, _ = call(
        app,
        query=b"v=a%0d%0aX-Injected:%201"
        if call is _asgi_call
        else "v=a%0d%0aX-Injected:%201",
    )
    assert status == 500
    assert b"x-injected" not in headers
    with pytest.raises(ValueError, match="CR, LF or NUL"):
        Response("x").headers["x-a"] = "b\nc"
    with pytest.raises(ValueError, match="invalid header name"):
        Response("x", headers={"bad name": "v"})


@pytest.mark.parametrize("status", [204, 304])
def test_no_body_for_204_and_304(call, status):
    app = Kettle(env_file=None)
    app.get("/t")(lambda: ("hello", status))
    app.get("/r")(lambda: Response("hello", status))
    for path in ("/t", "/r"):
        got, headers, body = call(app, path=path)
        assert got == status and body == b"" and b"content-length" not in headers


def test_bridge_checks_content_length_and_reads_chunked():
    class Passthrough:
        def __init__(self, app):
            self.app = app

        async def __call__(self, scope, receive, send):
            await self.app(scope, receive, send)

    app = Kettle(env_file=None)
    app.add_middleware(Passthrough)
    app.post("/")(lambda: str(len(request.get_body())))
    status, _, _ = _wsgi_call(
        app, method="POST", headers=[("content-length", "abc")], body=b"x"
    )
    assert status == 400
    status, _, body = _wsgi_call(
        app, method="POST", headers=[("transfer-encoding", "chunked")], body=b"hello"
    )
    assert (status, body) == (200, b"5")


@pytest.mark.parametrize(
    "payload", [b"[" * 100_000, b"NaN", b"[Infinity]", b'{"a": -Infinity}']
)
def test_json_without_orjson_rejects_what_orjson_rejects(monkeypatch, payload):
    from kettle import _json

    monkeypatch.setitem(sys.modules, "orjson", None)  # as without the 'fast' extra
    for name in ("dumps", "loads"):
        monkeypatch.delitem(_json.__dict__, name, raising=False)
    app = Kettle(env_file=None)

    @app.post("/")
    async def index(req: Request):
        return {"got": await req.json()}

    response = app.test_client().post(
        "/", content=payload, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    with pytest.raises(ValueError):
        _json.dumps(float("nan"))
    monkeypatch.delitem(_json.__dict__, "dumps", raising=False)
    monkeypatch.delitem(_json.__dict__, "loads", raising=False)


def test_client_disconnect_is_not_a_logged_500(caplog):
    app = Kettle(env_file=None)
    seen = []
    app.teardown_request(lambda exc: seen.append(exc))

    @app.post("/")
    async def index(req: Request):
        await req.body()
        return "never"

    async def scenario():
        sent = []
        messages = [
            {"type": "http.request", "body": b"part", "more_body": True},
            {"type": "http.disconnect"},
        ]

        async def receive():
            return messages.pop(0)

        async def send(message):
            sent.append(message)

        scope = {
            "type": "http",
            "method": "POST",
            "path": "/",
            "query_string": b"",
            "headers": [],
            "scheme": "http",
        }
        await app(scope, receive, send)
        return sent

    assert asyncio.run(scenario()) == []
    assert "Exception on" not in caplog.text
    assert seen == [None]


def test_failing_process_response_still_answers_500(call, caplog):
    from kettle.middleware import HTTPMiddleware

    class Broken(HTTPMiddleware):
        def process_response(self, request, response):
            raise RuntimeError("middleware bug")

    app = Kettle(env_file=None)
    app.add_middleware(Broken)
    app.get("/")(lambda: "x")
    status, _, _ = call(app)
    assert status == 500
    assert "middleware bug" in caplog.text


def test_failing_lifespan_exit_still_runs_shutdown_hooks():
    import contextlib

    ran = []

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        raise RuntimeError("exit failed")

    app = Kettle(env_file=None, lifespan=lifespan)
    app.on_shutdown(lambda: ran.append("shutdown"))

    async def scenario():
        await app.startup()
        with pytest.raises(RuntimeError, match="exit failed"):
            await app.shutdown()

    asyncio.run(scenario())
    assert ran == ["shutdown"]


def test_failed_wsgi_startup_is_retried():
    attempts = []
    app = Kettle(env_file=None)

    @app.on_startup
    def connect():
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("db down")

    app.get("/")(lambda: "up")
    with pytest.raises(RuntimeError, match="db down"):
        _wsgi_call(app)
    assert _wsgi_call(app)[2] == b"up"
    assert len(attempts) == 2


def test_unsupported_query_type_fails_at_registration():
    import uuid

    def handler(key: uuid.UUID | None = None):
        return "x"

    with pytest.raises(ImproperlyConfigured, match="parameter 'key'"):
        Kettle(env_file=None).get("/k")(handler)


@pytest.mark.parametrize("value", ["１", "nan", "1e3", "0x10", "1.5", ""])
def test_strict_int_query(call, value):
    def typed(n: int):
        return {"n": n}

    app2 = Kettle(env_file=None)
    app2.get("/")(typed)
    from urllib.parse import quote

    q = "n=" + quote(value)
    status, _, _ = call(app2, query=q.encode() if call is _asgi_call else q)
    assert status == 422


@pytest.mark.parametrize("value", ["nan", "inf", "1e400", "-Infinity"])
def test_non_finite_float_query_is_422(call, value):
    def typed(x: float):
        return {"x": x}

    app = Kettle(env_file=None)
    app.get("/")(typed)
    q = "x=" + value
    assert call(app, query=q.encode() if call is _asgi_call else q)[0] == 422


def test_blueprint_prefix_slash_means_root():
    bp = Blueprint("b", url_prefix="/")
    bp.get("/x")(lambda: "x")
    app = Kettle(env_file=None)
    app.register_blueprint(bp)
    assert app.url_for("b./x") == "/x"
