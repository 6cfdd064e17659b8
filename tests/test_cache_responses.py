"""@cache_response under ASGI and WSGI, with sync and async handlers; and
``{% cache %}`` fragments in real templates."""

from __future__ import annotations

import contextlib
import itertools
import logging
import re
import threading

import pytest

from kettle import Kettle
from kettle import request
from kettle import session
from kettle.auth import Auth
from kettle.auth import User
from kettle.auth import hashers
from kettle.cache import cache_response
from kettle.cache import get_cache
from kettle.cache import invalidate_fragment
from kettle.db import get_database
from kettle.responses import HTMLResponse
from kettle.responses import StreamingResponse
from kettle.templating import render
from kettle.templating import render_async

SECRET = "cache-test-secret-" + "x" * 32


def _app(**settings: object) -> Kettle:
    return Kettle(env_file=None, SECRET_KEY=SECRET, **settings)


@pytest.fixture(params=["sync", "async"])
def kind(request: pytest.FixtureRequest) -> str:
    """Whether the handlers are ``def`` or ``async def``."""
    return request.param


_names = itertools.count(1)


def _handler(kind: str, body):
    """A handler (of ``kind``) returning ``body(counter)``, counting its runs
    (named apart, so that routes get their own names)."""
    counter = itertools.count(1)
    if kind == "sync":

        def page():
            return body(next(counter))

        made = page
    else:

        async def page_async():
            return body(next(counter))

        made = page_async
    made.__name__ = made.__qualname__ = f"page{next(_names)}"
    return made


def test_hit_and_miss(make_client, kind):
    """The first GET runs the handler (MISS), the next are answered from the
    cache (HIT, with Age); HEAD uses the same entry; other URLs and query
    strings are apart."""
    app = _app()
    app.get("/page")(cache_response(ttl=60)(_handler(kind, lambda n: f"run {n}")))
    client = make_client(app)
    first = client.get("/page")
    assert (first.text, first.headers["x-cache"]) == ("run 1", "MISS")
    assert first.headers["cache-control"] == "max-age=60"
    assert "cookie" in first.headers["vary"].lower()
    second = client.get("/page")
    assert (second.text, second.headers["x-cache"]) == ("run 1", "HIT")
    assert int(second.headers["age"]) >= 0
    assert second.headers["content-type"].startswith("text/html")
    head = client.head("/page")
    assert head.headers["x-cache"] == "HIT" and head.content == b""
    assert client.get("/page?x=1").text == "run 2"
    assert client.get("/page?x=1").text == "run 2"


def test_post_is_never_cached(make_client, kind):
    app = _app(CSRF_ENABLED=False)
    app.add_route(
        "/form",
        cache_response(ttl=60)(_handler(kind, lambda n: f"run {n}")),
        methods=["GET", "POST"],
    )
    client = make_client(app)
    assert client.post("/form").text == "run 1"
    assert client.post("/form").headers["x-cache"] == "BYPASS"
    assert client.post("/form").text == "run 3"
    assert client.get("/form").text == "run 4"
    assert client.get("/form").text == "run 4"


def test_response_vary_header_is_honoured(make_client, kind):
    """A response with ``Vary: Accept-Language`` is kept once per language."""

    def body(n: int):
        lang = request.headers.get("accept-language", "en")
        return HTMLResponse(f"{lang} {n}", headers={"Vary": "Accept-Language"})

    app = _app()
    app.get("/hello")(cache_response(ttl=60)(_handler(kind, body)))
    client = make_client(app)
    fr = {"Accept-Language": "fr"}
    de = {"Accept-Language": "de"}
    assert client.get("/hello", headers=fr).text == "fr 1"
    assert client.get("/hello", headers=de).text == "de 2"
    assert client.get("/hello", headers=fr).text == "fr 1"
    assert client.get("/hello", headers=de).text == "de 2"
    assert client.get("/hello").text == "en 3"


