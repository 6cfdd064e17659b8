"""Tests for kettle.testing: TestClient, WebSocketTestSession, AsyncTestClient."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import pytest

from kettle.exceptions import WebSocketDisconnect
from kettle.testing import AsyncTestClient
from kettle.testing import TestClient

# -- small raw ASGI apps -------------------------------------------------------


async def read_body(receive: Any) -> tuple[bytes, list[bytes]]:
    chunks = []
    while True:
        message = await receive()
        assert message["type"] == "http.request"
        chunks.append(message["body"])
        if not message.get("more_body", False):
            return b"".join(chunks), chunks


async def send_response(
    send: Any,
    body: bytes,
    status: int = 200,
    headers: list[tuple[bytes, bytes]] | None = None,
    content_type: bytes = b"text/plain; charset=utf-8",
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", content_type), *(headers or [])],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def echo_app(scope: Any, receive: Any, send: Any) -> None:
    """Echo the method, body and the chunks the body arrived in."""
    assert scope["type"] == "http"
    body, chunks = await read_body(receive)
    payload = {
        "method": scope["method"],
        "body": body.decode(),
        "chunks": [chunk.decode() for chunk in chunks],
    }
    await send_response(
        send, json.dumps(payload).encode(), content_type=b"application/json"
    )


async def scope_app(scope: Any, receive: Any, send: Any) -> None:
    """Answer with the interesting parts of the scope as JSON."""
    await read_body(receive)
    payload = {
        "type": scope["type"],
        "asgi": scope["asgi"],
        "http_version": scope["http_version"],
        "method": scope["method"],
        "scheme": scope["scheme"],
        "server": list(scope["server"]),
        "client": list(scope["client"]),
        "root_path": scope["root_path"],
        "path": scope["path"],
        "raw_path": scope["raw_path"].decode(),
        "query_string": scope["query_string"].decode(),
        "headers": [[k.decode(), v.decode()] for k, v in scope["headers"]],
        "extensions": scope["extensions"],
        "raise": scope["kettle.raise_exceptions"],
        "state": scope.get("state"),
    }
    await send_response(
        send, json.dumps(payload).encode(), content_type=b"application/json"
    )


async def cookie_app(scope: Any, receive: Any, send: Any) -> None:
    await read_body(receive)
    headers = dict(scope["headers"])
    if scope["path"] == "/set":
        await send_response(
            send, b"set", headers=[(b"set-cookie", b"session=abc123; Path=/")]
        )
    else:
        await send_response(send, headers.get(b"cookie", b"<none>"))


class Boom(Exception):
    pass


def make_error_app(*, respond_first: bool) -> Any:
    """An app that fails; like a framework it answers 500 first if asked to."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise RuntimeError("no lifespan here")
        if respond_first:
            await send_response(send, b"custom error page", status=500)
            if scope["kettle.raise_exceptions"]:
                raise Boom("after response")
            return
        raise Boom("escaped")

    return app


class LifespanApp:
    def __init__(self, fail: bool = False) -> None:
        self.events: list[str] = []
        self.fail = fail

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    if self.fail:
                        await send(
                            {"type": "lifespan.startup.failed", "message": "no db"}
                        )
                        return
                    self.events.append("startup")
                    scope["state"]["db"] = "connected"
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    self.events.append("shutdown")
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        else:
            await read_body(receive)
            state = scope.get("state") or {}
            await send_response(send, str(state.get("db")).encode())


