"""Security defaults (kettle.security): response headers with a CSP nonce, the Host
check (``ALLOWED_HOSTS``), the HTTPS redirect, safe redirect targets, and
``kettle check --deploy``. Every HTTP behaviour runs through ASGI and WSGI."""

from __future__ import annotations

import asyncio
import importlib
import os
import re
import sys
import textwrap
from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from kettle import Kettle
from kettle import Request
from kettle import url_for
from kettle.exceptions import ImproperlyConfigured
from kettle.exceptions import WebSocketDisconnect
from kettle.files import FileResponse
from kettle.middleware import HTTPMiddleware
from kettle.middleware import ProxyHeadersMiddleware
from kettle.responses import PlainTextResponse
from kettle.responses import RedirectResponse
from kettle.responses import Response
from kettle.responses import StreamingResponse
from kettle.security import DEFAULT_CSP
from kettle.security import DEPLOY_CHECKS
from kettle.security import HOST_CACHE_SIZE
from kettle.security import NONCE
from kettle.security import HostGate
from kettle.security import Issue
from kettle.security import SecurityHeaders
from kettle.security import csp_policy
from kettle.security import host_name
from kettle.security import is_safe_url
from kettle.security import safe_next
from kettle.security import weak_secret
from kettle.templating import render
from kettle.testing import TestClient
from kettle.websockets import WebSocket

Client = Callable[..., TestClient]

POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)
DEFAULT_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
    "content-security-policy": POLICY,
}
HSTS = "max-age=31536000; includeSubDomains"
NAMES = [*DEFAULT_HEADERS, "strict-transport-security"]
STRONG_KEY = "k7Qp2vX9mR4tW8zL1nB6cY3hJ5dF0gS-aE_uI8oPqRsTvWxYz12345"


def assert_defaults(response: Any, https: bool = False) -> None:
    """The default security headers, each exactly once (HSTS over HTTPS only)."""
    for name, value in DEFAULT_HEADERS.items():
        assert response.headers.get_list(name) == [value], name
    hsts = response.headers.get_list("strict-transport-security")
    assert hsts == ([HSTS] if https else [])


def nonce_of(policy: str) -> str:
    found = re.findall(r"'nonce-([A-Za-z0-9_-]+)'", policy)
    assert len(found) == 2 and found[0] == found[1], policy  # script-src, style-src
    return str(found[0])


class Refuse(HTTPMiddleware):
    def process_request(self, request: Request) -> Response | None:
        if request.path == "/blocked":
            return PlainTextResponse("no", 403)
        return None


def site(tmp_path: Path, **config: Any) -> Kettle:
    """An app with every kind of response, a template and a static file."""
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "page.html").write_text(
        '<script nonce="{{ csp_nonce }}">go()</script>'
        '<style nonce="{{ csp_nonce() }}">p{}</style>'
    )
    (tmp_path / "static").mkdir()
    (tmp_path / "static" / "app.css").write_text("p { color: teal }")
    (tmp_path / "file.txt").write_text("a file")
    app = Kettle(env_file=None, **config)
    app.root_path = str(tmp_path)

    @app.get("/")
    def index() -> str:
        return "hello"

    @app.get("/json")
    def data() -> dict[str, int]:
        return {"a": 1}

    @app.get("/async")
    async def async_page() -> str:
        return "async"

    @app.post("/created")
    def created() -> Any:
        return {"made": True}, 201, {"x-own": "1"}

    @app.get("/boom")
    def boom() -> str:
        raise RuntimeError("boom")

    @app.get("/redirect")
    def redirect() -> Response:
        return RedirectResponse("/")

    @app.get("/stream")
    def stream() -> Response:
        return StreamingResponse(iter(["a", "b"]), media_type="text/plain")

    @app.get("/file")
    def file() -> Response:
        return FileResponse(tmp_path / "file.txt")

    @app.get("/cookie")
    def cookie() -> Response:
        response = Response("c")
        response.set_cookie("flavour", "mint")
        return response

    @app.get("/page")
    def page() -> Response:
        return render("page.html")

    @app.get("/nonce")
    def nonce(request: Request) -> str:
        return request.csp_nonce

    @app.get("/own")
    def own() -> Response:
        return Response(
            "own",
            headers={
                "Content-Security-Policy": "default-src 'none'",
                "X-Frame-Options": "SAMEORIGIN",
            },
        )

    @app.get("/url")
    def external(request: Request) -> str:
        return url_for("index", _external=True)

    @app.websocket("/ws")
    async def ws(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text("hi")

    app.add_middleware(Refuse)
    return app


# -- headers ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/", 200),
        ("/json", 200),
        ("/async", 200),
        ("/missing", 404),
        ("/boom", 500),
        ("/redirect", 302),
        ("/stream", 200),
        ("/file", 200),
        ("/cookie", 200),
        ("/static/app.css", 200),
        ("/static/missing.css", 404),
        ("/blocked", 403),  # answered by a middleware before routing
    ],
)
def test_headers_on_every_response(
    tmp_path: Path, make_client: Client, path: str, status: int
) -> None:
    client = make_client(site(tmp_path), follow_redirects=False)
    response = client.get(path)
    assert response.status_code == status
    assert_defaults(response)


