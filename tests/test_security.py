"""The security test module of kettle.auth and the security defaults: what an
attacker tries, and what they get.

- session fixation: a session planted before the login is not the logged-in one;
- brute force: logins are throttled per account and per address;
- tokens: reset links work once and expire, API tokens expire and are revoked
  (more in test_auth.py: confirmation links, TOTP and recovery codes once);
- a user without a permission gets 403;
- SQL-injection strings in every search, filter and form input of the
  examples change no query's meaning (the blog's search and registration are
  in test_blog.py, and sqlmap probes its search and login in test_sqlmap.py);
- a failed login for an unknown user takes as long as a wrong password;
- the security headers are on every response.
"""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from kettle import Kettle
from kettle.auth import Auth
from kettle.auth import User
from kettle.auth import hashers
from kettle.auth import permission_required
from kettle.db import get_database
from payloads import INJECTIONS

SECRET = "security-tests-secret-key-0123456789abcdefghijkl"



@pytest.fixture(autouse=True)
def _cheap_hashing():
    before = hashers.get_hasher()
    hashers.set_test_parameters()
    yield
    hashers.configure(
        time_cost=before.time_cost,
        memory_cost=before.memory_cost,
        parallelism=before.parallelism,
    )


def make_app(tmp_path, **settings) -> Kettle:
    app = Kettle(
        SECRET_KEY=SECRET,
        DATABASE_URL=f"sqlite:///{tmp_path / 'security.db'}",
        **settings,
    )
    Auth(app)

    @app.get("/me")
    def me(user: User):
        return {"name": user.username}

    @app.post("/admin/purge")
    @permission_required("auth_user.delete")
    def purge():
        return {"purged": True}

    get_database(app).create_all()
    with get_database(app).session() as db:
        db.add(User(username="alice", email="alice@example.com", password="correct horse"))
        db.commit()
    return app


def log_in(client, username="alice", password="correct horse"):
    return client.post(
        "/auth/login", data={"username": username, "password": password}
    )


# -- session fixation ---------------------------------------------------------------


@pytest.mark.parametrize("backend", ["cookie", "database"])
def test_a_planted_session_is_not_the_logged_in_one(tmp_path, make_client, backend):
    app = make_app(tmp_path, SESSION_BACKEND=backend)
    attacker = make_client(app, follow_redirects=False)
    attacker.get("/auth/login")  # gets a session (with a CSRF token)
    planted = attacker.cookies.get("session")
    assert planted
    victim = make_client(app, follow_redirects=False)
    victim.cookies.set("session", planted, domain="testserver.local")
    assert log_in(victim).status_code == 303
    assert victim.cookies.get("session") != planted
    assert victim.get("/me").json() == {"name": "alice"}
    assert attacker.get("/me").status_code == 401  # the planted id is not logged in


def test_logout_ends_the_session_for_a_copied_cookie(tmp_path, make_client):
    app = make_app(tmp_path, SESSION_BACKEND="database")
    client = make_client(app, follow_redirects=False)
    log_in(client)
    stolen = client.cookies.get("session")
    client.post("/auth/logout")
    thief = make_client(app, follow_redirects=False)
    thief.cookies.set("session", stolen, domain="testserver.local")
    assert thief.get("/me").status_code == 401


# -- permissions -------------------------------------------------------------------


def test_a_user_without_the_permission_gets_403(tmp_path, make_client):
    app = make_app(tmp_path)
    client = make_client(app, follow_redirects=False)
    assert client.post("/admin/purge").status_code == 401
    log_in(client)
    refused = client.post("/admin/purge")
    assert refused.status_code == 403
    assert "auth_user.delete" in refused.text


# -- brute force ---------------------------------------------------------------------


