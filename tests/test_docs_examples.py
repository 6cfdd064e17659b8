"""The example apps of the documentation (docs/examples/*.py), run as the pages say.

Each test loads a fresh copy of an example module, so in-memory state and the
app's frozen set-up never leak from one test to another. Most tests run through both
server interfaces.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import logging
import os
import re
import sys
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from kettle import request
from kettle import url_for
from kettle.exceptions import WebSocketDisconnect
from kettle.testing import TestClient

EXAMPLES = Path(__file__).resolve().parent.parent / "docs" / "examples"
BOTH = pytest.mark.parametrize("iface", ["asgi", "wsgi"])


def load(name: str) -> ModuleType:
    """Import docs/examples/<name>.py as a new module."""
    path = EXAMPLES / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"kettle_docs_example_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def client(module: ModuleType, iface: str = "asgi", **kwargs: Any) -> TestClient:
    return TestClient(module.app, interface=iface, **kwargs)


def sse_events(text: str) -> list[dict[str, str]]:
    """Parse a text/event-stream body into a list of field dicts."""
    events = []
    for block in text.strip().split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.splitlines():
            name, _, value = line.partition(": ")
            fields[name] = value
        events.append(fields)
    return events


def asgi_get(app: Any, path: str, headers: list[tuple[str, str]], peer: str) -> Any:
    """GET ``path`` through raw ASGI from the client address ``peer``."""

    async def run() -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "root_path": "",
            "query_string": b"",
            "headers": [(k.encode(), v.encode()) for k, v in headers],
            "client": (peer, 4321),
            "server": ("10.0.0.2", 8000),
        }

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            messages.append(message)

        await app(scope, receive, send)
        return messages

    messages = asyncio.run(run())
    status = messages[0]["status"]
    body = b"".join(m.get("body", b"") for m in messages[1:])
    return status, json.loads(body) if status == 200 else body.decode()


# -- quickstart.md ---------------------------------------------------------------------


@BOTH
def test_hello(iface: str) -> None:
    hello = load("hello")
    with client(hello, iface) as c:
        r = c.get("/")
        assert r.status_code == 200
        assert r.text == "Hello, World!"
        assert r.headers["content-type"] == "text/html; charset=utf-8"

        r = c.get("/users/42?verbose=yes", headers={"user-agent": "curl/8"})
        assert r.json() == {"id": 42, "verbose": True, "agent": "curl/8"}
        assert c.get("/users/abc").status_code == 404


# -- routing.md ------------------------------------------------------------------------


@BOTH
def test_routing_parameters(iface: str) -> None:
    routing = load("routing_basics")
    with client(routing, iface) as c:
        assert c.get("/users/3").json() == {"user_id": 3}
        assert c.get("/orders/12").json() == {"order_id": 12}
        assert c.get("/orders/twelve").status_code == 404
        token = uuid.uuid4()
        assert c.get(f"/tokens/{token}").json() == {"version": 4}
        assert c.get("/tokens/not-a-uuid").status_code == 404
        assert c.get("/tags/green-tea").json() == {"tag": "green-tea"}
        assert c.get("/tags/green%20tea").status_code == 404
        assert c.get("/prices/9.5").json() == {"amount": 9.5}
        assert c.get("/docs/guide/intro.html").json() == {"page": "guide/intro.html"}
        assert c.get("/downloads/archive.tar.gz").json() == {
            "name": "archive.tar",
            "ext": "gz",
        }
        assert c.get("/colors/ff8000").json() == {"rgb": [255, 128, 0]}
        assert c.get("/colors/red").status_code == 404


@BOTH
def test_routing_methods_and_slashes(iface: str) -> None:
    routing = load("routing_basics")
    with client(routing, iface, follow_redirects=False) as c:
        assert c.post("/articles").status_code == 201
        assert c.post("/contact").text == "contact form"

        r = c.get("/articles")
        assert r.status_code == 405
        assert r.headers["allow"] == "OPTIONS, POST"

        r = c.options("/users/1")
        assert r.status_code == 204
        assert r.headers["allow"] == "GET, HEAD, OPTIONS"

        r = c.head("/")
        assert r.status_code == 200
        assert r.content == b""
        assert r.headers["content-length"] == "5"

        r = c.get("/about?lang=en")
        assert r.status_code == 308
        assert r.headers["location"] == "/about/?lang=en"
        assert c.get("/about/").text == "about"
        assert c.get("/nowhere").status_code == 404


@BOTH
def test_routing_query_parameters(iface: str) -> None:
    routing = load("routing_basics")
    with client(routing, iface) as c:
        r = c.get("/search?q=tea&exact=yes&sort=old")
        assert r.json() == {"q": "tea", "page": 1, "exact": True, "sort": "old"}
        r = c.get("/search?page=two")
        assert r.status_code == 422
        assert r.json() == {
            "detail": [
                {
                    "loc": ["query", "q"],
                    "msg": "Field required",
                    "type": "missing",
                    "input": None,
                },
                {
                    "loc": ["query", "page"],
                    "msg": "Input should be a valid integer, unable to parse string as an integer",
                    "type": "int_parsing",
                    "input": "two",
                },
            ]
        }
        r = c.get("/search?q=x&sort=random")
        assert r.json()["detail"][0]["type"] == "enum"


def test_routing_url_for() -> None:
    routing = load("routing_basics")
    with client(routing) as c:
        assert c.get("/links").json() == {
            "user": "/users/7",
            "search": "/search?q=green+tea&page=2",
            "tags": "/search?tag=a&tag=b",
            "color": "/colors/ff8000",
            "doc": "/docs/guide/intro.html",
            "about": "/about/#team",
            "external": "http://testserver/users/7",
        }
    app = routing.app
    assert app.url_for("show_user", user_id=7) == "/users/7"
    with pytest.raises(LookupError):
        app.url_for("show_user")
    with pytest.raises(RuntimeError, match="SERVER_NAME"):
        app.url_for("show_user", user_id=7, _external=True)
    app.config["SERVER_NAME"] = "tea.example.com"
    assert app.url_for("show_user", user_id=7, _external=True) == (
        "http://tea.example.com/users/7"
    )
    with pytest.raises(RuntimeError, match="app_context"):
        url_for("index")
    with app.app_context():
        assert url_for("index") == "/"


@BOTH
def test_mounts(iface: str) -> None:
    mounts = load("mounts")
    with client(mounts, iface) as c:
        assert c.get("/").text == "main app"
        assert c.get("/legacy/a/b").text == "legacy: root_path=/legacy path=/legacy/a/b"
        assert c.get("/legacy/status").json() == {"ok": True}
        assert c.get("/admin/").json() == {"home": "/admin/"}
        r = c.get("/static/hello.txt")
        assert r.text == "Hello from a static file.\n"
        assert r.headers["content-type"] == "text/plain; charset=utf-8"
        assert c.get("/static/missing.txt").status_code == 404


# -- requests.md -----------------------------------------------------------------------


@BOTH
def test_request_attributes(iface: str) -> None:
    data = load("request_data")
    with client(data, iface) as c:
        r = c.get("/inspect/tea?a=1", headers={"user-agent": "docs"})
        info = r.json()
        assert info == {
            "method": "GET",
            "path": "/inspect/tea",
            "root_path": "",
            "url": "http://testserver/inspect/tea?a=1",
            "base_url": "http://testserver",
            "scheme": "http",
            "host": "testserver",
            "client": "testclient",
            "path_params": {"name": "tea"},
            "query_string": "a=1",
            "user_agent": "docs",
            "route": "inspect",
        }


def test_request_root_path() -> None:
    data = load("request_data")
    with client(data, root_path="/shop") as c:
        info = c.get("/shop/inspect/tea").json()
        assert info["path"] == "/inspect/tea"
        assert info["root_path"] == "/shop"
        assert info["base_url"] == "http://testserver/shop"


@BOTH
def test_request_query_headers_cookies(iface: str) -> None:
    data = load("request_data")
    with client(data, iface) as c:
        r = c.get("/search?q=tea&tag=green&tag=black")
        assert r.json() == {
            "q": "tea",
            "sort": "new",
            "tags": ["green", "black"],
            "all": [["q", "tea"], ["tag", "green"], ["tag", "black"]],
        }
        r = c.get("/search?tag=green")
        assert r.status_code == 400
        assert r.json() == {"detail": "Missing key 'q' in the query string."}

        r = c.get(
            "/headers",
            headers=[
                ("Accept", "text/plain"),
                ("X-Forwarded-For", "1.1.1.1"),
                ("X-Forwarded-For", "2.2.2.2"),
            ],
        )
        # WSGI has one value per header name: the server joins repeated headers
        # (and httpx's WSGI transport keeps the last one).
        forwarded = ["1.1.1.1", "2.2.2.2"] if iface == "asgi" else ["2.2.2.2"]
        assert r.json() == {
            "accept": "text/plain",
            "forwarded": forwarded,
            "has_auth": False,
        }
        assert c.get("/theme").json() == {"theme": "light"}
        assert c.get("/theme", headers={"cookie": "theme=dark"}).json() == {
            "theme": "dark"
        }
        assert c.get("/agent", headers={"user-agent": "tea/1"}).json() == {
            "agent": "tea/1"
        }


def test_request_proxy_outside_a_request() -> None:
    assert not request
    with pytest.raises(RuntimeError, match="outside of a request"):
        request.headers


@BOTH
def test_request_bodies(iface: str) -> None:
    bodies = load("request_bodies")
    with client(bodies, iface) as c:
        r = c.post("/echo", content=b"abc", headers={"content-type": "text/plain"})
        assert r.json() == {"size": 3, "content_type": "text/plain"}

        for path in ("/notes", "/sync/notes"):
            r = c.post(path, json={"text": "buy tea"})
            assert r.status_code == 201
            assert r.json() == {"text": "buy tea"}
            r = c.post(path, content=b'{"text": "x"}')
            assert r.status_code == 415
            r = c.post(
                path, content=b"{oops", headers={"content-type": "application/json"}
            )
            assert r.status_code == 400
            assert r.json()["detail"].startswith("Malformed JSON")

        r = c.post(
            "/signup", data={"email": "a@example.com", "topic": ["green", "oolong"]}
        )
        assert r.json() == {"email": "a@example.com", "topics": ["green", "oolong"]}

        png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100
        for path in ("/avatar", "/sync/avatar"):
            r = c.post(path, files={"image": ("me.png", png, "image/png")})
            assert r.status_code == 200
            assert r.json()["filename"] == "me.png"
            assert r.json()["size"] == len(png)
        assert c.post(
            "/avatar", files={"image": ("me.png", png, "image/png")}
        ).json() == {
            "filename": "me.png",
            "content_type": "image/png",
            "size": 108,
            "head": "89504e47",
        }
        assert c.post("/avatar", data={"image": "not a file"}).status_code == 400

        r = c.post("/checksum", content=b"tea" * 100_000)
        assert r.json()["sha256"] == (
            __import__("hashlib").sha256(b"tea" * 100_000).hexdigest()
        )


# -- responses.md ----------------------------------------------------------------------


@BOTH
def test_return_values(iface: str) -> None:
    responses = load("response_types")
    with client(responses, iface) as c:
        r = c.get("/text")
        assert (r.status_code, r.headers["content-type"]) == (
            200,
            "text/html; charset=utf-8",
        )
        r = c.get("/data")
        assert (r.headers["content-type"], r.json()) == (
            "application/json",
            {"tea": "green"},
        )
        r = c.get("/raw")
        assert r.headers["content-type"] == "application/octet-stream"
        assert r.content == b"\x89PNG"
        r = c.delete("/items/1")
        assert (r.status_code, r.content) == (204, b"")
        assert "content-length" not in r.headers
        assert c.post("/items").status_code == 201
        r = c.get("/tagged")
        assert (r.status_code, r.headers["x-version"]) == (200, "1")
        r = c.post("/teapots")
        assert (r.status_code, r.headers["location"]) == (201, "/teapots/2")
        assert c.get("/tea").json() == {"name": "sencha", "steep_seconds": 60}


@BOTH
def test_response_classes(iface: str) -> None:
    responses = load("response_types")
    with client(responses, iface) as c:
        r = c.get("/plain")
        assert r.headers["content-type"] == "text/plain; charset=utf-8"
        r = c.get("/page")
        assert (r.status_code, r.text) == (404, "<p>Not here</p>")
        r = c.get("/json")
        assert (r.json(), r.headers["cache-control"]) == ([1, 2, 3], "no-store")
        r = c.get("/csv")
        assert r.headers["content-type"] == "text/csv; charset=utf-8"
        r = c.get("/headers")
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["vary"] == "Accept"


@BOTH
def test_cookies(iface: str) -> None:
    responses = load("response_types")
    with client(responses, iface, follow_redirects=False) as c:
        r = c.post("/login")
        assert r.status_code == 303
        assert r.headers.get_list("set-cookie") == [
            "session=abc123; HttpOnly; Max-Age=3600; Path=/; SameSite=Lax",
            "theme=dark; Path=/; SameSite=Lax",
        ]
        r = c.post("/logout")
        assert r.headers["set-cookie"] == (
            'session=""; expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; '
            "Max-Age=0; Path=/; SameSite=Lax"
        )
    with client(responses, iface, base_url="https://testserver") as c:
        r = c.post("/login", follow_redirects=False)
        assert all(v.endswith("; Secure") for v in r.headers.get_list("set-cookie"))


@BOTH
def test_redirect_and_abort(iface: str) -> None:
    responses = load("response_types")
    with client(responses, iface, follow_redirects=False) as c:
        r = c.get("/me")
        assert (r.status_code, r.headers["location"]) == (302, "/users/1")
        r = c.get("/old-page")
        assert (r.status_code, r.headers["location"]) == (301, "/page")
        r = c.get("/users/2")
        assert (r.status_code, r.json()) == (404, {"detail": "No user 2."})
        r = c.get("/admin")
        assert (r.status_code, r.json()) == (403, {"detail": "Forbidden"})


@BOTH
def test_streaming(iface: str) -> None:
    streaming = load("streaming")
    with client(streaming, iface) as c:
        r = c.get("/numbers?count=3")
        assert r.text == "0\n1\n2\n"
        assert "content-length" not in r.headers
        assert c.get("/shout?word=green&word=tea").text == "GREEN\nTEA\n"
        r = c.get("/report.csv")
        assert r.text == "id,name\n0,item 0\n1,item 1\n2,item 2\n"
        assert r.headers["content-disposition"] == 'attachment; filename="report.csv"'

        r = c.get("/countdown?start=2&delay=0")
        assert r.headers["content-type"] == "text/event-stream; charset=utf-8"
        assert r.headers["cache-control"] == "no-cache"
        assert sse_events(r.text) == [
            {"event": "tick", "id": "2", "data": '{"n":2}'},
            {"event": "tick", "id": "1", "data": '{"n":1}'},
            {"data": "liftoff"},
        ]


@BOTH
def test_files(iface: str) -> None:
    streaming = load("streaming")
    with client(streaming, iface) as c:
        r = c.get("/download")
        assert r.text == "Hello from a static file.\n"
        assert r.headers["content-disposition"] == 'attachment; filename="greeting.txt"'
        etag = r.headers["etag"]
        assert c.get("/download", headers={"if-none-match": etag}).status_code == 304
        r = c.get("/inline", headers={"range": "bytes=0-4"})
        assert (r.status_code, r.text) == (206, "Hello")
        assert "content-disposition" not in r.headers


# -- blueprints-and-views.md -----------------------------------------------------------


@BOTH
def test_blueprints(iface: str) -> None:
    bv = load("blueprints_views")
    with client(bv, iface) as c:
        assert c.get("/").json() == {"blog": "/blog/", "todo": "/api/v1/todos/1"}
        assert c.get("/blog/").json() == {
            "posts": ["/blog/hello", "/blog/tea"],
            "home": "/",
            "section": "blog",
        }
        assert c.get("/blog", follow_redirects=False).status_code == 308
        assert c.get("/blog/tea").json() == {"slug": "tea", "title": "All about tea"}
        r = c.get("/blog/coffee")
        assert r.status_code == 404
        assert r.json() == {"detail": "No such post.", "index": "/blog/"}


@BOTH
def test_views(iface: str) -> None:
    bv = load("blueprints_views")
    with client(bv, iface) as c:
        assert c.get("/api/v1/todos").json() == [{"id": 1, "title": "buy tea"}]
        r = c.post("/api/v1/todos", json={"title": "boil water"})
        assert (r.status_code, r.json()) == (201, {"id": 2, "title": "boil water"})
        assert c.get("/api/v1/todos/2").json() == {"id": 2, "title": "boil water"}
        assert c.delete("/api/v1/todos/2").status_code == 204
        r = c.get("/api/v1/todos/2")
        assert (r.status_code, r.json()) == (
            404,
            {"detail": "Not Found"},
        )  # app default
        r = c.put("/api/v1/todos/1")
        assert r.status_code == 405
        assert r.headers["allow"] == "DELETE, GET, HEAD, OPTIONS"


# -- websockets.md ---------------------------------------------------------------------


def test_websockets() -> None:
    chat = load("websocket_chat")
    with client(chat) as c:
        with c.websocket_connect("/echo") as ws:
            ws.send_text("hello")
            assert ws.receive_text() == "echo: hello"

        with c.websocket_connect("/rooms/tea?name=ann") as ws:
            assert ws.receive_json() == {"joined": "tea", "name": "ann"}
            ws.send_json({"text": "hi all"})
            assert ws.receive_json() == {"from": "ann", "text": "hi all"}
            ws.send_json({"text": "/quit"})
            with pytest.raises(WebSocketDisconnect) as closed:
                ws.receive_json()
            assert (closed.value.code, closed.value.reason) == (4000, "bye")

        with pytest.raises(WebSocketDisconnect) as refused:
            c.websocket_connect("/rooms/coffee")
        assert (refused.value.code, refused.value.reason) == (4404, "no such room")

        with c.websocket_connect("/sum") as ws:
            for number, total in (("1", 1), ("2", 3), ("3", 6)):
                ws.send_text(number)
                assert ws.receive_json() == {"total": total}
            with pytest.raises(WebSocketDisconnect) as done:
                ws.receive_text()
            assert done.value.code == 1000


def test_websockets_need_asgi() -> None:
    chat = load("websocket_chat")
    assert chat.app.preferred_interface() == "asgi"
    with client(chat, "wsgi") as c, pytest.raises(RuntimeError, match="ASGI"):
        c.websocket_connect("/echo")


# -- hooks-and-errors.md ---------------------------------------------------------------


@BOTH
def test_hooks_and_lifespan(iface: str) -> None:
    hooks = load("hooks_lifespan")
    with client(hooks, iface) as c:
        assert hooks.EVENTS == ["startup"]
        r = c.get("/db")
        assert r.json() == {"db_open": True}
        assert r.headers["server-timing"].startswith("app;dur=")

        r = c.get("/db", headers={"x-maintenance": "on"})
        assert (r.status_code, r.json()) == (503, {"detail": "Down for maintenance"})
        assert "server-timing" in r.headers  # after_request hooks still run

        assert c.get("/crash").status_code == 500
        assert hooks.EVENTS == ["startup", "failed: RuntimeError('boom')"]
        db = hooks.app.state["db"]
    assert hooks.EVENTS[-1] == "shutdown"
    assert db.open is False


@BOTH
def test_error_handlers(iface: str) -> None:
    errors = load("error_handling")
    with client(errors, iface) as c:
        assert c.get("/buy/sencha?quantity=2").json() == {
            "bought": "sencha",
            "quantity": 2,
        }
        r = c.get("/buy/coffee")
        assert (r.status_code, r.json()) == (
            404,
            {"detail": "We do not sell coffee.", "path": "/buy/coffee"},
        )
        r = c.get("/no/such/page")
        assert r.json() == {"detail": "Not Found", "path": "/no/such/page"}
        r = c.get("/buy/matcha")
        assert (r.status_code, r.json()) == (409, {"detail": "matcha is out of stock"})
        r = c.get("/shelf/9")
        assert (r.status_code, r.json()) == (400, {"detail": "lookup failed"})
        r = c.get("/private")
        assert (r.status_code, r.json()) == (401, {"detail": "Unauthorized"})
        assert r.headers["www-authenticate"] == 'Bearer realm="tea"'


@BOTH
def test_default_error_pages(iface: str) -> None:
    errors = load("error_handling")
    with client(errors, iface) as c:
        r = c.get("/broken")
        assert (r.status_code, r.json()) == (500, {"detail": "Internal Server Error"})
        r = c.get("/broken", headers={"accept": "text/html,*/*;q=0.8"})
        assert r.status_code == 500
        assert r.headers["content-type"] == "text/html; charset=utf-8"
        assert "<h1>500 Internal Server Error</h1>" in r.text
        assert "ZeroDivisionError" not in r.text

        r = c.get("/buy/sencha?quantity=lots")
        assert r.status_code == 422
        assert r.json() == {
            "detail": [
                {
                    "loc": ["query", "quantity"],
                    "msg": "Input should be a valid integer, unable to parse string as an integer",
                    "type": "int_parsing",
                    "input": "lots",
                }
            ]
        }


@BOTH
def test_debug_page(iface: str) -> None:
    errors = load("error_handling")
    errors.app.debug = True
    with client(errors, iface) as c:
        r = c.get("/broken")
        assert r.status_code == 500
        body = r.json()
        assert body["exception"] == "ZeroDivisionError: division by zero"
        assert any("1 / 0" in line for line in body["traceback"])
        r = c.get("/broken", headers={"accept": "text/html"})
        assert "ZeroDivisionError: division by zero" in r.text
        assert "<pre>" in r.text


# -- middleware.md ---------------------------------------------------------------------


@BOTH
def test_custom_middleware(iface: str) -> None:
    mw = load("middleware_custom")
    with client(mw, iface) as c:
        r = c.get("/")
        assert r.text == "public"
        assert r.headers["x-powered-by"] == "Kettle"
        assert r.headers["server-timing"].startswith("total;dur=")

        r = c.get("/api/data")
        assert (r.status_code, r.text) == (401, "Invalid API key")
        assert "server-timing" in r.headers  # the outer middleware sees early answers

        r = c.get("/api/data", headers={"x-api-key": "s3cret"})
        assert r.json() == {"secret": 42}


@BOTH
def test_builtin_middleware(iface: str) -> None:
    mw = load("middleware_builtin")
    with client(mw, iface, base_url="http://api.example.com") as c:
        r = c.get("/", headers={"x-request-id": "abc-123"})
        assert r.json() == {
            "client": "testclient",
            "scheme": "http",
            "host": "api.example.com",
            "request_id": "abc-123",
        }
        assert r.headers["x-request-id"] == "abc-123"
        assert len(c.get("/").headers["x-request-id"]) == 32  # a new UUID, in hex

        r = c.get("/", headers={"host": "evil.test"})
        assert (r.status_code, r.text) == (400, "Invalid host header")

        r = c.get("/big", headers={"accept-encoding": "gzip"})
        assert r.headers["content-encoding"] == "gzip"
        assert r.text == "tea " * 1000  # httpx decompresses
        r = c.get("/", headers={"accept-encoding": "gzip"})
        assert "content-encoding" not in r.headers  # under minimum_size

        preflight = {
            "origin": "https://app.example.com",
            "access-control-request-method": "DELETE",
            "access-control-request-headers": "authorization",
        }
        r = c.options("/", headers=preflight)
        assert r.status_code == 200
        assert r.headers["access-control-allow-origin"] == "https://app.example.com"
        assert r.headers["access-control-allow-credentials"] == "true"
        r = c.options("/", headers={**preflight, "origin": "https://evil.test"})
        assert r.status_code == 400
        r = c.get("/", headers={"origin": "https://app.example.com"})
        assert r.headers["access-control-allow-origin"] == "https://app.example.com"
        assert r.headers["vary"] == "Origin"


def test_proxy_headers_middleware() -> None:
    mw = load("middleware_builtin")
    forwarded = [
        ("host", "internal:8000"),
        ("x-forwarded-for", "203.0.113.9, 10.0.0.1"),
        ("x-forwarded-proto", "https"),
        ("x-forwarded-host", "shop.example.com"),
    ]
    status, body = asgi_get(mw.app, "/", forwarded, peer="10.0.0.1")
    assert status == 200
    assert body["client"] == "203.0.113.9"
    assert body["scheme"] == "https"
    assert body["host"] == "shop.example.com"
    # From an untrusted peer the headers are ignored, and the Host is refused.
    status, text = asgi_get(mw.app, "/", forwarded, peer="198.51.100.7")
    assert (status, text) == (400, "Invalid host header")


# -- config.md -------------------------------------------------------------------------


def test_config_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = load("config_app")
    with client(config) as c:
        assert c.get("/").json() == {
            "shop": "Kettle Tea Shop",
            "opens": 9,
            "debug": False,
            "max_body_size": 2 * 1024 * 1024,
        }

    env_file = tmp_path / ".env"
    env_file.write_text(
        "# a comment\nKETTLE_OPENING_HOUR=10\nexport KETTLE_SHOP_NAME='Tea Corner'\n"
        "NOT_KETTLE=ignored\n"
    )
    app = config.create_app(env_file=env_file)
    assert app.config["OPENING_HOUR"] == 10  # converted to the type of the default
    assert app.config["SHOP_NAME"] == "Tea Corner"
    assert "NOT_KETTLE" not in app.config

    monkeypatch.setenv("KETTLE_OPENING_HOUR", "11")  # the environment beats .env
    monkeypatch.setenv("KETTLE_DEBUG", "true")
    app = config.create_app(env_file=env_file)
    assert (app.config["OPENING_HOUR"], app.debug) == (11, True)

    app = config.create_app(env_file=env_file, opening_hour=12)  # keywords win
    assert app.config["OPENING_HOUR"] == 12

    monkeypatch.setenv("KETTLE_DEBUG", "maybe")
    with pytest.raises(ValueError, match="not a boolean"):
        config.create_app(env_file=None)


def test_config_settings_module(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = load("config_app")
    (tmp_path / "shop_settings.py").write_text(
        "SHOP_NAME = 'From a module'\nOPENING_HOUR = 8\n"
        "class Production:\n    SHOP_NAME = 'Production shop'\n    OPENING_HOUR = 7\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        app = config.create_app(settings="shop_settings", env_file=None)
        assert app.config["SHOP_NAME"] == "From a module"
        app = config.create_app(settings="shop_settings:Production", env_file=None)
        assert app.config["OPENING_HOUR"] == 7
        monkeypatch.setenv("KETTLE_SETTINGS", "shop_settings")  # when settings=None
        app = config.create_app(settings=None, env_file=None)
        assert app.config["OPENING_HOUR"] == 8
        app = config.create_app(settings=config.Production, env_file=None)
        assert app.config["COOKIE_SECURE"] is True
        assert app.url_for("index", _external=True) == "https://tea.example.com/"
    finally:
        sys.modules.pop("shop_settings", None)


# -- limits.md -------------------------------------------------------------------------


@BOTH
def test_limits(iface: str) -> None:
    limits = load("limits_app")
    with client(limits, iface) as c:
        assert c.post("/api/notes", json={"text": "x" * 1000}).status_code == 201
        r = c.post("/api/notes", json={"text": "x" * 70_000})
        assert r.status_code == 413
        assert r.json() == {
            "detail": "The request body is larger than the limit of 65536 bytes."
        }

        files = [("photo", (f"{i}.jpg", b"x" * 10, "image/jpeg")) for i in range(3)]
        assert c.post("/photos", files=files).json() == {"sizes": [10, 10, 10]}
        files.append(("photo", ("3.jpg", b"x", "image/jpeg")))
        r = c.post("/photos", files=files)
        assert r.status_code == 400
        assert "max_files" in r.json()["detail"]

        big = ("photo", ("big.jpg", b"x" * (5 * 1024 * 1024 + 1), "image/jpeg"))
        r = c.post("/photos", files=[big])
        assert r.status_code == 413
        assert "max_file_size" in r.json()["detail"]

        r = c.post("/photos", data={"caption": "x" * 20_000}, files=files[:1])
        assert r.status_code == 413
        assert "max_part_size" in r.json()["detail"]

        many = {f"f{i}": "x" for i in range(51)}
        assert c.post("/photos", data=many).status_code == 400
        r = c.post("/photos", content=b"x", headers={"content-type": "text/plain"})
        assert r.status_code == 415

        assert c.post("/ingest", content=b"x" * 200_000).json() == {"size": 200_000}


# -- interfaces.md ---------------------------------------------------------------------


@BOTH
def test_interfaces(iface: str) -> None:
    interfaces = load("interfaces_app")
    with client(interfaces, iface) as c:
        sync_thread = c.get("/sync").json()["thread"]
        async_thread = c.get("/async").json()["thread"]
        r = c.post("/sync/upload", data={"b": "2", "a": "1"})
        assert r.json() == {"fields": ["a", "b"]}
    if iface == "asgi":
        assert sync_thread.startswith("kettle-sync")  # Kettle's thread pool
        assert async_thread == "kettle-testclient"  # the event loop's thread
    else:
        assert sync_thread == async_thread == "MainThread"  # the caller's thread
    assert interfaces.wsgi == interfaces.app.wsgi


def test_preferred_interface() -> None:
    assert load("interfaces_app").app.preferred_interface() == "asgi"  # async handler
    assert load("response_types").app.preferred_interface() == "wsgi"  # all sync
    assert load("middleware_custom").app.preferred_interface() == "asgi"  # ASGI mw
    assert load("mounts").app.preferred_interface() == "asgi"  # mounts


# -- testing.md ------------------------------------------------------------------------


def test_testing_page_examples() -> None:
    examples = load("testing_examples")
    examples.test_get()
    for interface in ("asgi", "wsgi"):
        examples.test_both_interfaces(interface)
    examples.test_server_errors()
    examples.test_websocket()
    examples.test_async_client()


def test_testing_page_examples_with_docs_apps() -> None:
    hooks = load("hooks_lifespan")
    with hooks.app.test_client() as c:
        assert c.get("/db").json() == {"db_open": True}
    assert hooks.EVENTS == ["startup", "shutdown"]
    chat = load("websocket_chat")
    with chat.app.test_client() as c, c.websocket_connect("/echo") as ws:
        ws.send_text("hi")
        assert ws.receive_text() == "echo: hi"


def test_gzip_streams_are_compressed() -> None:
    mw = load("middleware_builtin")

    @mw.app.get("/stream")
    def stream():
        from kettle import StreamingResponse

        return StreamingResponse(iter(["a" * 10, "b" * 10]), media_type="text/plain")

    with client(mw, base_url="http://api.example.com") as c:
        r = c.get("/stream", headers={"accept-encoding": "gzip"})
        assert r.headers["content-encoding"] == "gzip"
        assert r.text == "a" * 10 + "b" * 10  # httpx decompresses


# -- cli.md ----------------------------------------------------------------------------


def _console_block(page: str, command: str) -> str:
    """The output shown under ``$ command`` in a console block of a docs page."""
    text = (EXAMPLES.parent / page).read_text()
    start = text.index(f"$ {command}\n") + len(command) + 3
    return text[start : text.index("```", start)]


@pytest.mark.parametrize(
    ("folder", "command", "args", "module"),
    [
        (EXAMPLES, "kettle routes mounts", ["routes", "mounts"], "mounts"),
        (
            EXAMPLES.parent.parent / "examples" / "demo",
            "cd examples/demo && kettle routes",
            ["routes"],
            "app",
        ),
    ],
)
def test_cli_routes_output_matches_the_docs(
    folder: Path,
    command: str,
    args: list[str],
    module: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from click.testing import CliRunner

    from kettle.cli import cli

    monkeypatch.chdir(folder)
    monkeypatch.syspath_prepend(str(folder))
    saved = sys.modules.pop(module, None)
    try:
        result = CliRunner().invoke(cli, args)
    finally:
        sys.modules.pop(module, None)
        if saved is not None:
            sys.modules[module] = saved
    assert result.exit_code == 0, result.output
    assert result.output == _console_block("cli.md", command)


# -- security.md -----------------------------------------------------------------------

STRONG_KEY = "k7Qp2vX9mR4tW8zL1nB6cY3hJ5dF0gS-aE_uI8oPqRsTvWxYz12345"


@BOTH
def test_security_example(iface: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KETTLE_SECRET_KEY", STRONG_KEY)
    security = load("security_app")
    with client(
        security, iface, base_url="https://tea.example.com", follow_redirects=False
    ) as c:
        page = c.get("/")
        assert page.status_code == 200
        policy = page.headers["content-security-policy"]
        nonces = re.findall(r"'nonce-([\w-]+)'", policy)
        assert len(nonces) == 2 and nonces[0] == nonces[1]  # script-src, style-src
        assert page.text.count(f'nonce="{nonces[0]}"') == 2
        assert "img-src 'self' data: https://cdn.example.org;" in policy
        assert policy.endswith("; frame-ancestors 'none'")
        assert page.headers["x-frame-options"] == "DENY"
        assert page.headers["x-content-type-options"] == "nosniff"
        assert page.headers["referrer-policy"] == "same-origin"
        assert page.headers["cross-origin-opener-policy"] == "same-origin"
        assert page.headers["strict-transport-security"] == (
            "max-age=31536000; includeSubDomains"
        )
        widget = c.get("/widget")
        assert widget.headers["x-frame-options"] == "SAMEORIGIN"
        assert widget.headers.get_list("content-security-policy") == [
            "default-src 'self'; frame-ancestors 'self'"
        ]
        r = c.post("/login?next=/account")
        assert (r.status_code, r.headers["location"]) == (303, "/account")
        r = c.post("/login", data={"next": "https://evil.example/"})
        assert r.headers["location"] == "/"
        assert c.get("/", headers={"host": "shop.tea.example.org"}).status_code == 200
        r = c.get("/", headers={"host": "evil.example"})
        assert (r.status_code, r.text) == (
            400,
            "Invalid Host header: 'evil.example'. Add it to ALLOWED_HOSTS.",
        )
    with client(
        security, iface, base_url="http://tea.example.com", follow_redirects=False
    ) as c:
        r = c.get("/?q=1")
        assert (r.status_code, r.headers["location"]) == (
            301,
            "https://tea.example.com/?q=1",
        )
        assert c.post("/login").status_code == 308
        assert "strict-transport-security" not in r.headers


def test_security_example_behind_the_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KETTLE_SECRET_KEY", STRONG_KEY)
    security = load("security_app")

    def get(headers: list[tuple[str, str]]) -> tuple[int, dict[str, str]]:
        """GET / through raw ASGI from the proxy at 10.0.0.1."""
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {
            "type": "http",
            "method": "GET",
            "scheme": "http",
            "path": "/",
            "query_string": b"",
            "headers": [(k.encode(), v.encode()) for k, v in headers],
            "client": ("10.0.0.1", 4321),
            "server": ("10.0.0.2", 8000),
        }
        asyncio.run(security.app(scope, receive, send))
        found = {k.decode(): v.decode() for k, v in sent[0]["headers"]}
        return sent[0]["status"], found

    forwarded = [("host", "10.0.0.2:8000"), ("x-forwarded-host", "tea.example.com")]
    status, headers = get([*forwarded, ("x-forwarded-proto", "https")])
    assert status == 200 and "strict-transport-security" in headers
    status, headers = get([*forwarded, ("x-forwarded-proto", "http")])
    assert (status, headers["location"]) == (301, "https://tea.example.com/")
    status, _ = get([("host", "10.0.0.2:8000")])  # the proxy's address: not allowed
    assert status == 400


def test_security_urls_example() -> None:
    load("security_urls").check()


@pytest.mark.parametrize(
    ("command", "args", "secret", "code"),
    [
        ("kettle check --deploy hello", ["check", "--deploy", "hello"], None, 1),
        ("kettle check --deploy security_app", ["check", "--deploy"], STRONG_KEY, 0),
    ],
)
def test_check_deploy_output_matches_the_docs(
    command: str,
    args: list[str],
    secret: str | None,
    code: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from click.testing import CliRunner

    from kettle.cli import cli

    for key in [k for k in os.environ if k.startswith("KETTLE_")]:
        monkeypatch.delenv(key)
    if secret is not None:
        monkeypatch.setenv("KETTLE_SECRET_KEY", secret)
    monkeypatch.chdir(EXAMPLES)
    monkeypatch.syspath_prepend(str(EXAMPLES))
    module = command.split()[-1]
    saved = sys.modules.pop(module, None)
    try:
        result = CliRunner().invoke(cli, [*args, module] if code == 0 else args)
    finally:
        sys.modules.pop(module, None)
        if saved is not None:
            sys.modules[module] = saved
    assert result.exit_code == code, result.output
    if code:
        assert result.output == _console_block("security.md", command)
    else:
        assert result.output == "No issues found.\n"


# -- every example is covered ----------------------------------------------------------


def test_every_example_is_tested() -> None:
    loaded = set(re.findall(r'(?:load|admin_example)\("(\w+)"', Path(__file__).read_text()))
    guides = ("flask_", "django_")  # tested by test_docs_guides.py
    on_disk = {p.stem for p in EXAMPLES.glob("*.py") if not p.stem.startswith(guides)}
    assert on_disk - loaded == set(), "docs examples without a test"


@BOTH
def test_typed_handlers_page(iface: str) -> None:
    typed = load("typed_handlers")
    with client(typed, iface) as c:
        r = c.get("/teas?page=2&sort=old&tag=green&tag=jp")
        assert r.json() == {"q": None, "page": 2, "sort": "old", "tag": ["green", "jp"]}
        errors = c.get("/teas?page=0&sort=mid").json()["detail"]
        assert [(e["loc"], e["type"]) for e in errors] == [
            (["query", "page"], "greater_than_equal"),
            (["query", "sort"], "enum"),
        ]
        assert c.get("/teas/0").json()["detail"][0]["loc"] == ["path", "tea_id"]
        r = c.get("/whoami", headers={"user-agent": "ua", "x-trace": "t1"})
        assert r.json() == {"agent": "ua", "trace": "t1", "theme": "light"}
        r = c.post("/teas", json={"name": "Sencha", "price": 4.5, "tags": ["jp"]})
        assert (r.status_code, r.json()) == (
            201,
            {"id": 1, "name": "Sencha", "price": 4.5},
        )
        errors = c.post("/teas", json={"name": "", "price": 0}).json()["detail"]
        assert [e["loc"] for e in errors] == [["body", "name"], ["body", "price"]]
        assert c.put("/teas/3/price", json={"price": 2}).json() == {"id": 3, "price": 2}
        r = c.post(
            "/labels",
            files={"label": ("l.png", b"PNG", "image/png")},
            data={"caption": "front"},
        )
        assert r.json() == {"file": "l.png", "size": 3, "caption": "front"}
        assert c.get("/orders").status_code == 422  # no X-API-Key header
        assert c.get("/orders", headers={"x-api-key": "no"}).status_code == 401
        typed.STORE_LOG.clear()
        r = c.get("/orders?page=3", headers={"x-api-key": "s3cret"})
        assert r.json() == {"page": {"offset": 40, "limit": 20}, "open": True}
        r = c.get("/orders?fail=1", headers={"x-api-key": "s3cret"})
        assert r.status_code == 409
        assert typed.STORE_LOG == ["commit", "rollback"]
        doc = c.get("/openapi.json").json()
        assert doc["info"]["title"] == "Tea shop"
        assert doc["paths"]["/teas"]["post"]["summary"] == "Add a tea."


_database_module: ModuleType | None = None


def registered_load(name: str) -> ModuleType:
    """:func:`load`, with the module in ``sys.modules`` (SQLAlchemy resolves model
    annotations through it)."""
    module_name = f"kettle_docs_example_{name}"
    spec = importlib.util.spec_from_file_location(module_name, EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


def database_example(tmp_path: Path, **settings: Any) -> Any:
    """An app of docs/examples/database_app.py on a fresh SQLite file (the module
    is loaded once: its models live in kettle.db.Model's shared metadata)."""
    global _database_module
    if _database_module is None:
        _database_module = registered_load("database_app")
    from kettle.db import get_database

    url = f"sqlite:///{tmp_path / 'library.sqlite3'}"
    app = _database_module.create_app(env_file=None, DATABASE_URL=url, **settings)
    get_database(app).create_all()
    return app


@BOTH
def test_database_example(iface: str, tmp_path: Path) -> None:
    from kettle.db import get_database

    app = database_example(tmp_path)
    with TestClient(app, interface=iface) as c:
        assert c.post("/shelves?name=Fiction").json() == {"id": 1}
        for i in range(12):
            r = c.post(f"/shelves/1/books?title=Book {i}")
            assert r.status_code == 201
        assert c.post("/shelves/9/books?title=x").status_code == 404
        page = c.get("/books?page=2").json()
        assert page["books"] == [
            {"title": "Book 10", "shelf": "Fiction"},
            {"title": "Book 11", "shelf": "Fiction"},
        ]
        assert (page["total"], page["pages"], page["has_next"]) == (12, 2, False)
        first = c.get("/feed").json()
        second = c.get("/feed", params={"after": first["next"]}).json()
        assert len(first["titles"]) == 10 and second["titles"] == ["Book 10", "Book 11"]
        assert second["next"] is None
        book = c.get("/books/3").json()
        assert book["title"] == "Book 2" and book["created_at"]
        assert c.get("/books/99").status_code == 404
    assert get_database(app).engine().pool.checkedout() == 0


@BOTH
def test_templates_example(iface: str) -> None:
    import hashlib

    module = load("templates_app")
    css = (EXAMPLES / "static" / "site.css").read_bytes()
    digest = hashlib.sha256(css).hexdigest()[:12]
    with client(module, iface) as c:
        page = c.get("/posts")
        assert page.headers["content-type"] == "text/html; charset=utf-8"
        assert "<title>Posts · Teapot</title>" in page.text
        assert f'href="/static/site.{digest}.css"' in page.text
        assert "&lt;script&gt;alert(&#39;oolong&#39;)&lt;/script&gt;" in page.text
        assert "<script>" not in page.text
        partial = c.get("/posts", params={"q": "tea"}, headers={"hx-request": "1"})
        assert partial.text == "<li>Green tea</li><li>Black tea</li>"
        assert "<h1>Black tea</h1>" in c.get("/posts/1").text
        sheet = c.get(f"/static/site.{digest}.css")
        assert sheet.content == css
        assert "immutable" in sheet.headers["cache-control"]


@BOTH
def test_sessions_example(iface: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KETTLE_SECRET_KEY", "docs-example-key-0123456789abcdef")
    module = load("sessions_app")
    with client(module, iface) as c:
        assert c.post("/cart/3").json() == {
            "items": [3],
            "messages": ["Added to your cart."],
        }
        assert c.post("/cart/5").json()["items"] == [3, 5]
        assert c.get("/cart").json() == {"items": [3, 5], "messages": []}
        assert c.post("/cart/empty").json() == {"items": [], "messages": []}
        assert "session" not in c.cookies


@BOTH
def test_csrf_example(iface: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KETTLE_SECRET_KEY", "docs-example-key-0123456789abcdef")
    module = load("csrf_app")
    with client(module, iface, enforce_csrf_checks=True) as c:
        page = c.get("/comment").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        header = re.search(r'"X-CSRF-Token": "([^"]+)"', page).group(1)
        assert c.post("/comment", data={"text": "hi"}).status_code == 403
        ok = c.post("/comment", data={"text": "hi", "csrf_token": token})
        assert ok.status_code == 200  # redirected back to the form
        assert c.post("/like").status_code == 403
        assert c.post("/like", headers={"X-CSRF-Token": header}).json() == {"likes": 1}
        assert c.post("/hooks/payments", content=b"{}").json() == {"received": 2}


@BOTH
def test_forms_example(iface: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KETTLE_SECRET_KEY", "docs-example-key-0123456789abcdef")
    module = load("forms_app")
    good = {
        "username": "Ann",
        "email": "ann@example.org",
        "password": "long enough",
        "confirm": "long enough",
        "terms": "on",
    }
    with client(module, iface, follow_redirects=False) as c:
        page = c.get("/signup").text
        assert 'enctype="multipart/form-data"' in page
        assert '<label for="id_username">User name</label>' in page
        bad = c.post("/signup", data={**good, "username": "admin", "confirm": "x"})
        assert "That name is taken." in bad.text and "The passwords differ." in bad.text
        assert 'value="admin"' in bad.text
        assert c.post("/signup", data=good).status_code == 302
        api = c.post("/api/signup", json={**good, "age": 12})
        assert api.status_code == 422
        assert api.json() == {"errors": {"age": ["Enter a number of at least 13."]}}
        assert c.post("/api/signup", json=good).json() == {"username": "ann"}


@BOTH
def test_model_forms_example(iface: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from kettle.db import get_database

    monkeypatch.setenv("KETTLE_SECRET_KEY", "docs-example-key-0123456789abcdef")
    module = _model_forms_module()
    with client(module, iface) as c:
        assert c.post("/novels", json={"title": "Emma", "writer_id": 1}).json() == {
            "id": 1
        }
        bad = c.post("/novels", data={"title": "", "pages": "many", "writer_id": "7"})
        assert bad.status_code == 422
        assert set(bad.json()["errors"]) == {"title", "pages", "writer_id"}
        page = c.get("/novels/1/edit").text
        assert 'value="Emma"' in page
        assert '<option value="1" selected>Jane Austen</option>' in page
    get_database(module.app).dispose()


_model_forms_loaded: list[ModuleType] = []


def _model_forms_module() -> ModuleType:
    """The example, imported once (its models join Kettle's metadata once), on a
    fresh database for each test."""
    from kettle.db import get_database

    if not _model_forms_loaded:
        _model_forms_loaded.append(load("model_forms"))
    module = _model_forms_loaded[0]
    db = get_database(module.app)
    db.drop_all()
    db.create_all()
    with db.session() as s:
        s.add(module.Writer(id=1, name="Jane Austen"))
        s.commit()
    return module


def test_passwords_example(monkeypatch: pytest.MonkeyPatch) -> None:
    from kettle.auth import hashers

    monkeypatch.setattr(hashers, "_hasher", hashers.get_hasher())  # put back after
    passwords = load("passwords_app")
    passwords.pytest_configure()
    assert hashers.get_hasher().memory_cost == 8
    assert passwords.sign_up("ann", "ann@example.org", "Password") == [
        "This password is too common."
    ]
    assert passwords.sign_up("ann", "ann@example.org", "ann@example") == [
        "This password is too similar to your email address."
    ]
    assert passwords.sign_up("ann", "ann@example.org", "plum tree at dusk") == []
    assert passwords.USERS["ann"]["password"].startswith("$argon2id$v=19$m=8,t=1,p=1$")
    assert passwords.log_in("ann", "plum tree at dusk")
    assert not passwords.log_in("ann", "plum tree at dawn")
    assert not passwords.log_in("bob", "plum tree at dusk")
    # A hash made by Django (pbkdf2_sha256, password "correct horse"), upgraded.
    django = (
        "pbkdf2_sha256$1000$YQzEeV7r7ak2SQQlI0vhwJ$"
        "v3896aYjoC04dpddQpt3WUa7ZCSE7YaEVNZh1DSMJjQ="
    )
    passwords.USERS["bob"] = {"username": "bob", "email": "", "password": django}
    assert not passwords.log_in("bob", "correct horsE")
    assert passwords.USERS["bob"]["password"] == django
    assert passwords.log_in("bob", "correct horse")
    upgraded = passwords.USERS["bob"]["password"]
    assert upgraded.startswith("$argon2id$")
    assert passwords.log_in("bob", "correct horse")
    assert passwords.USERS["bob"]["password"] == upgraded  # current: kept
    assert passwords.check_new_password("12345678901") == [
        "This password is too short: it must contain at least 12 characters.",
        "This password is entirely numeric.",
    ]
    assert passwords.check_new_password("plum tree at dusk") == []
    assert passwords.rules() == [
        "Your password must contain at least 12 characters.",
        "Your password must not be a commonly used password.",
        "Your password must not be entirely numeric.",
    ]


@BOTH
def test_auth_example(
    iface: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kettle.auth import hashers
    from kettle.db import get_database

    monkeypatch.setattr(hashers, "_hasher", hashers.set_test_parameters())
    monkeypatch.setenv("KETTLE_SECRET_KEY", "docs-example-key-0123456789abcdef")
    monkeypatch.setenv("KETTLE_DATABASE_URL", f"sqlite:///{tmp_path / 'a.db'}")
    if not _auth_loaded:
        _auth_loaded.extend([load("auth_app"), load("auth_setup")])
    module, setup = _auth_loaded
    app = module.app
    app.config["DATABASE_URL"] = f"sqlite:///{tmp_path / 'a.db'}"
    db = get_database(app)
    db.create_all()
    with db.session() as s:
        setup.create_people(s)
        s.add_all([module.Story(title="One"), module.Story(title="Two")])
        s.commit()
    with client(module, iface, follow_redirects=False) as c:
        assert c.get("/hello").text == "Hello, stranger!"
        assert c.get("/me").status_code == 401
        to_login = c.get("/drafts", headers={"accept": "text/html"})
        assert to_login.headers["location"] == "/auth/login?next=%2Fdrafts"
        assert c.post("/stories/1/publish").status_code == 401
        login = {"username": "bob", "password": "another passphrase"}
        assert c.post("/auth/login", data=login).status_code == 303
        assert c.get("/me").json() == {"username": "bob", "staff": False}
        assert c.get("/drafts").json() == {"drafts": []}
        assert c.post("/stories/1/publish").status_code == 403
        c.post("/auth/logout")
        login = {"username": "ann@example.org", "password": "a long passphrase"}
        assert c.post("/auth/login", data=login).status_code == 303
        assert c.get("/hello").text == "Hello, ann!"
        assert c.post("/stories/1/publish").json() == {"published": 1}
        assert c.delete("/stories/2").status_code == 403  # no story.delete
    with db.session() as s:
        assert s.get(module.Story, 1).published is True
    db.drop_all()
    db.dispose()


_auth_loaded: list[ModuleType] = []


@BOTH
def test_mail_example(iface: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from kettle import mail
    from kettle.mail import MemoryBackend
    from kettle.mail import get_backend

    monkeypatch.setenv("KETTLE_MAIL_BACKEND", "memory")
    module = load("mail_app")
    backend = get_backend(module.app)
    assert isinstance(backend, MemoryBackend)
    mail.outbox.clear()
    with client(module, iface) as c:
        bad = c.post("/contact", data={"email": "ann@x\nBcc: eve@x", "text": "Hi"})
        assert bad.status_code == 422
        assert bad.json() == {"errors": {"email": ["Enter an email address."]}}
        form = {"email": "Ann <ann@example.org>", "text": "Is the sencha in?"}
        assert c.post("/contact", data=form).json() == {"sent": True}
        form = {"name": "Zoë <3", "email": "zoe@example.org"}
        assert c.post("/welcome", data=form).json() == {"sent": True}
        form = {"subject": "Spring teas", "text": "New: sencha."}
        assert c.post("/newsletter", data=form).json() == {"sent": 2}
    contact, welcome, *news = backend.outbox
    assert mail.outbox == backend.outbox
    assert (contact.to, contact.reply_to) == (
        ["staff@example.org"],
        ["Ann <ann@example.org>"],
    )
    assert contact.body == "Is the sencha in?"
    assert welcome.to == ["zoe@example.org"]
    assert welcome.body == "Hello Zoë <3,\n\nthank you for signing up.\n"
    assert welcome.html == "<p>Hello Zoë &lt;3,</p><p>thank you for signing up.</p>"
    assert welcome.from_email == "webmaster@localhost"
    assert [(m.subject, m.to) for m in news] == [
        ("Spring teas", ["ann@example.org"]),
        ("Spring teas", ["Bob Lee <bob@example.org>"]),
    ]
    mail.outbox.clear()


def test_mail_testing_example() -> None:
    from kettle import mail

    module = load("mail_testing")
    module.test_invite(module.outbox.__wrapped__())  # the fixture's function
    module.test_outbox_of_one_app(module.outbox.__wrapped__())
    mail.outbox.clear()


def test_mail_settings_example(monkeypatch: pytest.MonkeyPatch) -> None:
    from kettle import Kettle
    from kettle.mail import SMTPBackend
    from kettle.mail import get_backend

    for name in ("KETTLE_DEBUG", "KETTLE_MAIL_BACKEND"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KETTLE_MAIL_PASSWORD", "from the environment")
    module = load("mail_settings")
    backend = get_backend(Kettle(settings=module.Production, env_file=None))
    assert isinstance(backend, SMTPBackend)  # MAIL_BACKEND None, no debug: SMTP
    assert (backend.host, backend.port, backend.use_tls, backend.use_ssl) == (
        "smtp.example.org",
        587,
        True,
        False,
    )
    assert (backend.username, backend.password) == (
        "shop@example.org",
        "from the environment",
    )
    assert backend.default_from == "Tea Shop <shop@example.org>"
    assert backend.timeout == 10


def test_mail_backend_example(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    from kettle.mail import get_backend
    from kettle.mail import send_mail

    module = load("mail_backend")
    monkeypatch.setitem(sys.modules, "myproject.mail", module)
    caplog.set_level(logging.INFO, logger="myproject.mail")
    sent = send_mail(
        "Hi", "Body", "ann@example.org", bcc="boss@example.org", app=module.app
    )
    assert sent == 1
    assert caplog.messages == ["mail to ann@example.org, boss@example.org: Hi"]
    assert isinstance(get_backend(module.app), module.LogBackend)


@BOTH
def test_ratelimit_example(iface: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from kettle.ratelimit import MemoryLimiter
    from kettle.ratelimit import set_limiter

    monkeypatch.setenv("KETTLE_SECRET_KEY", "docs-example-key-0123456789abcdef")
    module = load("ratelimit_app")
    now = [0.0]
    limiter = set_limiter(module.app, MemoryLimiter(clock=lambda: now[0]))
    with client(module, iface) as c:
        codes = [c.get("/search?q=tea").status_code for _ in range(31)]
        assert codes == [200] * 30 + [429]
        refused = c.get("/search")
        assert refused.headers["retry-after"] == "2"
        assert refused.json() == {
            "detail": "Too many requests: try again in 2 seconds."
        }
        posted = [c.post("/comments", data={"text": "hi"}) for _ in range(6)]
        assert [r.status_code for r in posted] == [201] * 5 + [429]

        def log_in(username: str, password: str) -> Any:
            return c.post("/login", data={"username": username, "password": password})

        assert [log_in("ann", "guess").status_code for _ in range(5)] == [401] * 5
        locked = log_in("Ann", "a long passphrase")  # refused unchecked
        assert locked.status_code == 429
        assert locked.headers["retry-after"] == "180"
        now[0] += 180
        assert log_in("ann", "a long passphrase").json() == {"welcome": "ann"}
        assert limiter.peek("login.account", "ann", module.PER_ACCOUNT).remaining == 5
        # One address trying many accounts: 20 failures an hour (one more
        # every 3 minutes: 16 after the 5 failures of 3 minutes ago).
        codes = [log_in(f"user{i}", "guess").status_code for i in range(17)]
        assert codes == [401] * 16 + [429]
        assert log_in("ann", "a long passphrase").status_code == 429
    testing = load("ratelimit_testing")
    testing.test_limits_are_off()
    testing.test_the_limit()


def admin_example(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[ModuleType, Any]:
    """An admin example (loaded once: its models stay in the shared metadata),
    on a fresh SQLite database holding a staff superuser "staff"."""
    from kettle.auth import User
    from kettle.auth import hashers
    from kettle.db import get_database

    monkeypatch.setattr(hashers, "_hasher", hashers.set_test_parameters())
    monkeypatch.setenv("KETTLE_SECRET_KEY", "docs-example-key-0123456789abcdef")
    monkeypatch.setenv("KETTLE_DATABASE_URL", f"sqlite:///{tmp_path / 'admin.db'}")
    if name not in _admin_loaded:
        _admin_loaded[name] = load(name)
    module = _admin_loaded[name]
    db = get_database(module.app)
    db.drop_all()
    db.create_all()
    with db.session() as s:
        s.add(User(username="staff", password="staff password", is_staff=True, is_superuser=True))
        s.commit()
    return module, db


@BOTH
def test_admin_example(iface: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    module, db = admin_example("admin_app", tmp_path, monkeypatch)
    with db.session() as s:
        rack = module.Rack(name="Poetry")
        s.add_all([rack, module.Volume(title="Odes", rack=rack, lent=True)])
        s.commit()
    with client(module, iface, follow_redirects=False) as c:
        c.post("/auth/login", data={"username": "staff", "password": "staff password"})
        page = c.get("/admin/volume/?f.lent=1")
        assert "Odes" in page.text and "Poetry" in page.text
        assert "Mark as returned" in page.text
        with db.session() as s:
            odes = s.scalars(select_volume(module)).one()
        c.post("/admin/volume/action", data={"action": "returned", "ids": [str(odes)]})
        assert "Odes" not in c.get("/admin/volume/?f.lent=1").text


@BOTH
def test_admin_computed_example(iface: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import datetime

    module, db = admin_example("admin_computed", tmp_path, monkeypatch)
    now = datetime.datetime.now(datetime.UTC)
    with db.session() as s:
        s.add_all(
            [
                module.Poll(question="Tea?", opens=now - datetime.timedelta(days=1)),
                module.Poll(question="Coffee later?", opens=now + datetime.timedelta(days=1)),
            ]
        )
        s.commit()
    with client(module, iface, follow_redirects=False) as c:
        c.post("/auth/login", data={"username": "staff", "password": "staff password"})
        page = c.get("/admin/poll/?o=is_open").text  # sorted by opens
        cells = re.findall(r"<td>(?:<a [^>]*>)?([^<]*)(?:</a>)?</td>", page)
        assert cells == ["Tea?", "Yes", "4", "Coffee later?", "No", "13"]
        assert ">Open?</a>" in page and "Question length" in page


def select_volume(module: ModuleType) -> Any:
    from sqlalchemy import select

    return select(module.Volume.id)


_admin_loaded: dict[str, ModuleType] = {}


@BOTH
def test_admin_sections_example(iface: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sqlalchemy import select

    module, db = admin_example("admin_sections", tmp_path, monkeypatch)
    with client(module, iface, follow_redirects=False) as c:
        c.post("/auth/login", data={"username": "staff", "password": "staff password"})
        assert ">Music</h2>" in c.get("/admin/").text
        form = c.get("/admin/playlist/add").text
        assert 'name="track-0-title"' in form and 'name="track-1-seconds"' in form
        done = c.post(
            "/admin/playlist/add",
            data={
                "name": "Road trip",
                "track-rows": "2",
                "track-0-title": "Roadrunner",
                "track-0-seconds": "245",
                "track-1-title": "",
                "track-1-seconds": "0",
            },
        )
        assert done.status_code == 303
    with db.session() as s:
        playlist = s.scalars(select(module.Playlist)).one()
        assert [(t.title, t.seconds) for t in playlist.tracks] == [("Roadrunner", 245)]



# -- channels.md -----------------------------------------------------------------------


@pytest.fixture
def channels_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The settings of the channels examples (read when their app is made)."""
    monkeypatch.setenv("KETTLE_DATABASE_URL", f"sqlite:///{tmp_path / 'ch.db'}")
    monkeypatch.setenv("KETTLE_SECRET_KEY", "s" * 40)


def _channels_example(module: ModuleType) -> Any:
    from kettle.auth import User
    from kettle.auth import hashers
    from kettle.db import get_database

    hashers.set_test_parameters()
    get_database(module.app).create_all()
    with get_database(module.app).session() as s:
        s.add(User(username="ann", password="a long passphrase", is_staff=True))
        s.add(User(username="bob", password="another passphrase"))
        s.commit()
    return module


def test_channels_chat(channels_env: None) -> None:
    from kettle.db import get_database

    module = _channels_example(load("channels_chat"))
    with client(module) as ann_client, client(module) as bob_client:
        with pytest.raises(WebSocketDisconnect) as refused:
            ann_client.websocket_connect("/rooms/tea")
        assert refused.value.code == 1008  # nobody logged in
        for c, name, password in [
            (ann_client, "ann", "a long passphrase"),
            (bob_client, "bob", "another passphrase"),
        ]:
            login = c.post("/auth/login", data={"username": name, "password": password})
            assert login.history[0].status_code == 303
        with ann_client.websocket_connect("/rooms/tea") as ann:
            assert ann.receive_json() == {"joined": "ann"}
            with bob_client.websocket_connect("/rooms/tea") as bob:
                assert bob.receive_json() == {"joined": "bob"}
                assert ann.receive_json() == {"joined": "bob"}
                bob.send_json({"text": "hello"})
                for ws in (ann, bob):
                    assert ws.receive_json() == {"from": "bob", "text": "hello"}
                sent = ann_client.post("/rooms/tea/announce", params={"text": "tea!"})
                assert sent.json() == {"sent": True}
                assert bob.receive_json() == {"from": "staff", "text": "tea!"}
                assert ann.receive_json() == {"from": "staff", "text": "tea!"}
                refused_post = bob_client.post("/rooms/tea/announce?text=x")
                assert refused_post.status_code == 403
            assert ann.receive_json() == {"left": "bob"}
    get_database(module.app).dispose()


def test_channels_notifications(channels_env: None) -> None:
    from kettle.channels import apublish
    from kettle.channels import get_backend
    from kettle.db import get_database

    module = _channels_example(load("channels_notifications"))
    app = module.app
    with client(module) as c:
        c.post("/auth/login", data={"username": "ann", "password": "a long passphrase"})
        cookie = f"session={c.cookies['session']}"

        async def stream(path: str, channel: str, act: Any) -> str:
            """GET an event stream through raw ASGI until ``act`` is done."""
            body: list[bytes] = []
            gone = asyncio.Event()

            async def receive() -> dict[str, Any]:
                await gone.wait()
                return {"type": "http.disconnect"}

            async def send(message: dict[str, Any]) -> None:
                body.append(message.get("body", b""))

            scope = {
                "type": "http",
                "asgi": {"version": "3.0"},
                "http_version": "1.1",
                "method": "GET",
                "scheme": "http",
                "path": path,
                "raw_path": path.encode(),
                "root_path": "",
                "query_string": b"",
                "headers": [(b"host", b"testserver"), (b"cookie", cookie.encode())],
                "client": ("127.0.0.1", 4321),
                "server": ("testserver", 80),
            }
            served = asyncio.ensure_future(app(scope, receive, send))
            backend = get_backend(app)
            for _ in range(500):
                if backend.subscribers(channel):
                    break
                await asyncio.sleep(0.01)
            await act()
            for _ in range(500):
                if b"data:" in b"".join(body):
                    break
                await asyncio.sleep(0.01)
            gone.set()
            await asyncio.wait_for(served, 5)
            assert backend.subscribers(channel) == 0  # ended with the client
            return b"".join(body).decode()

        async def poke() -> None:  # bob's browser, through the test client
            poked = await asyncio.to_thread(c.post, "/users/1/poke")
            assert poked.json() == {"poked": 1}

        text = asyncio.run(stream("/notifications", "user:1", poke))
        assert 'data: {"kind":"poke","from":"ann"}\n\n' in text

        async def news() -> None:
            await apublish("news", "kettle 2.0 is out", app=app)

        text = asyncio.run(stream("/feed", "news", news))
        assert "event: news\ndata: kettle 2.0 is out\n\n" in text
    get_database(app).dispose()


def test_channels_settings(redis_url: str) -> None:
    import redis

    from kettle import Kettle
    from kettle.channels import RedisChannels
    from kettle.channels import apublish
    from kettle.channels import subscribe

    app = Kettle(
        settings=load("channels_settings"), env_file=None, CHANNELS_REDIS_URL=redis_url
    )
    app.setup()
    backend = app.extensions["channels"]
    assert isinstance(backend, RedisChannels)
    assert (backend.prefix, backend.queue_size) == ("shop:", 100)
    probe = redis.Redis.from_url(redis_url)

    async def scenario() -> Any:
        async with subscribe("orders", app=app) as orders:
            assert probe.pubsub_channels("shop:*") == [b"shop:orders"]
            await apublish("orders", {"id": 7}, app=app)
            message = await asyncio.wait_for(anext(orders), 5)
        await backend.aclose()
        return message

    assert asyncio.run(scenario()).data == {"id": 7}
    probe.close()


# -- signals.md -------------------------------------------------------------------------

_signals_loaded: dict[str, ModuleType] = {}


@BOTH
def test_signals_example(
    iface: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from kettle.auth import User
    from kettle.auth import hashers
    from kettle.db import get_database

    monkeypatch.setattr(hashers, "_hasher", hashers.set_test_parameters())
    monkeypatch.setenv("KETTLE_SECRET_KEY", "docs-example-key-0123456789abcdef")
    monkeypatch.setenv("KETTLE_DATABASE_URL", f"sqlite:///{tmp_path / 'signals.db'}")
    if not _signals_loaded:  # once: its model stays in the shared metadata
        module = load("signals_app")

        @module.app.get("/fail")
        def fail() -> None:
            raise RuntimeError("out of tea")

        _signals_loaded["app"] = module
    module = _signals_loaded["app"]
    db = get_database(module.app)
    db.drop_all()
    db.create_all()
    with db.session() as s:
        s.add(User(username="ann", password="ann's password"))
        s.commit()
    with caplog.at_level(logging.INFO, logger="shop.audit"), client(module, iface) as c:
        assert c.post("/orders?item=tea").json() == {"id": 1}
        login = {"username": "ann", "password": "wrong"}
        assert c.post("/auth/login", data=login).status_code == 200
        login["password"] = "ann's password"
        logged_in = c.post("/auth/login", data=login, follow_redirects=False)
        assert logged_in.status_code == 303
        assert c.get("/fail").status_code == 500
    audit = [r.getMessage() for r in caplog.records if r.name == "shop.audit"]
    assert audit == [
        "order 1 saved: tea",
        "announced order 1",
        "POST /orders 200",
        "refused login for 'ann' (credentials)",
        "POST /auth/login 200",
        "login: ann",
        "POST /auth/login 303",
        "GET /fail failed: RuntimeError('out of tea')",
        "GET /fail 500",
    ]
    db.dispose()
    testing = load("signals_testing")
    testing.test_emptying_the_cart_sends_the_signal()


def test_channels_testing() -> None:
    testing = load("channels_testing")
    testing.test_live_updates()


# -- operations (docs/operations.md) ---------------------------------------------------


@BOTH
def test_operations_app(iface: str, caplog: pytest.LogCaptureFixture) -> None:
    module = load("operations_app")
    with caplog.at_level(logging.INFO), client(module, iface) as c:
        response = c.get("/orders/7", headers={"x-request-id": "req-1"})
        assert response.json() == {"order": 7}
        assert response.headers["x-request-id"] == "req-1"
        health = c.get("/healthz")
        assert (health.status_code, health.json()) == (
            200,
            {"status": "ok", "checks": {"payments": "ok"}},
        )
        module.PAYMENTS["reachable"] = False
        assert c.get("/healthz").status_code == 503
        assert c.get("/livez").status_code == 200
        assert c.get("/metrics").status_code == 401
        token = {"authorization": "Bearer change-me-to-a-long-random-token"}
        metrics = c.get("/metrics", headers=token).text
        assert 'route="/orders/{order_id:int}",status="200"} 1.0' in metrics
    shop = next(r for r in caplog.records if r.name == "shop")
    access = next(r for r in caplog.records if r.name == "kettle.access")
    assert access.getMessage() == "GET /orders/7 200"
    assert access.request_id == "req-1"  # type: ignore[attr-defined]
    assert shop.getMessage() == "order 7 looked up"


def test_operations_logging() -> None:
    module = load("operations_logging")
    config = module.LOGGING
    assert config["root"]["level"] == "INFO"
    assert config["formatters"]["kettle"]["()"] == "kettle.logs.JSONFormatter"
    assert config["handlers"]["kettle"]["filters"] == ["kettle_request_id"]
    assert callable(module.configure)


@BOTH
def test_operations_tracing(iface: str) -> None:
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
        InMemorySpanExporter,
    )

    module = load("operations_tracing")
    exporter = InMemorySpanExporter()
    module.provider.add_span_processor(SimpleSpanProcessor(exporter))
    with client(module, iface) as c:
        assert c.get("/stock/tea").json() == {"sku": "tea", "count": 3}
    child, server = exporter.get_finished_spans()
    assert server.name == "GET /stock/{sku}"
    assert server.resource.attributes["service.name"] == "shop"
    assert child.parent is not None
    assert child.parent.span_id == server.context.span_id


# -- tasks.md --------------------------------------------------------------------------


def test_tasks_app_example(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KETTLE_TASKS_BACKEND", "immediate")
    tasks = load("tasks_app")
    assert tasks.app.tasks.backend_name == "immediate"
    assert str(tasks.nightly_cleanup.schedule) == "cron '0 3 * * *'"
    assert tasks.refresh_feeds.schedule.seconds == 300
    with TestClient(tasks.app) as c:
        job_id = c.post("/count", params={"text": "three little words"}).json()["job"]
        assert c.get(f"/jobs/{job_id}").json() == {
            "status": "succeeded",
            "result": 3,
            "error": None,
        }
        job_id = c.post("/avatars/7").json()["job"]
        assert c.get(f"/jobs/{job_id}").json()["result"] == {"user": 7, "attempt": 1}
        assert c.get("/jobs/nope").json()["status"] == "unknown"
    assert tasks.word_count("called directly") == 2


_tasks_signup: list[ModuleType] = []


def test_tasks_signup_example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from kettle.db import get_database

    monkeypatch.setenv("KETTLE_TASKS_BACKEND", "immediate")
    monkeypatch.setenv("KETTLE_DATABASE_URL", f"sqlite:///{tmp_path / 'signup.db'}")
    if not _tasks_signup:  # loaded once: its model stays in the shared metadata
        _tasks_signup.append(load("tasks_signup"))
    signup = _tasks_signup[0]
    db = get_database(signup.app)
    db.create_all()
    try:
        with TestClient(signup.app) as c:
            body = c.post("/members", params={"email": "ada@example.com"}).json()
            # a second join with the address taken fails: nothing is sent
            failed = c.post("/members", params={"email": "ada@example.com"})
        assert failed.status_code == 409
        job = signup.app.tasks.result(body["job"])
        assert job.result() == "ada@example.com"
        assert job.attempts == 1
        from sqlalchemy import select

        with db.session() as s:
            members = s.scalars(select(signup.Member)).all()
            assert [(m.email, m.welcomed) for m in members] == [("ada@example.com", True)]
    finally:
        db.dispose()


def test_tasks_testing_example() -> None:
    testing = load("tasks_testing")
    testing.test_upload_makes_a_thumbnail()
    testing.test_a_failing_task_is_a_failed_result()


# -- caching (docs/cache.md) ------------------------------------------------------------


@BOTH
def test_cache_example(iface: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KETTLE_SECRET_KEY", "docs-example-key-0123456789abcdef")
    monkeypatch.setenv("KETTLE_CSRF_ENABLED", "false")
    module = load("cache_app")
    with client(module, iface) as c:
        assert c.get("/stats").json() == {"posts": 2, "words": 2}
        assert c.get("/stats").json() == {"posts": 2, "words": 2}
        assert module.computed["stats"] == 1
        first = c.get("/posts", headers={"Accept-Language": "fr"})
        assert first.headers["x-cache"] == "MISS"
        again = c.get("/posts", headers={"Accept-Language": "fr"})
        assert again.headers["x-cache"] == "HIT"
        assert c.get("/posts/2").json() == {"id": 2, "title": "Tea"}
        assert c.get("/posts/2").headers["x-cache"] == "HIT"
        assert "<li>Tea</li>" in c.get("/").text
        assert c.put("/posts/2", params={"title": "Green tea"}).status_code == 200
        # every cached copy went stale: pages, the value and the fragment
        assert c.get("/posts/2").json()["title"] == "Green tea"
        listed = c.get("/posts", headers={"Accept-Language": "fr"})
        assert listed.headers["x-cache"] == "MISS"
        assert listed.json()["posts"][1]["title"] == "Green tea"
        assert c.get("/stats").json() == {"posts": 2, "words": 3}
        assert "<li>Green tea</li>" in c.get("/").text


def test_cache_settings_example(redis_url: str, tmp_path: Path) -> None:
    from kettle import Kettle
    from kettle.cache import get_cache
    from kettle.cache.database import DatabaseCache
    from kettle.cache.redis import RedisCache

    settings = load("cache_settings")
    app = Kettle(env_file=None, settings=settings.Production, CACHE_REDIS_URL=redis_url)
    app.setup()
    made = get_cache(app)
    assert isinstance(made, RedisCache)
    assert (made.key_prefix, made.default_ttl) == ("shop", 600)
    made.set("k", "v")
    assert made.get("k") == "v"
    made.close()
    small = Kettle(
        env_file=None,
        settings=settings.SmallSite,
        DATABASE_URL=f"sqlite:///{tmp_path / 'site.db'}",
    )
    small.setup()
    assert isinstance(get_cache(small), DatabaseCache)
    get_cache(small).set("k", [1])
    assert get_cache(small).get("k") == [1]
    small.extensions["db"].dispose()


def test_cache_testing_example() -> None:
    load("cache_testing").test_greeting_expires()