def test_headers_on_other_methods_and_html_errors(
    tmp_path: Path, make_client: Client
) -> None:
    client = make_client(site(tmp_path))
    response = client.post("/created")
    assert response.status_code == 201
    assert response.headers["x-own"] == "1"
    assert_defaults(response)
    assert_defaults(client.put("/"))  # 405
    assert_defaults(client.head("/"))
    assert_defaults(client.options("/"))
    page = client.get("/missing", headers={"accept": "text/html"})
    assert page.status_code == 404
    # The error page's <style> carries the nonce the policy allows.
    policy = page.headers["content-security-policy"]
    assert f'<style nonce="{nonce_of(policy)}">' in page.text


def test_hsts_only_over_https(tmp_path: Path, make_client: Client) -> None:
    app = site(tmp_path)
    assert_defaults(make_client(app).get("/"), https=False)
    secure = make_client(app, base_url="https://testserver")
    for path in ("/", "/json", "/missing", "/boom", "/static/app.css", "/blocked"):
        assert_defaults(secure.get(path), https=True)


def test_hsts_behind_a_proxy(tmp_path: Path, make_client: Client) -> None:
    app = site(tmp_path)
    app.add_middleware(ProxyHeadersMiddleware, trusted_hosts="*")
    client = make_client(app)
    assert_defaults(client.get("/", headers={"x-forwarded-proto": "https"}), True)
    assert_defaults(client.get("/", headers={"x-forwarded-proto": "http"}), False)


def test_hsts_settings(make_client: Client) -> None:
    def hsts(**config: Any) -> str | None:
        app = Kettle(env_file=None, **config)
        app.get("/")(lambda: "x")
        response = make_client(app, base_url="https://testserver").get("/")
        return response.headers.get("strict-transport-security")

    assert hsts() == HSTS
    assert hsts(hsts_seconds=0) is None
    assert hsts(hsts_seconds=60, hsts_include_subdomains=False) == "max-age=60"
    assert hsts(hsts_preload=True) == HSTS + "; preload"


def test_csp_nonce_from_a_template(tmp_path: Path, make_client: Client) -> None:
    client = make_client(site(tmp_path))
    seen = set()
    for _ in range(3):
        response = client.get("/page")
        policy = response.headers["content-security-policy"]
        nonce = nonce_of(policy)
        assert policy == POLICY.replace(
            "script-src 'self'", f"script-src 'self' 'nonce-{nonce}'"
        ).replace("style-src 'self'", f"style-src 'self' 'nonce-{nonce}'")
        assert response.text == (
            f'<script nonce="{nonce}">go()</script><style nonce="{nonce}">p{{}}</style>'
        )
        seen.add(nonce)
    assert len(seen) == 3  # one per request
    # A page that does not read it gets the policy without a nonce.
    assert client.get("/").headers["content-security-policy"] == POLICY


def test_csp_nonce_from_a_handler(tmp_path: Path, make_client: Client) -> None:
    response = make_client(site(tmp_path)).get("/nonce")
    assert len(response.text) >= 22
    assert nonce_of(response.headers["content-security-policy"]) == response.text


def test_csp_nonce_outside_a_request() -> None:
    from kettle.security import csp_nonce

    assert str(csp_nonce) == "" and repr(csp_nonce) == "<csp_nonce>"


def test_headers_set_by_the_handler_are_kept(
    tmp_path: Path, make_client: Client
) -> None:
    response = make_client(site(tmp_path)).get("/own")
    assert response.headers.get_list("content-security-policy") == [
        "default-src 'none'"
    ]
    assert response.headers.get_list("x-frame-options") == ["SAMEORIGIN"]
    assert response.headers["x-content-type-options"] == "nosniff"


def test_security_headers_off(tmp_path: Path, make_client: Client) -> None:
    app = site(tmp_path, security_headers=False)
    client = make_client(app, base_url="https://testserver")
    for path in ("/", "/page", "/missing", "/blocked", "/static/app.css"):
        response = client.get(path)
        assert not [name for name in NAMES if name in response.headers], path


def test_header_settings(make_client: Client) -> None:
    def headers(**config: Any) -> Any:
        app = Kettle(env_file=None, **config)
        app.get("/")(lambda: "x")
        return make_client(app).get("/").headers

    same = headers(x_frame_options="sameorigin")
    assert same["x-frame-options"] == "SAMEORIGIN"
    assert same["content-security-policy"].endswith("; frame-ancestors 'self'")
    none = headers(x_frame_options=None, referrer_policy=None)
    assert "x-frame-options" not in none and "referrer-policy" not in none
    assert "frame-ancestors" not in none["content-security-policy"]
    assert "content-security-policy" not in headers(csp=None)
    report = headers(csp_report_only=True)
    assert "content-security-policy" not in report
    assert report["content-security-policy-report-only"] == POLICY
    custom = headers(
        csp={**DEFAULT_CSP, "img-src": ("'self'", "https:"), "style-src": None}
    )
    assert "img-src 'self' https:;" in custom["content-security-policy"]
    assert "style-src" not in custom["content-security-policy"]
    text = headers(csp="default-src 'self'; upgrade-insecure-requests")
    assert text["content-security-policy"] == (
        "default-src 'self'; upgrade-insecure-requests; frame-ancestors 'none'"
    )
    plain = headers(
        content_type_nosniff=False,
        cross_origin_opener_policy="same-origin-allow-popups",
        referrer_policy=["no-referrer", "strict-origin-when-cross-origin"],
    )
    assert "x-content-type-options" not in plain
    assert plain["cross-origin-opener-policy"] == "same-origin-allow-popups"
    assert plain["referrer-policy"] == "no-referrer, strict-origin-when-cross-origin"


