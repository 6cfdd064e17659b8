"""The apps in examples/: the hello world and the demo, through ASGI and WSGI;
and every example served from (a copy of) its folder by ``kettle run`` and
``kettle serve app:app``, as its README says."""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import shutil
from pathlib import Path
from types import ModuleType

import httpx
import pytest

from kettle.exceptions import WebSocketDisconnect
from kettle.testing import TestClient
from served import serve

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
BOTH = pytest.mark.parametrize("iface", ["asgi", "wsgi"])


def load(folder: str) -> ModuleType:
    """Import examples/<folder>/app.py as a new module (fresh in-memory state)."""
    path = EXAMPLES / folder / "app.py"
    spec = importlib.util.spec_from_file_location(f"kettle_example_{folder}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def demo() -> ModuleType:
    return load("demo")


def client(module: ModuleType, iface: str = "asgi", **kwargs: object) -> TestClient:
    return TestClient(module.app, interface=iface, **kwargs)  # type: ignore[arg-type]


# -- examples/hello --------------------------------------------------------------------


@BOTH
def test_hello(iface: str) -> None:
    hello = load("hello")
    with client(hello, iface) as c:
        r = c.get("/")
        assert (r.status_code, r.text) == (200, "Hello, World!")
        assert r.headers["content-type"] == "text/html; charset=utf-8"
        r = c.get("/users/5?verbose=1", headers={"user-agent": "pytest"})
        assert r.json() == {"id": 5, "verbose": True, "agent": "pytest"}
        assert c.get("/users/5").json()["verbose"] is False
        assert c.get("/users/five").status_code == 404
        assert c.get("/users/5?verbose=perhaps").status_code == 422


def test_hello_is_small_and_matches_the_readme() -> None:
    text = (EXAMPLES / "hello" / "app.py").read_text()
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) <= 10
    readme = (EXAMPLES.parent / "README.md").read_text()
    for line in lines[2:]:  # the README imports both names on one line
        assert line in readme


# -- examples/demo: pages and cookies --------------------------------------------------


@BOTH
def test_demo_home_lists_the_features(demo: ModuleType, iface: str) -> None:
    with client(demo, iface) as c:
        r = c.get("/")
        assert r.status_code == 200
        assert r.headers["content-type"] == "text/html; charset=utf-8"
        for href in (
            "/api/notes",
            "/api/notes/1",
            "/api/divide?a=1&amp;b=0",
            "/upload",
            "/echo",
            "/clock",
            "/theme/dark",
            "/theme/light",
        ):
            assert f'href="{href}"' in r.text
        # Every link on the page works (the missing-page link shows the 404 page).
        for path in ("/api/notes", "/api/notes/1", "/upload", "/echo", "/clock"):
            assert c.get(path).status_code == 200, path


@BOTH
def test_demo_cookies(demo: ModuleType, iface: str) -> None:
    with client(demo, iface, follow_redirects=False) as c:
        r = c.get("/")
        assert "visited this page 1 time " in r.text
        assert r.headers["set-cookie"].startswith(
            "visits=1; HttpOnly; Max-Age=31536000"
        )
        r = c.get("/")  # the client keeps cookies
        assert "visited this page 2 times" in r.text

        r = c.get("/theme/dark")
        assert (r.status_code, r.headers["location"]) == (303, "/")
        assert r.headers["set-cookie"].startswith("theme=dark;")
        assert "#1d1f21" in c.get("/").text  # the dark background
        assert c.get("/theme/purple").status_code == 404


# -- examples/demo: the JSON API -------------------------------------------------------


@BOTH
def test_demo_api_crud(demo: ModuleType, iface: str) -> None:
    with client(demo, iface) as c:
        r = c.get("/api/notes")
        assert r.json()["count"] == 1

        r = c.post("/api/notes", json={"text": "  buy tea ", "tags": ["shop"]})
        assert r.status_code == 201
        note = r.json()
        assert (note["id"], note["text"], note["tags"]) == (2, "buy tea", ["shop"])
        assert r.headers["location"] == "/api/notes/2"

        c.post("/api/notes", json={"text": "boil water"})
        assert [n["id"] for n in c.get("/api/notes?q=TEA").json()["notes"]] == [2]
        assert [n["id"] for n in c.get("/api/notes?tag=shop").json()["notes"]] == [2]
        assert c.get("/api/notes?limit=2").json()["count"] == 2

        assert c.get("/api/notes/2").json()["text"] == "buy tea"
        r = c.patch("/api/notes/2", json={"text": "buy green tea"})
        assert r.json()["text"] == "buy green tea"
        assert c.delete("/api/notes/2").status_code == 204
        r = c.get("/api/notes/2", headers={"accept": "text/html"})
        assert (r.status_code, r.json()) == (404, {"detail": "Note 2 does not exist."})
        assert c.delete("/api/notes/2").status_code == 404
        r = c.put("/api/notes/1")
        assert (r.status_code, r.headers["allow"]) == (
            405,
            "DELETE, GET, HEAD, OPTIONS, PATCH",
        )


