"""kettle.auth: users, logging in and out, the current user, permissions, groups.

The login flows run on SQLite, PostgreSQL and MariaDB (``database_url``), under
ASGI and WSGI (``make_client``)."""

from __future__ import annotations

import contextlib
import re

import pytest
from sqlalchemy import String
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import Session
from sqlalchemy.orm import mapped_column

from kettle import Kettle
from kettle import requires
from kettle.auth import Auth
from kettle.auth import Group
from kettle.auth import User
from kettle.auth import grant
from kettle.auth import hashers
from kettle.auth import login_required
from kettle.auth import permission_required
from kettle.auth import register_permission
from kettle.auth import revoke
from kettle.db import Model
from kettle.db import get_database
from kettle.exceptions import ImproperlyConfigured

hashers.set_test_parameters()
register_permission("reports.export", "Can export reports")
SECRET = "a-test-secret-key-" + "x" * 40


class Article(Model):
    __tablename__ = "auth_test_article"
    __permissions__ = {"publish": "Can publish articles"}
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(100))


def make_app(url: str, **settings) -> Kettle:
    app = Kettle(SECRET_KEY=SECRET, DATABASE_URL=url, **settings)
    Auth(app)

    @app.get("/me")
    def me(user: User):
        return {"name": user.username, "id": user.id}

    @app.get("/me/async")
    async def me_async(user: User):
        return {"name": user.username}

    @app.get("/maybe")
    def maybe(user: User | None):
        return {"name": user.username if user else None}

    @app.get("/maybe/async")
    async def maybe_async(user: User | None):
        return {"name": user.username if user else None}

    @app.get("/private")
    @login_required
    def private():
        return "secret page"

    @app.post("/articles")
    @permission_required("auth_test_article.add")
    def add_article(db: Session):
        db.add(Article(title="new"))
        return {"ok": True}

    @app.post("/articles/async")
    @permission_required("auth_test_article.add")
    async def add_article_async(db: AsyncSession):
        db.add(Article(title="new async"))
        return {"ok": True}

    @app.get("/reports")
    @permission_required("reports.export", "auth_test_article.publish")
    def reports():
        return "reports"

    return app


@pytest.fixture
def auth_app(database_url):
    app = make_app(database_url.url_sync)
    db = get_database(app)
    db.create_all()
    with db.session() as s:
        s.add(
            User(username="alice", email="alice@example.com", password="correct horse")
        )
        s.add(User(username="bob", email="bob@example.com", password="battery staple"))
        s.add(User(username="off", password="disabled one", is_active=False))
        s.commit()
    yield app
    db.drop_all()
    db.dispose()


def log_in(client, username="alice", password="correct horse", **extra):
    return client.post(
        "/auth/login",
        data={"username": username, "password": password, **extra},
    )


def test_login_logout_and_the_current_user(auth_app, make_client):
    with contextlib.nullcontext(
        make_client(auth_app, follow_redirects=False)
    ) as client:
        assert client.get("/me").status_code == 401
        assert client.get("/maybe").json() == {"name": None}
        page = client.get("/auth/login")
        assert page.status_code == 200
        assert 'name="username"' in page.text and 'name="password"' in page.text
        response = log_in(client)
        assert response.status_code == 303
        assert response.headers["location"] == "/"
        assert client.get("/me").json()["name"] == "alice"
        assert client.get("/me/async").json() == {"name": "alice"}
        assert client.get("/maybe/async").json() == {"name": "alice"}
        assert client.get("/private").text == "secret page"
        assert client.get("/auth/logout").status_code == 200  # a GET only asks
        assert client.get("/me").status_code == 200
        assert client.post("/auth/logout").status_code == 303
        assert client.get("/me").status_code == 401
        assert client.get("/maybe/async").json() == {"name": None}


def test_a_wrong_password_unknown_user_or_inactive_account_is_refused(
    auth_app, make_client
):
    with contextlib.nullcontext(
        make_client(auth_app, follow_redirects=False)
    ) as client:
        for name, password in [
            ("alice", "wrong"),
            ("nobody", "correct horse"),
            ("off", "disabled one"),
        ]:
            response = log_in(client, name, password)
            assert response.status_code == 200, name
            assert "Please enter a correct user name and password." in response.text
            assert client.get("/me").status_code == 401
        empty = log_in(client, "alice", "")
        assert "This field is required." in empty.text
        assert log_in(client, "alice@example.com").status_code == 303  # by email
        assert client.get("/me").json()["name"] == "alice"