def test_csp_policy_with_only_a_nonce() -> None:
    plain, parts = csp_policy(
        {"script-src": [NONCE], "upgrade-insecure-requests": True}
    )
    assert plain == "script-src 'none'; upgrade-insecure-requests"
    assert parts is not None
    assert "'nonce-abc'".join(parts) == (
        "script-src 'nonce-abc'; upgrade-insecure-requests"
    )
    assert csp_policy({"img-src": "'self' data:"}, "'none'") == (
        "img-src 'self' data:; frame-ancestors 'none'",
        None,
    )


@pytest.mark.parametrize(
    "config",
    [
        {"X_FRAME_OPTIONS": "ALLOW-FROM x"},
        {"X_FRAME_OPTIONS": 1},
        {"CSP": {"script-src": ["'self'; evil"]}},
        {"CSP": {"script src": ["'self'"]}},
        {"CSP": {"script-src": 5}},
        {"CSP": ["default-src"]},
        {"HSTS_SECONDS": -1},
        {"HSTS_SECONDS": "soon"},
        {"REFERRER_POLICY": "no referrer\r\nx: y"},
        {"CROSS_ORIGIN_OPENER_POLICY": 3},
        {"ALLOWED_HOSTS": ["example.com:8000"]},
        {"ALLOWED_HOSTS": ["https://example.com"]},
        {"ALLOWED_HOSTS": ["*.example.com"]},
        {"ALLOWED_HOSTS": ["example.com/path"]},
        {"ALLOWED_HOSTS": [5]},
        {"ALLOWED_HOSTS": 5},
    ],
)
def test_wrong_settings_fail_at_start_up(config: dict[str, Any]) -> None:
    app = Kettle(env_file=None)
    app.config.update(config)
    with pytest.raises(ImproperlyConfigured):
        app.setup()


def test_plain_responses_answer_as_without_headers(make_client: Client) -> None:
    """The fast paths answer as Response itself does: statuses set after the
    response was made, HEAD, types without a Content-Type, repeated classes."""
    app = Kettle(env_file=None)

    @app.get("/created")
    def created() -> Response:
        response = Response("made")
        response.status_code = 201
        return response

    @app.get("/untyped")
    def untyped() -> Response:
        return Response(b"\x00\x01")

    client = make_client(app)
    for _ in range(2):  # the first answer of a class may take another path
        response = client.get("/created")
        assert (response.status_code, response.text) == (201, "made")
        assert response.headers["content-length"] == "4"
        assert_defaults(response)
        head = client.head("/created")
        assert (head.status_code, head.content) == (201, b"")
        assert head.headers["content-length"] == "4"
        assert_defaults(head)
        untyped_response = client.get("/untyped")
        assert "content-type" not in untyped_response.headers
        assert untyped_response.content == b"\x00\x01"
        assert_defaults(untyped_response)


class OwnWSGI(Response):
    """A response class whose ``wsgi`` predates ``extra_headers``."""

    def wsgi(self, environ: Any, start_response: Any) -> Any:
        return super().wsgi(environ, start_response)


def test_a_response_class_with_its_own_wsgi(make_client: Client) -> None:
    app = Kettle(env_file=None)
    app.get("/")(lambda: OwnWSGI("own"))
    app.get("/headers")(
        lambda: OwnWSGI("own", headers={"x-frame-options": "SAMEORIGIN"})
    )
    client = make_client(app, base_url="https://testserver")
    assert_defaults(client.get("/"), https=True)
    response = client.get("/headers")
    assert response.headers.get_list("x-frame-options") == ["SAMEORIGIN"]
    assert response.headers["x-content-type-options"] == "nosniff"


def test_a_mounted_kettle_app_sends_its_own_headers_once(make_client: Client) -> None:
    inner = Kettle(env_file=None)
    inner.get("/")(lambda: "inner")
    outer = Kettle(env_file=None)
    outer.mount("/inner", inner)
    response = make_client(outer).get("/inner/")
    assert response.text == "inner"
    assert_defaults(response)


def test_a_malformed_wsgi_path_gets_the_headers(tmp_path: Path) -> None:
    app = site(tmp_path)
    app.setup()
    captured: list[Any] = []
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/\xff\xfe",  # not UTF-8
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "wsgi.url_scheme": "https",
        "wsgi.input": None,
    }
    app.wsgi(environ, lambda status, headers, exc=None: captured.append(headers))
    names = [name for name, _ in captured[0]]
    assert all(name in names for name in NAMES)