def test_a_page_made_from_the_cookies_is_not_kept(make_client, kind):
    """``Vary: Cookie`` from the handler (a theme or a token cookie): entries
    never vary on the whole Cookie header, so the page is not kept at all."""

    def body(n: int):
        theme = request.cookies.get("theme", "none")
        return HTMLResponse(f"{theme} {n}", headers={"Vary": "Cookie"})

    app = _app()
    app.get("/themed")(cache_response(ttl=60)(_handler(kind, body)))
    client = make_client(app)
    client.cookies.set("theme", "dark")
    assert client.get("/themed").text == "dark 1"
    client.cookies.set("theme", "light")
    light = client.get("/themed")
    assert (light.text, light.headers["x-cache"]) == ("light 2", "MISS")
    client.cookies.clear()
    assert client.get("/themed").text == "none 3"


def test_vary_argument_headers_and_cookies(make_client, kind):
    def body(n: int) -> str:
        return (
            f"{request.headers.get('x-theme-hint')}/{request.cookies.get('theme')} {n}"
        )

    app = _app()
    app.get("/v")(
        cache_response(ttl=60, vary=["X-Theme-Hint", "cookie:theme"])(
            _handler(kind, body)
        )
    )
    client = make_client(app)
    assert client.get("/v", headers={"X-Theme-Hint": "a"}).text == "a/None 1"
    assert client.get("/v", headers={"X-Theme-Hint": "b"}).text == "b/None 2"
    assert client.get("/v", headers={"X-Theme-Hint": "a"}).text == "a/None 1"
    client.cookies.set("theme", "dark")
    response = client.get("/v", headers={"X-Theme-Hint": "a"})
    assert response.text == "a/dark 3"
    assert "x-theme-hint" in response.headers["vary"].lower()


@pytest.mark.parametrize("control", ["private", "no-store", "no-cache, max-age=0"])
def test_responses_that_forbid_caching_are_not_kept(make_client, kind, control):
    app = _app()
    app.get("/p")(
        cache_response(ttl=60)(
            _handler(
                kind,
                lambda n: HTMLResponse(f"run {n}", headers={"Cache-Control": control}),
            )
        )
    )
    client = make_client(app)
    assert client.get("/p").text == "run 1"
    again = client.get("/p")
    assert again.text == "run 2"
    assert again.headers["cache-control"] == control


def test_responses_setting_cookies_or_sessions_are_not_kept(make_client, kind):
    def with_cookie(n: int):
        response = HTMLResponse(f"cookie {n}")
        response.set_cookie("seen", "1")
        return response

    def with_session(n: int) -> str:
        session["visits"] = n
        return f"session {n}"

    app = _app()
    app.get("/cookie")(cache_response(ttl=60)(_handler(kind, with_cookie)))
    app.get("/session")(cache_response(ttl=60)(_handler(kind, with_session)))
    client = make_client(app)
    assert client.get("/cookie").text == "cookie 1"
    client.cookies.clear()
    assert client.get("/cookie").text == "cookie 2"
    first = client.get("/session")
    assert first.text == "session 1" and "set-cookie" in first.headers
    client.cookies.clear()
    assert client.get("/session").text == "session 2"


def test_only_chosen_statuses_and_whole_bodies_are_kept(make_client):
    counter = itertools.count(1)
    app = _app()

    @app.get("/missing")
    @cache_response(ttl=60)
    def missing():
        return f"gone {next(counter)}", 404

    @app.get("/gone")
    @cache_response(ttl=60, statuses=[200, 404])
    def gone():
        return f"gone {next(counter)}", 404

    @app.get("/stream")
    @cache_response(ttl=60)
    def stream():
        return StreamingResponse(iter([f"chunk {next(counter)}"]))

    client = make_client(app)
    assert client.get("/missing").text == "gone 1"
    assert client.get("/missing").text == "gone 2"
    assert client.get("/gone").text == "gone 3"
    hit = client.get("/gone")
    assert (hit.status_code, hit.text, hit.headers["x-cache"]) == (404, "gone 3", "HIT")
    assert client.get("/stream").text == "chunk 4"
    assert client.get("/stream").text == "chunk 5"


