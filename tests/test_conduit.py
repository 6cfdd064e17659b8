"""examples/conduit: the RealWorld ("Conduit") backend API, endpoint by endpoint,
with the specification's shapes (the keys and types its Postman collection
checks), status codes and ``{"errors": {...}}`` answers; on real SQLite,
PostgreSQL and MariaDB databases. Then served for real, by ``kettle serve`` and
``kettle run``, and called from a page of another origin in Chromium."""

from __future__ import annotations

import base64
import contextlib
import datetime
import hashlib
import hmac
import http.server
import json
import os
import re
import shutil
import threading
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from openapi_spec_validator import validate
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import update

from kettle.auth import hashers
from kettle.db import get_database
from kettle.exceptions import ImproperlyConfigured
from kettle.testing import TestClient
from payloads import INJECTIONS
from served import serve
from test_examples import load

hashers.set_test_parameters()

CONDUIT = Path(__file__).resolve().parent.parent / "examples" / "conduit"
KEY = "conduit-test-key-0123456789abcdef0123456789"
PASSWORD = "password123"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ALL_DBS = pytest.mark.parametrize(
    "database_url", ["sqlite", "postgresql", "mariadb"], indirect=True
)

# The Postman collection's test of createdAt and updatedAt.
ISO_8601 = re.compile(
    r"^\d{4,}-[01]\d-[0-3]\dT[0-2]\d:[0-5]\d:[0-5]\d\.\d+(?:[+-][0-2]\d:[0-5]\d|Z)$"
)
USER_KEYS = {"email", "token", "username", "bio", "image"}
PROFILE_KEYS = {"username", "bio", "image", "following"}
ARTICLE_KEYS = {
    "slug",
    "title",
    "description",
    "body",
    "tagList",
    "createdAt",
    "updatedAt",
    "favorited",
    "favoritesCount",
    "author",
}
LISTED_KEYS = ARTICLE_KEYS - {"body"}  # lists leave the body out (2024-08-16)
COMMENT_KEYS = {"id", "createdAt", "updatedAt", "body", "author"}
DRAGON = {
    "title": "How to train your dragon",
    "description": "Ever wonder how?",
    "body": "Very carefully.",
    "tagList": ["dragons", "training"],
}


@pytest.fixture(scope="module")
def conduit(tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    """The example, imported once (its models join Kettle's metadata once)."""
    instance = tmp_path_factory.mktemp("conduit")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CONDUIT_INSTANCE", str(instance))
        patch.setenv("KETTLE_SECRET_KEY", KEY)
        patch.delenv("KETTLE_DATABASE_URL", raising=False)
        return load("conduit")


@pytest.fixture
def app(conduit: ModuleType, database_url: Any) -> Any:
    """The app on a fresh database; TESTING turns N+1 lazy loads into errors."""
    return conduit.create_app(
        DATABASE_URL=database_url.url_sync, SECRET_KEY=KEY, TESTING=True
    )


@pytest.fixture
def api(app: Any) -> Any:
    with TestClient(app) as client:
        yield Api(client)


class Api:
    """A client of the API, with the Authorization header of a user's token."""

    def __init__(self, client: TestClient) -> None:
        self.client = client

    def call(
        self, method: str, path: str, token: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}))
        if token is not None:
            headers["Authorization"] = f"Token {token}"
        return self.client.request(method, "/api" + path, headers=headers, **kwargs)

    def ok(
        self,
        method: str,
        path: str,
        token: str | None = None,
        status: int = 200,
        **kwargs: Any,
    ) -> Any:
        """The JSON of a successful call (200, or ``status``)."""
        r = self.call(method, path, token, **kwargs)
        assert r.status_code == status, (method, path, r.status_code, r.text)
        assert r.headers["content-type"] == "application/json"
        return r.json()

    def register(self, name: str, password: str = PASSWORD) -> str:
        user = {"username": name, "email": f"{name}@example.org", "password": password}
        r = self.call("POST", "/users", json={"user": user})
        assert r.status_code == 201, r.text
        return str(r.json()["user"]["token"])

    def write(self, token: str, **article: Any) -> dict[str, Any]:
        answer = self.ok("POST", "/articles", token, 201, json={"article": article})
        return dict(answer["article"])


def error(r: httpx.Response, status: int) -> dict[str, list[str]]:
    """The ``errors`` of an error answer, checked to be RealWorld's shape."""
    assert r.status_code == status, (r.status_code, r.text)
    data = r.json()
    assert list(data) == ["errors"], data
    errors: dict[str, list[str]] = data["errors"]
    assert errors and all(
        isinstance(messages, list) and all(isinstance(m, str) for m in messages)
        for messages in errors.values()
    ), data
    return errors


def check_profile(profile: dict[str, Any], username: str, following: bool) -> None:
    assert set(profile) == PROFILE_KEYS
    assert (profile["username"], profile["following"]) == (username, following)
    assert profile["bio"] is None or isinstance(profile["bio"], str)
    assert profile["image"] is None or isinstance(profile["image"], str)


def check_article(article: dict[str, Any], listed: bool = False) -> None:
    assert set(article) == (LISTED_KEYS if listed else ARTICLE_KEYS)
    for key in ("slug", "title", "description") + (() if listed else ("body",)):
        assert isinstance(article[key], str), key
    assert isinstance(article["tagList"], list)
    assert all(isinstance(tag, str) for tag in article["tagList"])
    assert ISO_8601.match(article["createdAt"]) and ISO_8601.match(article["updatedAt"])
    assert isinstance(article["favorited"], bool)
    assert type(article["favoritesCount"]) is int
    assert set(article["author"]) == PROFILE_KEYS


def slugs(answer: dict[str, Any]) -> list[str]:
    for article in answer["articles"]:
        check_article(article, listed=True)
    assert type(answer["articlesCount"]) is int
    return [article["slug"] for article in answer["articles"]]


def claims_of(token: str) -> dict[str, Any]:
    """The JWT's claims, its HS256 signature checked here, independently of the
    example's code."""
    head, payload, signature = token.split(".")

    def decode(part: str) -> bytes:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))

    assert json.loads(decode(head)) == {"alg": "HS256", "typ": "JWT"}
    expected = hmac.new(KEY.encode(), f"{head}.{payload}".encode(), hashlib.sha256)
    assert hmac.compare_digest(decode(signature), expected.digest())
    return dict(json.loads(decode(payload)))


# -- users and authentication -----------------------------------------------------


