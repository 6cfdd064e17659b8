"""kettle.channels: publish/subscribe on named channels, in memory and over a
real Redis (``redis_url``), from WebSocket and SSE endpoints, across two apps
(two workers' worth of backends) and across two ``kettle serve`` processes."""

from __future__ import annotations

import asyncio
import json
import textwrap
import threading
import time
from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from kettle import EventSourceResponse
from kettle import Kettle
from kettle import WebSocket
from kettle.auth import Auth
from kettle.auth import User
from kettle.auth import current_user
from kettle.auth import hashers
from kettle.auth import login_required
from kettle.channels import MemoryChannels
from kettle.channels import Message
from kettle.channels import RedisChannels
from kettle.channels import apublish
from kettle.channels import events
from kettle.channels import get_backend
from kettle.channels import publish
from kettle.channels import relay
from kettle.channels import subscribe
from kettle.db import get_database
from kettle.exceptions import ImproperlyConfigured
from kettle.exceptions import WebSocketDisconnect

hashers.set_test_parameters()
SECRET = "a-channels-test-secret-" + "x" * 40


def make_app(kind: str, redis_url: str | None, **settings: Any) -> Kettle:
    if kind == "redis":
        settings.setdefault("CHANNELS_REDIS_URL", redis_url)
    return Kettle(env_file=None, CHANNELS_BACKEND=kind, **settings)