def test_security_headers_object() -> None:
    assert SecurityHeaders.from_config({"SECURITY_HEADERS": False}) is None
    nothing = {
        "CONTENT_TYPE_NOSNIFF": False,
        "HSTS_SECONDS": 0,
        "CSP": {},
    }
    assert SecurityHeaders.from_config(nothing) is None
    headers = SecurityHeaders({"HSTS_SECONDS": 10, "CSP": DEFAULT_CSP})
    pairs = headers.pairs(True, "n0nce")
    assert (b"strict-transport-security", b"max-age=10") in pairs
    csp = dict(pairs)[b"content-security-policy"]
    assert csp.count(b"'nonce-n0nce'") == 2


# -- ALLOWED_HOSTS ------------------------------------------------------------------

LOCAL = ["localhost", "127.0.0.1", "[::1]", "testserver"]


@pytest.mark.parametrize(
    ("allowed", "host", "ok"),
    [
        *[([], host, True) for host in LOCAL],
        ([], "LOCALHOST.:8000", True),
        ([], "127.0.0.1:8000", True),
        ([], "[::1]:8443", True),
        ([], "evil.com", False),
        ([], "localhost.evil.com", False),
        ([], "127.0.0.2", False),
        ([], "[::2]", False),
        (["example.com"], "example.com", True),
        (["example.com"], "EXAMPLE.com:8443", True),
        (["example.com"], "example.com.", True),
        (["Example.COM."], "example.com", True),
        (["example.com"], "www.example.com", False),
        (["example.com"], "testserver", False),
        (["example.com"], "example.com.evil.com", False),
        (["example.com"], "evil.com#example.com", False),
        (["example.com"], "example.com:port", False),
        (["example.com"], "example.com@evil.com", False),
        (["example.com"], "", False),
        ([".example.com"], "example.com", True),
        ([".example.com"], "a.b.example.com:8000", True),
        ([".example.com"], "badexample.com", False),
        ([".example.com"], "example.com.evil.com", False),
        (["::1"], "[::1]:80", True),
        (["[::1]"], "[::1]", True),
        (["[2001:DB8::1]"], "[2001:db8::1]:8000", True),
        (["[::1]"], "[::1", False),
        (["192.0.2.1"], "192.0.2.1:8000", True),
        (["192.0.2.1"], "192.0.2.10", False),
        (["*"], "anything.example", True),
        (["example.com", "*"], "other.example", True),
        ("example.com, .example.org", "www.example.org", True),  # from the environment
        ("example.com, .example.org", "example.net", False),
    ],
)
def test_allowed_hosts(make_client: Client, allowed: Any, host: str, ok: bool) -> None:
    app = Kettle(env_file=None, allowed_hosts=allowed)
    app.get("/")(lambda: "ok")
    response = make_client(app).get("/", headers={"host": host})
    if ok:
        assert (response.status_code, response.text) == (200, "ok")
    else:
        assert response.status_code == 400
        assert response.headers["content-type"] == "text/plain; charset=utf-8"
        assert response.text.startswith("Invalid Host header")
        assert_defaults(response)


def test_the_400_message(make_client: Client) -> None:
    app = Kettle(env_file=None, allowed_hosts=["example.com"])
    app.get("/")(lambda: "ok")
    client = make_client(app)
    response = client.get("/", headers={"host": "evil.com"})
    assert response.text == "Invalid Host header: 'evil.com'. Add it to ALLOWED_HOSTS."
    response = client.get("/", headers={"host": "a b"})
    assert response.text == "Invalid Host header: 'a b'."
    long = client.get("/", headers={"host": "a" * 300})
    assert long.status_code == 400 and len(long.text) < 200


def test_debug_allows_any_host(make_client: Client) -> None:
    app = Kettle(env_file=None, debug=True)
    app.get("/")(lambda: "ok")
    assert make_client(app).get("/", headers={"host": "evil.com"}).text == "ok"


def test_the_host_check_runs_after_middleware(make_client: Client) -> None:
    app = Kettle(env_file=None, allowed_hosts=["example.com"])
    app.get("/", name="index")(lambda: url_for("index", _external=True))
    app.add_middleware(ProxyHeadersMiddleware, trusted_hosts="*")
    client = make_client(app)
    forwarded = {"host": "internal:8000", "x-forwarded-host": "example.com"}
    response = client.get("/", headers=forwarded)
    assert response.text == "http://example.com/"  # url_for is unaffected
    evil = {"host": "example.com", "x-forwarded-host": "evil.com"}
    assert client.get("/", headers=evil).status_code == 400


def test_url_for_external_is_unaffected(tmp_path: Path, make_client: Client) -> None:
    client = make_client(site(tmp_path, allowed_hosts=[".example.com"]))
    response = client.get("/url", headers={"host": "shop.example.com:8000"})
    assert response.text == "http://shop.example.com:8000/"


