"""One app, two interfaces: raw ASGI/WSGI calls, the bridge, and import hygiene."""

from __future__ import annotations

import io
import subprocess
import sys

from kettle import Kettle
from kettle import Request
from kettle import request


def _environ(path: str = "/", method: str = "GET", body: bytes = b"", **extra):
    environ = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.version": (1, 0),
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "CONTENT_LENGTH": str(len(body)) if body else "",
    }
    environ.update(extra)
    return environ


def _call_wsgi(app, environ):
    status_headers = {}

    def start_response(status, headers, exc_info=None):
        status_headers["status"] = status
        status_headers["headers"] = headers

    body = b"".join(app.wsgi(environ, start_response))
    return status_headers["status"], dict(status_headers["headers"]), body


def test_raw_wsgi_call_runs_startup_once_and_reads_body():
    app = Kettle(env_file=None)
    started = []
    app.on_startup(lambda: started.append(1))

    @app.post("/echo")
    def echo(req: Request):
        return {"body": req.get_body().decode(), "script": req.root_path}

    status, headers, body = _call_wsgi(
        app, _environ("/echo", "POST", b"payload", SCRIPT_NAME="/prefix")
    )
    assert status == "200 OK"
    assert headers["content-type"] == "application/json"
    assert body == b'{"body":"payload","script":"/prefix"}'
    _call_wsgi(app, _environ("/echo", "POST", b"x"))
    assert started == [1]
    app.wsgi_shutdown()


def test_wsgi_non_utf8_path_is_400():
    app = Kettle(env_file=None)
    app.get("/")(lambda: "x")
    status, _, body = _call_wsgi(app, _environ("/\xff\xfe"))
    assert status.startswith("400")
    assert b"UTF-8" in body


def test_wsgi_head_has_no_body():
    app = Kettle(env_file=None)
    app.get("/")(lambda: "hello")
    status, headers, body = _call_wsgi(app, _environ("/", "HEAD"))
    assert status == "200 OK" and body == b"" and headers["content-length"] == "5"


def test_plain_asgi_middleware_runs_under_both_interfaces(make_client):
    class AddHeader:
        def __init__(self, app, value):
            self.app = app
            self.value = value

        async def __call__(self, scope, receive, send):
            async def wrapped(message):
                if message["type"] == "http.response.start":
                    message["headers"] = [*message["headers"], (b"x-asgi", self.value)]
                await send(message)

            await self.app(scope, receive, wrapped)

    app = Kettle(env_file=None)
    app.add_middleware(AddHeader, value=b"yes")

    @app.post("/")
    def index():
        return {"path": request.path, "body": request.get_body().decode()}

    response = make_client(app).post("/", content=b"data")
    assert response.headers["x-asgi"] == "yes"
    assert response.json() == {"path": "/", "body": "data"}


def test_preferred_interface():
    sync_app = Kettle(env_file=None)
    sync_app.get("/")(lambda: "x")
    assert sync_app.preferred_interface() == "wsgi"
    async_app = Kettle(env_file=None)

    @async_app.get("/")
    async def index():
        return "x"

    assert async_app.preferred_interface() == "asgi"


def test_import_pulls_in_no_battery_or_heavy_dependency():
    code = (
        "import sys, kettle\n"
        "heavy = ['sqlalchemy', 'jinja2', 'pydantic', 'httpx', 'granian', 'uvicorn',"
        " 'click', 'python_multipart', 'multipart', 'orjson', 'asyncio']\n"
        "print(','.join(m for m in heavy if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""


def test_streaming_through_the_wsgi_bridge_is_complete():
    """Mounted apps and plain ASGI middleware stream in full under WSGI."""
    from kettle import StreamingResponse

    class Passthrough:
        def __init__(self, app):
            self.app = app

        async def __call__(self, scope, receive, send):
            await self.app(scope, receive, send)

    inner = Kettle(env_file=None)
    inner.get("/s")(lambda: StreamingResponse(iter(["a", "b", "c"])))
    outer = Kettle(env_file=None)
    outer.mount("/m", inner)
    assert outer.test_client(interface="wsgi").get("/m/s").text == "abc"
    wrapped = Kettle(env_file=None)
    wrapped.add_middleware(Passthrough)
    wrapped.get("/s")(lambda: StreamingResponse(iter(["a", "b", "c"])))
    assert wrapped.test_client(interface="wsgi").get("/s").text == "abc"
