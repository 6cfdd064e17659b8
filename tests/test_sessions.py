"""Sessions (``kettle.sessions``): the signed-cookie session, its cookie's
attributes and limits, the ``session`` proxy, and flash messages."""

from __future__ import annotations

import secrets

import pytest
from itsdangerous import URLSafeTimedSerializer

from kettle import Kettle
from kettle import flash
from kettle import get_flashed_messages
from kettle import redirect
from kettle import request
from kettle import session
from kettle.exceptions import ImproperlyConfigured
from kettle.sessions import SessionTooLarge

KEY = "a-long-random-test-key-0123456789"


@pytest.fixture
def app():
    app = Kettle(env_file=None, SECRET_KEY=KEY)

    @app.post("/set")
    def set_value(key: str, value: str):
        request.session[key] = value
        return {"ok": True}

    @app.get("/get")
    def get_value(key: str):
        return {"value": session.get(key), "new": request.session.new}

    @app.post("/clear")
    def clear():
        session.clear()
        return {"ok": True}

    @app.get("/nothing")
    def nothing():
        return {"ok": True}

    return app


def use_cookie(client, value):
    client.cookies.clear()
    client.cookies.set("session", value)


def cookie_of(response):
    return [h for h in response.headers.get_list("set-cookie") if "session=" in h]


def test_a_session_lasts_from_request_to_request(app, make_client):
    client = make_client(app)
    assert client.get("/get?key=tea").json() == {"value": None, "new": True}
    response = client.post("/set?key=tea&value=green")
    [cookie] = cookie_of(response)
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    assert f"Max-Age={14 * 24 * 3600}" in cookie
    assert "Secure" not in cookie  # plain HTTP
    assert client.get("/get?key=tea").json() == {"value": "green", "new": False}
    again = client.get("/get?key=tea")
    assert cookie_of(again) == []  # unchanged: not sent again
    assert "Cookie" in again.headers["vary"]  # it depends on the session
    assert "vary" not in client.get("/nothing").headers  # never read: no Vary
    client.post("/clear")
    assert client.get("/get?key=tea").json() == {"value": None, "new": True}


def test_secure_over_https(app, make_client):
    client = make_client(app, base_url="https://testserver")
    [cookie] = cookie_of(client.post("/set?key=a&value=b"))
    assert "Secure" in cookie


def test_a_tampered_or_foreign_cookie_starts_a_new_session(app, make_client):
    client = make_client(app)
    client.post("/set?key=role&value=user")
    good = client.cookies["session"]
    payload, _, signature = good.rpartition(".")
    tampered = payload[:-1] + ("A" if payload[-1] != "A" else "B")
    use_cookie(client, tampered + "." + signature)
    assert client.get("/get?key=role").json() == {"value": None, "new": True}
    forged = URLSafeTimedSerializer("another key", salt="kettle.session")
    use_cookie(client, forged.dumps({"role": "admin"}))
    assert client.get("/get?key=role").json()["value"] is None
    use_cookie(client, "garbage")
    assert client.get("/get?key=role").json()["value"] is None


def test_old_keys_still_verify_and_sessions_expire(make_client, monkeypatch):
    old = URLSafeTimedSerializer("the old key", salt="kettle.session")
    app = Kettle(env_file=None, SECRET_KEY=KEY, SECRET_KEY_FALLBACKS=["the old key"])

    @app.get("/role")
    def role():
        return {"role": session.get("role")}

    client = make_client(app)
    use_cookie(client, old.dumps({"role": "editor"}))
    assert client.get("/role").json() == {"role": "editor"}
    import itsdangerous.timed

    real = itsdangerous.timed.time.time
    monkeypatch.setattr(itsdangerous.timed.time, "time", lambda: real() - 15 * 86400)
    stale = URLSafeTimedSerializer(KEY, salt="kettle.session").dumps({"role": "x"})
    monkeypatch.setattr(itsdangerous.timed.time, "time", real)
    use_cookie(client, stale)  # signed 15 days ago; sessions last 14
    assert client.get("/role").json() == {"role": None}