def test_a_request_without_host(interface: str) -> None:
    """A request without Host (HTTP/1.0) is checked with the server's address,
    as ``request.host`` reports it."""

    def call(app: Kettle, server: tuple[str, int] | None) -> int:
        if interface == "wsgi":
            environ: dict[str, Any] = {
                "REQUEST_METHOD": "GET",
                "PATH_INFO": "/",
                "SERVER_NAME": server[0] if server else "",
                "SERVER_PORT": str(server[1]) if server else "",
                "wsgi.url_scheme": "http",
                "wsgi.input": None,
            }
            if not server:
                del environ["SERVER_NAME"]
            statuses: list[str] = []
            app.wsgi(environ, lambda status, headers, exc=None: statuses.append(status))
            return int(statuses[0].split()[0])
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {"type": "http", "method": "GET", "path": "/", "headers": []}
        if server:
            scope["server"] = server
        asyncio.run(app(scope, receive, send))
        return int(sent[0]["status"])

    app = Kettle(env_file=None)
    app.get("/")(lambda: "ok")
    assert call(app, ("127.0.0.1", 8000)) == 200
    assert call(app, None) == 200  # request.host is "localhost"
    assert call(app, ("10.0.0.2", 8000)) == 400
    other = Kettle(env_file=None, allowed_hosts=["example.com"])
    other.get("/")(lambda: "ok")
    assert call(other, ("127.0.0.1", 8000)) == 400


def test_verdicts_are_cached_within_a_bound() -> None:
    gate = HostGate(["example.com"])
    app = Kettle(env_file=None)

    def ask(host: str) -> bool:
        scope = {"type": "http", "path": "/", "headers": [(b"host", host.encode())]}
        return gate.check(Request(app, scope)) is None

    assert ask("example.com") and ask("example.com")
    assert gate._verdicts == {b"example.com": True}
    for number in range(HOST_CACHE_SIZE * 2):
        assert not ask(f"evil{number}.com")
    assert len(gate._verdicts) == HOST_CACHE_SIZE  # no longer grows
    assert ask("example.com")  # remembered
    assert ask("EXAMPLE.com") and not ask("evil.example")  # checked each time
    assert len(gate._verdicts) == HOST_CACHE_SIZE


def test_the_fast_path(interface: str) -> None:
    """Known Host values skip the gate: the ASGI Host pair when it comes first (a
    tuple), the WSGI HTTP_HOST; not when a middleware set the host."""
    app = Kettle(env_file=None, allowed_hosts=[".example.com"])
    app.get("/")(lambda: "ok")
    client = app.test_client(interface=interface)
    for port in range(HOST_CACHE_SIZE + 50):  # allowed, but each one new
        # (An absolute URL: httpx then sends the Host header first.)
        assert client.get(f"http://example.com:{port}/").text == "ok"
    gate = app._host_gate
    assert gate is not None
    assert len(gate.fast_path) == HOST_CACHE_SIZE
    assert len(gate._verdicts) == HOST_CACHE_SIZE
    key = (b"host", b"example.com:0") if interface == "asgi" else "example.com:0"
    assert gate.fast_path[key] is True
    assert client.get("http://evil.com:0/").status_code == 400
    assert (b"host", b"evil.com:0") not in gate.fast_path  # only allowed ones
    assert "evil.com:0" not in gate.fast_path

    # A host a middleware sets is checked each time, known Host header or not.
    proxied = Kettle(env_file=None, allowed_hosts=["example.com"])
    proxied.get("/")(lambda: "ok")
    proxied.add_middleware(ProxyHeadersMiddleware, trusted_hosts="*")
    client = proxied.test_client(interface=interface)
    assert client.get("http://example.com/").text == "ok"
    assert proxied._host_gate is not None and len(proxied._host_gate.fast_path) == 1
    evil = {"x-forwarded-host": "evil.com"}
    assert client.get("http://example.com/", headers=evil).status_code == 400
    good = {"x-forwarded-host": "example.com"}
    assert client.get("http://internal/", headers=good).text == "ok"
    assert len(proxied._host_gate.fast_path) == 1  # not for a forwarded host


@pytest.mark.parametrize(
    "headers",
    [
        [(b"user-agent", b"x"), (b"host", b"example.com")],  # Host not first
        [[b"host", b"example.com"]],  # lists, not tuples
        [],  # no Host: the server's address
    ],
)
def test_the_fast_path_does_not_apply(headers: list[Any]) -> None:
    app = Kettle(env_file=None, allowed_hosts=["example.com"])
    app.get("/")(lambda: "ok")
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    for _ in range(2):
        scope = {
            "type": "http",
            "method": "GET",
            "path": "/",
            "headers": headers,
            "server": ("example.com", 80),
        }
        asyncio.run(app(scope, receive, send))
    assert [m["status"] for m in sent if "status" in m] == [200, 200]
    assert app._host_gate is not None and app._host_gate.fast_path == {}


def test_host_name() -> None:
    assert host_name("Example.COM.:8000") == "example.com"
    assert host_name("[::FFFF:1.2.3.4]:80") == "::ffff:1.2.3.4"
    for bad in ["", ".", "a..b", "[1.2.3.4]", "a b", "a/b", "a:b:c", "a@b", "[::1]x"]:
        assert host_name(bad) is None, bad