@ALL_DBS
def test_register_log_in_and_read_the_current_user(api: Api) -> None:
    r = api.call(
        "POST",
        "/users",
        json={
            "user": {
                "username": "Jacob",
                "email": "Jake@Jake.jake",
                "password": "jakejake",
            }
        },
    )
    assert r.status_code == 201
    user = r.json()["user"]
    assert set(user) == USER_KEYS
    assert user["username"] == "Jacob"
    assert user["email"] == "jake@jake.jake"  # addresses are kept in lower case
    assert (user["bio"], user["image"]) == (None, None)
    claims = claims_of(user["token"])
    assert claims["sub"].isdigit() and claims["username"] == "Jacob"
    assert 29 * 86400 < claims["exp"] - time.time() <= 30 * 86400

    r = api.call(
        "POST",
        "/users/login",
        json={"user": {"email": "JAKE@jake.jake", "password": "jakejake"}},
    )
    assert r.status_code == 200
    login = r.json()["user"]
    assert {k: login[k] for k in USER_KEYS - {"token"}} == {
        k: user[k] for k in USER_KEYS - {"token"}
    }
    assert claims_of(login["token"])["sub"] == claims["sub"]

    for token in (user["token"], login["token"]):
        me = api.ok("GET", "/user", token)["user"]
        assert me == {**user, "token": token}  # the token it was sent


@ALL_DBS
def test_registration_is_validated(api: Api) -> None:
    api.register("jake")
    cases: list[tuple[Any, dict[str, list[str]]]] = [
        ({}, {"user": ["can't be empty"]}),
        ({"user": "jake"}, {"user": ["must be an object"]}),
        (
            {"user": {}},
            {
                "username": ["can't be empty"],
                "email": ["can't be empty"],
                "password": ["can't be empty"],
            },
        ),
        (
            {"user": {"username": "  ", "email": "", "password": ""}},
            {
                "username": ["can't be empty"],
                "email": ["can't be empty"],
                "password": ["can't be empty"],
            },
        ),
        (
            {
                "user": {
                    "username": "a/b",
                    "email": "not-an-address",
                    "password": 12345678,
                }
            },
            {
                "username": ["is invalid"],
                "email": ["is invalid"],
                "password": ["must be a string"],
            },
        ),
        (
            {
                "user": {
                    "username": "x" * 41,
                    "email": "new@example.org",
                    "password": "short",
                }
            },
            {"username": ["is too long (maximum is 40 characters)"]},
        ),
        (
            {
                "user": {
                    "username": "newbie",
                    "email": "new@example.org",
                    "password": "short",
                }
            },
            {"password": ["is too short (minimum is 8 characters)"]},
        ),
        # Taken, whatever the case of the name or the address.
        (
            {
                "user": {
                    "username": "JAKE",
                    "email": "Jake@Example.org",
                    "password": PASSWORD,
                }
            },
            {
                "email": ["has already been taken"],
                "username": ["has already been taken"],
            },
        ),
        ([1, 2], {"body": ["must be an object"]}),
    ]
    for body, expected in cases:
        r = api.call("POST", "/users", json=body)
        assert error(r, 422) == expected, body
    r = api.call(
        "POST",
        "/users",
        content=b'{"user": ',
        headers={"content-type": "application/json"},
    )
    assert error(r, 422) == {"body": ["is not valid JSON"]}
    r = api.call(
        "POST",
        "/users",
        content=b"user=jake",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert "body" in error(r, 415)
    assert (  # none of these made a user
        api.call(
            "POST",
            "/users/login",
            json={"user": {"email": "new@example.org", "password": "short"}},
        ).status_code
        == 401
    )


@ALL_DBS
def test_logging_in_fails_alike_for_a_wrong_password_or_address(api: Api) -> None:
    api.register("jake")
    for user in (
        {"email": "jake@example.org", "password": "wrong password"},
        {"email": "nobody@example.org", "password": PASSWORD},
    ):
        r = api.call("POST", "/users/login", json={"user": user})
        assert error(r, 401) == {"email or password": ["is invalid"]}
    r = api.call("POST", "/users/login", json={"user": {"email": "jake@example.org"}})
    assert error(r, 422) == {"password": ["can't be empty"]}
    r = api.call("POST", "/users/login", json={"user": {"email": "", "password": ""}})
    assert error(r, 422) == {
        "email": ["can't be empty"],
        "password": ["can't be empty"],
    }


def test_failed_logins_are_throttled_per_account(
    conduit: ModuleType, tmp_path: Path
) -> None:
    app = conduit.create_app(
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}", SECRET_KEY=KEY
    )
    with TestClient(app) as client:
        api = Api(client)
        api.register("jake")
        wrong = {"user": {"email": "jake@example.org", "password": "guess"}}
        statuses = [
            api.call("POST", "/users/login", json=wrong).status_code for _ in range(6)
        ]
        assert statuses == [401] * 5 + [429]
        right = {"user": {"email": "jake@example.org", "password": PASSWORD}}
        r = api.call("POST", "/users/login", json=right)  # not even checked now
        assert "email or password" in error(r, 429)
        assert int(r.headers["retry-after"]) >= 1


@ALL_DBS
def test_update_the_current_user(api: Api, app: Any, conduit: ModuleType) -> None:
    token = api.register("jake")
    api.register("amy")
    changes = {"bio": "I like to skateboard", "image": "https://example.org/jake.jpg"}
    user = api.ok("PUT", "/user", token, json={"user": changes})["user"]
    assert set(user) == USER_KEYS
    assert (user["bio"], user["image"], user["token"]) == (
        changes["bio"],
        changes["image"],
        token,
    )
    assert api.ok("GET", "/user", token)["user"] == user
    # The same address (the Postman collection sends it), and unknown keys sent
    # back by front ends (the token), are fine.
    same = {"email": "jake@example.org", "token": token}
    assert api.ok("PUT", "/user", token, json={"user": same})["user"] == user

    for changes, expected in [
        ({}, {"user": ["can't be empty"]}),
        ({"email": ""}, {"email": ["can't be empty"]}),
        (
            {"email": "AMY@example.org", "username": "Amy"},
            {
                "email": ["has already been taken"],
                "username": ["has already been taken"],
            },
        ),
        ({"image": "javascript:alert(1)"}, {"image": ["is invalid"]}),
        ({"bio": 5}, {"bio": ["must be a string"]}),
        (
            {"password": "short"},
            {"password": ["is too short (minimum is 8 characters)"]},
        ),
    ]:
        r = api.call("PUT", "/user", token, json={"user": changes})
        assert error(r, 422) == expected, changes
    assert error(api.call("PUT", "/user", json={"user": {"bio": "x"}}), 401)

    # New name and address; a blank password is no change; null clears the bio.
    changed = api.ok(
        "PUT",
        "/user",
        token,
        json={
            "user": {
                "username": "jacob",
                "email": "Jacob@Example.org",
                "password": "",
                "bio": None,
            }
        },
    )["user"]
    assert (changed["username"], changed["email"], changed["bio"]) == (
        "jacob",
        "jacob@example.org",
        None,
    )
    assert claims_of(changed["token"])["username"] == "jacob"
    assert api.ok("GET", "/profiles/jacob")["profile"]["username"] == "jacob"
    assert api.call("GET", "/profiles/jake").status_code == 404
    login = {"email": "jacob@example.org", "password": PASSWORD}
    assert api.call("POST", "/users/login", json={"user": login}).status_code == 200

    # A new password: a new token, and the older ones stop working.
    new = api.ok(
        "PUT", "/user", changed["token"], json={"user": {"password": "a new password"}}
    )["user"]
    assert new["token"] not in (token, changed["token"])
    for old in (token, changed["token"]):
        assert error(api.call("GET", "/user", old), 401) == {
            "token": ["is invalid or expired"]
        }
    assert api.ok("GET", "/user", new["token"])["user"]["username"] == "jacob"
    assert api.call("POST", "/users/login", json={"user": login}).status_code == 401
    login["password"] = "a new password"
    assert api.call("POST", "/users/login", json={"user": login}).status_code == 200
    with get_database(app).session() as db:  # an Argon2id hash, never the password
        stored = db.scalar(
            select(conduit.User.password).where(conduit.User.username == "jacob")
        )
    assert stored.startswith("$argon2id$")