async def ws_echo_app(scope: Any, receive: Any, send: Any) -> None:
    assert scope["type"] == "websocket"
    message = await receive()
    assert message["type"] == "websocket.connect"
    subprotocol = scope["subprotocols"][0] if scope["subprotocols"] else None
    await send(
        {
            "type": "websocket.accept",
            "subprotocol": subprotocol,
            "headers": [(b"x-accepted", b"yes")],
        }
    )
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            return
        if message.get("text") is not None:
            text = message["text"]
            if text == "bye":
                await send({"type": "websocket.close", "code": 1001, "reason": "bye"})
                return
            if text == "scope":
                info = {
                    "path": scope["path"],
                    "query": scope["query_string"].decode(),
                    "scheme": scope["scheme"],
                }
                await send({"type": "websocket.send", "text": json.dumps(info)})
                continue
            await send({"type": "websocket.send", "text": "echo: " + text})
        else:
            await send({"type": "websocket.send", "bytes": message["bytes"][::-1]})


# -- HTTP over ASGI ------------------------------------------------------------


def test_get_and_post_echo() -> None:
    with TestClient(echo_app) as client:
        response = client.get("/")
        assert response.status_code == 200
        assert response.json() == {"method": "GET", "body": "", "chunks": [""]}

        response = client.post("/", content=b"hello")
        assert response.json() == {
            "method": "POST",
            "body": "hello",
            "chunks": ["hello"],
        }

        response = client.post("/", json={"a": 1})
        assert json.loads(response.json()["body"]) == {"a": 1}


def test_client_works_without_with_block() -> None:
    client = TestClient(echo_app)
    try:
        assert client.put("/", content=b"x").json()["method"] == "PUT"
    finally:
        client.close()


def test_streaming_request_body_arrives_in_chunks() -> None:
    def body() -> Any:
        yield b"one"
        yield b""
        yield b"two"
        yield b"three"

    with TestClient(echo_app) as client:
        response = client.post("/", content=body())
    data = response.json()
    assert data["body"] == "onetwothree"
    assert data["chunks"] == ["one", "two", "three"]


def test_http_disconnect_after_response() -> None:
    seen: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await read_body(receive)
        await send_response(send, b"ok")
        seen.append((await receive())["type"])

    with TestClient(app) as client:
        assert client.get("/").text == "ok"
    assert seen == ["http.disconnect"]


def test_scope_contents() -> None:
    with TestClient(
        scope_app, root_path="/mount", headers={"X-Default": "d"}
    ) as client:
        response = client.get(
            "/caf%C3%A9/a%2Fb",
            params={"q": "1 2", "x": "y"},
            headers={"X-Custom": "Value"},
        )
    data = response.json()
    assert data["type"] == "http"
    assert data["asgi"] == {"version": "3.0", "spec_version": "2.4"}
    assert data["http_version"] == "1.1"
    assert data["method"] == "GET"
    assert data["scheme"] == "http"
    assert data["server"] == ["testserver", 80]
    assert data["client"] == ["testclient", 50000]
    assert data["root_path"] == "/mount"
    assert data["path"] == "/café/a/b"
    assert data["raw_path"] == "/caf%C3%A9/a%2Fb"
    assert data["query_string"] == "q=1+2&x=y"
    headers = dict(data["headers"])
    assert headers["host"] == "testserver"
    assert headers["x-custom"] == "Value"
    assert headers["x-default"] == "d"
    assert all(name == name.lower() for name, _ in data["headers"])
    assert data["extensions"] == {"kettle.testclient": {}}
    assert data["raise"] is False
    assert data["state"] is None


def test_https_base_url() -> None:
    with TestClient(scope_app, base_url="https://example.org") as client:
        data = client.get("/").json()
    assert data["scheme"] == "https"
    assert data["server"] == ["example.org", 443]


def test_head_has_no_body() -> None:
    with TestClient(echo_app) as client:
        response = client.head("/")
    assert response.status_code == 200
    assert response.content == b""


def test_cookies_are_sent_back() -> None:
    with TestClient(cookie_app) as client:
        assert client.get("/get").text == "<none>"
        client.get("/set")
        assert client.get("/get").text == "session=abc123"


def test_initial_cookies() -> None:
    with TestClient(cookie_app, cookies={"flavour": "oat"}) as client:
        assert client.get("/get").text == "flavour=oat"