def test_websocket_host_check() -> None:
    app = Kettle(env_file=None)

    @app.websocket("/ws")
    async def ws(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text("hi")

    client = app.test_client()
    with client.websocket_connect("/ws") as session:
        assert session.receive_text() == "hi"
    with pytest.raises(WebSocketDisconnect) as info:
        client.websocket_connect("/ws", headers={"host": "evil.com"})
    assert info.value.code == 1008


# -- HTTPS_REDIRECT -------------------------------------------------------------------


def redirect_app(**config: Any) -> Kettle:
    app = Kettle(env_file=None, https_redirect=True, **config)
    app.get("/page")(lambda: "page")
    app.post("/form")(lambda: "posted")
    return app


def test_https_redirect(make_client: Client) -> None:
    client = make_client(redirect_app(), follow_redirects=False)
    response = client.get("/page?a=1&b=%2F")
    assert response.status_code == 301
    assert response.headers["location"] == "https://testserver/page?a=1&b=%2F"
    assert "strict-transport-security" not in response.headers
    assert client.head("/page").status_code == 301
    posted = client.post("/form")
    assert posted.status_code == 308
    assert posted.headers["location"] == "https://testserver/form"
    ported = client.get("/page", headers={"host": "localhost:8080"})
    assert ported.headers["location"] == "https://localhost:8080/page"
    default_port = client.get("/page", headers={"host": "localhost:80"})
    assert default_port.headers["location"] == "https://localhost/page"
    assert client.get("/page", headers={"host": "evil.com"}).status_code == 400
    secure = make_client(redirect_app(), base_url="https://testserver")
    response = secure.get("/page")
    assert (response.status_code, response.text) == (200, "page")
    assert response.headers["strict-transport-security"] == HSTS


def test_https_redirect_keeps_the_root_path(
    make_client: Client, interface: str
) -> None:
    client = make_client(redirect_app(), follow_redirects=False, root_path="/shop")
    # The ASGI client's paths include the root path; WSGI's are below it.
    response = client.get("/shop/page" if interface == "asgi" else "/page")
    assert response.headers["location"] == "https://testserver/shop/page"


def test_https_redirect_behind_a_proxy(make_client: Client) -> None:
    app = redirect_app()
    app.add_middleware(ProxyHeadersMiddleware, trusted_hosts="*")
    client = make_client(app, follow_redirects=False)
    assert client.get("/page", headers={"x-forwarded-proto": "https"}).text == "page"
    assert client.get("/page", headers={"x-forwarded-proto": "http"}).status_code == 301


def test_https_redirect_is_off_in_debug_and_by_default(make_client: Client) -> None:
    assert make_client(redirect_app(debug=True)).get("/page").text == "page"
    app = Kettle(env_file=None)
    app.get("/page")(lambda: "page")
    assert make_client(app).get("/page").text == "page"


def test_https_redirect_with_any_host(make_client: Client) -> None:
    client = make_client(redirect_app(allowed_hosts=["*"]), follow_redirects=False)
    response = client.get("/page", headers={"host": "anything.example"})
    assert response.headers["location"] == "https://anything.example/page"
    assert client.get("/page", headers={"host": "a b"}).status_code == 400


# -- safe redirect targets ------------------------------------------------------------

UNSAFE = [
    None,
    "",
    "//evil.com",
    "//evil.com/path",
    "///evil.com",
    "////evil.com",
    "/\\evil.com",
    "\\\\evil.com",
    "\\/evil.com",
    "/\\/evil.com",
    "https:\\\\evil.com",
    "http://evil.com",
    "https://evil.com/",
    "HTTPS://EVIL.COM",
    "https://testserver.evil.com/",
    "https://evil.com#@testserver",
    "https://testserver@evil.com",
    "https://testserver:pw@evil.com",
    "https://evil.com\\@testserver",
    "http:evil.com",
    "https:/evil.com",
    "https:///evil.com",
    "javascript:alert(1)",
    "JavaScript:alert(1)",
    " javascript:alert(1)",
    "java\tscript:alert(1)",
    "javascript://%0aalert(1)",
    "javascript://testserver/%0aalert(1)",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)",
    "mailto:a@evil.com",
    "ftp://testserver/",
    " //evil.com",
    "\t//evil.com",
    "\n//evil.com",
    "/\t/evil.com",
    "/\n/evil.com",
    "/\r/evil.com",
    "\x00//evil.com",
    "\x7f//evil.com",
    "\x85//evil.com",
    "\u3000//evil.com",
    "\ufeff//evil.com",
    "http://[::1",
    "http://testserver:99999/",
]
SAFE = [
    "/",
    "/account",
    "/a/b?c=d&e=//evil.com#f",
    "account/settings",
    "?page=2",
    "#top",
    "/%2F/evil.com",  # a path: browsers do not decode it
    "/evil.com",
    "//testserver/page",
    "https://testserver/page",
    "HTTPS://TESTSERVER/page",
    "/caf\u00e9",
]


@pytest.mark.parametrize("url", UNSAFE)
def test_unsafe_urls(url: str | None) -> None:
    assert not is_safe_url(url, "testserver")
    assert not is_safe_url(url, "testserver", allowed_hosts=["testserver"])