@BOTH
def test_demo_api_bad_input(demo: ModuleType, iface: str) -> None:
    with client(demo, iface) as c:
        r = c.post("/api/notes", json={"tags": "x"})
        assert r.status_code == 422
        assert r.json() == {
            "detail": [
                {"loc": ["body", "text"], "msg": "Field required", "type": "missing"},
                {
                    "loc": ["body", "tags"],
                    "msg": "Input should be a list of strings",
                    "type": "list_type",
                },
            ]
        }
        r = c.post("/api/notes", json={"text": ""})
        assert r.json()["detail"][0]["type"] == "string_length"
        r = c.post("/api/notes", json=["not", "an", "object"])
        assert r.json()["detail"][0]["type"] == "dict_type"
        r = c.post(
            "/api/notes", content=b"{nope", headers={"content-type": "application/json"}
        )
        assert r.status_code == 400
        r = c.post("/api/notes", data={"text": "a form"})
        assert r.status_code == 415

        r = c.get("/api/notes?limit=lots")
        assert r.status_code == 422
        assert r.json()["detail"][0]["loc"] == ["query", "limit"]
        r = c.get("/api/notes?limit=1000")
        assert (r.status_code, r.json()["detail"][0]["type"]) == (422, "range")
        assert c.get("/api/notes/abc").status_code == 404


@BOTH
def test_demo_error_handlers(
    demo: ModuleType, iface: str, caplog: pytest.LogCaptureFixture
) -> None:
    with client(demo, iface) as c:
        assert c.get("/api/divide?a=1&b=4").json() == {"result": 0.25}
        r = c.get("/api/divide?a=1&b=0")
        assert (r.status_code, r.json()) == (
            400,
            {"detail": "Division by zero: b must not be 0."},
        )

        r = c.get("/no/such/page", headers={"accept": "text/html"})
        assert r.status_code == 404
        assert "<h1>Not found</h1>" in r.text
        r = c.get("/no/such/page")
        assert (r.status_code, r.json()) == (404, {"detail": "Not Found"})

    # A 500 handler: register a failing route on a fresh copy of the demo.
    fresh = load("demo")

    @fresh.app.get("/crash")
    def crash() -> None:
        raise RuntimeError("kaput")

    with client(fresh, iface) as c, caplog.at_level(logging.ERROR, logger="demo"):
        r = c.get("/crash")
        assert r.status_code == 500
        assert "<h1>Something went wrong</h1>" in r.text
    assert any(
        rec.exc_info and rec.exc_info[1].args == ("kaput",) for rec in caplog.records
    )


# -- examples/demo: upload, WebSocket, server-sent events ------------------------------


@BOTH
def test_demo_upload(demo: ModuleType, iface: str) -> None:
    data = bytes(range(256)) * 1000
    with client(demo, iface) as c:
        r = c.get("/upload")
        assert 'enctype="multipart/form-data"' in r.text
        r = c.post(
            "/upload",
            data={"description": "<b>bytes</b>"},
            files={"file": ("data.bin", data, "application/octet-stream")},
        )
        assert r.status_code == 200
        assert '<dd id="size">256000 bytes</dd>' in r.text
        assert hashlib.sha256(data).hexdigest() in r.text
        assert "&lt;b&gt;bytes&lt;/b&gt;" in r.text  # escaped
        r = c.post("/upload", data={"description": "no file"})
        assert r.status_code == 400
        r = c.post("/upload", files={"file": ("", b"", "application/octet-stream")})
        assert r.status_code == 400


def test_demo_websocket(demo: ModuleType) -> None:
    with client(demo) as c:
        page = c.get("/echo").text
        assert '"/ws/echo"' in page
        with c.websocket_connect("/ws/echo") as ws:
            assert ws.receive_text() == "Hello! I repeat what you say."
            ws.send_text("tea")
            assert ws.receive_text() == "tea"
            ws.send_bytes(b"\x01\x02")
            assert ws.receive_text() == "0102"
        with pytest.raises(WebSocketDisconnect):
            c.websocket_connect("/ws/nope")


@BOTH
def test_demo_clock(demo: ModuleType, iface: str) -> None:
    with client(demo, iface) as c:
        assert "EventSource" in c.get("/clock").text
        r = c.get("/clock/events?ticks=3&interval=0")
        assert r.headers["content-type"] == "text/event-stream; charset=utf-8"
        blocks = r.text.strip().split("\n\n")
        assert len(blocks) == 3
        assert blocks[0].startswith('event: tick\nid: 1\ndata: {"time":"')
        assert c.get("/clock/events?interval=600").status_code == 422


def test_demo_prefers_asgi(demo: ModuleType) -> None:
    assert demo.app.preferred_interface() == "asgi"  # it has a WebSocket route


# -- every example, served from its folder ----------------------------------------------

#: Each example's folder and a page it answers with 200.
SERVED = {
    "hello": "/users/7",
    "demo": "/",
    "bookshop": "/openapi.json",
    "blog": "/",
    "polls": "/polls/",
    "conduit": "/api/tags",
}


def test_every_example_has_a_readme_and_is_served_here() -> None:
    folders = {p.name for p in EXAMPLES.iterdir() if (p / "app.py").is_file()}
    assert folders == set(SERVED)
    for name in folders:
        assert (EXAMPLES / name / "README.md").is_file(), name


@pytest.mark.parametrize("name", sorted(SERVED))
def test_each_example_runs_from_its_folder(name: str, tmp_path: Path) -> None:
    """``kettle run`` and ``kettle serve app:app`` in a copy of the folder, on
    its embedded defaults (SQLite in its instance folder)."""
    folder = tmp_path / name
    shutil.copytree(
        EXAMPLES / name, folder, ignore=shutil.ignore_patterns("instance", "__pycache__")
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("KETTLE_")}
    for instance in ("BLOG_INSTANCE", "POLLS_INSTANCE", "CONDUIT_INSTANCE"):
        env.pop(instance, None)
    for command in (("run", "--no-reload"), ("serve",)):
        log = tmp_path / f"{command[0]}.log"
        with serve(folder, "app:app", log, env, command) as url:
            page = httpx.get(url + SERVED[name], follow_redirects=True, timeout=30)
            assert page.status_code == 200, (command, page.text[:300])
        assert "Traceback" not in log.read_text(), log.read_text()