def test_a_session_too_large_for_a_cookie_is_an_error(app, make_client):
    @app.post("/big")
    def big():
        session["blob"] = secrets.token_urlsafe(4000)  # does not compress
        return {"ok": True}

    client = make_client(app)
    response = client.post("/big")
    assert response.status_code == 500
    assert cookie_of(response) == []
    strict = make_client(app, raise_server_exceptions=True)
    with pytest.raises(SessionTooLarge, match="over the 4093 bytes browsers keep"):
        strict.post("/big")


def test_values_must_be_json(app, make_client):
    @app.post("/object")
    def store_object():
        session["when"] = object()
        return {"ok": True}

    strict = make_client(app, raise_server_exceptions=True)
    with pytest.raises(TypeError, match=r"session\['when'\] is a object"):
        strict.post("/object")


def test_sessions_need_a_secret_key(make_client):
    app = Kettle(env_file=None)

    @app.get("/")
    def home():
        return {"n": session.get("n")}

    strict = make_client(app, raise_server_exceptions=True)
    with pytest.raises(ImproperlyConfigured, match="sessions need a SECRET_KEY"):
        strict.get("/")


def test_rotate_replaces_the_csrf_token_and_keeps_the_data(app, make_client):
    @app.post("/login")
    def login():
        session["_csrf"] = "planted"
        session["user"] = "ann"
        session.rotate()
        return {"keys": sorted(session)}

    client = make_client(app)
    assert client.post("/login").json() == {"keys": ["user"]}
    assert client.get("/get?key=user").json()["value"] == "ann"


def test_the_proxy_outside_a_request():
    with pytest.raises(RuntimeError, match="outside of a request"):
        session["x"] = 1
    assert not session


def test_flash_messages_are_shown_once(app, make_client):
    @app.post("/save")
    def save():
        flash("Saved.", "success")
        flash("<b>Careful</b>", "warning")
        return redirect("/messages")

    @app.get("/messages")
    def messages(category: str = ""):
        return {
            "all": get_flashed_messages(with_categories=True),
            "again": get_flashed_messages(),  # the same, within one request
            "filtered": get_flashed_messages(
                category_filter=[category] if category else ()
            ),
        }

    client = make_client(app)
    page = client.post("/save").json()
    assert page == {
        "all": [["success", "Saved."], ["warning", "<b>Careful</b>"]],
        "again": ["Saved.", "<b>Careful</b>"],
        "filtered": ["Saved.", "<b>Careful</b>"],
    }
    assert client.get("/messages").json()["all"] == []  # taken
    client.post("/save", follow_redirects=False)
    assert client.get("/messages?category=warning").json()["filtered"] == [
        "<b>Careful</b>"
    ]


# -- sessions kept on a server: the database and Redis ---------------------------------


@pytest.fixture(params=["sqlite", "postgresql", "mariadb", "redis"])
def server_app(request, tmp_path):
    """An app keeping sessions in its database (SQLite, PostgreSQL, MariaDB, each
    a fresh database) or in Redis."""
    import contextlib

    import dbfixtures

    with contextlib.ExitStack() as stack:
        options: dict[str, object] = {"SESSION_BACKEND": "database"}
        if request.param == "redis":
            options["SESSION_BACKEND"] = "redis"
            options["SESSION_REDIS_URL"] = request.getfixturevalue("redis_url")
            options["DATABASE_URL"] = f"sqlite:///{tmp_path / 'unused.db'}"
        elif request.param == "sqlite":
            options["DATABASE_URL"] = f"sqlite:///{tmp_path / 'sessions.db'}"
        else:
            fixture = (
                "postgres_server" if request.param == "postgresql" else "mariadb_server"
            )
            server = request.getfixturevalue(fixture)
            fresh = (
                dbfixtures._fresh_postgres_database
                if request.param == "postgresql"
                else dbfixtures._fresh_mariadb_database
            )
            name = stack.enter_context(fresh(server))
            options["DATABASE_URL"] = server.url_for(name)[0]
        app = Kettle(env_file=None, **options)

        @app.post("/set")
        def set_value(key: str, value: str):
            session[key] = value
            return {"ok": True}

        @app.get("/get")
        async def get_value(key: str):  # async: the session is read off the loop
            return {"value": session.get(key)}

        @app.post("/login")
        def login():
            session["user"] = "ann"
            session.rotate()
            return {"ok": True}

        @app.post("/logout")
        async def logout():
            session.clear()
            return {"ok": True}

        yield app
        from kettle.db import get_database

        get_database(app).dispose()


