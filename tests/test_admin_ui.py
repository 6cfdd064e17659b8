"""The admin's look and feel without a browser: the theme switch (a cookie set
by a plain form), htmx shipped in the package, the list page's htmx attributes
next to the controls that work without JavaScript."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import ForeignKey
from sqlalchemy import String
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

import kettle.admin
from kettle import Kettle
from kettle.admin import Admin
from kettle.admin import ModelAdmin
from kettle.auth import User
from kettle.auth import hashers
from kettle.db import Model
from kettle.db import get_database
from kettle.testing import TestClient

hashers.set_test_parameters()
SECRET = "admin-ui-tests-secret-key-0123456789abcdefghijklmn"
VENDOR = Path(kettle.admin.__file__).parent / "static" / "admin" / "vendor"


class UiShelf(Model):
    __tablename__ = "ui_shelf"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))

    def __str__(self) -> str:
        return self.name


class UiItem(Model):
    __tablename__ = "ui_item"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    lent: Mapped[bool] = mapped_column(default=False)
    shelf_id: Mapped[int] = mapped_column(ForeignKey("ui_shelf.id"))
    shelf: Mapped[UiShelf] = relationship()

    def __str__(self) -> str:
        return self.title


class ItemAdmin(ModelAdmin):
    list_display = ["title", "shelf", "lent"]
    search_fields = ["title"]
    list_filter = ["lent", "shelf"]
    ordering = ["title"]
    per_page = 2


def make_site(path: Path) -> Kettle:
    app = Kettle(
        SECRET_KEY=SECRET, DATABASE_URL=f"sqlite:///{path}", RATELIMIT_ENABLED=False
    )
    admin = Admin(app)
    admin.register(UiShelf, search_fields=["name"])
    admin.register(UiItem, ItemAdmin)
    db = get_database(app)
    db.create_all()
    with db.session() as s:
        s.add(
            User(
                username="boss",
                password="boss password",
                is_staff=True,
                is_superuser=True,
            )
        )
        shelf = UiShelf(name="Top")
        s.add_all([UiItem(title=f"Item {n}", shelf=shelf) for n in range(3)])
        s.commit()
    return app


@pytest.fixture
def site(tmp_path):
    app = make_site(tmp_path / "ui.db")
    yield app
    get_database(app).dispose()


def log_in(client, name="boss"):
    done = client.post(
        "/auth/login", data={"username": name, "password": f"{name} password"}
    )
    assert done.status_code == 303, done.text


def test_the_theme_is_chosen_with_a_form_and_kept_in_a_cookie(site, make_client):
    client = make_client(site, follow_redirects=False)
    log_in(client)
    page = client.get("/admin/ui_item/?q=Item").text
    assert '<html lang="en" data-theme="auto">' in page
    assert '<meta name="color-scheme" content="light dark">' in page
    form = re.search(
        r'<form class="theme" method="post" action="/admin/theme">.*?</form>',
        page,
        re.S,
    )[0]
    assert 'name="csrf_token"' in form
    assert '<input type="hidden" name="next" value="/admin/ui_item/?q=Item">' in form
    for label in ("Auto", "Light", "Dark"):  # buttons named by their text
        assert re.search(
            rf'<button type="submit" name="theme" value="{label.lower()}" aria-pressed="[a-z]+"[^>]*>{label}</button>',
            form,
        )
    assert 'value="auto" aria-pressed="true"' in form

    done = client.post(
        "/admin/theme", data={"theme": "dark", "next": "/admin/ui_item/?q=Item"}
    )
    assert done.status_code == 303
    assert done.headers["location"] == "/admin/ui_item/?q=Item"
    cookie = done.headers["set-cookie"]
    assert cookie.startswith("kettle_admin_theme=dark;")
    assert "Path=/admin;" in cookie or cookie.endswith("Path=/admin")
    assert "SameSite=Lax" in cookie and "Max-Age=34560000" in cookie

    page = client.get("/admin/ui_item/?q=Item").text
    assert '<html lang="en" data-theme="dark">' in page
    assert '<meta name="color-scheme" content="dark">' in page
    assert 'value="dark" aria-pressed="true"' in page
    assert 'value="auto" aria-pressed="false"' in page

    assert (
        client.post("/admin/theme", data={"theme": "light"}).headers["location"]
        == "/admin/"
    )
    assert 'data-theme="light"' in client.get("/admin/").text

    back = client.post("/admin/theme", data={"theme": "auto"})  # forgets the choice
    assert back.status_code == 303
    assert back.headers["set-cookie"].startswith(
        'kettle_admin_theme="";'
    ) or back.headers["set-cookie"].startswith("kettle_admin_theme=;")
    assert 'data-theme="auto"' in client.get("/admin/").text


def test_a_cookie_of_another_value_is_the_automatic_theme(site, make_client):
    client = make_client(site, follow_redirects=False)
    log_in(client)
    client.cookies.set("kettle_admin_theme", '"><script>x</script>', path="/admin")
    page = client.get("/admin/").text
    assert '<html lang="en" data-theme="auto">' in page
    assert "<script>x" not in page


@pytest.mark.parametrize("value", ["blue", "", "DARK", "dark "])
def test_a_theme_that_is_not_offered_is_a_400(site, make_client, value):
    client = make_client(site, follow_redirects=False)
    log_in(client)
    refused = client.post("/admin/theme", data={"theme": value})
    assert refused.status_code == 400
    assert "The theme is one of auto, light or dark." in refused.text
    assert "set-cookie" not in refused.headers
    assert client.post("/admin/theme", data={}).status_code == 400


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example",
        "https://evil.example/admin/",
        "/\\evil.example",
        "javascript:alert(1)",
    ],
)
def test_the_theme_goes_back_to_pages_of_this_site_only(site, make_client, target):
    client = make_client(site, follow_redirects=False)
    log_in(client)
    done = client.post("/admin/theme", data={"theme": "dark", "next": target})
    assert done.status_code == 303
    assert done.headers["location"] == "/admin/"
    query = client.post(f"/admin/theme?next={target}", data={"theme": "dark"})
    assert query.headers["location"] == "/admin/"


def test_the_theme_form_needs_its_csrf_token(tmp_path):
    app = make_site(tmp_path / "csrf.db")
    try:
        with TestClient(
            app, enforce_csrf_checks=True, follow_redirects=False
        ) as client:
            page = client.get("/auth/login").text
            token = re.search(r'name="csrf_token" value="([^"]+)"', page)[1]
            client.post(
                "/auth/login",
                data={
                    "username": "boss",
                    "password": "boss password",
                    "csrf_token": token,
                },
            )
            page = client.get("/admin/").text
            token = re.search(r'name="csrf_token" value="([^"]+)"', page)[1]
            refused = client.post("/admin/theme", data={"theme": "dark"})
            assert refused.status_code == 403
            assert "set-cookie" not in refused.headers
            done = client.post(
                "/admin/theme", data={"theme": "dark", "csrf_token": token}
            )
            assert done.status_code == 303
            assert 'data-theme="dark"' in client.get("/admin/").text
    finally:
        get_database(app).dispose()


def test_htmx_is_shipped_in_the_package_and_served_with_a_long_cache(site, make_client):
    client = make_client(site, follow_redirects=False)
    log_in(client)
    page = client.get("/admin/ui_item/").text
    src = re.search(
        r'<script src="(/static/admin/vendor/htmx\.min\.[0-9a-f]{12}\.js)" defer>', page
    )[1]
    served = client.get(src)
    assert served.status_code == 200
    assert served.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert "javascript" in served.headers["content-type"]
    assert served.content == (VENDOR / "htmx.min.js").read_bytes()
    assert b'version:"2.' in served.content
    assert client.get("/static/admin/vendor/htmx.LICENSE").status_code == 200
    assert "Zero-Clause BSD" in (VENDOR / "htmx.LICENSE").read_text()
    # htmx is configured for the CSP: no inline styles, no eval, no scripts
    # from swapped content; history is refetched rather than kept in storage
    config = re.search(r"<meta name=\"htmx-config\" content='([^']+)'>", page)[1]
    import json

    assert json.loads(config) == {
        "includeIndicatorStyles": False,
        "allowEval": False,
        "allowScriptTags": False,
        "historyCacheSize": 0,
        "refreshOnHistoryMiss": True,
    }
    # only the list page loads it
    assert "htmx" not in client.get("/admin/").text
    assert "htmx" not in client.get("/admin/ui_item/add").text


def test_the_list_swaps_its_results_with_htmx_and_works_without_it(site, make_client):
    client = make_client(site, follow_redirects=False)
    log_in(client)
    page = client.get("/admin/ui_item/?o=title").text
    listing = re.search(r'<div class="listing"[^>]*>', page)[0]
    for attr in (
        'hx-target="#results"',
        'hx-select="#results"',
        'hx-swap="outerHTML"',
        'hx-push-url="true"',
    ):
        assert attr in listing
    search = re.search(r'<input type="search" id="q"[^>]*>', page)[0]
    assert 'hx-get="/admin/ui_item/"' in search
    assert 'hx-trigger="input changed delay:300ms, search"' in search
    tools = re.search(
        r'<form class="tools" method="get" action="/admin/ui_item/"[^>]*>', page
    )[0]
    assert 'hx-get="/admin/ui_item/"' in tools and 'hx-include="closest form"' in tools
    assert '<select id="f-lent" name="f.lent" hx-get="/admin/ui_item/">' in page
    # without JavaScript: the form's Apply button, plain links, the bulk form
    assert '<button type="submit">Apply</button>' in page
    assert '<input type="hidden" name="o" value="title">' in page
    # the results region: the count, the table (in the bulk form) and the pages
    results = page[page.index('<div id="results">') :]
    assert (
        results.index("<caption")
        < results.index('name="ids"')
        < results.index('aria-label="Pages"')
    )
    assert '<form method="post" action="/admin/ui_item/action">' in results
    assert '<thead hx-boost="true">' in results
    assert '<nav class="pages" aria-label="Pages" hx-boost="true">' in results
    assert (
        '<a id="page-next" href="/admin/ui_item/?o=title&amp;page=2" rel="next">Next</a>'
        in results
    )
    assert '<span aria-current="page">Page 1 of 2</span>' in results
    # sorting: the state is announced, and a link sorts the other way
    assert '<th scope="col" aria-sort="ascending">' in results
    assert 'href="/admin/ui_item/?o=-title"' in results
    # "select all": hidden until admin.js shows it
    assert re.search(
        r'<input type="checkbox" class="select-all" aria-label="Select all rows on this page" hidden>',
        results,
    )
    # htmx asks for the same page: the server needs no second template
    swapped = client.get(
        "/admin/ui_item/?q=Item+2", headers={"hx-request": "true"}
    ).text
    assert '<div id="results">' in swapped and "1 UiItem record<" in swapped


def test_keyboard_and_screen_reader_aids(site, make_client):
    client = make_client(site, follow_redirects=False)
    log_in(client)
    page = client.get("/admin/ui_item/").text
    body = page[page.index("<body>") :]
    # the skip link comes first, and its target takes the focus
    assert re.match(
        r'<body>\s*<a class="skip" href="#main">Skip to the content</a>', body
    )
    assert '<main id="main" tabindex="-1">' in body
    assert (
        '<span class="theme-choices" role="group" aria-labelledby="theme-label">'
        in body
    )
    assert (
        '<nav class="crumbs" aria-label="Breadcrumbs"><a href="/admin/">Dashboard</a> › <span aria-current="page">UiItem</span></nav>'
        in body
    )
    # every form control has a label
    for control in re.findall(r"<(?:input|select)\b[^>]*>", body):
        if 'type="hidden"' in control or 'type="submit"' in control:
            continue
        found = re.search(r'\bid="([^"]+)"', control)
        assert "aria-label=" in control or (
            found and f'<label for="{found[1]}">' in body
        ), control
