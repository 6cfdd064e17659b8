"""The examples of "Coming from Flask" and "Coming from Django"
(docs/examples/flask_*.py and django_*.py), run as the guides say.

The examples import each other as a project's modules do (``from django_models
import Tea``), so they are imported once, by name, with docs/examples on the
path (their models join kettle.db's shared metadata once); each test gives the
apps a fresh database. The examples' own test modules (flask_tests.py,
django_tests.py) run under pytest in another process.
"""

from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from kettle import Kettle
from kettle.testing import TestClient

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "docs" / "examples"
SECRET = "docs-guides-key-0123456789abcdef-0123456789"
BOTH = pytest.mark.parametrize("iface", ["asgi", "wsgi"])
#: The settings the examples' module-level apps read from the environment when
#: they are first imported.
ENVIRONMENT: dict[str, str] = {}


@pytest.fixture(scope="module", autouse=True)
def settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    folder = tmp_path_factory.mktemp("guides")
    ENVIRONMENT.update(
        KETTLE_SECRET_KEY=SECRET,
        KETTLE_DATABASE_URL=f"sqlite:///{folder / 'flask_auth.sqlite3'}",
    )
    from kettle.auth import hashers

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(hashers, "_hasher", hashers.set_test_parameters())
        for name in list(os.environ):
            if name.startswith("KETTLE_"):
                patch.delenv(name)
        for name, value in ENVIRONMENT.items():
            patch.setenv(name, value)
        yield


def example(name: str) -> ModuleType:
    """docs/examples/<name>.py, imported once under its own name."""
    if name in sys.modules:
        return sys.modules[name]
    sys.path.insert(0, str(EXAMPLES))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(EXAMPLES))


def fresh_tables(app: Kettle) -> Any:
    from kettle.db import get_database

    database = get_database(app)
    database.drop_all()
    database.create_all()
    return database