def stored_keys(app) -> list[str]:
    from kettle.sessions import backend

    store = backend(app)
    if hasattr(store, "client"):
        return [k.decode() for k in store.client.keys("kettle:session:*")]
    with store.engine.connect() as conn:
        return [row.key for row in conn.execute(store.table.select())]


def test_server_sessions_keep_only_an_id_in_the_cookie(server_app, make_client):
    client = make_client(server_app)
    client.post("/set?key=cart&value=tea")
    sid = client.cookies["session"]
    assert len(sid) == 43 and "tea" not in sid  # 256 random bits, no data
    assert client.get("/get?key=cart").json() == {"value": "tea"}
    [key] = stored_keys(server_app)
    assert sid not in key  # the store holds its hash: a copy gives no ids
    client.post("/set?key=cart&value=coffee")
    assert client.cookies["session"] == sid  # the same session, changed
    assert client.get("/get?key=cart").json() == {"value": "coffee"}


def sid_of(response) -> str:
    [cookie] = cookie_of(response)
    return cookie.split(";", 1)[0].split("=", 1)[1]


def test_server_sessions_rotate_and_clear(server_app, make_client):
    client = make_client(server_app)
    use_cookie(client, "an-id-an-attacker-chose")  # a fixation attempt
    before = sid_of(client.post("/set?key=cart&value=tea"))
    assert before != "an-id-an-attacker-chose"  # unknown ids are never adopted
    use_cookie(client, before)
    after = sid_of(client.post("/login"))
    assert after != before
    use_cookie(client, after)
    assert client.get("/get?key=user").json() == {"value": "ann"}
    assert client.get("/get?key=cart").json() == {"value": "tea"}  # data kept
    use_cookie(client, before)
    assert client.get("/get?key=cart").json() == {"value": None}  # old id gone
    use_cookie(client, after)
    [deleted] = cookie_of(client.post("/logout"))
    assert "Max-Age=0" in deleted
    assert stored_keys(server_app) == []
    use_cookie(client, after)
    assert client.get("/get?key=user").json() == {"value": None}


def test_server_sessions_expire(server_app, make_client):
    import time

    # Two seconds: MySQL/MariaDB keep whole seconds, so the session lives at
    # least one (not 0 to 1, which a second boundary could cut short).
    server_app.config["SESSION_LIFETIME"] = 2
    client = make_client(server_app)
    client.post("/set?key=cart&value=tea")
    assert client.get("/get?key=cart").json() == {"value": "tea"}
    time.sleep(2.2)
    assert client.get("/get?key=cart").json() == {"value": None}


def test_an_unknown_backend_fails_at_start_up():
    app = Kettle(env_file=None, SESSION_BACKEND="memcache")
    with pytest.raises(ImproperlyConfigured, match="'cookie', 'redis', 'database'"):
        app.setup()
    needs_url = Kettle(env_file=None, SESSION_BACKEND="redis")
    with pytest.raises(ImproperlyConfigured, match="needs SESSION_REDIS_URL"):
        needs_url.setup()


def test_a_middlewares_change_to_a_server_session_is_kept(server_app, make_client):
    from kettle.middleware import HTTPMiddleware

    class Visits(HTTPMiddleware):
        def process_response(self, request, response):
            if request.path == "/set":
                request.session["visits"] = request.session.get("visits", 0) + 1
            return response

    server_app.add_middleware(Visits)
    client = make_client(server_app)
    client.post("/set?key=a&value=b")
    client.post("/set?key=a&value=c")
    assert client.get("/get?key=visits").json() == {"value": 2}