def test_session_cookie_requests_get_no_shared_page(make_client, kind):
    """Without per_user, a request with a session cookie is answered by the
    handler (BYPASS) and not kept: it never sees, nor leaves, a shared page."""

    def body(n: int) -> str:
        return f"{session.get('name', 'anonymous')} {n}"

    app = _app(CSRF_ENABLED=False)
    app.get("/home")(cache_response(ttl=60)(_handler(kind, body)))

    @app.post("/login/{name}")
    def login(name: str):
        session["name"] = name
        return "ok"

    anonymous = make_client(app)
    alice = make_client(app)
    assert anonymous.get("/home").text == "anonymous 1"
    assert alice.post("/login/alice").text == "ok"
    assert "session" in alice.cookies
    page = alice.get("/home")
    assert page.text == "alice 2" and page.headers["x-cache"] == "BYPASS"
    assert alice.get("/home").text == "alice 3"
    assert anonymous.get("/home").text == "anonymous 1"


def _login_app(kind: str) -> Kettle:
    app = _app(CSRF_ENABLED=False)

    def body(n: int) -> str:
        return f"page of {session.get('name', 'nobody')} #{n}"

    app.get("/me")(cache_response(ttl=60, per_user=True)(_handler(kind, body)))

    @app.post("/login/{name}")
    def login(name: str):
        session["name"] = name
        return "ok"

    return app


def test_per_user_pages_are_kept_per_session(make_client, kind):
    """per_user: each browser's session gets its own entry; a request without
    a session shares the anonymous one; none sees another's page."""
    app = _login_app(kind)
    alice, bob, anonymous = make_client(app), make_client(app), make_client(app)
    alice.post("/login/alice")
    bob.post("/login/bob")
    assert alice.get("/me").text == "page of alice #1"
    assert bob.get("/me").text == "page of bob #2"
    assert anonymous.get("/me").text == "page of nobody #3"
    again = alice.get("/me")
    assert again.text == "page of alice #1" and again.headers["x-cache"] == "HIT"
    assert again.headers["cache-control"] == "private, max-age=60"
    assert bob.get("/me").text == "page of bob #2"
    assert anonymous.get("/me").text == "page of nobody #3"


def test_authorization_header_always_bypasses(make_client, kind):
    app = _app()
    app.get("/api")(
        cache_response(ttl=60, per_user=True)(_handler(kind, lambda n: f"run {n}"))
    )
    client = make_client(app)
    auth = {"Authorization": "Bearer abc"}
    assert client.get("/api", headers=auth).text == "run 1"
    assert client.get("/api", headers=auth).text == "run 2"
    assert client.get("/api").text == "run 3"
    assert client.get("/api", headers=auth).text == "run 4"


def test_tags_invalidate_pages(make_client, kind):
    app = _app()
    app.get("/posts")(
        cache_response(ttl=60, tags=["posts"])(_handler(kind, lambda n: f"list {n}"))
    )
    client = make_client(app)
    assert client.get("/posts").text == "list 1"
    assert client.get("/posts").text == "list 1"
    get_cache(app).invalidate_tags("posts")
    assert client.get("/posts").text == "list 2"


def test_an_invalidation_while_the_handler_runs_makes_a_miss(make_client, kind):
    """The tags' versions are read before the handler runs: a page built
    while its tag was invalidated (perhaps from the data the invalidation
    declared stale) is a miss for the next request."""
    app = _app()

    def body(n: int) -> str:
        if n == 1:  # as another request would, while this one builds the page
            get_cache(app).invalidate_tags("posts")
        return f"list {n}"

    app.get("/posts")(cache_response(ttl=60, tags=["posts"])(_handler(kind, body)))
    app.get("/by-request")(
        cache_response(ttl=60, tags=lambda req: [f"path:{req.url.path}"])(
            _handler(kind, lambda n: f"other {n}")
        )
    )
    client = make_client(app)
    assert client.get("/posts").text == "list 1"
    second = client.get("/posts")
    assert (second.text, second.headers["x-cache"]) == ("list 2", "MISS")
    third = client.get("/posts")
    assert (third.text, third.headers["x-cache"]) == ("list 2", "HIT")
    assert client.get("/by-request").text == "other 1"
    assert client.get("/by-request").headers["x-cache"] == "HIT"
    get_cache(app).invalidate_tags("path:/by-request")
    assert client.get("/by-request").text == "other 2"