def test_failed_logins_are_throttled_per_account(tmp_path, make_client):
    app = make_app(tmp_path)
    client = make_client(app, follow_redirects=False)
    for _ in range(5):
        assert log_in(client, "alice", "guess").status_code == 200
    locked = log_in(client, "alice", "guess")
    assert locked.status_code == 429
    assert "Too many failed logins: try again in" in locked.text
    # locked out: even the right password is not checked now
    assert log_in(client).status_code == 429
    assert client.get("/me").status_code == 401
    # another account from the same address is not locked (yet)
    assert log_in(client, "bob", "guess").status_code == 200


def test_failed_logins_are_throttled_per_address(tmp_path, make_client):
    app = make_app(tmp_path, AUTH_LOGIN_RATE_ADDRESS="8/5m")
    client = make_client(app, follow_redirects=False)
    for n in range(8):  # a different name each time: spraying one password
        assert log_in(client, f"user{n}", "Summer2026!").status_code == 200
    assert log_in(client, "alice", "correct horse").status_code == 429


def test_a_successful_login_clears_the_account_count(tmp_path, make_client):
    app = make_app(tmp_path)
    client = make_client(app, follow_redirects=False)
    for _ in range(4):
        log_in(client, "alice", "guess")
    assert log_in(client).status_code == 303
    client.post("/auth/logout")
    for _ in range(4):  # four more failures are allowed again
        assert log_in(client, "alice", "guess").status_code == 200


def test_the_throttle_is_shared_by_workers_through_redis(tmp_path, make_client, redis_url):
    """Two apps on one database and one Redis: two workers, or two machines."""
    first = make_app(tmp_path, RATELIMIT_BACKEND="redis", RATELIMIT_REDIS_URL=redis_url)
    second = Kettle(
        SECRET_KEY=SECRET,
        DATABASE_URL=f"sqlite:///{tmp_path / 'security.db'}",
        RATELIMIT_BACKEND="redis",
        RATELIMIT_REDIS_URL=redis_url,
    )
    Auth(second)
    one = make_client(first, follow_redirects=False)
    two = make_client(second, follow_redirects=False)
    for n in range(5):
        client = one if n % 2 else two
        assert log_in(client, "alice", "guess").status_code == 200
    assert log_in(one).status_code == 429
    assert log_in(two).status_code == 429


# -- timing --------------------------------------------------------------------------


def test_an_unknown_user_takes_as_long_as_a_wrong_password(tmp_path, make_client):
    """The hash is computed in both cases: medians of interleaved logins differ
    by far less than one hash takes (with parameters where a hash dominates)."""
    hashers.configure(time_cost=2, memory_cost=16 * 1024, parallelism=1)
    app = make_app(tmp_path, RATELIMIT_ENABLED=False)
    client = make_client(app, follow_redirects=False)
    one_hash = []
    for _ in range(5):
        start = time.perf_counter()
        hashers.check_password("x", hashers.hash_password("y"))
        one_hash.append(time.perf_counter() - start)
    unknown, wrong = [], []
    log_in(client, "nobody", "x")  # warm up both paths
    log_in(client, "alice", "x")
    for _ in range(15):
        for name, into in (("nobody", unknown), ("alice", wrong)):
            start = time.perf_counter()
            response = log_in(client, name, "not the password")
            into.append(time.perf_counter() - start)
            assert response.status_code == 200
    # Minima: a busy machine only ever adds time, so the fastest of each kind is
    # the least noisy. Skipping the hash for unknown users would open a gap of a
    # whole verify (about half of a hash+check); what remains is noise.
    gap = abs(min(unknown) - min(wrong))
    assert gap < min(one_hash) / 4, (unknown, wrong, one_hash)


# -- SQL injection ---------------------------------------------------------------------


def test_injection_strings_in_the_login_form_log_no_one_in(tmp_path, make_client):
    app = make_app(tmp_path, RATELIMIT_ENABLED=False)
    client = make_client(app, follow_redirects=False)
    for payload in INJECTIONS:
        for data in (
            {"username": payload, "password": "x"},
            {"username": "alice", "password": payload},
            {"username": payload, "password": payload},
        ):
            response = client.post("/auth/login", data=data)
            assert response.status_code == 200, data
            assert client.get("/me").status_code == 401, data
    with get_database(app).session() as db:
        assert db.scalars(select(User.username)).all() == ["alice"]


