"""CSRF protection (``kettle.csrf``): every unsafe method is checked (Origin or
Referer, and a session token when the request carries cookies), with clear 403s."""

from __future__ import annotations

import re

import pytest

from kettle import Kettle
from kettle import Request
from kettle import session
from kettle.csrf import csrf_exempt
from kettle.csrf import csrf_token

KEY = "csrf-test-key-0123456789abcdef0123"
FORM = '<form method="post">{{ csrf_input() }}</form>'


@pytest.fixture
def site(tmp_path):
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "form.html").write_text(FORM)
    app = Kettle(env_file=None, SECRET_KEY=KEY)
    app.root_path = str(tmp_path)
    from kettle.templating import render

    @app.get("/form")
    def form():
        session["user"] = "ann"  # a logged-in browser: it has a cookie
        return render("form.html")

    @app.get("/token")
    def token():
        return {"token": csrf_token()}

    @app.post("/save")
    def save():
        return {"saved": True}

    @app.post("/asave")
    async def asave():
        return {"saved": True}

    @app.put("/items/{item_id:int}")
    def put_item(item_id: int):
        return {"put": item_id}

    @app.post("/raw")
    async def raw(request: Request):
        return {"raw": len(await request.body()), "form": (await request.form())["a"]}

    @app.post("/login")
    def login():
        session.rotate()
        return {"ok": True}

    @app.post("/hook")
    @csrf_exempt
    def hook():
        return {"hooked": True}

    return app


@pytest.fixture
def browser(site, make_client):
    """A client that is checked as a browser is, holding a session."""
    client = make_client(site, enforce_csrf_checks=True)
    page = client.get("/form").text
    client.token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    return client


def test_a_form_with_its_token_is_accepted(browser):
    for path in ("/save", "/asave"):
        response = browser.post(path, data={"csrf_token": browser.token})
        assert response.status_code == 200, response.text
        assert response.json() == {"saved": True}
    multipart = browser.post(
        "/save",
        data={"csrf_token": browser.token},
        files={"f": ("a.txt", b"x", "text/plain")},
    )
    assert multipart.status_code == 200
    header = browser.put("/items/3", headers={"X-CSRF-Token": browser.token})
    assert header.json() == {"put": 3}


def test_refused_without_a_token(browser):
    for path in ("/save", "/asave"):
        response = browser.post(path, data={"name": "x"})
        assert response.status_code == 403
        assert "token is missing" in response.text
    assert browser.post("/save", json={"a": 1}).status_code == 403
    assert browser.delete("/save").status_code in (403, 405)


def test_refused_with_a_wrong_token(browser, site, make_client):
    token = browser.token
    # Change one character in the middle, where all six bits count (the last
    # characters of unpadded base64 carry bits a decoder may ignore).
    flipped = token[:10] + ("B" if token[10] == "A" else "A") + token[11:]
    for wrong in ("x", flipped, "A" * 86, token + "A"):
        response = browser.post("/save", data={"csrf_token": wrong})
        assert response.status_code == 403, wrong
        assert "wrong" in response.text
    other = make_client(site, enforce_csrf_checks=True)
    other.get("/form")
    stolen = other.post("/save", data={"csrf_token": browser.token})
    assert stolen.status_code == 403  # another session's token


def test_tokens_differ_on_each_page_and_all_pass(browser):
    tokens = {browser.get("/token").json()["token"] for _ in range(3)}
    assert len(tokens) == 3  # masked afresh each time
    for token in tokens:
        assert browser.post("/save", headers={"x-csrf-token": token}).status_code == 200


def test_refused_from_a_foreign_origin(browser):
    token = {"csrf_token": browser.token}
    for origin in ("https://evil.example", "null", "http://testserver.evil.example"):
        response = browser.post("/save", data=token, headers={"origin": origin})
        assert response.status_code == 403, origin
        assert "not this site" in response.text
    referer = browser.post(
        "/save", data=token, headers={"referer": "https://evil.example/page"}
    )
    assert referer.status_code == 403
    same = browser.post("/save", data=token, headers={"origin": "http://testserver"})
    assert same.status_code == 200
    same_referer = browser.post(
        "/save", data=token, headers={"referer": "http://testserver/form"}
    )
    assert same_referer.status_code == 200