def test_template_route_and_parameters(make_client, tmp_path):
    """With ``template=``, the cached response is the rendered page; path
    parameters make apart entries."""
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "item.html").write_text("<p>{{ id }}: {{ n }}</p>")
    counter = itertools.count(1)
    app = _app()
    app.root_path = str(tmp_path)

    @app.get("/items/{id:int}", template="item.html")
    @cache_response(ttl=60)
    def item(id: int):
        return {"id": id, "n": next(counter)}

    client = make_client(app)
    assert client.get("/items/1").text == "<p>1: 1</p>"
    assert client.get("/items/2").text == "<p>2: 2</p>"
    hit = client.get("/items/1")
    assert hit.text == "<p>1: 1</p>" and hit.headers["x-cache"] == "HIT"


def test_concurrent_misses_run_the_handler_once():
    """Many threads asking for one uncached page: the handler runs once."""
    import time

    runs: list[int] = []
    app = _app()

    @app.get("/slow")
    @cache_response(ttl=60)
    def slow():
        runs.append(1)
        time.sleep(0.3)
        return "slow page"

    results: list[str] = []
    client = app.test_client(interface="wsgi")
    with client:
        start = threading.Barrier(6)

        def fetch() -> None:
            start.wait()
            results.append(client.get("/slow").text)

        threads = [threading.Thread(target=fetch) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
    assert results == ["slow page"] * 6
    assert len(runs) == 1


def test_bad_arguments_fail_when_decorating():
    with pytest.raises(ValueError):
        cache_response(ttl=-1)
    with pytest.raises(TypeError):
        cache_response(vary=[3])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        cache_response(tags=[""])


# -- per-user pages with kettle.auth ---------------------------------------------------


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_per_user_pages_with_auth(database_url, make_client, kind):
    """Logged-in users each get their own page; an anonymous visitor never
    gets a logged-in page; after logout the user is anonymous again."""
    hashers.set_test_parameters()
    app = _app(DATABASE_URL=database_url.url_sync)
    Auth(app)
    counter = itertools.count(1)
    if kind == "sync":

        @app.get("/dash")
        @cache_response(ttl=60, per_user=True)
        def dash(user: User | None):
            return f"dash of {user.username if user else 'anonymous'} #{next(counter)}"

    else:

        @app.get("/dash")
        @cache_response(ttl=60, per_user=True)
        async def dash_async(user: User | None):
            return f"dash of {user.username if user else 'anonymous'} #{next(counter)}"

    db = get_database(app)
    db.create_all()
    with db.session() as s:
        s.add(User(username="alice", password="correct horse"))
        s.add(User(username="bob", password="battery staple"))
        s.commit()
    try:
        with contextlib.ExitStack():
            alice = make_client(app, follow_redirects=False)
            bob = make_client(app, follow_redirects=False)
            anonymous = make_client(app)
            for client, name, password in (
                (alice, "alice", "correct horse"),
                (bob, "bob", "battery staple"),
            ):
                client.get("/auth/login")
                assert (
                    client.post(
                        "/auth/login", data={"username": name, "password": password}
                    ).status_code
                    == 303
                )
            assert alice.get("/dash").text == "dash of alice #1"
            assert bob.get("/dash").text == "dash of bob #2"
            assert anonymous.get("/dash").text == "dash of anonymous #3"
            assert alice.get("/dash").text == "dash of alice #1"
            assert bob.get("/dash").text == "dash of bob #2"
            assert anonymous.get("/dash").text == "dash of anonymous #3"
            alice.post("/auth/logout")
            assert "alice" not in alice.get("/dash").text
    finally:
        db.drop_all()
        db.dispose()


# -- fragments -------------------------------------------------------------------------


TEMPLATE = """\
<h1>{{ title }}</h1>
{% cache 60 "sidebar" %}<aside>{{ counter() }} {{ "<b>" }}</aside>{% endcache %}
{% cache 60 "footer" lang, user %}<footer>{{ lang }}/{{ user }} {{ counter() }}</footer>{% endcache %}
"""


@pytest.fixture
def fragment_app(tmp_path):
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "page.html").write_text(TEMPLATE)
    app = _app()
    app.root_path = str(tmp_path)
    counter = itertools.count(1)

    @app.get("/page")
    def page(lang: str = "en", user: str = "ann", title: str = "T"):
        return render(
            "page.html",
            title=title,
            lang=lang,
            user=user,
            counter=lambda: next(counter),
        )

    @app.get("/page/async")
    async def page_async(lang: str = "en", user: str = "ann", title: str = "T"):
        return await render_async(
            "page.html",
            title=title,
            lang=lang,
            user=user,
            counter=lambda: next(counter),
        )

    return app