@pytest.mark.parametrize("url", SAFE)
def test_safe_urls(url: str) -> None:
    assert is_safe_url(url, "testserver")


def test_is_safe_url_options() -> None:
    assert not is_safe_url("https://cdn.example/x", "testserver")
    assert is_safe_url(
        "https://cdn.example/x", "testserver", allowed_hosts=["CDN.example"]
    )
    assert is_safe_url("https://cdn.example/x", allowed_hosts=["cdn.example"])
    assert is_safe_url("http://testserver/", "testserver")
    assert not is_safe_url("http://testserver/", "testserver", require_https=True)
    assert is_safe_url("https://testserver/", "testserver", require_https=True)
    assert is_safe_url("//testserver/", "testserver", require_https=True)
    assert not is_safe_url("https://testserver:8000/", "testserver")
    assert is_safe_url("https://testserver:8000/", "testserver:8000")
    assert not is_safe_url("https://testserver/")  # no host: absolute URLs refused
    assert is_safe_url("/ok")
    assert not is_safe_url(b"/ok")  # type: ignore[arg-type]


def next_app() -> Kettle:
    app = Kettle(env_file=None, allowed_hosts=[".example.com", "testserver"])

    @app.get("/go")
    def go(request: Request) -> str:
        return safe_next(request)

    @app.post("/login")
    def login(request: Request) -> str:
        return safe_next(request, "/home")

    @app.post("/async-login")
    async def async_login(request: Request) -> str:
        await request.form()
        return safe_next(request, "/home")

    @app.post("/async-unread")
    async def async_unread(request: Request) -> str:
        return safe_next(request, "/home")

    return app


def test_safe_next(make_client: Client) -> None:
    client = make_client(next_app())
    assert client.get("/go", params={"next": "/account"}).text == "/account"
    assert client.get("/go", params={"next": "//evil.com"}).text == "/"
    assert client.get("/go", params={"next": "javascript:alert(1)"}).text == "/"
    assert client.get("/go").text == "/"
    assert client.get("/go", params={"next": "https://testserver/x"}).text == (
        "https://testserver/x"
    )
    # Another allowed host is not the request's: refused.
    assert client.get("/go", params={"next": "https://a.example.com/"}).text == "/"
    assert client.post("/login", data={"next": "/cart"}).text == "/cart"
    assert client.post("/login", data={"next": "https://evil.com"}).text == "/home"
    assert client.post("/login?next=/q", data={"next": "/form"}).text == "/q"
    assert client.post("/login", json={"next": "/cart"}).text == "/home"
    assert client.post("/async-login", data={"next": "/cart"}).text == "/cart"
    assert client.post("/async-unread", data={"next": "/cart"}).text in (
        "/cart",  # WSGI: the form is read
        "/home",  # ASGI: not read from async code
    )


def test_safe_next_over_https(make_client: Client) -> None:
    client = make_client(next_app(), base_url="https://testserver")
    assert client.get("/go", params={"next": "http://testserver/x"}).text == "/"
    assert client.get("/go", params={"next": "https://testserver/x"}).text == (
        "https://testserver/x"
    )


# -- kettle check ---------------------------------------------------------------------


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    for key in [k for k in os.environ if k.startswith("KETTLE_")]:
        monkeypatch.delenv(key)
    before = set(sys.modules)
    yield tmp_path
    for name in set(sys.modules) - before:
        del sys.modules[name]


def write_app(folder: Path, settings: str = "") -> None:
    """Write app.py with ``Kettle(<settings>)``; the next command imports it anew."""
    source = textwrap.dedent(
        """
        from kettle import Kettle

        app = Kettle(
        {settings}
        )

        @app.get("/")
        def index():
            return "hi"
        """
    ).format(settings=textwrap.indent(textwrap.dedent(settings).strip(), "    "))
    (folder / "app.py").write_text(source)
    sys.modules.pop("app", None)
    importlib.invalidate_caches()


def run_check(*args: str) -> Any:
    from kettle.cli import cli

    return CliRunner().invoke(cli, ["check", *args], catch_exceptions=False)


SECURE = f"""
    secret_key={STRONG_KEY!r},
    allowed_hosts=["example.com"],
    session_cookie_secure=True,
    cookie_secure=True,
    https_redirect=True,
"""


def test_check_deploy_lists_the_insecure_settings(project: Path) -> None:
    write_app(project, "debug=True")
    result = run_check("--deploy")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    ids = [line.split(":")[0] for line in lines]
    assert ids == [
        "security.W001",  # DEBUG
        "security.W002",  # SECRET_KEY missing
        "security.W004",  # ALLOWED_HOSTS empty
        "security.W006",  # SESSION_COOKIE_SECURE
        "security.W007",  # COOKIE_SECURE
        "security.W011",  # HTTPS_REDIRECT
    ]
    assert all(" Fix: " in line for line in lines)
    assert "6 issues found." in result.stderr