def test_injection_strings_in_the_bookshop_filters(make_client):
    """The bookshop's list filters (q, tag, genre, author_id): the payloads
    match nothing, or are refused as invalid, never a 500."""
    from test_examples import load

    shop = load("bookshop")
    client = make_client(shop.app)
    for payload in INJECTIONS:
        for params in ({"q": payload}, {"tag": payload}, {"genre": payload}, {"author_id": payload}):
            response = client.get("/books", params=params)
            assert response.status_code in (200, 422), (params, response.text)
            if response.status_code == 200:
                assert response.json()["items"] == []


def test_every_security_header_on_the_login_page(tmp_path, make_client):
    app = make_app(tmp_path)
    client = make_client(app, base_url="https://testserver")
    page = client.get("/auth/login")
    headers = page.headers
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin"
    assert headers["x-frame-options"] == "DENY"
    assert headers["cross-origin-opener-policy"] == "same-origin"
    assert headers["strict-transport-security"].startswith("max-age=31536000")
    csp = headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp
    nonce = csp.split("'nonce-", 1)[1].split("'", 1)[0]  # the page's <style>
    assert f'<style nonce="{nonce}">' in page.text
    other = client.get("/auth/login").headers["content-security-policy"]
    assert other != csp  # a new nonce per request
    assert "set-cookie" in headers and "Secure" in headers["set-cookie"]
    assert "HttpOnly" in headers["set-cookie"] and "SameSite=Lax" in headers["set-cookie"]


def test_a_bad_host_is_refused_when_debug_is_off(tmp_path, make_client):
    app = make_app(tmp_path, ALLOWED_HOSTS=["example.com"])
    client = make_client(app)
    assert client.get("/auth/login", headers={"host": "evil.example"}).status_code == 400
    assert client.get("/auth/login", headers={"host": "example.com"}).status_code == 200


# -- tokens: single use, expiry, revocation ---------------------------------------------


def test_reset_links_work_once_and_expire(tmp_path, make_client, monkeypatch):
    import re

    import itsdangerous.timed

    from kettle.mail import get_backend

    app = make_app(tmp_path, MAIL_BACKEND="memory")
    client = make_client(app, follow_redirects=False)
    client.post("/auth/password-reset", data={"email": "alice@example.com"})
    link = re.search(r"http://testserver(\S+)", get_backend(app).outbox[-1].body)[1]
    new = {"password": "a fresh passphrase", "confirm": "a fresh passphrase"}
    assert client.post(link, data=new).status_code == 303
    assert client.post(link, data=new).status_code == 400  # used
    client.post("/auth/password-reset", data={"email": "alice@example.com"})
    later = re.search(r"http://testserver(\S+)", get_backend(app).outbox[-1].body)[1]
    now = itsdangerous.timed.time.time()
    monkeypatch.setattr(itsdangerous.timed.time, "time", lambda: now + 3601)
    assert client.get(later).status_code == 400  # expired


def test_api_tokens_expire_and_are_revoked(tmp_path, make_client):
    import datetime

    from kettle.auth import issue_token
    from kettle.auth import revoke_token

    app = make_app(tmp_path)
    with get_database(app).session() as db:
        alice = db.scalars(select(User).filter_by(username="alice")).one()
        live = issue_token(db, alice)
        dead = issue_token(db, alice, expires_in=datetime.timedelta(seconds=-1))
        db.commit()
    client = make_client(app)

    def me(token):
        return client.get("/me", headers={"authorization": f"Bearer {token}"})

    assert me(live).status_code == 200
    assert me(dead).status_code == 401
    with get_database(app).session() as db:
        revoke_token(db, live)
        db.commit()
    assert me(live).status_code == 401