def test_redirects_are_followed() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await read_body(receive)
        if scope["path"] == "/old":
            await send_response(send, b"", status=307, headers=[(b"location", b"/new")])
        else:
            await send_response(send, scope["path"].encode())

    with TestClient(app) as client:
        response = client.get("/old")
        assert response.text == "/new"
        assert client.get("/old", follow_redirects=False).status_code == 307
    with TestClient(app, follow_redirects=False) as client:
        assert client.get("/old").status_code == 307


# -- lifespan ------------------------------------------------------------------


def test_lifespan_runs_in_with_block() -> None:
    app = LifespanApp()
    with TestClient(app) as client:
        assert app.events == ["startup"]
        assert client.get("/").text == "connected"
    assert app.events == ["startup", "shutdown"]


def test_lifespan_not_run_without_with_block() -> None:
    app = LifespanApp()
    client = TestClient(app)
    try:
        assert client.get("/").text == "None"
    finally:
        client.close()
    assert app.events == []


def test_lifespan_startup_failure_raises() -> None:
    app = LifespanApp(fail=True)
    with pytest.raises(RuntimeError, match="no db"):
        with TestClient(app):
            pass  # pragma: no cover


def test_app_without_lifespan_support_is_fine() -> None:
    app = make_error_app(respond_first=True)
    with TestClient(app) as client:
        assert client.get("/").status_code == 500


# -- exceptions ----------------------------------------------------------------


def test_raise_server_exceptions_true_reraises() -> None:
    with TestClient(
        make_error_app(respond_first=True), raise_server_exceptions=True
    ) as client:
        with pytest.raises(Boom, match="after response"):
            client.get("/")
    with TestClient(
        make_error_app(respond_first=False), raise_server_exceptions=True
    ) as client:
        with pytest.raises(Boom, match="escaped"):
            client.get("/")


def test_raise_server_exceptions_false_gives_500() -> None:
    with TestClient(make_error_app(respond_first=True)) as client:
        response = client.get("/")
        assert response.status_code == 500
        assert response.text == "custom error page"
    with TestClient(make_error_app(respond_first=False)) as client:
        response = client.get("/")
        assert response.status_code == 500
        assert response.text == "Internal Server Error"
        assert response.headers["content-type"].startswith("text/plain")


def test_raise_flag_reaches_scope() -> None:
    with TestClient(scope_app, raise_server_exceptions=True) as client:
        assert client.get("/").json()["raise"] is True


def test_app_returning_without_response() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        return None

    with TestClient(app) as client:
        assert client.get("/").status_code == 500
    with TestClient(app, raise_server_exceptions=True) as client:
        with pytest.raises(RuntimeError, match="without starting a response"):
            client.get("/")


def test_closed_client_cannot_send() -> None:
    client = TestClient(echo_app)
    client.get("/")
    client.close()
    with pytest.raises(RuntimeError):
        client.get("/")


def test_client_usable_inside_running_loop() -> None:
    async def main() -> str:
        with TestClient(echo_app) as client:
            return client.get("/").json()["method"]

    assert asyncio.run(main()) == "GET"


def test_background_thread_is_stopped_on_close() -> None:
    before = {t for t in threading.enumerate() if t.name == "kettle-testclient"}
    with TestClient(echo_app) as client:
        client.get("/")
    after = {t for t in threading.enumerate() if t.name == "kettle-testclient"}
    assert after <= before


def test_invalid_interface() -> None:
    with pytest.raises(ValueError, match="interface"):
        TestClient(echo_app, interface="carrier-pigeon")  # type: ignore[arg-type]


# -- WebSockets ----------------------------------------------------------------