@pytest.mark.parametrize("path", ["/page", "/page/async"])
def test_fragments_are_cached_per_vary_values(fragment_app, make_client, path):
    client = make_client(fragment_app)
    first = client.get(path).text
    assert "<aside>1 &lt;b&gt;</aside>" in first
    assert "<footer>en/ann 2</footer>" in first
    second = client.get(path, params={"title": "Other"}).text
    assert "<h1>Other</h1>" in second
    assert "<aside>1 &lt;b&gt;</aside>" in second  # escaped once, not twice
    assert "<footer>en/ann 2</footer>" in second
    third = client.get(path, params={"lang": "fr"}).text
    assert "<footer>fr/ann 3</footer>" in third
    with fragment_app.app_context():
        invalidate_fragment("footer", "en", "ann")
    fourth = client.get(path).text
    assert "<footer>en/ann 4</footer>" in fourth
    assert "<footer>fr/ann 3</footer>" in client.get(path, params={"lang": "fr"}).text
    with fragment_app.app_context():
        invalidate_fragment("footer")  # every copy
        invalidate_fragment("sidebar")
    fifth = client.get(path, params={"lang": "fr"}).text
    assert "<aside>5 &lt;b&gt;</aside>" in fifth
    assert "<footer>fr/ann 6</footer>" in fifth


PERSONAL = """\
{% cache 60 name %}<form>{{ csrf_input() }}</form> {{ counter() }}{% endcache %}
{% cache 60 name ~ "-script" %}<script nonce="{{ csp_nonce }}"></script> \
{{ counter() }}{% endcache %}
{% cache 60 name ~ "-plain" %}<p>{{ "x" * 86 }} {{ counter() }}</p>{% endcache %}
"""


@pytest.mark.parametrize("path", ["/sync", "/async"])
def test_fragments_holding_a_csrf_token_or_csp_nonce_are_not_kept(
    tmp_path, make_client, path, caplog
):
    """A {% cache %} block whose output holds the request's CSRF token or CSP
    nonce is shown but not kept (another visitor would get them), with a
    warning naming it; a block holding neither is kept, even with text that
    looks like a token."""
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "personal.html").write_text(PERSONAL)
    app = _app()
    app.root_path = str(tmp_path)
    counter = itertools.count(1)
    name = f"personal-{next(_names)}"  # warned of once per process

    @app.get("/sync")
    def page_sync():
        return render("personal.html", name=name, counter=lambda: next(counter))

    @app.get("/async")
    async def page_async():
        return await render_async(
            "personal.html", name=name, counter=lambda: next(counter)
        )

    @app.post("/save")
    def save():
        return "saved"

    def visit(client) -> tuple[str, str, str, str]:
        page = client.get(path)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        nonce = re.search(r'nonce="([^"]+)"', page.text).group(1)
        return page.text, token, nonce, page.headers["content-security-policy"]

    ann, bob = make_client(app), make_client(app)
    with caplog.at_level(logging.WARNING, logger="kettle.cache"):
        ann_page, ann_token, ann_nonce, ann_csp = visit(ann)
        bob_page, bob_token, bob_nonce, bob_csp = visit(bob)
        visit(ann)
    assert bob_token != ann_token and bob_nonce != ann_nonce
    assert f"'nonce-{bob_nonce}'" in bob_csp and f"'nonce-{ann_nonce}'" in ann_csp
    assert "</form> 1" in ann_page and "</form> 4" in bob_page  # rendered again
    assert "</script> 2" in ann_page and "</script> 5" in bob_page
    assert "x" * 86 + " 3</p>" in bob_page  # kept: no token of the request's
    for client, token in ((ann, ann_token), (bob, bob_token)):
        saved = client.post("/save", data={"csrf_token": token})
        assert saved.status_code == 200
    warned = [r.getMessage() for r in caplog.records if r.name == "kettle.cache"]
    assert len(warned) == 2  # once per fragment
    assert "CSRF token" in warned[0] and repr(name) in warned[0]
    assert "CSP nonce" in warned[1]