def test_check_deploy_every_warning(project: Path) -> None:
    write_app(
        project,
        """
        secret_key="dev-" + "x" * 60,
        secret_key_fallbacks=["short", "k" * 60, STRONG],
        allowed_hosts=["*"],
        csrf_enabled=False,
        hsts_seconds=0,
        csp=None,
        x_frame_options=None,
        content_type_nosniff=False,
        """.replace("STRONG", repr(STRONG_KEY)),
    )
    result = run_check("--deploy")
    assert result.exit_code == 1
    out = result.stdout
    for expected in [
        "security.W002: SECRET_KEY starts with 'dev'",
        "security.W003: SECRET_KEY_FALLBACKS[0] is 5 characters long",
        "security.W003: SECRET_KEY_FALLBACKS[1] has 1 distinct characters",
        "security.W005: ALLOWED_HOSTS contains '*'",
        "security.W008: CSRF_ENABLED is False",
        "security.W010: HSTS_SECONDS is 0",
        "security.W012: CSP is None",
        "security.W014: X_FRAME_OPTIONS is None",
        "security.W015: CONTENT_TYPE_NOSNIFF is False",
    ]:
        assert expected in out, expected
    assert "SECRET_KEY_FALLBACKS[2]" not in out
    write_app(project, SECURE + "security_headers=False, csp_report_only=True")
    result = run_check("--deploy")
    assert result.stdout.startswith("security.W009: SECURITY_HEADERS is False")
    assert "W013" not in result.stdout  # headers are off: nothing more to say


def test_check_deploy_report_only(project: Path) -> None:
    write_app(project, SECURE + "csp_report_only=True")
    result = run_check("--deploy")
    assert result.exit_code == 1
    assert result.stdout.startswith("security.W013: CSP_REPORT_ONLY is True")


def test_check_deploy_passes(project: Path) -> None:
    write_app(project, SECURE)
    result = run_check("--deploy")
    assert (result.exit_code, result.stdout) == (0, "No issues found.\n")


def test_check_without_deploy(project: Path) -> None:
    write_app(project, "debug=True")
    result = run_check()
    assert (result.exit_code, result.stdout) == (0, "No issues found.\n")
    write_app(project, "x_frame_options='ALLOWALL'")
    result = run_check("app:app")
    assert result.exit_code == 1
    assert result.stdout.startswith("kettle.E001: The app cannot start: setting")
    assert "X_FRAME_OPTIONS" in result.stdout


def test_check_registry(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_relay(app: Kettle) -> list[Issue]:
        if not app.config.get("EXAMPLE_RELAY"):
            return [Issue("relay.W001", "EXAMPLE_RELAY is not set.", "set it.")]
        return []

    monkeypatch.setattr("kettle.security.DEPLOY_CHECKS", [*DEPLOY_CHECKS, no_relay])
    write_app(project, SECURE)
    result = run_check("--deploy")
    assert result.exit_code == 1
    assert result.stdout == "relay.W001: EXAMPLE_RELAY is not set. Fix: set it.\n"


@pytest.mark.parametrize(
    ("key", "weak"),
    [
        (None, True),
        ("", True),
        ("x" * 49, True),
        ("ab" * 30, True),
        ("change-me-" + STRONG_KEY, True),
        ("Insecure" + STRONG_KEY, True),
        (STRONG_KEY, False),
        (STRONG_KEY.encode(), False),
    ],
)
def test_weak_secret(key: Any, weak: bool) -> None:
    assert (weak_secret(key) is not None) == weak


# -- in a browser ----------------------------------------------------------------------

BROWSER_APP = """
from kettle import Kettle
from kettle.templating import render

app = Kettle()


@app.get("/")
def page():
    return render("page.html")
"""

BROWSER_PAGE = """<!doctype html>
<html><head><title>csp</title>
<style nonce="{{ csp_nonce }}">body { color: rgb(0, 128, 128) }</style>
<style>body { background: rgb(255, 0, 0) }</style>
</head><body>
<script nonce="{{ csp_nonce }}">document.body.dataset.nonced = "ran";</script>
<script>document.body.dataset.plain = "ran";</script>
</body></html>
"""


def test_the_nonce_in_chromium(tmp_path: Path) -> None:
    """Under the default policy, in a real browser (Chromium, headless), the
    inline script and style with the nonce apply; those without do not."""
    import shutil

    playwright_api = pytest.importorskip("playwright.sync_api")
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    if not os.path.exists(chromium):
        pytest.skip("chromium is not installed")
    from served import serve

    (tmp_path / "app.py").write_text(BROWSER_APP)
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "page.html").write_text(BROWSER_PAGE)
    env = {"KETTLE_SECRET_KEY": STRONG_KEY}
    with (
        serve(tmp_path, "app:app", tmp_path / "server.log", env) as url,
        playwright_api.sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch(executable_path=chromium, headless=True)
        try:
            page = browser.new_page()
            response = page.goto(url + "/")
            assert response is not None and response.status == 200
            assert page.evaluate("document.body.dataset.nonced") == "ran"
            assert page.evaluate("document.body.dataset.plain") is None
            style = "getComputedStyle(document.body)"
            assert page.evaluate(f"{style}.color") == "rgb(0, 128, 128)"
            assert page.evaluate(f"{style}.backgroundColor") == "rgba(0, 0, 0, 0)"
        finally:
            browser.close()