def test_websocket_echo() -> None:
    with TestClient(ws_echo_app) as client:
        with client.websocket_connect("/ws", subprotocols=["chat", "v2"]) as ws:
            assert ws.accepted_subprotocol == "chat"
            assert (b"x-accepted", b"yes") in ws.extra_headers
            ws.send_text("hi")
            assert ws.receive_text() == "echo: hi"
            ws.send_bytes(b"abc")
            assert ws.receive_bytes() == b"cba"
            ws.send_json({"n": 1})
            assert ws.receive_text() == 'echo: {"n":1}'
            ws.send_json([1, 2], mode="binary")
            assert ws.receive_bytes() == b"]2,1["


def test_websocket_json_roundtrip() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        message = await receive()
        data = json.loads(message["text"])
        await send({"type": "websocket.send", "text": json.dumps({"got": data})})
        await receive()

    with TestClient(app) as client:
        with client.websocket_connect("/ws") as ws:
            assert ws.accepted_subprotocol is None
            ws.send_json({"x": [1, "é"]})
            assert ws.receive_json() == {"got": {"x": [1, "é"]}}


def test_websocket_scope() -> None:
    with TestClient(ws_echo_app) as client:
        with client.websocket_connect("/chat/room?user=1") as ws:
            ws.send_text("scope")
            assert ws.receive_json() == {
                "path": "/chat/room",
                "query": "user=1",
                "scheme": "ws",
            }


def test_websocket_app_closes() -> None:
    with TestClient(ws_echo_app) as client:
        with client.websocket_connect("/ws") as ws:
            ws.send_text("bye")
            message = ws.receive()
            assert message == {"type": "websocket.close", "code": 1001, "reason": "bye"}
            with pytest.raises(WebSocketDisconnect) as info:
                ws.receive_text()
            assert info.value.code == 1001


def test_websocket_receive_text_on_close_raises() -> None:
    with TestClient(ws_echo_app) as client:
        with client.websocket_connect("/ws") as ws:
            ws.send_text("bye")
            with pytest.raises(WebSocketDisconnect) as info:
                ws.receive_text()
            assert info.value.code == 1001
            assert info.value.reason == "bye"


def test_websocket_closed_before_accept() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.close", "code": 4003, "reason": "go away"})

    with TestClient(app) as client:
        with pytest.raises(WebSocketDisconnect) as info:
            with client.websocket_connect("/ws"):
                pass  # pragma: no cover
    assert info.value.code == 4003
    assert info.value.reason == "go away"


def test_websocket_app_exception_propagates() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        await receive()
        raise Boom("ws failure")

    with TestClient(app) as client:
        with client.websocket_connect("/ws") as ws:
            ws.send_text("anything")
            with pytest.raises(Boom, match="ws failure"):
                ws.receive_text()


def test_websocket_exception_before_accept_propagates() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise Boom("early")

    with TestClient(app) as client:
        with pytest.raises(Boom, match="early"):
            client.websocket_connect("/ws")


def test_websocket_exception_on_close_propagates() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        message = await receive()
        assert message["type"] == "websocket.disconnect"
        raise Boom(f"closed with {message['code']}")

    with TestClient(app) as client:
        ws = client.websocket_connect("/ws")
        with pytest.raises(Boom, match="closed with 4000"):
            ws.close(4000)


def test_websocket_disconnect_reaches_app() -> None:
    codes: list[int] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        message = await receive()
        codes.append(message["code"])

    with TestClient(app) as client:
        with client.websocket_connect("/ws"):
            pass
    assert codes == [1000]


def test_websocket_needs_asgi() -> None:
    with TestClient(WSGIOnlyApp(), interface="wsgi") as client:
        with pytest.raises(RuntimeError, match="ASGI interface"):
            client.websocket_connect("/ws")


# -- WSGI ----------------------------------------------------------------------