def test_login_rotates_the_session_and_keeps_a_planted_id_useless(
    auth_app, make_client
):
    with contextlib.nullcontext(
        make_client(auth_app, follow_redirects=False)
    ) as client:
        client.get("/auth/login")
        before = client.cookies.get("session")
        log_in(client)
        after = client.cookies.get("session")
        assert before != after
    with contextlib.nullcontext(
        make_client(auth_app, follow_redirects=False)
    ) as other:  # the old cookie is not logged in
        if before:
            other.cookies.set("session", before)
        assert other.get("/me").status_code == 401


def test_a_page_request_is_sent_to_the_login_page_and_back(auth_app, make_client):
    with contextlib.nullcontext(
        make_client(auth_app, follow_redirects=False)
    ) as client:
        html = {"accept": "text/html,application/xhtml+xml"}
        response = client.get("/private?x=1", headers=html)
        assert response.status_code == 303
        assert response.headers["location"] == "/auth/login?next=%2Fprivate%3Fx%3D1"
        page = client.get(response.headers["location"], headers=html)
        assert 'value="/private?x=1"' in page.text
        done = log_in(client, next="/private?x=1")
        assert done.headers["location"] == "/private?x=1"
        # next= pointing to another site is ignored
        client.post("/auth/logout")
        for evil in ["https://evil.example/", "//evil.example", "/\\evil.example"]:
            done = log_in(client, next=evil)
            assert done.headers["location"] == "/", evil
            client.post("/auth/logout")


def test_remember_me_makes_the_cookie_outlive_the_browser(auth_app, make_client):
    with contextlib.nullcontext(
        make_client(auth_app, follow_redirects=False)
    ) as client:
        short = log_in(client)
        cookie = short.headers["set-cookie"]
        assert "Max-Age" not in cookie and "expires" not in cookie.lower()
        client.post("/auth/logout")
        long = log_in(client, remember="on")
        assert "Max-Age=1209600" in long.headers["set-cookie"]


def test_changing_the_password_ends_other_sessions(auth_app, make_client):
    with contextlib.nullcontext(
        make_client(auth_app, follow_redirects=False)
    ) as client:
        log_in(client)
        assert client.get("/me").status_code == 200
        with get_database(auth_app).session() as db:
            alice = db.scalars(select(User).filter_by(username="alice")).one()
            alice.set_password("a new one")
            db.commit()
        assert client.get("/me").status_code == 401


def test_an_old_django_hash_is_upgraded_at_login(auth_app, make_client):
    import base64
    import hashlib

    salt = "seasalt"
    digest = hashlib.pbkdf2_hmac("sha256", b"old secret", salt.encode(), 1000)
    django_hash = f"pbkdf2_sha256$1000${salt}${base64.b64encode(digest).decode()}"
    with get_database(auth_app).session() as db:
        db.add(User(username="carol", password=None))
        db.flush()
        carol = db.scalars(select(User).filter_by(username="carol")).one()
        carol.password = django_hash
        db.commit()
    with contextlib.nullcontext(
        make_client(auth_app, follow_redirects=False)
    ) as client:
        assert log_in(client, "carol", "old secret").status_code == 303
    with get_database(auth_app).session() as db:
        stored = db.scalars(select(User.password).filter_by(username="carol")).one()
    assert stored.startswith("$argon2id$")
    assert hashers.check_password("old secret", stored)


def test_permissions_direct_through_groups_and_superusers(auth_app, make_client):
    with get_database(auth_app).session() as db:
        bob = db.scalars(select(User).filter_by(username="bob")).one()
        editors = Group(name="editors")
        db.add(editors)
        grant(db, editors, "auth_test_article.add")
        db.commit()
    with contextlib.nullcontext(
        make_client(auth_app, follow_redirects=False)
    ) as client:
        assert client.post("/articles").status_code == 401
        log_in(client, "bob", "battery staple")
        denied = client.post("/articles")
        assert denied.status_code == 403
        assert "auth_test_article.add" in denied.text
        assert client.post("/articles/async").status_code == 403
        with get_database(auth_app).session() as db:
            bob = db.scalars(select(User).filter_by(username="bob")).one()
            group = db.scalars(select(Group).filter_by(name="editors")).one()
            bob.groups.append(group)
            db.commit()
        assert client.post("/articles").json() == {"ok": True}
        assert client.post("/articles/async").json() == {"ok": True}
        assert client.get("/reports").status_code == 403
        with get_database(auth_app).session() as db:
            bob = db.scalars(select(User).filter_by(username="bob")).one()
            grant(db, bob, "reports.export")
            db.commit()
        assert client.get("/reports").status_code == 403  # needs both
        with get_database(auth_app).session() as db:
            bob = db.scalars(select(User).filter_by(username="bob")).one()
            grant(db, bob, "auth_test_article.publish")
            db.commit()
        assert client.get("/reports").text == "reports"
        with get_database(auth_app).session() as db:
            bob = db.scalars(select(User).filter_by(username="bob")).one()
            revoke(db, bob, "reports.export")
            db.commit()
        assert client.get("/reports").status_code == 403
    with get_database(auth_app).session() as db:
        titles = db.scalars(select(Article.title).order_by(Article.title)).all()
    assert titles == ["new", "new async"]
    with get_database(auth_app).session() as db:
        alice = db.scalars(select(User).filter_by(username="alice")).one()
        alice.is_superuser = True
        db.commit()
    with contextlib.nullcontext(
        make_client(auth_app, follow_redirects=False)
    ) as client:
        log_in(client)
        assert client.get("/reports").text == "reports"