def run_example_tests(name: str) -> str:
    """Run docs/examples/<name>.py under pytest, in another process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KETTLE_")}
    env["KETTLE_SECRET_KEY"] = SECRET
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"{name}.py"],
        cwd=EXAMPLES,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


# -- coming-from-flask.md ---------------------------------------------------------------


@BOTH
def test_flask_app(iface: str) -> None:
    app = example("flask_app").app
    with TestClient(app, interface=iface) as client:
        home = client.get("/")
        assert home.json() == {
            "hello": "stranger",
            "messages": [],
            "me": "http://testserver/users/1",
        }
        assert home.headers["X-Served-By"] == "kettle"
        assert client.get("/users/1").json() == {"id": 1, "name": "ann"}
        assert client.get("/users/99").json() == {"error": "No such user."}
        assert client.get("/users/ann").status_code == 404  # not an int: no route
        found = client.get("/search?q=tea&page=2&tag=a&tag=b").json()
        assert found == {"q": "tea", "page": 2, "tags": ["a", "b"]}
        assert client.get("/search?q=tea&page=two").status_code == 422
        made = client.post("/users", json={"name": "cho"})
        assert made.status_code == 201
        assert client.get(made.headers["location"]).json()["name"] == "cho"
        welcome = client.post("/login/dee")
        assert welcome.json()["messages"] == ["Welcome, dee!"]
        assert client.get("/").json()["hello"] == "dee"
        themed = client.get("/theme/dark", follow_redirects=False)
        assert themed.status_code == 302 and themed.headers["location"] == "/"
        assert "theme=dark" in themed.headers["set-cookie"]
        assert "Max-Age=3600" in themed.headers["set-cookie"]


@BOTH
def test_flask_project(iface: str) -> None:
    project = example("flask_project")
    app = project.create_app(project.Testing, env_file=None)
    assert (
        app.config["TESTING"] is True and app.config["SHOP_NAME"] == "Kettle Tea Shop"
    )
    with TestClient(app, interface=iface) as client:
        page = client.get("/blog/")
        assert "<h1>Kettle Tea Shop: POSTS!</h1>" in page.text
        assert '<a href="/blog/api/1">Green tea</a>' in page.text
        assert client.get("/blog/api/1").json() == {"id": 1, "title": "Green tea"}
        assert client.put("/blog/api/1").status_code == 405
        assert client.delete("/blog/api/2").status_code == 204
    project.POSTS[2] = "Black tea"


@BOTH
def test_flask_db(iface: str) -> None:
    module = example("flask_db")
    fresh_tables(module.app)
    with TestClient(module.app, interface=iface) as client:
        for slug in "abc":
            added = client.post(f"/entries?slug={slug}&title=Entry {slug}")
            assert added.status_code == 201
        assert client.post("/entries?slug=a&title=Again").status_code == 409  # unique
        assert client.get("/entries?page=2").json() == {
            "titles": ["Entry c"],
            "pages": 2,
        }
        assert client.get("/entries/1").json() == {"title": "Entry a"}
        assert client.get("/entries/9").status_code == 404
        assert client.get("/by-slug/b").json() == {"id": 2}
        assert client.get("/by-slug/z").status_code == 404
        assert client.post("/entries/1/publish").json() == {"published": 1}


def csrf_token(client: TestClient, path: str) -> str:
    page = client.get(path).text
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def csrf(client: TestClient) -> dict[str, str]:
    return {"csrf_token": csrf_token(client, "/login"), "username": "ann"}


@BOTH
def test_flask_auth(iface: str) -> None:
    from kettle.auth import User

    module = example("flask_auth")
    database = fresh_tables(module.app)
    with database.session() as db:
        db.add(User(username="ann", password="a long passphrase"))
        db.commit()
    with TestClient(module.app, interface=iface, enforce_csrf_checks=True) as client:
        asked = client.get(
            "/me", headers={"accept": "text/html"}, follow_redirects=False
        )
        assert asked.headers["location"] == "/login?next=%2Fme"  # LOGIN_URL
        assert client.get("/me").status_code == 401  # not a page: no redirect
        assert client.get("/hello").text == "Hello, stranger!"
        form = client.get("/login").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
        assert 'name="username"' in form and 'name="password"' in form
        data = {"csrf_token": token, "username": "ann"}
        wrong = client.post("/login", data={**data, "password": "nope"})
        assert "Wrong name or password." in wrong.text
        assert client.post("/login", data={**data, "password": "x"}).status_code == 200
        me = client.post(
            "/login?next=https://evil.example/",  # not this site: ignored
            data={**data, "password": "a long passphrase"},
        )
        assert me.json() == {"name": "ann"}
        client.post("/logout", data={"csrf_token": csrf_token(client, "/login")})
        back = client.post(
            "/login?next=/hello", data={**csrf(client), "password": "a long passphrase"}
        )
        assert back.text == "Hello, ann!"
        assert client.get("/hello").text == "Hello, ann!"
        assert client.get("/drafts").json() == {"drafts": []}
        assert client.post("/logout").status_code == 403  # no token: refused
        client.post("/logout", data={"csrf_token": csrf_token(client, "/login")})
        assert client.get("/hello").text == "Hello, stranger!"


def test_flask_tests() -> None:
    assert "6 passed" in run_example_tests("flask_tests")


# -- coming-from-django.md --------------------------------------------------------------


@pytest.fixture
def shop(tmp_path: Path) -> Kettle:
    """django_project's app, in development settings, on a new database holding
    the teas of django_models.add_teas, the editor ann and a superuser."""
    from kettle.auth import User

    project = example("django_project")
    app = project.create_app(
        env_file=None, database_url=f"sqlite:///{tmp_path / 'shop.sqlite3'}"
    )
    database = fresh_tables(app)
    with database.session() as db:
        example("django_models").add_teas(db)
        example("django_auth").add_editor(db, "ann", "a long passphrase")
        db.add(User(username="bob", password="another passphrase"))
        db.add(
            User(
                username="root",
                password="root passphrase",
                is_staff=True,
                is_superuser=True,
            )
        )
        db.commit()
    return app


def log_in(client: TestClient, name: str, password: str) -> None:
    client.post("/auth/login", data={"username": name, "password": password})


def test_django_models(tmp_path: Path) -> None:
    from sqlalchemy import select

    from kettle.db import get_database

    models = example("django_models")
    app = Kettle(env_file=None, DATABASE_URL=f"sqlite:///{tmp_path / 'm.sqlite3'}")
    database = get_database(app)
    database.create_all()
    with database.session() as db:
        models.add_teas(db)
        db.commit()
    with database.session() as db:
        assert models.queries(db) == {
            "names": ["Gyokuro", "Matcha", "Sencha"],
            "cheap": ["Sencha"],
            "either": ["Matcha"],
            "japanese": 3,
            "luxury": False,
            "dearest": Decimal("12.00"),
            "per_garden": [("Makaibari", 0), ("Uji", 3)],
            "rows": [
                {"name": "Sencha", "price": Decimal("4.20")},
                {"name": "Gyokuro", "price": Decimal("9.50")},
            ],
        }
        assert models.related(db) == {
            "teas": ["Gyokuro (Uji)", "Sencha (Uji)", "Matcha (Uji)"],
            "gardens": {"Uji": 3, "Makaibari": 0},
        }
    with database.session() as db:
        models.changes(db)
        db.commit()
    with database.session() as db:
        rows = db.execute(
            select(models.Tea.name, models.Tea.price, models.Tea.in_stock).order_by(
                models.Tea.name
            )
        ).all()
        assert [tuple(row) for row in rows] == [
            ("Gyokuro", Decimal("10.50"), True),
            ("Matcha", Decimal("13.00"), False),
        ]
        uji = db.scalars(select(models.Garden).where(models.Garden.name == "Uji")).one()
        db.delete(uji)  # on_delete=CASCADE: its teas go with it
        db.commit()
        assert db.scalars(select(models.Tea)).all() == []


@BOTH
def test_django_views(iface: str, shop: Kettle) -> None:
    assert example("django_views").shop.name == "shop"  # registered by django_project
    with TestClient(shop, interface=iface) as client:
        assert client.get("/shop/count").headers["x-cache"] == "MISS"
        assert client.get("/shop/count").headers["x-cache"] == "HIT"  # @cache_page
        page = client.get("/shop/")
        assert '<a href="/shop/teas/1">Gyokuro</a>' in page.text
        assert "from Uji: 9.50" in page.text
        assert page.headers["server-timing"].startswith("app;dur=")  # the middleware
        tea = client.get("/shop/teas/1")
        assert tea.json() == {"name": "Gyokuro", "price": "9.50"}
        garden = client.get("/shop/gardens/uji")
        assert garden.json() == {"garden": "Uji", "shop": "/shop/"}
        assert client.get("/shop/gardens/nowhere").status_code == 404
        assert client.get("/shop/teas/99").status_code == 404
        gone = client.post("/shop/teas/1/sold-out", follow_redirects=False)
        assert (gone.status_code, gone.headers["location"]) == (303, "/shop/teas/1")
        assert "(sold out)" in client.get("/shop/").text
        prices = client.get("/shop/prices?under=10").json()
        assert prices == {"Gyokuro": "9.50", "Sencha": "4.20"}
        assert client.post("/shop/prices").status_code == 405  # no post() method


@BOTH
def test_django_forms(iface: str, shop: Kettle) -> None:
    assert example("django_forms").forms.name == "forms"
    with TestClient(shop, interface=iface) as client:
        page = client.get("/contact").text
        assert 'name="csrf_token"' in page and '<option value="order">' in page
        refused = client.post(
            "/contact", data={"name": "admin", "email": "a@b.org", "topic": "order"}
        )
        assert "Choose another name." in refused.text
        assert "Say which order." in refused.text
        assert "Enter a valid email" not in refused.text
        thanks = client.post(
            "/contact", data={"name": "ann lee", "email": "ann@b.org", "topic": "other"}
        )
        assert thanks.json() == {"thanks": "Ann Lee"}
        edit = client.get("/teas/1/edit").text
        assert (
            'value="Gyokuro"' in edit and '<option value="2">Makaibari</option>' in edit
        )
        saved = client.post(
            "/teas/1/edit",
            data={
                "name": "Gyokuro",
                "garden_id": "2",
                "price": "5.00",
                "in_stock": "on",
            },
        )
        assert saved.json() == {"name": "Gyokuro", "price": "5.00"}
        bad = client.post("/teas/1/edit", data={"name": "", "garden_id": "9"})
        assert "This field is required." in bad.text


@BOTH
def test_django_auth(iface: str, shop: Kettle) -> None:
    with TestClient(shop, interface=iface) as client:
        assert client.get("/staff/me").status_code == 401
        log_in(client, "bob", "another passphrase")
        assert client.get("/staff/me").json() == {"name": "bob", "editor": False}
        assert client.post("/staff/teas/1/price?price=1").status_code == 403
        client.post("/auth/logout")
        log_in(client, "ann", "a long passphrase")
        assert client.get("/staff/me").json() == {"name": "ann", "editor": True}
        assert client.post("/staff/teas/1/price?price=8.00").json() == {"price": "8.00"}
        assert client.get("/shop/teas/1").json()["price"] == "8.00"


@BOTH
def test_django_admin(iface: str, shop: Kettle) -> None:
    assert example("django_admin").TeaAdmin.per_page == 25
    with TestClient(shop, interface=iface) as client:
        log_in(client, "root", "root passphrase")
        listing = client.get("/admin/tea/?q=cha")
        assert "Sencha" in listing.text and "Matcha" in listing.text
        assert "Gyokuro" not in listing.text
        assert "Mark as sold out" in listing.text
        done = client.post(
            "/admin/tea/action", data={"action": "sold_out", "ids": ["2"]}
        )
        assert "1 tea(s) marked as sold out." in done.text
        assert "(sold out)" in client.get("/shop/").text
        garden = client.get("/admin/garden/1/")
        assert garden.status_code == 200 and "Gyokuro" in garden.text  # the inline
        assert client.get("/admin/tea/autocomplete?field=garden&q=ma").json()
        client.post("/auth/logout")
        log_in(client, "ann", "a long passphrase")
        assert client.get("/admin/").status_code == 403  # not staff


@pytest.fixture
def signals() -> Iterator[ModuleType]:
    module = example("django_signals")
    yield module
    from kettle import signals

    signals.model_after_insert.disconnect(module.tea_added)
    signals.model_after_update.disconnect(module.tea_changed)
    signals.user_logged_in.disconnect(module.logged_in)


def test_django_signals(shop: Kettle, signals: ModuleType) -> None:
    from sqlalchemy import select

    from kettle.db import get_database

    models = example("django_models")
    with get_database(shop).session() as db:
        garden = db.scalars(select(models.Garden)).first()
        db.add(models.Tea(name="Bancha", garden=garden, price=Decimal("3.00")))
        db.commit()
    with TestClient(shop) as client:
        client.post("/shop/teas/1/sold-out")
        log_in(client, "ann", "a long passphrase")
    assert signals.EVENTS == ["added Bancha", "changed Gyokuro", "ann logged in"]


def test_django_project_settings(tmp_path: Path) -> None:
    project = example("django_project")
    app = project.create_app(
        project.Settings,
        env_file=None,
        database_url=f"sqlite:///{tmp_path / 'prod.sqlite3'}",
        secret_key=SECRET,
    )
    assert app.config["SESSION_BACKEND"] == "database"
    assert app.config["SHOP_OPENING_HOUR"] == 9 and app.debug is False
    fresh_tables(app)
    with TestClient(app, base_url="https://shop.example.com") as client:
        assert client.get("/shop/").status_code == 200
        assert client.get("/shop/", headers={"host": "evil.example"}).status_code == 400
    with TestClient(app, base_url="http://shop.example.com") as client:
        moved = client.get("/shop/", follow_redirects=False)
        assert moved.headers["location"] == "https://shop.example.com/shop/"


def test_django_tests() -> None:
    assert "3 passed" in run_example_tests("django_tests")


def test_every_guide_example_is_tested() -> None:
    tested = set(
        re.findall(r'(?:example|run_example_tests)\("(\w+)"\)', THIS.read_text())
    )
    on_disk = {p.stem for p in EXAMPLES.glob("*.py") if p.stem.startswith(GUIDES)}
    assert on_disk - tested == set(), "guide examples without a test"


def test_every_guide_example_is_shown() -> None:
    pages = "".join(
        (ROOT / "docs" / page).read_text("utf-8")
        for page in ("coming-from-flask.md", "coming-from-django.md")
    )
    for path in EXAMPLES.glob("*.py"):
        if path.stem.startswith(GUIDES):
            assert f"{{literalinclude}} examples/{path.name}" in pages, path.name


THIS = Path(__file__)
GUIDES = ("flask_", "django_")
