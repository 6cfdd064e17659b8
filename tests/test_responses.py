"""Return values, response classes, cookies, redirects, streaming and SSE."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from kettle import EventSourceResponse
from kettle import HTMLResponse
from kettle import JSONResponse
from kettle import PlainTextResponse
from kettle import RedirectResponse
from kettle import Response
from kettle import ServerSentEvent
from kettle import StreamingResponse
from kettle import abort
from kettle import redirect


@dataclasses.dataclass
class Point:
    x: int
    y: int


@pytest.mark.parametrize(
    ("value", "status", "ctype", "body"),
    [
        ("<b>hi</b>", 200, "text/html; charset=utf-8", b"<b>hi</b>"),
        (b"\x00raw", 200, "application/octet-stream", b"\x00raw"),
        ({"a": 1}, 200, "application/json", b'{"a":1}'),
        ([1, 2], 200, "application/json", b"[1,2]"),
        (Point(1, 2), 200, "application/json", b'{"x":1,"y":2}'),
        (None, 204, None, b""),
        (("created", 201), 201, "text/html; charset=utf-8", b"created"),
        (({"e": 1}, 400, {"X-A": "b"}), 400, "application/json", b'{"e":1}'),
        (("hi", {"X-A": "b"}), 200, "text/html; charset=utf-8", b"hi"),
    ],
)
def test_return_value_conversion(app, make_client, value, status, ctype, body):
    app.get("/")(lambda: value)
    response = make_client(app).get("/")
    assert response.status_code == status
    assert response.headers.get("content-type") == ctype
    assert response.content == body
    if status == 204:
        assert "content-length" not in response.headers


def test_tuple_headers_applied(app, make_client):
    app.get("/")(lambda: ("hi", 202, {"X-Thing": "yes"}))
    response = make_client(app).get("/")
    assert response.status_code == 202
    assert response.headers["x-thing"] == "yes"


def test_unsupported_return_value_is_500_with_message_in_log(app, make_client, caplog):
    app.get("/")(lambda: object())
    response = make_client(app).get("/")
    assert response.status_code == 500
    assert "a handler returned 'object'" in caplog.text


@pytest.mark.parametrize(
    ("cls", "content", "ctype"),
    [
        (HTMLResponse, "<p>x</p>", "text/html; charset=utf-8"),
        (PlainTextResponse, "plain", "text/plain; charset=utf-8"),
        (JSONResponse, {"ok": True}, "application/json"),
        (Response, b"bin", None),
    ],
)
def test_response_classes(app, make_client, cls, content, ctype):
    app.get("/")(lambda: cls(content, status_code=203, headers={"x-y": "z"}))
    response = make_client(app).get("/")
    assert response.status_code == 203
    assert response.headers.get("content-type") == ctype
    assert response.headers["x-y"] == "z"


def test_json_encodes_unicode_compactly(app, make_client):
    app.get("/")(lambda: JSONResponse({"name": "Zoë"}))
    assert make_client(app).get("/").content == '{"name":"Zoë"}'.encode()


def test_redirect_to_route_name_and_url(app, make_client):
    app.get("/users/{user_id:int}", name="user")(lambda user_id: "user")
    app.get("/go-name")(lambda: redirect("user", user_id=3))
    app.get("/go-url")(lambda: redirect("/elsewhere?x=1", 301))
    app.get("/go-response")(lambda: RedirectResponse("https://example.com/a b"))
    client = make_client(app, follow_redirects=False)
    response = client.get("/go-name")
    assert (response.status_code, response.headers["location"]) == (302, "/users/3")
    response = client.get("/go-url")
    assert (response.status_code, response.headers["location"]) == (
        301,
        "/elsewhere?x=1",
    )
    assert client.get("/go-response").headers["location"] == "https://example.com/a%20b"


def test_abort(app, make_client):
    @app.get("/")
    def index():
        abort(403, "Not yours")

    response = make_client(app).get("/")
    assert response.status_code == 403
    assert response.json() == {"detail": "Not yours"}


def test_cookie_defaults_http(app, make_client):
    @app.get("/")
    def index():
        response = Response("x")
        response.set_cookie("a", "1")
        response.set_cookie("b", "2", httponly=False, samesite="strict", max_age=60)
        response.delete_cookie("c")
        return response

    cookies = make_client(app).get("/").headers.get_list("set-cookie")
    a, b, c = cookies
    assert a.startswith("a=1") and "HttpOnly" in a and "SameSite=Lax" in a
    assert "Secure" not in a
    assert "HttpOnly" not in b and "SameSite=Strict" in b and "Max-Age=60" in b
    assert c.startswith("c=") and "Max-Age=0" in c


def test_cookie_secure_over_https(app, make_client):
    @app.get("/")
    def index():
        response = Response("x")
        response.set_cookie("a", "1")
        response.set_cookie("b", "1", secure=False)
        return response

    client = make_client(app, base_url="https://testserver")
    a, b = client.get("/").headers.get_list("set-cookie")
    assert "Secure" in a
    assert "Secure" not in b


def test_cookie_secure_by_config(make_client):
    from kettle import Kettle

    app = Kettle(env_file=None, COOKIE_SECURE=True)

    @app.get("/")
    def index():
        response = Response("x")
        response.set_cookie("a", "1")
        return response

    assert "Secure" in make_client(app).get("/").headers["set-cookie"]


def test_cookies_round_trip(app, make_client):
    @app.get("/set")
    def set_():
        response = Response("set")
        response.set_cookie("token", "v a l")
        return response

    @app.get("/read")
    def read(request):
        return request.cookies

    client = make_client(app)
    client.get("/set")
    assert client.get("/read").json() == {"token": "v a l"}


def test_streaming_sync_and_async(app, make_client):
    def gen():
        yield "a"
        yield b"b"

    async def agen():
        for part in ("c", "d"):
            await asyncio.sleep(0)
            yield part

    app.get("/sync")(lambda: StreamingResponse(gen(), media_type="text/plain"))
    app.get("/async")(lambda: StreamingResponse(agen()))
    client = make_client(app)
    response = client.get("/sync")
    assert response.text == "ab"
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert "content-length" not in response.headers
    assert client.get("/async").text == "cd"


def test_server_sent_events(app, make_client):
    async def events():
        yield "hello"
        yield {"data": {"n": 1}, "event": "tick", "id": "1"}
        yield ServerSentEvent(data="two\nlines", retry=1000)

    app.get("/events")(lambda: EventSourceResponse(events()))
    response = make_client(app).get("/events")
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert response.headers["cache-control"] == "no-cache"
    assert response.text == (
        "data: hello\n\n"
        'event: tick\nid: 1\ndata: {"n":1}\n\n'
        "retry: 1000\ndata: two\ndata: lines\n\n"
    )


def test_sse_rejects_newline_in_event_name():
    with pytest.raises(ValueError, match="line breaks"):
        ServerSentEvent(data="x", event="a\nb").encode()


def test_streaming_stops_when_client_disconnects():
    """An endless stream ends once the ASGI server reports a disconnect."""
    produced = 0

    async def endless():
        nonlocal produced
        while True:
            produced += 1
            yield b"x"
            await asyncio.sleep(0)

    async def scenario():
        messages = []
        disconnect = asyncio.Event()

        async def receive():
            await disconnect.wait()
            return {"type": "http.disconnect"}

        async def send(message):
            messages.append(message)
            if len(messages) > 5:
                disconnect.set()

        scope = {"type": "http", "method": "GET"}
        await asyncio.wait_for(StreamingResponse(endless())(scope, receive, send), 5)
        return messages

    messages = asyncio.run(scenario())
    assert messages[0]["type"] == "http.response.start"
    assert produced < 1000


def test_default_headers_made_on_demand_for_each_interface():
    class CSV(Response):
        media_type = "text/csv"

    plain = CSV("a,b")
    # WSGI gets str pairs straight from the class's Content-Type and the body.
    assert plain.wsgi_headers() == [
        ("content-type", "text/csv; charset=utf-8"),
        ("content-length", "3"),
    ]
    bare = Response(b"xyz")
    assert bare.raw_headers == [(b"content-length", b"3")]
    assert bare.wsgi_headers() == [("content-length", "3")]
    # Changing the headers changes both forms; the same list is kept.
    changed = CSV("a,b")
    changed.headers["x-extra"] = "1"
    assert changed.raw_headers[-1] == (b"x-extra", b"1")
    assert changed.wsgi_headers()[-1] == ("x-extra", "1")
    replaced = CSV("a,b")
    replaced.raw_headers = [(b"content-type", b"text/plain")]
    assert replaced.headers["content-type"] == "text/plain"
    assert replaced.wsgi_headers() == [("content-type", "text/plain")]


def test_wsgi_headers_of_changed_responses():
    response = Response(b"{}", headers={"X-A": "é"}, media_type="application/json")
    response.raw_headers.append([b"x-list", b"pair"])  # type: ignore[arg-type]
    response.set_cookie("k", "v")
    response.finalize(False)
    for _ in range(2):  # decoded, then known: the same answer
        assert response.wsgi_headers() == [
            ("x-a", "é"),
            ("content-type", "application/json"),
            ("content-length", "2"),
            ("x-list", "pair"),
            ("set-cookie", "k=v; HttpOnly; Path=/; SameSite=Lax"),
        ]