def test_a_foreign_origin_is_refused_even_without_cookies(site, make_client):
    client = make_client(site, enforce_csrf_checks=True)
    forged = client.post("/save", headers={"origin": "https://evil.example"})
    assert forged.status_code == 403  # a forged login: no session yet
    api = client.post("/save", json={"a": 1})  # no cookie, no Origin: no browser
    assert api.status_code == 200
    form_post = client.post(
        "/save", data={"a": "1"}, headers={"origin": "https://evil.example"}
    )
    assert form_post.status_code == 403
    # JSON from another site's page: the browser asks first (CORS preflight), so
    # without cookies it is CORS's to allow, not CSRF's
    cross = client.post(
        "/save", json={"a": 1}, headers={"origin": "https://spa.example"}
    )
    assert cross.status_code == 200
    # So is a bodiless POST carrying a token the page's code set...
    for scheme in ("Bearer", "Token"):
        token = client.post(
            "/save",
            headers={"origin": "https://spa.example", "authorization": f"{scheme} t"},
        )
        assert token.status_code == 200, scheme
    # ...but not credentials a browser adds by itself, nor anything with cookies.
    ambient = client.post(
        "/save",
        headers={"origin": "https://evil.example", "authorization": "Basic dTpw"},
    )
    assert ambient.status_code == 403
    client.cookies.set("session", "x")
    with_cookie = client.post(
        "/save",
        headers={"origin": "https://evil.example", "authorization": "Bearer t"},
    )
    assert with_cookie.status_code == 403


def test_trusted_origins(tmp_path, make_client):
    app = Kettle(
        env_file=None, SECRET_KEY=KEY, CSRF_TRUSTED_ORIGINS=["https://app.example"]
    )

    @app.post("/save")
    def save():
        return {"ok": True}

    client = make_client(app, enforce_csrf_checks=True)
    ok = client.post("/save", headers={"origin": "https://app.example"})
    assert ok.status_code == 200
    assert (
        client.post("/save", headers={"origin": "https://b.example"}).status_code == 403
    )


def test_exempt_routes_and_the_switch(browser, make_client):
    assert browser.post("/hook").json() == {"hooked": True}
    app = Kettle(env_file=None, SECRET_KEY=KEY, CSRF_ENABLED=False)

    @app.post("/save")
    def save():
        return {"ok": True}

    client = make_client(app, enforce_csrf_checks=True)
    client.cookies.set("any", "cookie")
    assert client.post("/save", headers={"origin": "https://evil.example"}).json() == {
        "ok": True
    }


def test_rotating_the_session_retires_the_token(browser):
    assert browser.post("/login", data={"csrf_token": browser.token}).status_code == 200
    old = browser.post("/save", data={"csrf_token": browser.token})
    assert old.status_code == 403


def test_the_403_says_why_in_json_too(browser):
    response = browser.post("/save", headers={"accept": "application/json"})
    assert response.status_code == 403
    assert "CSRF check failed: the token is missing" in response.json()["detail"]


def test_the_test_client_passes_unless_asked(site, make_client):
    client = make_client(site)
    client.get("/form")  # a session cookie
    assert client.post("/save").status_code == 200


def test_the_checked_form_body_can_still_be_read_raw(site, make_client):
    client = make_client(site, enforce_csrf_checks=True)
    page = client.get("/form").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post("/raw", data={"a": "1", "csrf_token": token})
    assert response.json() == {"raw": len(f"a=1&csrf_token={token}"), "form": "1"}


def test_a_default_port_is_the_same_origin(make_client):
    app = Kettle(env_file=None, SECRET_KEY=KEY, allowed_hosts=["example.com"])

    @app.post("/save")
    def save():
        return {"ok": True}

    client = make_client(app, enforce_csrf_checks=True, base_url="https://example.com")
    for host, origin in [
        ("example.com:443", "https://example.com"),
        ("example.com", "https://example.com:443"),
    ]:
        response = client.post("/save", headers={"host": host, "origin": origin})
        assert response.status_code == 200, (host, origin)
