"""Hooks, error handling, blueprints, views, lifespan, config and WebSockets."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time

import pytest

from kettle import Blueprint
from kettle import HTTPException
from kettle import Kettle
from kettle import Request
from kettle import Response
from kettle import View
from kettle import WebSocket
from kettle import abort
from kettle import current_app
from kettle import request
from kettle import url_for
from kettle.exceptions import ImproperlyConfigured
from kettle.exceptions import WebSocketDisconnect

# -- hooks -------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_hooks_order_and_short_circuit(app, make_client, kind):
    calls = []

    if kind == "sync":

        @app.before_request
        def before():
            calls.append("before " + request.path)
            if request.path == "/blocked":
                return ("blocked", 403)

        @app.after_request
        def after(response):
            response.headers["x-after"] = "1"
            calls.append("after")
            return response

    else:

        @app.before_request
        async def before():
            calls.append("before " + request.path)
            if request.path == "/blocked":
                return ("blocked", 403)

        @app.after_request
        async def after(response):
            response.headers["x-after"] = "1"
            calls.append("after")
            return response

    @app.teardown_request
    def teardown(exc):
        calls.append(f"teardown {exc!r}")

    app.get("/")(lambda: calls.append("handler") or "ok")
    app.get("/blocked")(lambda: "never")
    client = make_client(app)
    response = client.get("/")
    assert response.text == "ok" and response.headers["x-after"] == "1"
    assert calls == ["before /", "handler", "after", "teardown None"]
    calls.clear()
    response = client.get("/blocked")
    assert (response.status_code, response.text) == (403, "blocked")
    assert response.headers["x-after"] == "1"
    assert calls == ["before /blocked", "after", "teardown None"]


def test_teardown_sees_unhandled_exception(app, make_client):
    seen = []
    app.teardown_request(lambda exc: seen.append(type(exc).__name__))

    @app.get("/boom")
    def boom():
        raise ZeroDivisionError

    assert make_client(app).get("/boom").status_code == 500
    assert seen == ["ZeroDivisionError"]


def test_after_request_runs_on_error_responses(app, make_client):
    app.after_request(lambda r: r.headers.update({"x-seen": "yes"}) or r)

    @app.get("/missing-thing")
    def missing():
        abort(404)

    response = make_client(app).get("/missing-thing")
    assert response.status_code == 404 and response.headers["x-seen"] == "yes"


# -- errors ------------------------------------------------------------------------


def test_error_handler_by_code_and_exception(app, make_client):
    class Oops(Exception):
        pass

    @app.errorhandler(404)
    def not_found(exc):
        return {"custom": exc.status_code, "path": request.path}, 404

    @app.errorhandler(Oops)
    async def oops(exc):
        return "oops handled", 418

    @app.get("/oops")
    def raise_oops():
        raise Oops

    client = make_client(app)
    assert client.get("/nothing").json() == {"custom": 404, "path": "/nothing"}
    response = client.get("/oops")
    assert (response.status_code, response.text) == (418, "oops handled")


def test_error_handler_by_base_class(app, make_client):
    app.register_error_handler(LookupError, lambda exc: ("lookup", 400))

    @app.get("/")
    def index():
        raise KeyError("x")

    assert make_client(app).get("/").text == "lookup"


def test_500_handler_receives_unhandled(app, make_client):
    app.errorhandler(500)(lambda exc: (f"handled {type(exc).__name__}", 500))

    @app.get("/")
    def index():
        raise RuntimeError

    assert make_client(app).get("/").text == "handled RuntimeError"


def test_an_http_exception_handler_gets_only_http_exceptions(app, make_client):
    from kettle.exceptions import HTTPException

    @app.errorhandler(HTTPException)
    def http_error(exc):
        return {"status": exc.status_code}, exc.status_code

    @app.get("/boom")
    def boom():
        raise ZeroDivisionError

    client = make_client(app, raise_server_exceptions=False)
    assert client.get("/nowhere").json() == {"status": 404}
    answer = client.get("/boom")
    assert answer.status_code == 500
    assert "status" not in answer.text  # the default 500, not the handler's


def test_error_pages_html_for_browsers_json_for_apis(app, make_client):
    client = make_client(app)
    html = client.get(
        "/nope", headers={"accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    )
    assert html.headers["content-type"].startswith("text/html")
    assert "404 Not Found" in html.text
    api = client.get("/nope", headers={"accept": "application/json"})
    assert api.json() == {"detail": "Not Found"}
    assert client.get("/nope").json() == {"detail": "Not Found"}


def test_html_error_page_escapes_detail(app, make_client):
    @app.get("/")
    def index():
        abort(400, "<script>alert(1)</script>")

    response = make_client(app).get("/", headers={"accept": "text/html"})
    assert "<script>" not in response.text
    assert "&lt;script&gt;" in response.text


def test_no_traceback_without_debug(app, make_client, caplog):
    @app.get("/")
    def index():
        raise ValueError("secret internals")

    client = make_client(app)
    for accept in ("text/html", "application/json"):
        response = client.get("/", headers={"accept": accept})
        assert response.status_code == 500
        assert "secret internals" not in response.text
        assert "Traceback" not in response.text
    assert "secret internals" in caplog.text


def test_debug_shows_traceback(make_client):
    app = Kettle(env_file=None, debug=True)

    @app.get("/")
    def index():
        raise ValueError("visible in debug")

    client = make_client(app)
    html = client.get("/", headers={"accept": "text/html"})
    assert html.status_code == 500
    assert "visible in debug" in html.text and "Traceback" in html.text
    data = client.get("/").json()
    assert data["exception"] == "ValueError: visible in debug"


def test_raise_server_exceptions(app, make_client):
    @app.get("/")
    def index():
        raise ValueError("raised")

    client = make_client(app, raise_server_exceptions=True)
    with pytest.raises(ValueError, match="raised"):
        client.get("/")


def test_validation_error_shape(app, make_client):
    @app.get("/items")
    def items(page: int, size: int = 10, flag: bool = False):
        return {"page": page, "size": size, "flag": flag}

    client = make_client(app)
    assert client.get("/items?page=2&flag=yes").json() == {
        "page": 2,
        "size": 10,
        "flag": True,
    }
    response = client.get("/items?size=x")
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert [d["loc"] for d in detail] == [["query", "page"], ["query", "size"]]
    assert detail[0]["type"] == "missing"


def test_unsatisfiable_signature_fails_at_registration(app):
    class Thing:
        pass

    def handler(thing: Thing):
        return "x"

    with pytest.raises(ImproperlyConfigured, match="handler .*handler.*'thing'"):
        app.get("/")(handler)


# -- blueprints and views -------------------------------------------------------------


def test_blueprint_routes_names_hooks_errors(app, make_client):
    bp = Blueprint("admin", url_prefix="/admin")
    calls = []

    @bp.before_request
    def only_admin():
        calls.append(request.path)

    @bp.errorhandler(403)
    def forbidden(exc):
        return "admin forbidden", 403

    @bp.get("/")
    def index():
        return url_for(".users", page=2)

    @bp.get("/users")
    def users():
        abort(403)

    @app.get("/")
    def home():
        return url_for("admin.index")

    app.register_blueprint(bp)
    client = make_client(app)
    assert client.get("/").text == "/admin/"
    assert client.get("/admin/").text == "/admin/users?page=2"
    assert client.get("/admin/users").text == "admin forbidden"
    assert calls == ["/admin/", "/admin/users"]


def test_blueprint_prefix_override_and_duplicates(app, make_client):
    bp = Blueprint("api")
    bp.get("/ping")(lambda: "pong")
    app.register_blueprint(bp, url_prefix="/v1")
    assert make_client(app).get("/v1/ping").text == "pong"
    with pytest.raises(ImproperlyConfigured):
        Kettle(env_file=None).register_blueprint(bp, url_prefix="v1/")


def test_blueprint_name_rules():
    with pytest.raises(ValueError):
        Blueprint("a.b")


def test_class_based_view(app, make_client):
    @app.route("/items/{item_id:int}")
    class ItemView(View):
        def get(self, item_id: int):
            return {"id": item_id}

        async def delete(self, item_id: int, req: Request):
            return {"deleted": item_id, "method": req.method}

    client = make_client(app)
    assert client.get("/items/3").json() == {"id": 3}
    assert client.delete("/items/3").json() == {"deleted": 3, "method": "DELETE"}
    response = client.post("/items/3")
    assert response.status_code == 405
    assert response.headers["allow"] == "DELETE, GET, HEAD, OPTIONS"
    assert app.url_for("ItemView", item_id=1) == "/items/1"


# -- concurrency ---------------------------------------------------------------------


def test_sync_handler_does_not_block_event_loop(app):
    """A slow def handler runs in the thread pool while async handlers answer."""
    release = threading.Event()

    @app.get("/slow")
    def slow():
        release.wait(5)
        return "slow"

    @app.get("/fast")
    async def fast():
        release.set()
        return "fast"

    from kettle.testing import AsyncTestClient

    async def scenario():
        async with AsyncTestClient(app) as client:
            slow_task = asyncio.ensure_future(client.get("/slow"))
            await asyncio.sleep(0.05)
            fast = await client.get("/fast")
            slow_response = await slow_task
            return fast.text, slow_response.text

    start = time.monotonic()
    assert asyncio.run(scenario()) == ("fast", "slow")
    assert time.monotonic() - start < 4  # the event released the slow handler


def test_async_handler_under_wsgi(app):
    @app.get("/")
    async def index():
        await asyncio.sleep(0)
        return {"loop": True}

    client = app.test_client(interface="wsgi")
    assert client.get("/").json() == {"loop": True}


# -- lifespan ----------------------------------------------------------------------


def test_startup_shutdown_and_lifespan(make_client):
    events = []

    @contextlib.asynccontextmanager
    async def lifespan(app):
        events.append("lifespan enter")
        yield {"db": "connected"}
        events.append("lifespan exit")

    app = Kettle(env_file=None, lifespan=lifespan)
    app.on_startup(lambda: events.append("sync startup"))

    @app.on_shutdown
    async def bye():
        events.append("async shutdown")

    app.get("/")(lambda: current_app.state["db"])
    client = make_client(app)
    assert client.get("/").text == "connected"
    client.__exit__(None, None, None)
    assert events == [
        "sync startup",
        "lifespan enter",
        "lifespan exit",
        "async shutdown",
    ]


def test_startup_failure_is_reported():
    app = Kettle(env_file=None)

    @app.on_startup
    def fail():
        raise RuntimeError("no database")

    with pytest.raises(RuntimeError, match="no database"), app.test_client():
        pass


def test_app_works_without_lifespan_events(app):
    """A plain ASGI client that sends no lifespan still gets answers."""
    app.get("/")(lambda: "ok")

    async def scenario():
        sent = []

        async def receive():
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message):
            sent.append(message)

        scope = {
            "type": "http",
            "method": "GET",
            "path": "/",
            "query_string": b"",
            "headers": [],
            "scheme": "http",
        }
        await app(scope, receive, send)
        return sent

    sent = asyncio.run(scenario())
    assert sent[0]["status"] == 200 and sent[1]["body"] == b"ok"


# -- config --------------------------------------------------------------------------


def test_config_sources_and_order(tmp_path, monkeypatch):
    settings = tmp_path / "mysettings.py"
    settings.write_text(
        "GREETING = 'from module'\nLEVEL = 1\nDEBUG = False\nother = 'ignored'\n"
    )
    env_file = tmp_path / ".env"
    env_file.write_text(
        "# comment\nKETTLE_LEVEL=2\nexport KETTLE_NAME='dotenv'\nKETTLE_DEBUG=1\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("KETTLE_NAME", "environment")
    app = Kettle(settings="mysettings", env_file=env_file, max_body_size=10)
    assert app.config["GREETING"] == "from module"
    assert (
        app.config["LEVEL"] == 2
    )  # .env beats the module, typed like the module value
    assert app.config["NAME"] == "environment"  # real environment beats .env
    assert app.config["DEBUG"] is True and app.debug
    assert app.config["MAX_BODY_SIZE"] == 10  # keyword arguments win
    assert "other" not in app.config


def test_config_env_prefix_stripped(monkeypatch):
    monkeypatch.setenv("KETTLE_GREETING", "hi")
    monkeypatch.setenv("KETTLE_MAX_BODY_SIZE", "2048")
    app = Kettle(env_file=None)
    assert app.config["GREETING"] == "hi"
    assert app.config["MAX_BODY_SIZE"] == 2048


def test_config_env_optional_booleans_and_integers(monkeypatch):
    """Settings that default to None ("decide for me") are converted like the
    boolean or integer they take: "false" must not be a true string."""
    monkeypatch.setenv("KETTLE_SESSION_COOKIE_SECURE", "false")
    monkeypatch.setenv("KETTLE_TEMPLATES_AUTO_RELOAD", "on")
    monkeypatch.setenv("KETTLE_MAX_FILE_SIZE", "4096")
    monkeypatch.setenv("KETTLE_DATABASE_QUERY_STATS", "none")
    config = Kettle(env_file=None).config
    assert config["SESSION_COOKIE_SECURE"] is False
    assert config["TEMPLATES_AUTO_RELOAD"] is True
    assert config["MAX_FILE_SIZE"] == 4096
    assert config["DATABASE_QUERY_STATS"] is None
    monkeypatch.setenv("KETTLE_SESSION_COOKIE_SECURE", "sometimes")
    with pytest.raises(ValueError, match="KETTLE_SESSION_COOKIE_SECURE"):
        Kettle(env_file=None)


def test_config_bad_env_value(monkeypatch):
    monkeypatch.setenv("KETTLE_DEBUG", "maybe")
    with pytest.raises(ValueError, match="KETTLE_DEBUG"):
        Kettle(env_file=None)


def test_settings_from_environment_variable(tmp_path, monkeypatch):
    (tmp_path / "envsettings.py").write_text(
        "class Production:\n    GREETING = 'prod'\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("KETTLE_SETTINGS", "envsettings:Production")
    assert Kettle(env_file=None).config["GREETING"] == "prod"


# -- websockets ------------------------------------------------------------------------


def test_websocket_echo_text_json_and_iteration(app):
    @app.websocket("/ws/{room}")
    async def chat(ws: WebSocket, room: str):
        await ws.accept()
        await ws.send_json({"room": room, "query": ws.query.get("u")})
        text = await ws.receive_text()
        await ws.send_text(text.upper())
        data = await ws.receive_json()
        await ws.send_json({"echo": data})
        async for message in ws:
            await ws.send_text(f"got {message}")

    client = app.test_client()
    with client.websocket_connect("/ws/lobby?u=ann") as session:
        assert session.receive_json() == {"room": "lobby", "query": "ann"}
        session.send_text("hello")
        assert session.receive_text() == "HELLO"
        session.send_json({"n": 1})
        assert session.receive_json() == {"echo": {"n": 1}}
        session.send_text("a")
        assert session.receive_text() == "got a"


def test_websocket_refused_and_unknown_route(app):
    @app.websocket("/private")
    async def private(ws: WebSocket):
        await ws.close(code=4403)

    client = app.test_client()
    with pytest.raises(WebSocketDisconnect) as info:
        client.websocket_connect("/private")
    assert info.value.code == 4403
    with pytest.raises(WebSocketDisconnect):
        client.websocket_connect("/nowhere")


def test_websocket_request_proxy(app):
    @app.websocket("/ws")
    async def ws_handler(websocket):
        await websocket.accept()
        await websocket.send_text(request.path)
        await websocket.close()

    with app.test_client().websocket_connect("/ws") as session:
        assert session.receive_text() == "/ws"


def test_websocket_handler_must_be_async(app):
    with pytest.raises(ImproperlyConfigured, match="must be 'async def'"):
        app.websocket("/ws")(lambda ws: None)


def test_websocket_needs_asgi(app):
    app.websocket("/ws")(_noop_ws)
    with pytest.raises(RuntimeError, match="ASGI"):
        app.test_client(interface="wsgi").websocket_connect("/ws")


async def _noop_ws(ws: WebSocket):
    await ws.accept()


def test_http_exception_repr_and_defaults():
    exc = HTTPException(404)
    assert exc.detail == "Not Found"
    assert "404" in repr(exc)
    assert Response(b"", 204).headers.get("content-length") is None


def test_wsgi_shutdown_from_atexit_runs_sync_hooks(tmp_path):
    """wsgi_shutdown() registered with atexit runs sync hooks after the thread pool
    has stopped taking work."""
    import subprocess
    import sys

    script = tmp_path / "atexit_app.py"
    script.write_text(
        "import atexit\n"
        "from kettle import Kettle\n"
        "app = Kettle(env_file=None)\n"
        "app.on_shutdown(lambda: print('sync shutdown ran'))\n"
        "async def bye():\n"
        "    print('async shutdown ran')\n"
        "app.on_shutdown(bye)\n"
        "app.get('/')(lambda: 'x')\n"
        "atexit.register(app.wsgi_shutdown)\n"
        "client = app.test_client(interface='wsgi')\n"
        "assert client.get('/').text == 'x'\n"
    )
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "sync shutdown ran" in result.stdout
    assert "async shutdown ran" in result.stdout


def test_streamed_body_keeps_request_until_closed(app, make_client):
    """Teardown runs after a streamed body is sent, and the stream sees the request."""
    from kettle import StreamingResponse

    events = []
    app.teardown_request(lambda exc: events.append("teardown"))

    @app.get("/stream")
    def stream():
        def produce():
            for i in range(3):
                events.append(f"chunk {i}")
                yield f"{request.path}:{i};"

        return StreamingResponse(produce())

    assert make_client(app).get("/stream").text == "/stream:0;/stream:1;/stream:2;"
    assert events == ["chunk 0", "chunk 1", "chunk 2", "teardown"]


def test_validation_errors_reach_422_handler(app, make_client):
    from kettle.exceptions import RequestValidationError

    @app.errorhandler(422)
    def invalid(exc):
        assert isinstance(exc, RequestValidationError)
        return {"problems": len(exc.errors)}, 422

    app.get("/items")(lambda page: {"page": page})
    response = make_client(app).get("/items")
    assert response.status_code == 422
    assert response.json() == {"problems": 1}


def test_500_handler_still_logs_and_reports(app, make_client, caplog):
    seen = []
    app.errorhandler(500)(lambda exc: ("sorry", 500))
    app.teardown_request(lambda exc: seen.append(type(exc).__name__))

    @app.get("/")
    def index():
        raise KeyError("lost")

    assert make_client(app).get("/").text == "sorry"
    assert "Exception on GET /" in caplog.text
    assert seen == ["KeyError"]
    with pytest.raises(KeyError):
        make_client(app, raise_server_exceptions=True).get("/")


def test_custom_405_handler_keeps_allow(app, make_client):
    app.errorhandler(405)(lambda exc: ("no", 405))
    app.get("/x")(lambda: "x")
    response = make_client(app).post("/x")
    assert (response.status_code, response.text) == (405, "no")
    assert response.headers["allow"] == "GET, HEAD, OPTIONS"


def test_app_hooks_run_for_unrouted_requests(app, make_client):
    calls = []

    @app.before_request
    def before():
        calls.append(("before", request.path))

    @app.after_request
    def after(response):
        response.headers["x-hooked"] = "1"
        return response

    app.get("/dir/")(lambda: "dir")
    app.get("/only-get")(lambda: "x")
    client = make_client(app, follow_redirects=False)
    for method, path, status in [
        ("GET", "/missing", 404),
        ("POST", "/only-get", 405),
        ("OPTIONS", "/only-get", 204),
        ("GET", "/dir", 308),
    ]:
        response = client.request(method, path)
        assert response.status_code == status
        assert response.headers["x-hooked"] == "1"
    assert calls == [
        ("before", "/missing"),
        ("before", "/only-get"),
        ("before", "/only-get"),
        ("before", "/dir"),
    ]


def test_limit_settings_from_environment(monkeypatch, make_client):
    monkeypatch.setenv("KETTLE_MAX_FILE_SIZE", "1000")
    app = Kettle(env_file=None)
    app.setup()
    assert app.limits.max_file_size == 1000


def test_bad_limit_setting_is_a_clear_error():
    app = Kettle(env_file=None, MAX_BODY_SIZE="lots")
    with pytest.raises(
        ImproperlyConfigured, match="MAX_BODY_SIZE must be a whole number"
    ):
        app.setup()


@pytest.mark.parametrize(
    ("interface", "setting", "frozen"),
    [("asgi", "", True), ("wsgi", "", True), ("asgi", "GC_FREEZE=False", False)],
)
def test_gc_frozen_once_after_startup(tmp_path, interface, setting, frozen):
    """Start-up ends with gc.freeze() (once per process) unless GC_FREEZE is off."""
    import subprocess
    import sys

    script = tmp_path / "gc_app.py"
    script.write_text(
        "import gc\n"
        "freezes = []\n"
        "real_freeze = gc.freeze\n"
        "gc.freeze = lambda: (freezes.append(1), real_freeze())[1]\n"
        "from kettle import Kettle\n"
        f"app = Kettle(env_file=None, {setting})\n"
        "seen = []\n"
        "app.on_startup(lambda: seen.append(len(freezes)))\n"
        "app.get('/')(lambda: 'x')\n"
        f"with app.test_client(interface={interface!r}) as client:\n"
        "    assert client.get('/').text == 'x'\n"
        "    after = gc.get_freeze_count()\n"
        f"other = Kettle(env_file=None, {setting})\n"
        "other.get('/')(lambda: 'y')\n"
        "with other.test_client() as client:\n"
        "    assert client.get('/').text == 'y'\n"
        "print(seen[0], after > 0, len(freezes))\n"
    )
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    # Not during the start-up hooks; after them (objects really frozen); never again
    # for a second app in the same process.
    assert result.stdout.split() == ["0", str(frozen), "1" if frozen else "0"]
