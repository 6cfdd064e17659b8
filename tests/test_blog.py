"""examples/blog (Flaskr in Kettle): every page and rule, through ASGI and WSGI,
on a fresh SQLite database each test."""

from __future__ import annotations

import re
from types import ModuleType

import pytest

from kettle.testing import TestClient
from payloads import INJECTIONS
from test_examples import load

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture(scope="module")
def blog_module(tmp_path_factory) -> ModuleType:
    """The example, imported once (its models join Kettle's metadata once)."""
    instance = tmp_path_factory.mktemp("blog")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BLOG_INSTANCE", str(instance))
        patch.setenv("KETTLE_SECRET_KEY", "blog-test-key-0123456789abcdef")
        patch.delenv("KETTLE_DATABASE_URL", raising=False)
        from kettle.auth import hashers

        hashers.set_test_parameters()
        return load("blog")


@pytest.fixture
def blog(blog_module) -> ModuleType:
    """The example on empty tables and no uploads."""
    from kettle.db import get_database

    db = get_database(blog_module.app)
    db.drop_all()
    db.create_all()
    if blog_module.UPLOADS.exists():
        for path in blog_module.UPLOADS.iterdir():
            path.unlink()
    return blog_module


@pytest.fixture(params=["asgi", "wsgi"])
def browser(blog, request):
    """A client checked for CSRF as a browser is, which keeps the last page's
    token."""
    with TestClient(
        blog.app, interface=request.param, enforce_csrf_checks=True
    ) as client:
        yield Browser(client)


class Browser:
    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.token = ""

    def get(self, path: str, **kwargs):
        response = self.client.get(path, **kwargs)
        found = re.search(r'name="csrf_token" value="([^"]+)"', response.text)
        if found:
            self.token = found.group(1)
        return response

    def post(self, path: str, data=None, **kwargs):
        self.get(path if not path.endswith("/delete") else "/")
        return self.client.post(
            path, data={**(data or {}), "csrf_token": self.token}, **kwargs
        )

    def register_and_login(self, name: str = "ann", password: str = "secret"):
        self.post("/auth/register", {"username": name, "password": password})
        return self.post("/auth/login", {"username": name, "password": password})


def flashes(response) -> list[str]:
    return re.findall(
        r'<div class="flash[^"]*" role="alert">([^<]*)</div>', response.text
    )


def test_register_log_in_and_out(browser):
    page = browser.get("/auth/register")
    assert 'name="username"' in page.text and 'name="password"' in page.text
    done = browser.post(
        "/auth/register", {"username": "ann", "password": "pw"}, follow_redirects=False
    )
    assert (done.status_code, done.headers["location"]) == (302, "/auth/login")
    for data, message in [
        ({"username": "", "password": "x"}, "Username is required."),
        ({"username": "bob", "password": ""}, "Password is required."),
        ({"username": "ann", "password": "x"}, "User ann is already registered."),
    ]:
        assert flashes(browser.post("/auth/register", data)) == [message]
    for data, message in [
        ({"username": "nobody", "password": "pw"}, "Incorrect username or password."),
        ({"username": "ann", "password": "wrong"}, "Incorrect username or password."),
    ]:
        assert flashes(browser.post("/auth/login", data)) == [message]
    home = browser.post("/auth/login", {"username": "ann", "password": "pw"})
    assert "<span>ann</span>" in home.text and "Log Out" in home.text
    out = browser.get("/auth/logout")
    assert "Log In" in out.text and "<span>ann</span>" not in out.text