def test_an_old_hash_is_upgraded_at_login(conduit: ModuleType, tmp_path: Path) -> None:
    """A user moved from another app with a Django PBKDF2 hash logs in, and
    their hash becomes Argon2id."""
    app = conduit.create_app(
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}", SECRET_KEY=KEY
    )
    with TestClient(app) as client:
        api = Api(client)
        api.register("jake")
        salt = "saltsaltsalt"
        digest = hashlib.pbkdf2_hmac("sha256", PASSWORD.encode(), salt.encode(), 1000)
        django = f"pbkdf2_sha256$1000${salt}${base64.b64encode(digest).decode()}"
        with get_database(app).session() as db:
            db.execute(update(conduit.User).values(password=django))
            db.commit()
        login = {"user": {"email": "jake@example.org", "password": PASSWORD}}
        assert api.call("POST", "/users/login", json=login).status_code == 200
        with get_database(app).session() as db:
            assert db.scalar(select(conduit.User.password)).startswith("$argon2id$")
        assert api.call("POST", "/users/login", json=login).status_code == 200


# -- tokens ------------------------------------------------------------------------


def test_the_lifetime_of_tokens_is_a_setting(
    conduit: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    monkeypatch.setenv("KETTLE_CONDUIT_TOKEN_LIFETIME", "120")
    with TestClient(conduit.create_app(DATABASE_URL=url, SECRET_KEY=KEY)) as client:
        claims = claims_of(Api(client).register("jake"))
        assert claims["exp"] - claims["iat"] == 120
    monkeypatch.setenv("KETTLE_CONDUIT_TOKEN_LIFETIME", "a month")
    with pytest.raises(ImproperlyConfigured, match="CONDUIT_TOKEN_LIFETIME"):
        conduit.create_app(DATABASE_URL=url, SECRET_KEY=KEY)


def test_tokens_are_standard_jwts(conduit: ModuleType) -> None:
    # RFC 7515, appendix A.1: a JWS signed with HMAC SHA-256, and its key.
    key = base64.urlsafe_b64decode(
        "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow=="
    )
    token = (
        "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9"
        ".eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
        ".dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    )
    claims = {"iss": "joe", "exp": 1300819380, "http://example.com/is_root": True}
    assert conduit.read_token(key, token, now=1300819379) == claims
    assert conduit.read_token(key, token, now=1300819380) is None  # expired
    assert conduit.read_token(key[:-1], token, now=0) is None
    head, payload, signature = token.split(".")
    assert conduit.read_token(key, f"{head}.{payload}.{signature[:-2]}", now=0) is None

    made = conduit.make_token(b"k" * 32, {"sub": "1", "exp": 2000000000})
    assert conduit.read_token(b"k" * 32, made, now=1999999999) == {
        "sub": "1",
        "exp": 2000000000,
    }
    for bad in (
        "",
        "a.b",
        "a.b.c.d",
        "!!.!!.!!",
        made + "x",
        made.replace(".", "..", 1),
        "é" + made,
    ):
        assert conduit.read_token(b"k" * 32, bad, now=0) is None, bad
    assert (
        conduit.read_token(b"k" * 32, conduit.make_token(b"k" * 32, {"sub": "1"}))
        is None
    )  # no exp


@ALL_DBS
def test_bad_tokens_are_refused(api: Api, conduit: ModuleType) -> None:
    token = api.register("jake")
    claims = claims_of(token)

    def forge(key: str = KEY, **changes: Any) -> str:
        return str(conduit.make_token(key.encode(), {**claims, **changes}))

    head, payload, _ = token.split(".")
    unsigned = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0"  # {"alg":"none","typ":"JWT"}
    for header, message in [
        (f"Basic {token}", "must be sent as 'Authorization: Token <jwt>'"),
        ("Token", "must be sent as 'Authorization: Token <jwt>'"),
        ("Token not-a-jwt", "is invalid or expired"),
        (f"Token {unsigned}.{payload}.", "is invalid or expired"),
        (
            f"Token {head}.{payload}.{forge().split('.')[2][::-1]}",
            "is invalid or expired",
        ),
        (f"Token {forge(key='another key, another site')}", "is invalid or expired"),
        (f"Token {forge(exp=int(time.time()) - 1)}", "is invalid or expired"),
        (f"Token {forge(sub='999')}", "is invalid or expired"),
        (f"Token {forge(sub='1e3')}", "is invalid or expired"),
        ("Token " + forge(sub="\u00b9"), "is invalid or expired"),  # a digit, not 0-9
        (f"Token {forge(exp=float('inf'))}", "is invalid or expired"),
        (f"Token {forge(ver=1)}", "is invalid or expired"),
        (f"Token {'x' * 5000}", "is invalid or expired"),
    ]:
        # Refused where a login is needed, and where it is optional too.
        for path in ("/user", "/articles"):
            r = api.call("GET", path, headers={"Authorization": header})
            assert error(r, 401) == {"token": [message]}, (header, path)
            assert r.headers["www-authenticate"] == 'Token realm="conduit"'
    r = api.call("GET", "/user")
    assert error(r, 401) == {"token": ["is missing: send 'Authorization: Token <jwt>'"]}
    # An empty header is no header; "Bearer" is accepted as well as "Token".
    assert (
        api.call("GET", "/articles", headers={"Authorization": ""}).status_code == 200
    )
    r = api.call("GET", "/user", headers={"Authorization": f"bearer {token}"})
    assert r.json()["user"]["username"] == "jake"


# -- profiles --------------------------------------------------------------------


@ALL_DBS
def test_profiles_follow_and_unfollow(api: Api) -> None:
    jake = api.register("jake")
    celeb = api.register("Celeb_jake")
    api.ok(
        "PUT",
        "/user",
        celeb,
        json={"user": {"bio": "Famous", "image": "https://example.org/c.png"}},
    )

    profile = api.ok("GET", "/profiles/Celeb_jake")["profile"]
    check_profile(profile, "Celeb_jake", following=False)
    assert (profile["bio"], profile["image"]) == ("Famous", "https://example.org/c.png")
    assert api.ok("GET", "/profiles/celeb_JAKE", jake)["profile"] == profile  # any case

    for _ in range(2):  # following twice is following
        followed = api.ok(
            "POST", "/profiles/Celeb_jake/follow", jake, json={"user": {"email": "x"}}
        )
        check_profile(followed["profile"], "Celeb_jake", following=True)
    assert api.ok("GET", "/profiles/Celeb_jake", jake)["profile"]["following"] is True
    assert api.ok("GET", "/profiles/Celeb_jake")["profile"]["following"] is False
    assert api.ok("GET", "/profiles/jake", celeb)["profile"]["following"] is False

    for _ in range(2):
        unfollowed = api.ok("DELETE", "/profiles/Celeb_jake/follow", jake)
        check_profile(unfollowed["profile"], "Celeb_jake", following=False)
    assert api.ok("GET", "/profiles/Celeb_jake", jake)["profile"]["following"] is False

    assert error(api.call("GET", "/profiles/nobody"), 404) == {"profile": ["not found"]}
    for method in ("POST", "DELETE"):
        assert error(api.call(method, "/profiles/nobody/follow", jake), 404) == {
            "profile": ["not found"]
        }
        assert "token" in error(api.call(method, "/profiles/Celeb_jake/follow"), 401)
    r = api.call("POST", "/profiles/jake/follow", jake)
    assert error(r, 422) == {"username": ["can't be followed by itself"]}


# -- articles --------------------------------------------------------------------


@ALL_DBS
def test_write_read_change_and_delete_an_article(
    api: Api, app: Any, conduit: ModuleType
) -> None:
    jake = api.register("jake")
    amy = api.register("amy")
    r = api.call("POST", "/articles", jake, json={"article": DRAGON})
    assert r.status_code == 201
    article = r.json()["article"]
    check_article(article)
    assert article["slug"] == "how-to-train-your-dragon"
    assert {k: article[k] for k in DRAGON} == DRAGON  # the tags in their order
    assert (article["favorited"], article["favoritesCount"]) == (False, 0)
    check_profile(article["author"], "jake", following=False)
    assert article["createdAt"] == article["updatedAt"]

    # The same title again: another slug; a title of no Latin letters: "article".
    again = api.write(amy, **{**DRAGON, "tagList": []})
    assert again["slug"] == "how-to-train-your-dragon-2"
    assert api.write(amy, title="¿Qué?", description="d", body="b")["slug"] == "que"
    assert api.write(amy, title="龍", description="d", body="b")["slug"] == "article"

    got = api.ok("GET", "/articles/how-to-train-your-dragon")["article"]
    assert got == article
    api.ok("POST", "/profiles/jake/follow", amy)
    assert (
        api.ok("GET", "/articles/how-to-train-your-dragon", amy)["article"]["author"][
            "following"
        ]
        is True
    )

    # Only its author changes it; a new title is a new slug.
    change = {"article": {"title": "Did you train your dragon?"}}
    assert error(
        api.call("PUT", "/articles/how-to-train-your-dragon", amy, json=change), 403
    ) == {"article": ["can only be changed by its author"]}
    assert "token" in error(
        api.call("PUT", "/articles/how-to-train-your-dragon", json=change), 401
    )
    assert error(
        api.call("PUT", "/articles/no-such-article", jake, json=change), 404
    ) == {"article": ["not found"]}
    with get_database(app).session() as db:  # as if written long ago
        old = datetime.datetime(2020, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
        db.execute(update(conduit.Article).values(created_at=old, updated_at=old))
        db.commit()
    changed = api.ok("PUT", "/articles/how-to-train-your-dragon", jake, json=change)[
        "article"
    ]
    check_article(changed)
    assert changed["slug"] == "did-you-train-your-dragon"
    assert changed["title"] == "Did you train your dragon?"
    assert (changed["body"], changed["tagList"]) == (DRAGON["body"], DRAGON["tagList"])
    assert changed["createdAt"] == "2020-01-02T03:04:05.000Z"
    assert changed["updatedAt"] > changed["createdAt"]  # now
    assert api.call("GET", "/articles/how-to-train-your-dragon").status_code == 404
    changed = api.ok(
        "PUT",
        "/articles/did-you-train-your-dragon",
        jake,
        json={
            "article": {
                "body": "With two hands",
                "description": "How?",
                "tagList": ["Training", "fire"],
            }
        },
    )["article"]
    assert (changed["slug"], changed["body"], changed["description"]) == (
        "did-you-train-your-dragon",
        "With two hands",
        "How?",
    )
    assert changed["tagList"] == ["training", "fire"]
    for bad, expected in [
        ({"article": {"title": " "}}, {"title": ["can't be empty"]}),
        ({"article": {"body": ""}}, {"body": ["can't be empty"]}),
        ({"article": {"tagList": "fire"}}, {"tagList": ["must be a list"]}),
        ({}, {"article": ["can't be empty"]}),
    ]:
        assert (
            error(
                api.call("PUT", "/articles/did-you-train-your-dragon", jake, json=bad),
                422,
            )
            == expected
        )
    assert (
        api.ok(
            "PUT", "/articles/did-you-train-your-dragon", jake, json={"article": {}}
        )["article"]
        == changed
    )

    # Deleting: only by its author; its comments and favorites go with it.
    api.ok(
        "POST",
        "/articles/did-you-train-your-dragon/comments",
        amy,
        json={"comment": {"body": "Hi"}},
    )
    api.ok("POST", "/articles/did-you-train-your-dragon/favorite", amy)
    assert error(
        api.call("DELETE", "/articles/did-you-train-your-dragon", amy), 403
    ) == {"article": ["can only be changed by its author"]}
    assert "token" in error(
        api.call("DELETE", "/articles/did-you-train-your-dragon"), 401
    )
    assert api.ok("DELETE", "/articles/did-you-train-your-dragon", jake) == {}
    assert error(api.call("GET", "/articles/did-you-train-your-dragon"), 404) == {
        "article": ["not found"]
    }
    assert error(api.call("DELETE", "/articles/did-you-train-your-dragon", jake), 404)
    with get_database(app).session() as db:
        for model in (conduit.Comment, conduit.Favorite, conduit.ArticleTag):
            assert db.scalar(select(func.count()).select_from(model)) == 0, model
    assert "fire" not in api.ok("GET", "/tags")["tags"]


@ALL_DBS
def test_articles_are_validated(api: Api) -> None:
    jake = api.register("jake")
    for body, expected in [
        ({}, {"article": ["can't be empty"]}),
        (
            {"article": {}},
            {
                "title": ["can't be empty"],
                "description": ["can't be empty"],
                "body": ["can't be empty"],
            },
        ),
        (
            {"article": {**DRAGON, "title": "x" * 201}},
            {"title": ["is too long (maximum is 200 characters)"]},
        ),
        (
            {"article": {**DRAGON, "tagList": "dragons"}},
            {"tagList": ["must be a list"]},
        ),
        (
            {"article": {**DRAGON, "tagList": ["ok", 7]}},
            {"tagList": ["must be a string"]},
        ),
        (
            {"article": {**DRAGON, "tagList": ["t"] * 21}},
            {"tagList": ["has too many items (maximum is 20)"]},
        ),
        (
            {"article": {**DRAGON, "tagList": ["x" * 51]}},
            {"tagList": ["is too long (maximum is 50 characters)"]},
        ),
    ]:
        assert error(api.call("POST", "/articles", jake, json=body), 422) == expected, (
            body
        )
    # Not logged in: refused before the body is even read.
    assert "token" in error(api.call("POST", "/articles", json={"article": {}}), 401)
    # Blank and repeated tags are dropped, tags are in lower case; null is none.
    article = api.write(
        jake, **{**DRAGON, "tagList": ["Dragons", " ", "dragons", "DIY "]}
    )
    assert article["tagList"] == ["dragons", "diy"]
    assert api.write(jake, **{**DRAGON, "tagList": None})["tagList"] == []


@ALL_DBS
def test_list_filter_and_page_articles(api: Api, app: Any, conduit: ModuleType) -> None:
    jake, amy, bob = (api.register(name) for name in ("jake", "amy", "bob"))
    assert api.ok("GET", "/articles") == {"articles": [], "articlesCount": 0}
    written = [
        api.write(
            jake,
            title="One",
            description="d",
            body="b",
            tagList=["dragons", "training"],
        ),
        api.write(amy, title="Two", description="d", body="b", tagList=["dragons"]),
        api.write(jake, title="Three", description="d", body="b", tagList=["fire"]),
        api.write(amy, title="Four", description="d", body="b"),
    ]
    assert [a["slug"] for a in written] == ["one", "two", "three", "four"]
    everything = api.ok("GET", "/articles")
    assert slugs(everything) == ["four", "three", "two", "one"]  # most recent first
    assert everything["articlesCount"] == 4
    api.ok("POST", "/articles/two/favorite", bob)
    api.ok("POST", "/articles/one/favorite", bob)
    api.ok("POST", "/articles/one/favorite", jake)
    api.ok("POST", "/profiles/amy/follow", bob)

    def listing(query: str, token: str | None = None) -> tuple[list[str], int]:
        answer = api.ok("GET", "/articles" + query, token)
        return slugs(answer), answer["articlesCount"]

    assert listing("?tag=dragons") == (["two", "one"], 2)
    assert listing("?tag=DRAGONS") == (["two", "one"], 2)
    assert listing("?author=jake") == (["three", "one"], 2)
    assert listing("?author=Jake&tag=dragons") == (["one"], 1)
    assert listing("?favorited=bob") == (["two", "one"], 2)
    assert listing("?favorited=bob&author=amy") == (["two"], 1)
    assert listing("?author=nobody") == ([], 0)
    assert listing("?tag=nothing") == ([], 0)
    assert listing("?tag=&author=") == (["four", "three", "two", "one"], 4)
    assert listing("?limit=2") == (["four", "three"], 4)
    assert listing("?limit=2&offset=2") == (["two", "one"], 4)
    assert listing("?offset=3") == (["one"], 4)
    assert listing("?offset=10") == ([], 4)

    # What the caller sees: their favorites, whom they follow, the counts.
    seen = {a["slug"]: a for a in api.ok("GET", "/articles", bob)["articles"]}
    assert [
        (s, a["favorited"], a["favoritesCount"], a["author"]["following"])
        for s, a in seen.items()
    ] == [
        ("four", False, 0, True),
        ("three", False, 0, False),
        ("two", True, 1, True),
        ("one", True, 2, False),
    ]
    anonymous = api.ok("GET", "/articles")["articles"]
    assert [(a["favorited"], a["favoritesCount"]) for a in anonymous][2:] == [
        (False, 1),
        (False, 2),
    ]
    assert anonymous[3]["tagList"] == ["dragons", "training"]

    # "Most recent" is the time of writing, not the order of the ids.
    with get_database(app).session() as db:
        future = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=1)
        db.execute(
            update(conduit.Article)
            .where(conduit.Article.slug == "one")
            .values(created_at=future)
        )
        db.commit()
    assert listing("") == (["one", "four", "three", "two"], 4)

    for query, expected in [
        ("?limit=0", {"limit": ["must be greater than or equal to 1"]}),
        ("?limit=101", {"limit": ["must be less than or equal to 100"]}),
        (
            "?limit=ten&offset=-1",
            {
                "limit": ["must be an integer"],
                "offset": ["must be greater than or equal to 0"],
            },
        ),
        ("?tag=" + "x" * 51, {"tag": ["is too long (maximum is 50 characters)"]}),
    ]:
        assert error(api.call("GET", "/articles" + query), 422) == expected, query


@ALL_DBS
def test_twenty_articles_a_page_by_default(api: Api) -> None:
    jake = api.register("jake")
    for number in range(21):
        api.write(jake, title=f"Article {number}", description="d", body="b")
    answer = api.ok("GET", "/articles")
    assert slugs(answer) == [f"article-{n}" for n in range(20, 0, -1)]
    assert answer["articlesCount"] == 21


@ALL_DBS
def test_the_feed_has_the_articles_of_followed_users(api: Api) -> None:
    jake, amy, bob = (api.register(name) for name in ("jake", "amy", "bob"))
    assert "token" in error(api.call("GET", "/articles/feed"), 401)
    for token, title in [
        (amy, "A1"),
        (bob, "B1"),
        (jake, "J1"),
        (amy, "A2"),
        (bob, "B2"),
    ]:
        api.write(token, title=title, description="d", body="b")
    empty = api.ok("GET", "/articles/feed", jake)
    assert empty == {"articles": [], "articlesCount": 0}
    api.ok("POST", "/profiles/amy/follow", jake)
    feed = api.ok("GET", "/articles/feed", jake)
    assert (slugs(feed), feed["articlesCount"]) == (["a2", "a1"], 2)
    assert all(a["author"]["following"] for a in feed["articles"])
    api.ok("POST", "/profiles/bob/follow", jake)
    assert slugs(api.ok("GET", "/articles/feed", jake)) == ["b2", "a2", "b1", "a1"]
    page = api.ok("GET", "/articles/feed?limit=2&offset=1", jake)
    assert (slugs(page), page["articlesCount"]) == (["a2", "b1"], 4)
    assert error(api.call("GET", "/articles/feed?offset=x", jake), 422) == {
        "offset": ["must be an integer"]
    }
    api.ok("DELETE", "/profiles/amy/follow", jake)
    assert slugs(api.ok("GET", "/articles/feed", jake)) == ["b2", "b1"]
    assert slugs(api.ok("GET", "/articles/feed", amy)) == []


@ALL_DBS
def test_favorite_and_unfavorite(api: Api) -> None:
    jake, amy = api.register("jake"), api.register("amy")
    api.write(jake, **DRAGON)
    for _ in range(2):  # twice is once
        article = api.ok("POST", "/articles/how-to-train-your-dragon/favorite", amy)[
            "article"
        ]
        check_article(article)
        assert (article["favorited"], article["favoritesCount"]) == (True, 1)
    article = api.ok("POST", "/articles/how-to-train-your-dragon/favorite", jake)[
        "article"
    ]
    assert (article["favorited"], article["favoritesCount"]) == (True, 2)
    seen = api.ok("GET", "/articles/how-to-train-your-dragon", amy)["article"]
    assert (seen["favorited"], seen["favoritesCount"]) == (True, 2)
    for _ in range(2):
        article = api.ok("DELETE", "/articles/how-to-train-your-dragon/favorite", amy)[
            "article"
        ]
        check_article(article)
        assert (article["favorited"], article["favoritesCount"]) == (False, 1)
    assert (
        api.ok("GET", "/articles/how-to-train-your-dragon", jake)["article"][
            "favorited"
        ]
        is True
    )
    for method in ("POST", "DELETE"):
        assert error(api.call(method, "/articles/nothing/favorite", amy), 404) == {
            "article": ["not found"]
        }
        assert "token" in error(
            api.call(method, "/articles/how-to-train-your-dragon/favorite"), 401
        )


@ALL_DBS
def test_comments(api: Api) -> None:
    jake, amy = api.register("jake"), api.register("amy")
    api.write(jake, **DRAGON)
    path = "/articles/how-to-train-your-dragon/comments"
    assert api.ok("GET", path) == {"comments": []}
    first = api.ok("POST", path, amy, json={"comment": {"body": "Thank you so much!"}})[
        "comment"
    ]
    assert set(first) == COMMENT_KEYS and type(first["id"]) is int
    assert (
        ISO_8601.match(first["createdAt"]) and first["updatedAt"] == first["createdAt"]
    )
    assert first["body"] == "Thank you so much!"
    check_profile(first["author"], "amy", following=False)
    second = api.ok("POST", path, jake, json={"comment": {"body": "You're welcome."}})[
        "comment"
    ]

    comments = api.ok("GET", path)["comments"]  # without a login too
    assert comments == [second, first]  # the most recent first
    api.ok("POST", "/profiles/amy/follow", jake)
    seen = api.ok("GET", path, jake)["comments"]
    assert [(c["author"]["username"], c["author"]["following"]) for c in seen] == [
        ("jake", False),
        ("amy", True),
    ]

    for body, expected in [
        ({"comment": {"body": "  "}}, {"body": ["can't be empty"]}),
        ({"comment": {}}, {"body": ["can't be empty"]}),
        ({"body": "Hi"}, {"comment": ["can't be empty"]}),
    ]:
        assert error(api.call("POST", path, amy, json=body), 422) == expected
    assert "token" in error(
        api.call("POST", path, json={"comment": {"body": "Hi"}}), 401
    )
    assert error(
        api.call(
            "POST", "/articles/nothing/comments", amy, json={"comment": {"body": "Hi"}}
        ),
        404,
    ) == {"article": ["not found"]}
    assert error(api.call("GET", "/articles/nothing/comments"), 404) == {
        "article": ["not found"]
    }

    # Deleting: only by its author, and only under its own article.
    other = api.write(amy, title="Other", description="d", body="b")["slug"]
    first_path = f"{path}/{first['id']}"
    assert error(api.call("DELETE", first_path, jake), 403) == {
        "comment": ["can only be changed by its author"]
    }
    assert "token" in error(api.call("DELETE", first_path), 401)
    assert error(
        api.call("DELETE", f"/articles/{other}/comments/{first['id']}", amy), 404
    ) == {"comment": ["not found"]}
    assert error(api.call("DELETE", f"{path}/99999", amy), 404) == {
        "comment": ["not found"]
    }
    assert api.call("DELETE", f"{path}/first", amy).status_code == 404
    assert api.ok("DELETE", first_path, amy) == {}
    assert api.ok("GET", path)["comments"] == [second]
    assert error(api.call("DELETE", first_path, amy), 404) == {"comment": ["not found"]}


@ALL_DBS
def test_tags_most_used_first(api: Api) -> None:
    jake = api.register("jake")
    assert api.ok("GET", "/tags") == {"tags": []}
    api.write(
        jake, title="A", description="d", body="b", tagList=["training", "dragons"]
    )
    api.write(
        jake, title="B", description="d", body="b", tagList=["dragons", "angularjs"]
    )
    api.write(
        jake,
        title="C",
        description="d",
        body="b",
        tagList=["reactjs", "dragons", "training"],
    )
    assert api.ok("GET", "/tags") == {
        "tags": ["dragons", "training", "angularjs", "reactjs"]
    }
    api.ok("DELETE", "/articles/c", jake)
    api.ok("PUT", "/articles/b", jake, json={"article": {"tagList": []}})
    assert api.ok("GET", "/tags") == {"tags": ["dragons", "training"]}
    # Tags are compared exactly, on MariaDB too (whose collations ignore accents).
    api.write(jake, title="D", description="d", body="b", tagList=["café", "cafe"])
    assert api.ok("GET", "/articles/d")["article"]["tagList"] == ["café", "cafe"]
    assert slugs(api.ok("GET", "/articles?tag=cafe")) == ["d"]
    assert api.ok("GET", "/articles?tag=CAFÉ")["articlesCount"] == 1


def test_lists_take_the_same_queries_for_any_number_of_rows(
    conduit: ModuleType, tmp_path: Path
) -> None:
    """No N+1: a page of 12 articles (or comments) takes as many queries as a
    page of 1, counted by the Server-Timing header of debug mode."""
    app = conduit.create_app(
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}", SECRET_KEY=KEY, DEBUG=True
    )
    with TestClient(app) as client:
        api = Api(client)
        tokens = [api.register(f"user{n}") for n in range(3)]

        def queries(path: str) -> int:
            r = api.call("GET", path, tokens[0])
            assert r.status_code == 200
            found = re.search(r'desc="(\d+) quer', r.headers["server-timing"])
            assert found, r.headers["server-timing"]
            return int(found.group(1))

        api.write(tokens[1], title="First", description="d", body="b", tagList=["a"])
        api.ok(
            "POST",
            "/articles/first/comments",
            tokens[2],
            json={"comment": {"body": "c"}},
        )
        one = queries("/articles"), queries("/articles/first/comments")
        for n in range(11):
            author = tokens[n % 3]
            slug = api.write(
                author,
                title=f"Another {n}",
                description="d",
                body="b",
                tagList=["a", f"t{n}"],
            )["slug"]
            api.ok("POST", f"/articles/{slug}/favorite", tokens[(n + 1) % 3])
            api.ok(
                "POST",
                "/articles/first/comments",
                author,
                json={"comment": {"body": "c"}},
            )
        api.ok("POST", "/profiles/user1/follow", tokens[0])
        assert (queries("/articles"), queries("/articles/first/comments")) == one


# -- the rest of HTTP --------------------------------------------------------------


def test_errors_of_http_itself_have_the_same_shape(
    conduit: ModuleType, tmp_path: Path
) -> None:
    app = conduit.create_app(
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}", SECRET_KEY=KEY
    )
    with TestClient(app) as client:
        api = Api(client)
        token = api.register("jake")
        assert error(api.call("GET", "/nothing"), 404) == {"body": ["Not Found"]}
        r = api.call("PUT", "/tags")
        assert error(r, 405) == {"body": ["Method Not Allowed"]}
        assert "GET" in r.headers["allow"]
        r = api.call(
            "POST",
            "/articles",
            token,
            content=b"x" * (1024 * 1024 + 1),
            headers={"content-type": "application/json"},
        )
        assert list(error(r, 413)) == ["body"]
        r = api.call(
            "POST",
            "/articles",
            token,
            content=b"title=x",
            headers={"content-type": "text/plain"},
        )
        assert list(error(r, 415)) == ["body"]

        # An unexpected error: a 500 in the same shape (in debug: Kettle's page).
        def broken() -> None:
            raise ZeroDivisionError

        app.dependency_overrides[conduit.maybe_caller] = broken
        assert error(api.call("GET", "/articles"), 500) == {
            "body": ["Internal Server Error"]
        }
        app.config["DEBUG"] = True
        r = api.call("GET", "/articles")
        assert (r.status_code, r.json()["exception"]) == (500, "ZeroDivisionError: ")
        app.dependency_overrides.clear()
        # The API documents itself.
        document = client.get("/openapi.json").json()
        validate(document)  # OpenAPI 3.1
        assert {"/api/users", "/api/articles/{slug}/comments/{id}", "/api/tags"} <= set(
            document["paths"]
        )
        assert document["info"]["title"] == "Conduit API"