@pytest.fixture(params=["memory", "redis"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def url(kind: str, request: pytest.FixtureRequest) -> str | None:
    """The Redis URL for the redis backend (None for memory)."""
    return str(request.getfixturevalue("redis_url")) if kind == "redis" else None


def run(app: Kettle, scenario: Callable[[], Awaitable[Any]]) -> Any:
    """Run ``scenario`` on a fresh event loop inside ``app``'s context, then
    close the app's channels (as its shutdown would)."""

    async def main() -> Any:
        try:
            return await asyncio.wait_for(scenario(), 20)
        finally:
            await get_backend(app).aclose()

    with app.app_context():
        return asyncio.run(main())


async def until(check: Callable[[], bool], what: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


async def receive(subscription: Any, timeout: float = 5) -> Message:
    return await asyncio.wait_for(anext(subscription), timeout)


# -- publish and subscribe ---------------------------------------------------------


def test_publish_and_subscribe(kind: str, url: str | None) -> None:
    app = make_app(kind, url)

    async def scenario() -> None:
        async with subscribe("news") as subscription:
            await apublish("news", {"title": "tea", "tags": ("hot", "black")})
            # a sync publish, as from a def handler (in the thread pool)
            await asyncio.to_thread(publish, "news", [1, 2.5, None, True, "é"])
            first = await receive(subscription)
            second = await receive(subscription)
        assert first == Message("news", {"title": "tea", "tags": ["hot", "black"]})
        assert first.channel == "news"
        assert second.data == [1, 2.5, None, True, "é"]

    run(app, scenario)
    backend = app.extensions["channels"]
    assert isinstance(backend, RedisChannels if kind == "redis" else MemoryChannels)


def test_several_channels_and_subscribers(kind: str, url: str | None) -> None:
    app = make_app(kind, url)

    async def scenario() -> None:
        async with (
            subscribe("a", "b", "a") as both,
            subscribe("b") as only_b,
        ):
            assert both.channels == ("a", "b")
            await apublish("c", "nobody listens")
            await apublish("a", 1)
            await apublish("b", 2)
            assert [await receive(both), await receive(both)] == [
                Message("a", 1),
                Message("b", 2),
            ]
            assert await receive(only_b) == Message("b", 2)
            backend = get_backend()
            assert backend.subscribers("a") == 1
            assert backend.subscribers("b") == 2
            assert backend.subscribers("c") == 0

    run(app, scenario)


def test_unsubscribe_at_the_end_of_the_block(kind: str, url: str | None) -> None:
    app = make_app(kind, url)

    async def scenario() -> None:
        backend = get_backend()
        async with subscribe("room") as subscription:
            assert backend.subscribers("room") == 1
            await apublish("room", "kept")
            await until(lambda: bool(subscription._queue), "the first message")
        assert backend.subscribers("room") == 0
        # iteration ends once left; later messages go nowhere
        await apublish("room", "after")
        assert [m async for m in subscription] == []
        async with subscribe("room") as again:
            await apublish("room", "new")
            assert await receive(again) == Message("room", "new")  # not "after"
        with pytest.raises(RuntimeError, match="entered once"):
            async with subscription:
                pass

    run(app, scenario)


def test_redis_unsubscribes_and_shares_one_connection(redis_url: str) -> None:
    """Many subscriptions in one process: one pub/sub connection to Redis;
    Redis forgets the channel once its last local subscriber leaves."""
    app = make_app("redis", redis_url, CHANNELS_PREFIX="shared:")
    probe = redis.Redis.from_url(redis_url)

    def numsub(channel: str) -> int:
        return int(
            dict(probe.pubsub_numsub(f"shared:{channel}"))[f"shared:{channel}".encode()]
        )

    def pubsub_connections() -> int:
        return len(probe.client_list(_type="pubsub"))

    async def scenario() -> None:
        async with (
            subscribe("x") as one,
            subscribe("x") as two,
            subscribe("y", "z") as three,
        ):
            assert pubsub_connections() == 1
            assert numsub("x") == 1  # one Redis subscription for both
            assert numsub("y") == numsub("z") == 1
            await one.aclose()
            assert numsub("x") == 1  # "two" still listens
            await apublish("x", "still here")
            assert await receive(two) == Message("x", "still here")
            del three
        await until(lambda: numsub("x") == numsub("y") == 0, "the unsubscriptions")

    try:
        run(app, scenario)
    finally:
        probe.close()


def test_messages_must_be_json(kind: str, url: str | None) -> None:
    app = make_app(kind, url)

    async def scenario() -> None:
        async with subscribe("j") as subscription:
            for bad in (object(), {1, 2}, float("nan"), b"bytes", {"when": time}):
                with pytest.raises(TypeError, match="JSON value"):
                    await apublish("j", bad)
            with pytest.raises(TypeError, match="JSON value"):
                await asyncio.to_thread(publish, "j", float("inf"))
            await apublish("j", "fine")
            assert await receive(subscription) == Message("j", "fine")  # only it

    run(app, scenario)


def test_channel_names_are_checked(kind: str, url: str | None) -> None:
    app = make_app(kind, url)
    with app.app_context():
        for bad, error in [
            ("", ValueError),
            ("x" * 201, ValueError),
            ("a\nb", ValueError),
            ("tab\there", ValueError),
            (5, TypeError),
            (None, TypeError),
        ]:
            with pytest.raises(error):
                publish(bad, "m")  # type: ignore[arg-type]
            with pytest.raises(error):
                subscribe("ok", bad)  # type: ignore[arg-type]
        publish("x" * 200, "longest name")
        publish("user:42/notifications é", "any printable text")
        for heartbeat in (0, -1, float("nan"), float("inf")):
            with pytest.raises(ValueError, match="heartbeat must be a positive"):
                events("news", heartbeat=heartbeat)


def test_a_bad_channel_name_from_the_request_is_a_client_error(
    kind: str, url: str | None, tmp_path: Path
) -> None:
    """A name built from the URL: 400 for a request, 1008 for a socket."""
    app = chat_app(kind, url, tmp_path / "chat.db")
    long_room = "r" * 300
    with app.test_client() as client:
        answer = client.post(f"/rooms/{long_room}/announce", params={"text": "hi"})
        assert answer.status_code == 400
        assert "1 to 200 characters" in answer.text
        client.post(
            "/auth/login",
            data={"username": "alice", "password": "correct horse"},
            follow_redirects=False,
        )
        with client.websocket_connect(f"/rooms/{long_room}") as ws:
            assert ws.receive_json()["hello"] == "alice"
            with pytest.raises(WebSocketDisconnect) as closed:
                ws.receive_json()
        assert closed.value.code == 1008


def test_slow_subscriber_drops_the_oldest(kind: str, url: str | None) -> None:
    app = make_app(kind, url, CHANNELS_QUEUE_SIZE=3)

    async def scenario() -> None:
        async with subscribe("burst") as slow:
            for n in range(10):
                await apublish("burst", n)
            await until(lambda: slow.dropped == 7, "the drops")
            assert len(slow._queue) == 3  # bounded: never more than 3 held
            assert [(await receive(slow)).data for _ in range(3)] == [7, 8, 9]
            await apublish("burst", 10)
            assert (await receive(slow)).data == 10
            assert slow.dropped == 7

    run(app, scenario)


def test_publish_from_async_code_is_refused(kind: str, url: str | None) -> None:
    app = make_app(kind, url)

    async def scenario() -> None:
        with pytest.raises(RuntimeError, match="await apublish"):
            publish("x", 1)

    run(app, scenario)


def test_redis_unreachable_publish_raises() -> None:
    from served import free_port

    app = make_app("redis", f"redis://127.0.0.1:{free_port()}/0")

    async def scenario() -> None:
        with pytest.raises(redis.ConnectionError):
            await apublish("x", 1)
        with pytest.raises(redis.ConnectionError):
            await asyncio.to_thread(publish, "x", 1)
        with pytest.raises(redis.ConnectionError):
            async with subscribe("x"):
                pass
        assert get_backend().subscribers("x") == 0

    run(app, scenario)


def test_no_app_no_channels() -> None:
    with pytest.raises(RuntimeError, match="app_context"):
        publish("x", 1)


# -- settings ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"CHANNELS_BACKEND": "kafka"}, "CHANNELS_BACKEND 'kafka'"),
        ({"CHANNELS_BACKEND": "redis"}, "needs CHANNELS_REDIS_URL"),
        (
            {
                "CHANNELS_BACKEND": "redis",
                "REDIS_URL": "redis://h",
                "CHANNELS_QUEUE_SIZE": 0,
            },
            "CHANNELS_QUEUE_SIZE must be at least 1",
        ),
        (
            {
                "CHANNELS_BACKEND": "redis",
                "REDIS_URL": "redis://h",
                "CHANNELS_QUEUE_SIZE": "x",
            },
            "CHANNELS_QUEUE_SIZE must be",
        ),
        (
            {
                "CHANNELS_BACKEND": "redis",
                "REDIS_URL": "redis://h",
                "CHANNELS_PREFIX": 3,
            },
            "CHANNELS_PREFIX must be a str",
        ),
    ],
)
def test_wrong_settings_fail_at_start_up(
    settings: dict[str, Any], message: str
) -> None:
    app = Kettle(env_file=None, **settings)
    with pytest.raises(ImproperlyConfigured, match=message):
        app.setup()


def test_redis_settings() -> None:
    app = Kettle(env_file=None, CHANNELS_BACKEND="redis", REDIS_URL="redis://h:1/3")
    app.setup()  # made at start-up, connecting to nothing yet
    backend = app.extensions["channels"]
    assert isinstance(backend, RedisChannels)
    assert backend.prefix == "kettle:3:"  # pub/sub ignores the database number
    assert backend.key("chat") == b"kettle:3:chat"
    assert backend.queue_size == 100
    other = Kettle(
        env_file=None,
        CHANNELS_BACKEND="redis",
        CHANNELS_REDIS_URL="redis://h/0",
        REDIS_URL="redis://ignored/5",
        CHANNELS_PREFIX="shop:",
    )
    assert get_backend(other).prefix == "shop:"
    assert get_backend(other).url == "redis://h/0"
    # the memory default is made on first use, not at start-up
    plain = Kettle(env_file=None)
    plain.setup()
    assert "channels" not in plain.extensions


# -- across workers ----------------------------------------------------------------


def test_two_apps_on_one_redis(redis_url: str) -> None:
    """Two apps (two workers' backends) on one Redis: what one publishes, the
    other's subscribers get; another prefix is another world."""
    worker_a = make_app("redis", redis_url)
    worker_b = make_app("redis", redis_url)
    elsewhere = make_app("redis", redis_url, CHANNELS_PREFIX="other-app:")

    async def scenario() -> None:
        async with (
            subscribe("chat", app=worker_b) as in_b,
            subscribe("chat", app=elsewhere) as in_other,
        ):
            await apublish("chat", {"n": 1}, app=worker_a)
            await asyncio.to_thread(publish, "chat", {"n": 2}, app=worker_a)
            assert await receive(in_b) == Message("chat", {"n": 1})
            assert await receive(in_b) == Message("chat", {"n": 2})
            await apublish("chat", "for the other app", app=elsewhere)
            assert await receive(in_other) == Message("chat", "for the other app")
            assert not in_other._queue  # it heard nothing of worker_a's
            for app in (worker_a, worker_b, elsewhere):
                await get_backend(app).aclose()

    with worker_a.app_context():
        asyncio.run(asyncio.wait_for(scenario(), 20))


def test_memory_backend_is_per_app() -> None:
    one, two = make_app("memory", None), make_app("memory", None)

    async def scenario() -> None:
        async with subscribe("x", app=two) as in_two:
            await apublish("x", "from one", app=one)
            await apublish("x", "from two", app=two)
            assert await receive(in_two) == Message("x", "from two")
            assert not in_two._queue

    run(one, scenario)


def test_redis_connection_lost_and_made_again(redis_url: str) -> None:
    """Redis drops the pub/sub connection: the subscription is made again by
    itself and messages flow again (those sent meanwhile may be lost)."""
    app = make_app("redis", redis_url)
    killer = redis.Redis.from_url(redis_url)

    async def scenario() -> None:
        async with subscribe("live") as subscription:
            await apublish("live", "before")
            assert (await receive(subscription)).data == "before"
            assert killer.client_kill_filter(_type="pubsub") == 1
            deadline = time.monotonic() + 15
            n = 0
            while True:  # publish until the new connection hears one
                n += 1
                await apublish("live", f"after {n}")
                try:
                    message = await asyncio.wait_for(anext(subscription), 0.2)
                except TimeoutError:
                    assert time.monotonic() < deadline, "never resubscribed"
                    continue
                assert message.data.startswith("after")
                break
            assert len(killer.client_list(_type="pubsub")) == 1

    try:
        run(app, scenario)
    finally:
        killer.close()


def test_shutdown_ends_subscriptions(kind: str, url: str | None) -> None:
    app = make_app(kind, url)

    async def scenario() -> list[Any]:
        async with subscribe("s") as subscription:
            await apublish("s", "last")
            await until(lambda: bool(subscription._queue), "the message")
            await get_backend().aclose()  # what the app's shutdown runs
            return [m.data async for m in subscription]  # ends, after "last"

    assert run(app, scenario) == ["last"]


# -- WebSockets: the session and the current user ------------------------------------


def chat_app(kind: str, url: str | None, db_path: Path, **settings: Any) -> Kettle:
    app = make_app(
        kind, url, SECRET_KEY=SECRET, DATABASE_URL=f"sqlite:///{db_path}", **settings
    )
    Auth(app)

    @app.websocket("/rooms/{room}")
    async def room(ws: WebSocket, room: str, user: User) -> None:
        await ws.accept()
        await ws.send_json(
            {
                "hello": user.username,
                "session_user": ws.session.get("_auth_user_id"),
                "current_user": current_user.username,
            }
        )
        async with subscribe(f"room:{room}") as subscription:
            await ws.send_json({"subscribed": room})
            async for data in relay(ws, subscription):
                await apublish(
                    f"room:{room}", {"from": user.username, "text": data["text"]}
                )

    @app.websocket("/peek")
    async def peek(ws: WebSocket) -> None:
        preloaded = ws._session is not None  # read before the handler?
        await ws.accept()
        await ws.send_json(
            {"preloaded": preloaded, "user": ws.session.get("_auth_user_id")}
        )

    @app.websocket("/maybe")
    async def maybe(ws: WebSocket, user: User | None) -> None:
        await ws.accept()
        await ws.send_json({"user": user.username if user else None})

    @app.websocket("/staff")
    @login_required
    async def staff(ws: WebSocket) -> None:
        await ws.accept()
        await ws.send_json({"in": True})

    @app.post("/rooms/{room}/announce")
    def announce(room: str, text: str) -> dict[str, bool]:
        publish(f"room:{room}", {"from": "the server", "text": text})
        return {"sent": True}

    db = get_database(app)
    db.create_all()
    with db.session() as s:
        s.add(
            User(username="alice", email="alice@example.com", password="correct horse")
        )
        s.commit()
    return app


@pytest.mark.parametrize("sessions", ["cookie", "redis"])
def test_websocket_chat_with_session_and_user(
    kind: str,
    url: str | None,
    sessions: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    extra: dict[str, Any] = {}
    if sessions == "redis":
        extra = {
            "SESSION_BACKEND": "redis",
            "SESSION_REDIS_URL": request.getfixturevalue("redis_url"),
        }
    app = chat_app(kind, url, tmp_path / "chat.db", **extra)
    with app.test_client() as client:
        # nobody logged in: a socket that needs the user is refused (1008)
        with pytest.raises(WebSocketDisconnect) as refused:
            client.websocket_connect("/rooms/tea")
        assert refused.value.code == 1008
        with pytest.raises(WebSocketDisconnect) as refused:
            client.websocket_connect("/staff")  # @login_required
        assert refused.value.code == 1008
        with client.websocket_connect("/maybe") as maybe:
            assert maybe.receive_json() == {"user": None}
        login = client.post(
            "/auth/login",
            data={"username": "alice", "password": "correct horse"},
            follow_redirects=False,
        )
        assert login.status_code == 303
        with client.websocket_connect("/maybe") as maybe:
            assert maybe.receive_json() == {"user": "alice"}
        with client.websocket_connect("/staff") as staff:
            assert staff.receive_json() == {"in": True}
        with client.websocket_connect("/peek") as peek:
            # a server-side session is read off the event loop, before the
            # handler (a cookie session costs nothing to read when used)
            assert peek.receive_json() == {
                "preloaded": sessions == "redis",
                "user": 1,
            }
        with (
            client.websocket_connect("/rooms/tea") as first,
            client.websocket_connect("/rooms/tea") as second,
        ):
            for ws in (first, second):
                hello = ws.receive_json()
                assert hello["hello"] == "alice"
                assert hello["current_user"] == "alice"
                assert isinstance(hello["session_user"], int)
                assert ws.receive_json() == {"subscribed": "tea"}
            first.send_json({"text": "hi all"})
            for ws in (first, second):
                assert ws.receive_json() == {"from": "alice", "text": "hi all"}
            # a sync handler publishes from the thread pool
            sent = client.post("/rooms/tea/announce", params={"text": "closing soon"})
            assert sent.json() == {"sent": True}
            for ws in (first, second):
                assert ws.receive_json() == {
                    "from": "the server",
                    "text": "closing soon",
                }
            backend = get_backend(app)
            assert backend.subscribers("room:tea") == 2
            first.close()  # the client leaves: its subscription ends
            deadline = time.monotonic() + 5
            while backend.subscribers("room:tea") != 1:
                assert time.monotonic() < deadline, (
                    "the subscription outlived its socket"
                )
                time.sleep(0.01)
            second.send_json({"text": "alone?"})
            assert second.receive_json() == {"from": "alice", "text": "alone?"}
            second.send_text("not json")
            with pytest.raises(WebSocketDisconnect) as bad:
                second.receive_json()
            assert bad.value.code == 1007
        assert backend.subscribers("room:tea") == 0
    get_database(app).dispose()


def test_websocket_from_another_site_with_cookies_is_refused(tmp_path: Path) -> None:
    """Cross-site WebSocket hijacking: a page of another site opens a socket
    that the browser sends the user's cookies with."""
    app = Kettle(
        env_file=None,
        SECRET_KEY=SECRET,
        CSRF_TRUSTED_ORIGINS=["https://partner.example"],
    )

    @app.websocket("/ws")
    async def ws_view(ws: WebSocket) -> None:
        await ws.accept()
        await ws.send_json({"ok": True})

    with app.test_client() as client:
        client.cookies.set("session", "anything")
        with pytest.raises(WebSocketDisconnect) as refused:
            client.websocket_connect("/ws", headers={"origin": "https://evil.example"})
        assert refused.value.code == 1008
        assert "evil.example" in str(refused.value.reason)
        for origin in ("http://testserver", "https://partner.example"):
            with client.websocket_connect("/ws", headers={"origin": origin}) as ws:
                assert ws.receive_json() == {"ok": True}
        client.cookies.clear()  # no cookies: nothing to hijack
        with client.websocket_connect(
            "/ws", headers={"origin": "https://evil.example"}
        ) as ws:
            assert ws.receive_json() == {"ok": True}


def test_websocket_origin_behind_a_tls_proxy_and_exempt_routes() -> None:
    """Behind a proxy that ends TLS the socket arrives as ws://, with the
    browser's Origin https://: the proxy headers make it the site's own. A
    csrf_exempt socket (a public widget) takes any origin."""
    from kettle.csrf import csrf_exempt
    from kettle.middleware import ProxyHeadersMiddleware

    app = Kettle(env_file=None, SECRET_KEY=SECRET)
    app.add_middleware(ProxyHeadersMiddleware, trusted_hosts="*")

    @app.websocket("/ws")
    async def ws_view(ws: WebSocket) -> None:
        await ws.accept()
        await ws.send_json({"scheme": ws.scheme, "client": ws.client.host})

    @app.websocket("/widget")
    @csrf_exempt
    async def widget(ws: WebSocket) -> None:
        await ws.accept()
        await ws.send_json({"ok": True})

    def plain_wrapper(func: Any) -> Any:  # keeps only __wrapped__ (no __dict__)
        async def wrapper(ws: WebSocket) -> None:
            await func(ws)

        wrapper.__wrapped__ = func  # type: ignore[attr-defined]
        return wrapper

    @app.websocket("/wrapped")
    @plain_wrapper
    @csrf_exempt
    async def wrapped(ws: WebSocket) -> None:
        await ws.accept()
        await ws.send_json({"ok": True})

    forwarded = {"x-forwarded-proto": "https", "x-forwarded-for": "203.0.113.9"}
    with app.test_client() as client:
        client.cookies.set("session", "anything")
        with client.websocket_connect(
            "/ws", headers={"origin": "https://testserver", **forwarded}
        ) as ws:
            assert ws.receive_json() == {"scheme": "wss", "client": "203.0.113.9"}
        with pytest.raises(WebSocketDisconnect) as refused:  # no proxy headers
            client.websocket_connect("/ws", headers={"origin": "https://testserver"})
        assert refused.value.code == 1008
        for exempt in ("/widget", "/wrapped"):
            with client.websocket_connect(
                exempt, headers={"origin": "https://evil.example"}
            ) as ws:
                assert ws.receive_json() == {"ok": True}


# -- server-sent events ---------------------------------------------------------------


def test_server_sent_events(kind: str, url: str | None) -> None:
    """An SSE stream of a channel: messages as events, keep-alive comments,
    and the subscription ends when the client disconnects."""
    app = make_app(kind, url)

    @app.get("/events")
    def stream() -> EventSourceResponse:
        return EventSourceResponse(events("news", "alerts", heartbeat=0.2, named=True))

    async def scenario() -> str:
        body: list[bytes] = []
        gone = asyncio.Event()

        async def receive_() -> dict[str, Any]:
            await gone.wait()
            return {"type": "http.disconnect"}

        async def send_(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.body":
                body.append(message.get("body", b""))

        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": "/events",
            "raw_path": b"/events",
            "root_path": "",
            "query_string": b"",
            "headers": [(b"host", b"testserver")],
            "client": ("127.0.0.1", 5000),
            "server": ("testserver", 80),
        }
        served = asyncio.ensure_future(app(scope, receive_, send_))
        backend = get_backend(app)
        await until(lambda: backend.subscribers("news") == 1, "the subscription")
        await apublish("news", {"title": "tea"})
        await apublish("alerts", "kettle on")
        await until(lambda: b"keep-alive" in b"".join(body), "a heartbeat")
        gone.set()
        await asyncio.wait_for(served, 5)
        assert backend.subscribers("news") == backend.subscribers("alerts") == 0
        return b"".join(body).decode()

    text = run(app, scenario)
    assert 'event: news\ndata: {"title":"tea"}\n\n' in text
    assert "event: alerts\ndata: kettle on\n\n" in text
    assert ": keep-alive\n\n" in text


# -- two real servers ---------------------------------------------------------------

SERVED_APP = """
from kettle import EventSourceResponse, Kettle, WebSocket
from kettle.channels import apublish, events, publish, relay, subscribe

app = Kettle()


@app.websocket("/ws/{room}")
async def room(ws: WebSocket, room: str):
    await ws.accept()
    async with subscribe(room) as subscription:
        await ws.send_json({"subscribed": room})
        async for data in relay(ws, subscription):
            await apublish(room, data)


@app.post("/say/{room}")
def say(room: str, text: str):
    publish(room, {"text": text})
    return {"sent": True}


@app.get("/events/{room}")
def stream(room: str):
    return EventSourceResponse(events(room, heartbeat=1))
"""


@pytest.fixture
def two_servers(redis_url: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    from served import serve

    (tmp_path / "chatapp.py").write_text(textwrap.dedent(SERVED_APP))
    env = {
        "KETTLE_CHANNELS_BACKEND": "redis",
        "KETTLE_CHANNELS_REDIS_URL": redis_url,
    }
    with (
        serve(tmp_path, "chatapp:app", tmp_path / "one.log", env) as one,
        serve(tmp_path, "chatapp:app", tmp_path / "two.log", env) as two,
    ):
        yield one, two


def test_two_kettle_serve_processes(two_servers: tuple[str, str]) -> None:
    """A message posted to server one reaches a WebSocket client and an SSE
    client of server two, and a WebSocket client of server one."""
    import httpx
    from websockets.sync.client import connect

    one, two = two_servers
    with (
        connect(two.replace("http", "ws") + "/ws/lobby", open_timeout=10) as on_two,
        connect(one.replace("http", "ws") + "/ws/lobby", open_timeout=10) as on_one,
        httpx.stream("GET", two + "/events/lobby", timeout=10) as sse,
    ):
        assert json.loads(on_two.recv(timeout=10)) == {"subscribed": "lobby"}
        assert json.loads(on_one.recv(timeout=10)) == {"subscribed": "lobby"}
        assert sse.headers["content-type"].startswith("text/event-stream")
        lines = sse.iter_lines()
        # the SSE subscription starts with the stream: wait for its heartbeat
        assert next(lines) == ": keep-alive"
        posted = httpx.post(one + "/say/lobby", params={"text": "hello"}, timeout=10)
        assert posted.json() == {"sent": True}
        assert json.loads(on_two.recv(timeout=10)) == {"text": "hello"}
        assert json.loads(on_one.recv(timeout=10)) == {"text": "hello"}
        assert [line for line in _until_data(lines)][-1] == 'data: {"text":"hello"}'
        on_one.send(json.dumps({"text": "from a socket on one"}))
        assert json.loads(on_two.recv(timeout=10)) == {"text": "from a socket on one"}


def _until_data(lines: Iterator[str]) -> Iterator[str]:
    for line in lines:
        yield line
        if line.startswith("data:"):
            return


def test_threads_publish_to_one_loop(kind: str, url: str | None) -> None:
    """Many threads publishing at once (sync handlers, tasks): every message
    reaches the subscriber, in each thread's order."""
    app = make_app(kind, url, CHANNELS_QUEUE_SIZE=1000)

    def worker(n: int) -> None:
        with app.app_context():
            for i in range(25):
                publish("t", [n, i])

    async def scenario() -> None:
        async with subscribe("t") as subscription:
            threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
            for t in threads:
                t.start()
            got = [(await receive(subscription)).data for _ in range(100)]
            for t in threads:
                t.join()
        for n in range(4):
            assert [i for m, i in got if m == n] == list(range(25))

    run(app, scenario)


def test_a_subscriber_cut_short_does_not_take_others_with_it(redis_url: str) -> None:
    """B subscribes to a channel while A's SUBSCRIBE is unconfirmed, and A's
    client leaves (A is cancelled): B still gets its subscription."""
    from kettle.channels import RedisChannels
    from kettle.channels import Subscription

    async def scenario() -> dict[str, str]:
        backend = RedisChannels(redis_url)
        results: dict[str, str] = {}

        async def subscriber(name: str, hold: float) -> None:
            try:
                async with Subscription(backend, ("k",)):
                    results[name] = "subscribed"
                    await asyncio.sleep(hold)
            except BaseException as exc:
                results[name] = type(exc).__name__
                raise

        first = asyncio.create_task(subscriber("A", 5))
        await asyncio.sleep(0)  # A has sent (or is sending) its SUBSCRIBE
        second = asyncio.create_task(subscriber("B", 0.2))
        await asyncio.sleep(0)  # B waits on A's confirmation
        first.cancel()
        await asyncio.gather(first, second, return_exceptions=True)
        await backend.aclose()
        return results

    assert asyncio.run(scenario()) == {"A": "CancelledError", "B": "subscribed"}