def test_granting_an_unknown_permission_is_an_error(auth_app):
    with get_database(auth_app).session() as db:
        bob = db.scalars(select(User).filter_by(username="bob")).one()
        with pytest.raises(ValueError, match="auth_test_article.chnage"):
            grant(db, bob, "auth_test_article.chnage")


def test_requires_must_be_below_the_route_decorator():
    app = Kettle()

    def check() -> None:
        pass

    @app.get("/")
    def index():
        return "x"

    with pytest.raises(ImproperlyConfigured, match="below the route decorator"):
        requires(check)(index)
    with pytest.raises(ImproperlyConfigured, match="below the route decorator"):
        login_required(index)


def test_requires_runs_checks_before_the_body_is_read(make_client):
    app = Kettle()
    calls = []

    def first() -> None:
        calls.append("first")

    def refuse() -> None:
        calls.append("refuse")
        from kettle import abort

        abort(403, "no")

    @app.post("/")
    @requires(first, refuse)
    def index(payload: dict):
        calls.append("handler")
        return payload

    with contextlib.nullcontext(make_client(app)) as client:
        response = client.post(
            "/", content=b"not json", headers={"content-type": "application/json"}
        )
    assert response.status_code == 403
    assert calls == ["first", "refuse"]


def test_a_login_form_field_too_long_is_a_form_error_not_a_500(auth_app, make_client):
    with contextlib.nullcontext(
        make_client(auth_app, follow_redirects=False)
    ) as client:
        response = log_in(client, "a" * 10_000, "b")
        assert response.status_code == 200
        assert re.search(r"at most 254", response.text)


# -- kettle createuser / changepassword -------------------------------------------

CLI_APP = """
from kettle import Kettle
from kettle.auth import Auth

app = Kettle(SECRET_KEY={secret!r}, DATABASE_URL={url!r})
Auth(app)
"""


@pytest.fixture
def cli_project(tmp_path, monkeypatch):
    import importlib
    import sys

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    (tmp_path / "app.py").write_text(CLI_APP.format(secret=SECRET, url=url))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [str(tmp_path), *sys.path])
    sys.modules.pop("app", None)
    importlib.invalidate_caches()
    from kettle.cli import load_app

    app = load_app(None)[0]
    get_database(app).create_all()
    yield app
    get_database(app).dispose()
    sys.modules.pop("app", None)


def run_cli(*args, input=None):
    from click.testing import CliRunner

    from kettle.cli import cli

    return CliRunner().invoke(cli, list(args), input=input)


def stored_user(app, name):
    with get_database(app).session() as db:
        return db.scalars(select(User).filter_by(username=name)).first()