@pytest.mark.parametrize("interface", ["asgi", "wsgi"])
def test_a_front_end_on_another_origin_may_call_it(
    conduit: ModuleType, tmp_path: Path, interface: str
) -> None:
    """CORS lets any origin in (no credentials), and the CSRF checks, made here
    as a browser's are, do not refuse the front end's body-less POSTs and
    DELETEs: the API uses no cookie."""
    app = conduit.create_app(
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}", SECRET_KEY=KEY
    )
    origin = {"Origin": "http://localhost:4200"}
    with TestClient(app, interface=interface, enforce_csrf_checks=True) as client:
        api = Api(client)
        preflight = client.options(
            "/api/articles/x/favorite",
            headers={
                **origin,
                "Access-Control-Request-Method": "DELETE",
                "Access-Control-Request-Headers": "authorization,content-type,x-requested-with",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "*"
        assert "DELETE" in preflight.headers["access-control-allow-methods"]
        assert "authorization" in preflight.headers["access-control-allow-headers"]
        assert "access-control-allow-credentials" not in preflight.headers

        r = api.call(
            "POST",
            "/users",
            headers=origin,
            json={
                "user": {
                    "username": "jake",
                    "email": "j@example.org",
                    "password": PASSWORD,
                }
            },
        )
        assert r.status_code == 201 and r.headers["access-control-allow-origin"] == "*"
        token = r.json()["user"]["token"]
        api.write(token, **DRAGON)
        for method, path in [
            ("POST", "/articles/how-to-train-your-dragon/favorite"),
            ("DELETE", "/articles/how-to-train-your-dragon/favorite"),
            ("DELETE", "/articles/how-to-train-your-dragon"),
        ]:
            r = api.call(method, path, token, headers=origin)
            assert r.status_code == 200, (method, path, r.text)
            assert r.headers["access-control-allow-origin"] == "*"
        assert not client.cookies  # no session, no cookie


# -- served for real ---------------------------------------------------------------


@pytest.mark.parametrize(
    "command", [("serve",), ("run", "--no-reload")], ids=["serve", "run"]
)
def test_served_by_kettle_serve_and_kettle_run(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    """The example from its folder, on its default SQLite database (in the
    instance folder), over real HTTP: register, write, list, comment, read."""
    env = {"CONDUIT_INSTANCE": str(tmp_path), "KETTLE_SECRET_KEY": KEY}
    with serve(CONDUIT, "app:app", tmp_path / "server.log", env, command) as url:
        with httpx.Client(base_url=url + "/api", timeout=10) as http:
            user = {
                "username": "jake",
                "email": "jake@example.org",
                "password": PASSWORD,
            }
            r = http.post("/users", json={"user": user})
            assert r.status_code == 201, r.text
            auth = {"Authorization": "Token " + r.json()["user"]["token"]}
            r = http.post("/articles", json={"article": DRAGON}, headers=auth)
            assert r.status_code == 201, r.text
            assert r.headers["content-type"].startswith("application/json")
            listed = http.get("/articles").json()
            assert slugs(listed) == ["how-to-train-your-dragon"]
            r = http.post(
                "/articles/how-to-train-your-dragon/comments",
                json={"comment": {"body": "Hi"}},
                headers=auth,
            )
            assert r.status_code == 200
            article = http.get("/articles/how-to-train-your-dragon").json()["article"]
            check_article(article)
            assert (
                http.get("/articles/how-to-train-your-dragon/comments").json()[
                    "comments"
                ][0]["body"]
                == "Hi"
            )
            assert error(http.get("/user"), 401)
    assert (tmp_path / "conduit.sqlite3").exists()
    assert "Exception on " not in (tmp_path / "server.log").read_text()  # no 500


@contextlib.contextmanager
def front_end() -> Iterator[str]:
    """A page of another origin than the API's (another port), served by the
    standard library's HTTP server: a front end."""

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"<!doctype html><title>Front end</title>"
            self.send_response(200)
            self.send_header("content-type", "text/html")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_a_page_of_another_origin_uses_it_in_chromium(tmp_path: Path) -> None:
    """Real Chromium, on a page of another origin (a front end), calls the API
    served by ``kettle serve`` with fetch: preflights, the Authorization header,
    JSON bodies and body-less POSTs and DELETEs."""
    from playwright.sync_api import sync_playwright

    assert os.path.exists(CHROMIUM), "Debian's chromium is not installed"
    env = {"CONDUIT_INSTANCE": str(tmp_path), "KETTLE_SECRET_KEY": KEY}
    script = """async (api) => {
        const call = async (method, path, token, body) => {
            const headers = {"X-Requested-With": "XMLHttpRequest"};
            if (token) headers["Authorization"] = "Token " + token;
            if (body) headers["Content-Type"] = "application/json";
            const r = await fetch(api + path, {method, headers, body: body && JSON.stringify(body)});
            return [r.status, await r.json()];
        };
        const steps = [];
        const [status, registered] = await call("POST", "/users", null,
            {user: {username: "jake", email: "jake@example.org", password: "password123"}});
        steps.push(status);
        const token = registered.user.token;
        steps.push((await call("POST", "/articles", token,
            {article: {title: "From a browser", description: "d", body: "b", tagList: ["web"]}}))[0]);
        const [favStatus, fav] = await call("POST", "/articles/from-a-browser/favorite", token);
        steps.push(favStatus, fav.article.favoritesCount);
        const [listStatus, list] = await call("GET", "/articles?tag=web", token);
        steps.push(listStatus, list.articles[0].favorited, list.articlesCount);
        steps.push((await call("DELETE", "/articles/from-a-browser", token))[0]);
        const [gone, missing] = await call("GET", "/articles/from-a-browser");
        steps.push(gone, missing.errors.article[0]);
        const [noToken, refused] = await call("GET", "/user");
        steps.push(noToken, Object.keys(refused.errors)[0]);
        return steps;
    }"""
    with (
        serve(CONDUIT, "app:app", tmp_path / "server.log", env) as url,
        front_end() as page_url,
        sync_playwright() as playwright,
    ):
        assert page_url.rstrip("/") != url  # another origin: another port
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            page = browser.new_page()
            page.goto(page_url)
            steps = page.evaluate(script, url + "/api")
        finally:
            browser.close()
    assert steps == [
        201,
        201,
        200,
        1,
        200,
        True,
        1,
        200,
        404,
        "not found",
        401,
        "token",
    ]


@ALL_DBS
def test_hostile_input_is_text_or_a_4xx(conduit: ModuleType, database_url: Any) -> None:
    """SQL-injection strings and NUL characters (which PostgreSQL refuses in
    text) in every input: never a 500, never a change of meaning."""
    app = conduit.create_app(
        DATABASE_URL=database_url.url_sync,
        SECRET_KEY=KEY,
        AUTH_LOGIN_RATE_ACCOUNT=None,  # so many wrong logins: no 429s here
        AUTH_LOGIN_RATE_ADDRESS=None,
    )
    with TestClient(app) as client:
        check_hostile_input(Api(client), app, conduit)


def check_hostile_input(api: Api, app: Any, conduit: ModuleType) -> None:
    token = api.register("jake")
    api.write(token, **DRAGON)
    for payload in [*INJECTIONS, "a\x00b", "\x00"]:
        quoted = urllib.parse.quote(payload, safe="")
        for method, path, body in [
            ("GET", f"/profiles/{quoted}", None),
            ("POST", f"/profiles/{quoted}/follow", None),
            ("GET", f"/articles/{quoted}", None),
            ("GET", f"/articles/{quoted}/comments", None),
            ("POST", f"/articles/{quoted}/favorite", None),
            ("GET", f"/articles?tag={quoted}&author={quoted}&favorited={quoted}", None),
            ("GET", f"/articles?tag={quoted}", None),
            (
                "POST",
                "/users",
                {"user": {"username": payload, "email": payload, "password": payload}},
            ),
            (
                "POST",
                "/users",
                {
                    "user": {
                        "username": "x",
                        "email": f"x{payload}@example.org",
                        "password": PASSWORD,
                    }
                },
            ),
            ("POST", "/users/login", {"user": {"email": payload, "password": payload}}),
            (
                "POST",
                "/users/login",
                {"user": {"email": "jake@example.org", "password": payload}},
            ),
            (
                "PUT",
                "/user",
                {"user": {"bio": payload, "image": f"https://example.org/{payload}"}},
            ),
            (
                "POST",
                "/articles",
                {
                    "article": {
                        "title": payload,
                        "description": payload,
                        "body": payload,
                        "tagList": [payload],
                    }
                },
            ),
            (
                "PUT",
                "/articles/how-to-train-your-dragon",
                {"article": {"description": payload}},
            ),
            (
                "POST",
                "/articles/how-to-train-your-dragon/comments",
                {"comment": {"body": payload}},
            ),
        ]:
            r = api.call(method, path, token, json=body)
            assert r.status_code in (200, 201, 401, 404, 422), (
                payload,
                method,
                path,
                r.text,
            )
            if r.status_code >= 400:
                assert error(r, r.status_code)
    # Stored as text, read back as text.
    with get_database(app).session() as db:  # "x" with a quote in its address
        users = dict(
            db.execute(select(conduit.User.username, conduit.User.email)).all()
        )
    assert users == {"jake": "jake@example.org", "x": "xadmin'--@example.org"}
    article = api.ok("GET", "/articles/how-to-train-your-dragon")["article"]
    assert article["description"] == INJECTIONS[-1]
    stored = {p.lower().strip() for p in INJECTIONS if len(p) <= 50}  # a tag's most
    assert set(api.ok("GET", "/tags")["tags"]) == stored | {"dragons", "training"}
    for tag in stored:
        listed = api.ok("GET", "/articles?tag=" + urllib.parse.quote(tag, safe=""))
        assert listed["articlesCount"] == 1, tag