class WSGIOnlyApp:
    """An object exposing a WSGI callable as ``.wsgi`` and lifespan hooks."""

    def __init__(self) -> None:
        self.events: list[str] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("the ASGI side must not be used")  # pragma: no cover

    def wsgi_startup(self) -> None:
        self.events.append("startup")

    def wsgi_shutdown(self) -> None:
        self.events.append("shutdown")

    def wsgi(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        path = environ["PATH_INFO"]
        if path == "/fail":
            raise Boom("wsgi failure")
        if path == "/set":
            start_response("200 OK", [("Set-Cookie", "token=t1; Path=/")])
            return [b"set"]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length)
        payload = {
            "method": environ["REQUEST_METHOD"],
            "path": path,
            "script_name": environ["SCRIPT_NAME"],
            "query": environ["QUERY_STRING"],
            "body": body.decode(),
            "cookie": environ.get("HTTP_COOKIE"),
            "raise": environ["kettle.raise_exceptions"],
        }
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps(payload).encode()]


def test_wsgi_interface() -> None:
    app = WSGIOnlyApp()
    with TestClient(app, interface="wsgi", root_path="/app") as client:
        assert app.events == ["startup"]
        data = client.post("/echo?a=1", content=b"payload").json()
        assert data == {
            "method": "POST",
            "path": "/echo",
            "script_name": "/app",
            "query": "a=1",
            "body": "payload",
            "cookie": None,
            "raise": False,
        }
        client.get("/set")
        assert client.get("/").json()["cookie"] == "token=t1"
    assert app.events == ["startup", "shutdown"]


def test_wsgi_exceptions() -> None:
    with TestClient(WSGIOnlyApp(), interface="wsgi") as client:
        response = client.get("/fail")
        assert response.status_code == 500
        assert response.text == "Internal Server Error"
    with TestClient(
        WSGIOnlyApp(), interface="wsgi", raise_server_exceptions=True
    ) as client:
        assert client.get("/").json()["raise"] is True
        with pytest.raises(Boom, match="wsgi failure"):
            client.get("/fail")


def test_wsgi_needs_wsgi_attribute() -> None:
    with pytest.raises(TypeError, match="wsgi"):
        TestClient(echo_app, interface="wsgi")


# -- AsyncTestClient -----------------------------------------------------------


def test_async_client() -> None:
    async def main() -> None:
        async with AsyncTestClient(echo_app) as client:
            response = await client.post("/", content=b"async body")
            assert response.json()["body"] == "async body"

            async def body() -> Any:
                yield b"a"
                yield b"b"

            response = await client.post("/", content=body())
            assert response.json()["chunks"] == ["a", "b"]

    asyncio.run(main())


def test_async_client_lifespan_and_state() -> None:
    app = LifespanApp()

    async def main() -> None:
        async with AsyncTestClient(app) as client:
            assert app.events == ["startup"]
            assert (await client.get("/")).text == "connected"
        assert app.events == ["startup", "shutdown"]

    asyncio.run(main())


def test_async_client_startup_failure() -> None:
    async def main() -> None:
        async with AsyncTestClient(LifespanApp(fail=True)):
            pass  # pragma: no cover

    with pytest.raises(RuntimeError, match="no db"):
        asyncio.run(main())


def test_async_client_exceptions() -> None:
    async def main() -> None:
        async with AsyncTestClient(make_error_app(respond_first=False)) as client:
            response = await client.get("/")
            assert response.status_code == 500
            assert response.text == "Internal Server Error"
        async with AsyncTestClient(
            make_error_app(respond_first=True), raise_server_exceptions=True
        ) as client:
            with pytest.raises(Boom):
                await client.get("/")

    asyncio.run(main())


def test_async_client_cookies_and_scope() -> None:
    async def main() -> None:
        async with AsyncTestClient(cookie_app) as client:
            await client.get("/set")
            assert (await client.get("/get")).text == "session=abc123"
        async with AsyncTestClient(scope_app, root_path="/r") as client:
            data = (await client.get("/p?q=1")).json()
            assert data["root_path"] == "/r"
            assert data["query_string"] == "q=1"
            assert data["extensions"] == {"kettle.testclient": {}}

    asyncio.run(main())