def test_createuser_asks_twice_and_checks_the_password(cli_project):
    weak = run_cli("createuser", "root", input="password\npassword\n")
    assert weak.exit_code == 1
    assert "This password is too common." in weak.output
    assert stored_user(cli_project, "root") is None
    differ = run_cli("createuser", "root", input="Tr0ub4dor&3x!\nother one\n")
    assert "do not match" in differ.output or "match" in differ.output.lower()
    done = run_cli(
        "createuser", "root", "--superuser", "--email", "root@example.com",
        input="Tr0ub4dor&3x!\nTr0ub4dor&3x!\n",
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    assert "Created the superuser 'root'." in done.output
    root = stored_user(cli_project, "root")
    assert root.is_superuser and root.is_staff and root.email == "root@example.com"
    assert root.password.startswith("$argon2id$")
    assert hashers.check_password("Tr0ub4dor&3x!", root.password)
    again = run_cli("createuser", "root", "--password-stdin", input="Xy9!pq-long-pass\n")
    assert again.exit_code == 1 and "is taken" in again.output


def test_changepassword(cli_project, make_client):
    run_cli("createuser", "ann", "--password-stdin", input="first-Pa55word!\n")
    missing = run_cli("changepassword", "nobody", "--password-stdin", input="x\n")
    assert missing.exit_code == 1 and "there is no user 'nobody'" in missing.output
    short = run_cli("changepassword", "ann", "--password-stdin", input="ann\n")
    assert short.exit_code == 1 and "too short" in short.output
    weak_ok = run_cli(
        "changepassword", "ann", "--password-stdin", "--allow-weak-password",
        input="ann\n",
    )  # fmt: skip
    assert weak_ok.exit_code == 0, weak_ok.output
    assert hashers.check_password("ann", stored_user(cli_project, "ann").password)
    client = make_client(cli_project, follow_redirects=False)
    assert log_in(client, "ann", "ann").status_code == 303


def test_createuser_without_tables_says_to_migrate(cli_project):
    get_database(cli_project).drop_all()
    result = run_cli("createuser", "x", "--no-password")
    assert result.exit_code == 1
    assert "kettle db migrate" in result.output


# -- templates and apps without the login pages -------------------------------------


def test_templates_see_the_current_user(tmp_path, make_client):
    from kettle.templating import render
    from kettle.templating import render_async

    (tmp_path / "who.html").write_text(
        "{% if current_user %}hello {{ current_user.username }}"
        "{% else %}anonymous{% endif %}"
        "|{{ current_user.is_authenticated }}"
    )
    app = make_app(
        f"sqlite:///{tmp_path / 't.db'}", TEMPLATES_FOLDER=str(tmp_path)
    )

    @app.get("/who")
    def who():
        return render("who.html")

    @app.get("/who/async")
    async def who_async():
        return await render_async("who.html")

    get_database(app).create_all()
    with get_database(app).session() as db:
        db.add(User(username="dora", password="explorer map"))
        db.commit()
    client = make_client(app, follow_redirects=False)
    assert client.get("/who").text == "anonymous|False"
    assert client.get("/who/async").text == "anonymous|False"
    log_in(client, "dora", "explorer map")
    assert client.get("/who").text == "hello dora|True"
    assert client.get("/who/async").text == "hello dora|True"
    get_database(app).dispose()


def test_without_login_pages_a_browser_gets_401(tmp_path, make_client):
    app = Kettle(SECRET_KEY=SECRET, DATABASE_URL=f"sqlite:///{tmp_path / 'n.db'}")

    @app.get("/private")
    @login_required
    def private():
        return "x"

    client = make_client(app, follow_redirects=False)
    response = client.get("/private", headers={"accept": "text/html"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")


EXTENDED_USER = """
import sys
from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from kettle import Kettle
from kettle.auth import Auth, User, hashers
from kettle.db import get_database

hashers.set_test_parameters()


class Member(User):
    \"\"\"An app's own user: a column more in auth_user.\"\"\"

    bio: Mapped[str] = mapped_column(String(200), default="", nullable=True)


app = Kettle(
    SECRET_KEY="s" * 50,
    DATABASE_URL=sys.argv[1],
    AUTH_USER_MODEL="__main__:Member",
)
Auth(app)


@app.get("/bio")
def bio(user: Member):
    return {"bio": user.bio, "kind": type(user).__name__}


@app.get("/me")
def me(user: User):
    return {"name": user.username}


get_database(app).create_all()
with get_database(app).session() as db:
    db.add(Member(username="max", password="a long password", bio="hi"))
    db.commit()
for interface in ("asgi", "wsgi"):
    with app.test_client(interface=interface, follow_redirects=False) as client:
        client.post(
            "/auth/login", data={"username": "max", "password": "a long password"}
        )
        assert client.get("/bio").json() == {"bio": "hi", "kind": "Member"}
        assert client.get("/me").json()["name"] == "max"  # annotated User: fine
get_database(app).dispose()
print("ok")
"""


def test_an_extended_user_model(tmp_path):
    """In a process of its own: the subclass adds a column to the shared
    auth_user table for good, which tables made by migrations do not have."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", EXTENDED_USER, f"sqlite:///{tmp_path / 'm.db'}"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


class Member(User):
    """An app's own user class (no column of its own: the table stays as is)."""


def test_a_user_parameter_of_another_class_is_refused():
    app = Kettle()  # AUTH_USER_MODEL: User

    with pytest.raises(ImproperlyConfigured, match="annotate it User"):

        @app.get("/")
        def index(user: Member):
            return "x"


def test_a_bad_user_model_setting_is_a_clear_error():
    for spec, message in [
        ("nowhere:Thing", "cannot be imported"),
        (f"{__name__}:Article", "not a subclass of kettle.auth.User"),
    ]:
        app = Kettle(AUTH_USER_MODEL=spec)
        with pytest.raises(ImproperlyConfigured, match=message):

            @app.get("/")
            def index(user: User):
                return "x"


# -- bearer tokens --------------------------------------------------------------------


def test_bearer_tokens_authenticate_expire_and_are_revoked(auth_app, make_client):
    import datetime

    from kettle.auth import Token
    from kettle.auth import issue_token
    from kettle.auth import revoke_token
    from kettle.auth import revoke_tokens

    with get_database(auth_app).session() as db:
        alice = db.scalars(select(User).filter_by(username="alice")).one()
        good = issue_token(db, alice, name="laptop")
        old = issue_token(db, alice, expires_in=datetime.timedelta(seconds=-1))
        forever = issue_token(db, alice, expires_in=None)
        off = db.scalars(select(User).filter_by(username="off")).one()
        inactive = issue_token(db, off)
        db.commit()
        stored = db.scalars(select(Token.key_hash)).all()
    assert good.startswith("kt_") and good not in stored  # kept hashed
    client = make_client(auth_app, follow_redirects=False)

    def me(token, path="/me"):
        return client.get(path, headers={"authorization": f"Bearer {token}"})

    assert me(good).json()["name"] == "alice"
    assert me(good, "/me/async").json() == {"name": "alice"}
    assert me(forever, "/maybe/async").json() == {"name": "alice"}
    assert "session" not in client.cookies  # no session made for an API call
    for bad in [old, inactive, "kt_nonsense", "x" * 500, good + "x"]:
        refused = me(bad)
        assert refused.status_code == 401, bad
        assert 'error="invalid_token"' in refused.headers["www-authenticate"]
        assert me(bad, "/maybe").status_code == 401  # a bad token is an error
    assert client.get("/me", headers={"authorization": "Basic abc"}).status_code == 401
    assert client.get(
        "/maybe", headers={"authorization": "Basic abc"}
    ).json() == {"name": None}
    with get_database(auth_app).session() as db:
        row = db.scalars(select(Token).filter_by(name="laptop")).one()
        assert row.last_used_at is not None
        assert revoke_token(db, good) and not revoke_token(db, "kt_unknown")
        db.commit()
    assert me(good).status_code == 401
    assert me(forever).status_code == 200
    with get_database(auth_app).session() as db:
        alice = db.scalars(select(User).filter_by(username="alice")).one()
        assert revoke_tokens(db, alice) == 2  # forever, and the expired one
        db.commit()
    assert me(forever).status_code == 401


# -- two-factor login -------------------------------------------------------------------


def _code(secret, offset=0):
    import time as _time

    from kettle.auth import totp

    return totp.totp(secret, at=_time.time() + offset)


def test_two_factor_login_setup_codes_and_recovery(auth_app, make_client):
    import re as _re

    from kettle.auth import RecoveryCode

    client = make_client(auth_app, follow_redirects=False)
    log_in(client)
    setup = client.get("/auth/two-factor/setup")
    secret = _re.search(r'<code class="secret">([A-Z2-7]+)</code>', setup.text).group(1)
    assert "otpauth://totp/" in setup.text
    wrong = client.post("/auth/two-factor/setup", data={"code": "000000"})
    assert "That code is not right" in wrong.text
    done = client.post("/auth/two-factor/setup", data={"code": _code(secret)})
    codes = _re.findall(r"<li><code>([a-z0-9-]+)</code></li>", done.text)
    assert len(codes) == 10 and len(set(codes)) == 10
    with get_database(auth_app).session() as db:
        stored = db.scalars(select(RecoveryCode.code_hash)).all()
        assert len(stored) == 10 and not set(codes) & set(stored)  # hashed
    client.post("/auth/logout")

    # the password alone logs no one in
    step = log_in(client)
    assert step.headers["location"] == "/auth/two-factor"
    assert client.get("/me").status_code == 401
    assert client.post("/auth/two-factor", data={"code": "123456"}).status_code == 200
    assert client.get("/me").status_code == 401
    code = _code(secret, 30)
    ok = client.post("/auth/two-factor", data={"code": code})
    assert ok.status_code == 303
    assert client.get("/me").json()["name"] == "alice"
    client.post("/auth/logout")

    # a code is good once (a replay is refused), a recovery code once; the very
    # code used above, even if a new 30-second step has begun since
    log_in(client)
    replay = client.post("/auth/two-factor", data={"code": code})
    assert "not right" in replay.text
    assert client.post(
        "/auth/two-factor", data={"code": codes[0].upper()}
    ).status_code == 303
    client.post("/auth/logout")
    log_in(client)
    assert "not right" in client.post(
        "/auth/two-factor", data={"code": codes[0]}
    ).text
    with get_database(auth_app).session() as db:
        assert len(db.scalars(select(RecoveryCode.id)).all()) == 9


def test_too_many_wrong_codes_end_the_half_done_login(auth_app, make_client):
    from kettle.auth import totp

    with get_database(auth_app).session() as db:
        alice = db.scalars(select(User).filter_by(username="alice")).one()
        alice.totp_secret = secret = totp.new_secret()
        db.commit()
    client = make_client(auth_app, follow_redirects=False)
    log_in(client)
    for _ in range(4):
        assert client.post("/auth/two-factor", data={"code": "111111"}).status_code == 200
    fifth = client.post("/auth/two-factor", data={"code": "111111"})
    assert fifth.headers["location"] == "/auth/login"
    # even the right code no longer completes it: the password is asked again
    assert client.post(
        "/auth/two-factor", data={"code": _code(secret)}
    ).headers["location"] == "/auth/login"
    assert client.get("/me").status_code == 401


def test_a_group_can_require_two_factor(auth_app, make_client):
    with get_database(auth_app).session() as db:
        bob = db.scalars(select(User).filter_by(username="bob")).one()
        staff = Group(name="staff", requires_two_factor=True)
        bob.groups.append(staff)
        db.commit()
    client = make_client(auth_app, follow_redirects=False)
    step = log_in(client, "bob", "battery staple")
    assert step.headers["location"] == "/auth/two-factor/setup"
    assert client.get("/me").status_code == 401  # not logged in until set up
    import re as _re

    page = client.get("/auth/two-factor/setup")
    secret = _re.search(r'<code class="secret">([A-Z2-7]+)</code>', page.text).group(1)
    done = client.post("/auth/two-factor/setup", data={"code": _code(secret)})
    assert "Two-factor login is on" in done.text
    assert client.get("/me").json()["name"] == "bob"
    assert make_client(auth_app).get("/auth/two-factor/setup").status_code == 200  # login page


# -- password reset, password change, email confirmation ---------------------------


@pytest.fixture
def mail_app(tmp_path):
    app = make_app(f"sqlite:///{tmp_path / 'mail.db'}", MAIL_BACKEND="memory")

    @app.post("/resend")
    def resend(user: User):
        from kettle.auth.emails import send_confirmation

        send_confirmation(request_of(), user)
        return {"sent": True}

    get_database(app).create_all()
    with get_database(app).session() as db:
        db.add(User(username="alice", email="Alice@Example.com", password="correct horse"))
        db.add(User(username="eve", password="no email here"))
        db.commit()
    yield app
    get_database(app).dispose()


def request_of():
    from kettle import request

    return request._get_current_object()


def outbox(app):
    from kettle.mail import get_backend

    return get_backend(app).outbox


def link_in(message) -> str:
    found = re.search(r"http://testserver(/auth/\S+)", message.body)
    assert found, message.body
    return found.group(1)


def test_password_reset_by_email(mail_app, make_client):
    client = make_client(mail_app, follow_redirects=False)
    unknown = client.post("/auth/password-reset", data={"email": "who@example.com"})
    known = client.post("/auth/password-reset", data={"email": "alice@example.COM"})
    for page in (unknown, known):  # the same answer: no account is revealed
        assert "If an account uses that address" in page.text
    [message] = outbox(mail_app)
    assert message.to == ["Alice@Example.com"]
    assert message.subject == "Reset your password"
    link = link_in(message)
    assert client.get(link).status_code == 200
    differ = client.post(link, data={"password": "a new passphrase", "confirm": "other"})
    assert "The two passwords differ." in differ.text
    weak = client.post(link, data={"password": "password", "confirm": "password"})
    assert "This password is too common." in weak.text
    done = client.post(
        link, data={"password": "a new passphrase", "confirm": "a new passphrase"}
    )
    assert done.headers["location"] == "/auth/login"
    assert client.get(link).status_code == 400  # used: the password changed
    assert log_in(client).status_code == 200  # the old password is gone
    assert log_in(client, "alice", "a new passphrase").status_code == 303


def test_a_reset_link_expires_and_dies_at_the_next_login(mail_app, make_client, monkeypatch):
    import itsdangerous.timed

    client = make_client(mail_app, follow_redirects=False)
    client.post("/auth/password-reset", data={"email": "alice@example.com"})
    client.post("/auth/password-reset", data={"email": "alice@example.com"})
    first, second = (link_in(m) for m in outbox(mail_app))
    assert client.get(first + "x").status_code == 400  # tampered
    log_in(client)  # logging in ends the links sent before
    assert client.get(first).status_code == 400
    client.post("/auth/logout")
    client.post("/auth/password-reset", data={"email": "alice@example.com"})
    fresh = link_in(outbox(mail_app)[-1])
    assert client.get(fresh).status_code == 200
    later = itsdangerous.timed.time.time() + 3601
    monkeypatch.setattr(itsdangerous.timed.time, "time", lambda: later)
    assert client.get(fresh).status_code == 400  # expired after an hour
    assert second != fresh


def test_email_confirmation_works_once(mail_app, make_client):
    client = make_client(mail_app, follow_redirects=False)
    log_in(client)
    assert client.post("/resend").json() == {"sent": True}
    [message] = outbox(mail_app)
    assert message.subject == "Confirm your email address"
    link = link_in(message)
    assert "is confirmed" in client.get(link).text
    assert client.get(link).status_code == 400
    with get_database(mail_app).session() as db:
        alice = db.scalars(select(User).filter_by(username="alice")).one()
        assert alice.email_confirmed_at is not None


def test_password_change_keeps_this_session_and_ends_the_others(mail_app, make_client):
    here = make_client(mail_app, follow_redirects=False)
    there = make_client(mail_app, follow_redirects=False)
    log_in(here)
    log_in(there)
    wrong = here.post(
        "/auth/password-change",
        data={"old_password": "nope", "password": "fresh passphrase", "confirm": "fresh passphrase"},
    )
    assert "This is not your current password." in wrong.text
    done = here.post(
        "/auth/password-change",
        data={"old_password": "correct horse", "password": "fresh passphrase", "confirm": "fresh passphrase"},
    )
    assert done.status_code == 303
    assert here.get("/me").status_code == 200
    assert there.get("/me").status_code == 401
    assert make_client(mail_app).get("/auth/password-change").status_code == 401


# -- review fixes: views, stale users, brute force, odd input --------------------------


def test_login_and_permission_required_guard_a_view_class(tmp_path, make_client):
    from kettle import View

    app = make_app(f"sqlite:///{tmp_path / 'v.db'}")

    @app.route("/secret")
    @login_required
    class Secret(View):
        def get(self):
            return "top secret"

    @app.route("/purge")
    @permission_required("auth_test_article.delete")
    class Purge(View):
        def post(self):
            return "purged"

    class Child(Secret):  # a subclass of a guarded view stays guarded
        def get(self):
            return "child secret"

    app.add_route("/child", Child)
    get_database(app).create_all()
    with get_database(app).session() as db:
        db.add(User(username="alice", password="correct horse"))
        db.commit()
    client = make_client(app, follow_redirects=False)
    assert client.get("/secret").status_code == 401
    assert client.get("/child").status_code == 401
    assert client.post("/purge").status_code == 401
    log_in(client)
    assert client.get("/secret").text == "top secret"
    assert client.get("/child").text == "child secret"
    assert client.post("/purge").status_code == 403
    with pytest.raises(ImproperlyConfigured, match="below the route decorator"):
        login_required(Secret)


def test_a_user_read_before_the_handler_is_saved_by_it(auth_app, make_client):
    from kettle import request as current_request
    from kettle.auth import get_user

    @auth_app.before_request
    def who():
        get_user(current_request._get_current_object())  # a session of its own

    client = make_client(auth_app, follow_redirects=False)
    log_in(client)
    done = client.post(
        "/auth/password-change",
        data={"old_password": "correct horse", "password": "brand new one", "confirm": "brand new one"},
    )
    assert done.status_code == 303
    client.post("/auth/logout")
    assert log_in(client, "alice", "brand new one").status_code == 303


def test_has_perm_on_current_user_in_a_template(tmp_path, make_client):
    from kettle.templating import render

    (tmp_path / "perm.html").write_text(
        "{{ current_user.has_perm('auth_test_article.add') }}"
    )
    app = make_app(f"sqlite:///{tmp_path / 'p.db'}", TEMPLATES_FOLDER=str(tmp_path))

    @app.get("/can")
    def can():
        return render("perm.html")

    get_database(app).create_all()
    with get_database(app).session() as db:
        ann = User(username="ann", password="a long password")
        db.add(ann)
        grant(db, ann, "auth_test_article.add")
        db.commit()
    client = make_client(app, follow_redirects=False)
    assert client.get("/can").text == "False"
    log_in(client, "ann", "a long password")
    assert client.get("/can").text == "True"


def test_second_factor_guesses_are_counted_per_user_not_per_session(
    auth_app, make_client
):
    from kettle.auth import totp

    with get_database(auth_app).session() as db:
        alice = db.scalars(select(User).filter_by(username="alice")).one()
        alice.totp_secret = secret = totp.new_secret()
        db.commit()
    client = make_client(auth_app, follow_redirects=False)
    log_in(client)
    half_done = client.cookies.get("session")  # replayed: its try count resets
    statuses = []
    for _ in range(8):
        client.cookies.set("session", half_done, domain="testserver.local")
        statuses.append(client.post("/auth/two-factor", data={"code": "000000"}).status_code)
    assert statuses[:5] == [200] * 5 and set(statuses[5:]) == {429}
    client.cookies.set("session", half_done, domain="testserver.local")
    assert client.post(
        "/auth/two-factor", data={"code": _code(secret)}
    ).status_code == 429  # even the right code waits
    with pytest.raises(RuntimeError, match="two factors"):
        from kettle.auth import login as plain_login

        with get_database(auth_app).session() as db:
            alice = db.scalars(select(User).filter_by(username="alice")).one()
            plain_login(None, alice)  # type: ignore[arg-type]


def test_two_factor_cannot_be_replaced_or_set_up_with_a_token(auth_app, make_client):
    from kettle.auth import issue_token
    from kettle.auth import totp

    with get_database(auth_app).session() as db:
        bob = db.scalars(select(User).filter_by(username="bob")).one()
        token = issue_token(db, bob)
        alice = db.scalars(select(User).filter_by(username="alice")).one()
        alice.totp_secret = totp.new_secret()
        db.commit()
    client = make_client(auth_app, follow_redirects=False)
    with_token = client.get(
        "/auth/two-factor/setup", headers={"authorization": f"Bearer {token}"}
    )
    assert with_token.status_code == 403
    log_in(client)  # alice: password, then her code
    with get_database(auth_app).session() as db:
        secret = db.scalars(select(User.totp_secret).filter_by(username="alice")).one()
    client.post("/auth/two-factor", data={"code": _code(secret)})
    assert client.get("/me").json()["name"] == "alice"
    assert client.get("/auth/two-factor/setup").status_code == 409


def test_concurrent_guesses_are_all_counted(tmp_path):
    """Twelve guesses at once (WSGI threads, as a threaded server runs them):
    five are checked, the others refused, none slips between check and count."""
    import threading

    app = make_app(f"sqlite:///{tmp_path / 'c.db'}")
    get_database(app).create_all()
    with get_database(app).session() as db:
        db.add(User(username="alice", password="correct horse"))
        db.commit()
    statuses = []
    start = threading.Barrier(12)

    def guess():
        with app.test_client(interface="wsgi", follow_redirects=False) as client:
            start.wait()
            statuses.append(log_in(client, "alice", "guess").status_code)

    threads = [threading.Thread(target=guess) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [200] * 5 + [429] * 7
    get_database(app).dispose()


def test_odd_input_is_no_login_and_no_500(auth_app, make_client):
    from itsdangerous import URLSafeTimedSerializer

    client = make_client(auth_app, follow_redirects=False)
    assert log_in(client, "ali\x00ce", "correct horse").status_code == 200
    assert client.post(
        "/auth/password-reset", data={"email": "a\x00@example.com"}
    ).status_code == 200
    signer = URLSafeTimedSerializer(SECRET, salt="kettle.session")
    for odd in ["abc", 10**30, [1], {"a": 1}, True, 1.5]:
        for key, value in [
            ("_auth_user_id", odd),
            ("_auth_2fa_pending", {"id": odd, "kind": "verify", "at": odd}),
        ]:
            cookie = signer.dumps({key: value})
            client.cookies.set("session", cookie, domain="testserver.local")
            assert client.get("/me").status_code == 401, (key, odd)
            assert client.get("/maybe").json() == {"name": None}
            assert client.post(
                "/auth/two-factor", data={"code": "123456"}
            ).status_code == 303


def test_email_logins_ignore_case_and_refuse_a_shared_address(auth_app, make_client):
    client = make_client(auth_app, follow_redirects=False)
    assert log_in(client, "ALICE@example.com").status_code == 303
    client.post("/auth/logout")
    with get_database(auth_app).session() as db:
        db.add(User(username="alice2", email="alice@EXAMPLE.com", password="correct horse"))
        db.commit()
    assert log_in(client, "alice@example.com").status_code == 200  # ambiguous
    assert log_in(client, "alice").status_code == 303  # by name, still fine


def test_reset_links_are_rate_limited_per_address(mail_app, make_client):
    client = make_client(mail_app, follow_redirects=False)
    for _ in range(5):
        page = client.post("/auth/password-reset", data={"email": "alice@example.com"})
        assert "If an account uses that address" in page.text
    assert len(outbox(mail_app)) == 3  # AUTH_RESET_RATE_EMAIL: 3/h