def test_write_edit_and_delete_a_post(browser, blog):
    browser.register_and_login()
    assert flashes(browser.post("/create", {"title": "", "body": "x"})) == [
        "Title is required."
    ]
    browser.post("/create", {"title": "First <post>", "body": "Hello\nworld"})
    with_picture = browser.client.post(
        "/create",
        data={"title": "Pictured", "body": "", "csrf_token": browser.token},
        files={"image": ("cat.png", PNG, "image/png")},
    )
    page = with_picture.text
    assert "<h1>First &lt;post&gt;</h1>" in page and "by ann on" in page
    picture = re.search(r'<img src="(/uploads/[0-9a-f]{32}\.png)"', page).group(1)
    assert browser.client.get(picture).content == PNG
    assert len(list(blog.UPLOADS.iterdir())) == 1
    fake = browser.client.post(
        "/create",
        data={"title": "Fake", "csrf_token": browser.token},
        files={"image": ("x.png", b"<svg onload=alert(1)>", "image/png")},
    )
    assert flashes(fake) == ["Picture: The file is not the image/png it says."]
    edit = browser.get("/1/update")
    assert 'value="First &lt;post&gt;"' in edit.text
    browser.post("/1/update", {"title": "First, edited", "body": "Hi"})
    assert "<h1>First, edited</h1>" in browser.get("/").text
    gone = browser.post("/1/delete", follow_redirects=False)
    assert gone.status_code == 302
    assert "First, edited" not in browser.get("/").text
    assert browser.client.get("/1/update").status_code == 404


def test_only_the_author_edits(browser):
    browser.register_and_login("ann")
    browser.post("/create", {"title": "Anns post", "body": ""})
    browser.get("/auth/logout")
    browser.register_and_login("bob")
    assert "Edit" not in browser.get("/").text.split("Anns post")[1]
    assert browser.client.get("/1/update").status_code == 403
    assert browser.post("/1/update", {"title": "Bobs post"}).status_code == 403
    assert browser.post("/1/delete").status_code == 403
    browser.get("/auth/logout")
    anonymous = browser.client.get(
        "/create", headers={"accept": "text/html"}, follow_redirects=False
    )
    assert (anonymous.status_code, anonymous.headers["location"]) == (
        303,
        "/auth/login?next=%2Fcreate",
    )
    assert browser.client.post("/1/delete").status_code == 401  # not a page


def test_forms_are_checked_for_csrf(browser):
    browser.register_and_login()
    client = browser.client
    assert client.post("/create", data={"title": "No token"}).status_code == 403
    forged = client.post(
        "/create",
        data={"title": "Forged", "csrf_token": browser.token},
        headers={"origin": "https://evil.example"},
    )
    assert forged.status_code == 403
    assert "No token" not in browser.get("/").text


def titles(response) -> list[str]:
    return re.findall(r"<h1>([^<]*)</h1>\s*<div class=\"about\">", response.text)


def test_search_finds_posts_and_reads_its_input_as_text(browser):
    browser.register_and_login()
    browser.post("/create", {"title": "Kettle 100% fast", "body": "snake_case"})
    browser.post("/create", {"title": "Other", "body": "nothing here"})
    assert browser.get("/search").status_code == 200
    assert titles(browser.get("/search?q=kettle")) == ["Kettle 100% fast"]
    assert titles(browser.get("/search", params={"q": "HERE"})) == ["Other"]
    # LIKE's wildcards are matched literally
    assert titles(browser.get("/search", params={"q": "%"})) == ["Kettle 100% fast"]
    assert titles(browser.get("/search", params={"q": "_"})) == ["Kettle 100% fast"]
    for payload in [
        "' OR '1'='1",
        "' OR 1=1 --",
        "%' OR 1=1 --",
        "x' UNION SELECT password, 1 FROM auth_user --",
        "\\",
        "'; DROP TABLE post; --",
    ]:
        page = browser.get("/search", params={"q": payload})
        assert page.status_code == 200, payload
        assert titles(page) == [], payload
        assert "0 posts found" in page.text
    assert len(titles(browser.get("/"))) == 2  # nothing dropped


def test_injection_strings_register_as_literal_names(browser, blog):
    """Each payload becomes exactly that user name, and no other row changes."""
    from markupsafe import escape
    from sqlalchemy import select

    from kettle.auth import User
    from kettle.db import get_database

    for payload in INJECTIONS:
        page = browser.post("/auth/register", {"username": payload, "password": "pw"})
        assert page.status_code == 200, payload
        assert flashes(page) == [], (payload, flashes(page))
        login = browser.post("/auth/login", {"username": payload, "password": "pw"})
        # logged in as exactly that name, shown escaped
        assert f"<span>{escape(payload)}</span>" in login.text, payload
        browser.get("/auth/logout")
    with get_database(blog.app).session() as db:
        names = db.scalars(select(User.username)).all()
    assert sorted(names) == sorted(INJECTIONS)
