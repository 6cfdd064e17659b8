"""kettle.cache: the same behaviour on every backend (memory, real Redis, SQLite
and PostgreSQL), settings checked at start-up, stampede protection, and the
stores' safety (signed pickles, Redis unreachable)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import pytest

import dbfixtures
from kettle import Kettle
from kettle.cache import Cache
from kettle.cache import CacheUnavailable
from kettle.cache import MemoryCache
from kettle.cache import cache
from kettle.cache import get_cache
from kettle.cache import set_cache
from kettle.exceptions import ImproperlyConfigured

SECRET = "cache-test-secret-" + "x" * 32
BACKENDS = ["memory", "redis", "sqlite", "postgresql"]
#: A short TTL, and a wait that outlives it (Redis and the databases keep
#: real time).
SHORT = 0.8  # room for a few round trips on a busy machine
PAST_SHORT = 1.2


@pytest.fixture(params=BACKENDS)
def settings(request: pytest.FixtureRequest, tmp_path) -> Iterator[dict[str, object]]:
    """The settings of an app caching in each backend in turn (a fresh Redis
    database, SQLite file or PostgreSQL database)."""
    kind = request.param
    with contextlib.ExitStack() as stack:
        options: dict[str, object] = {"SECRET_KEY": SECRET}
        if kind == "memory":
            options["CACHE_BACKEND"] = "memory"
        elif kind == "redis":
            options["CACHE_BACKEND"] = "redis"
            options["CACHE_REDIS_URL"] = request.getfixturevalue("redis_url")
        elif kind == "sqlite":
            options["CACHE_BACKEND"] = "database"
            options["DATABASE_URL"] = f"sqlite:///{tmp_path / 'cache.db'}"
        else:
            server = request.getfixturevalue("postgres_server")
            name = stack.enter_context(dbfixtures._fresh_postgres_database(server))
            options["CACHE_BACKEND"] = "database"
            options["DATABASE_URL"] = server.url_for(name)[0]
        options["BACKEND_NAME"] = kind
        yield options


def _app(settings: dict[str, object], **extra: object) -> Kettle:
    app = Kettle(env_file=None, **{**settings, **extra})
    app.setup()
    return app


def _close(*apps: Kettle) -> None:
    for app in apps:
        get_cache(app).close()
        db = app.extensions.get("db")
        if db is not None:
            db.dispose()


@pytest.fixture
def workers(settings) -> Iterator[tuple[Cache, Cache]]:
    """Two caches on one store, as two workers (two processes) have; for
    memory, one cache twice (each process has its own)."""
    first = _app(settings)
    if settings["BACKEND_NAME"] == "memory":
        yield get_cache(first), get_cache(first)
        return
    second = _app(settings)
    try:
        yield get_cache(first), get_cache(second)
    finally:
        _close(first, second)


@pytest.fixture
def store(workers) -> Cache:
    return workers[0]


# -- the API, on every backend ---------------------------------------------------------


VALUES = [
    0,
    -7,
    2**70,
    1.5,
    "héllo",
    b"\x00bytes",
    None,
    True,
    [1, "two", (3,)],
    {"a": {1, 2}, 3: None},
    ("t", 1),
]


def test_values_come_back_as_stored(store):
    """Every picklable value comes back equal, with its type."""
    for i, value in enumerate(VALUES):
        store.set(f"v{i}", value)
    for i, value in enumerate(VALUES):
        got = store.get(f"v{i}", "MISSING")
        assert got == value and type(got) is type(value)


def test_miss_gives_the_default_and_none_is_a_value(store):
    """A miss gives ``default``; a stored None is a hit, not a miss."""
    assert store.get("nothing") is None
    assert store.get("nothing", 42) == 42
    assert not store.has_key("nothing")
    store.set("none", None)
    assert store.get("none", 42) is None
    assert store.has_key("none")


def test_delete_says_whether_there_was_a_value(store):
    store.set("k", 1)
    assert store.delete("k") is True
    assert store.get("k") is None
    assert store.delete("k") is False


def test_add_never_overwrites(store):
    assert store.add("k", "first") is True
    assert store.add("k", "second") is False
    assert store.get("k") == "first"
    store.delete("k")
    assert store.add("k", "third") is True
    assert store.get("k") == "third"


def test_add_replaces_an_expired_entry(store):
    store.set("k", "old", ttl=SHORT)
    time.sleep(PAST_SHORT)
    assert store.add("k", "new") is True
    assert store.get("k") == "new"


def test_many_at_once(store):
    store.set_many({"a": 1, "b": [2], "c": "3"})
    assert store.get_many(["a", "b", "c", "missing"]) == {"a": 1, "b": [2], "c": "3"}
    store.delete_many(["a", "c"])
    assert store.get_many(["a", "b", "c"]) == {"b": [2]}
    assert store.get_many([]) == {}


def test_incr_and_decr(workers):
    """incr/decr change an integer in place (seen by the other worker);
    a missing key is an error, as in Django, and so is a non-integer."""
    a, b = workers
    with pytest.raises(ValueError, match="holds no value"):
        a.incr("hits")
    a.set("hits", 5)
    assert a.incr("hits") == 6
    assert b.incr("hits", 10) == 16
    assert a.decr("hits", 2) == 14
    assert b.get("hits") == 14
    a.set("word", "five")
    with pytest.raises(TypeError):
        a.incr("word")
    with pytest.raises(TypeError):
        a.incr("hits", 1.5)  # type: ignore[arg-type]


def test_incr_keeps_the_expiry(store):
    store.set("n", 1, ttl=SHORT)
    assert store.incr("n") == 2
    time.sleep(PAST_SHORT)
    assert store.get("n") is None


def test_ttl_expiry_and_touch(store):
    """Entries expire after their TTL; touch gives a new expiry (None: never)
    and says whether the key held a value."""
    store.set("short", "s", ttl=SHORT)
    store.set("kept", "k", ttl=SHORT)
    store.set("forever", "f", ttl=None)
    assert store.touch("kept", None) is True
    assert store.touch("missing", 10) is False
    assert store.get("short") == "s"
    time.sleep(PAST_SHORT)
    assert store.get("short") is None
    assert store.get("kept") == "k"
    assert store.get("forever") == "f"
    store.set("later", "l", ttl=SHORT)
    assert store.touch("later", 60) is True
    time.sleep(PAST_SHORT)
    assert store.get("later") == "l"


def test_versions(store):
    """A key at one version is a miss at another; incr_version moves it."""
    store.set("k", "v1")
    assert store.get("k", version=2) is None
    store.set("k", "v2", version=2)
    assert store.get("k") == "v1"
    assert store.get("k", version=2) == "v2"
    store.set("moved", "value")
    assert store.incr_version("moved") == 2
    assert store.get("moved") is None
    assert store.get("moved", version=2) == "value"
    assert store.decr_version("moved", version=2) == 1
    assert store.get("moved") == "value"
    with pytest.raises(ValueError):
        store.incr_version("never-set")


def test_tags_invalidated_by_another_worker(workers):
    """invalidate_tags on one worker makes every entry with the tag a miss on
    the others; entries without it, and entries stored afterwards, stay."""
    a, b = workers
    a.set("post:1", "one", tags=["post:1", "posts"])
    a.set("post:2", "two", tags=["post:2", "posts"])
    a.set("user:1", "u", tags="users")
    a.set("plain", "p")
    assert b.get("post:1") == "one"
    b.invalidate_tags("posts")
    assert a.get("post:1") is None
    assert a.get_many(["post:1", "post:2", "user:1", "plain"]) == {
        "user:1": "u",
        "plain": "p",
    }
    assert not a.has_key("post:2")
    a.set("post:1", "one again", tags=["posts"])
    assert b.get("post:1") == "one again"
    a.invalidate_tags("post:1")  # no longer among its tags: kept
    assert b.get("post:1") == "one again"


def test_clear(store):
    store.set_many({"a": 1, "b": 2})
    store.clear()
    assert store.get_many(["a", "b"]) == {}


def test_long_and_odd_keys(store):
    """Keys of any length and characters are kept apart (long ones are
    hashed)."""
    long_a = "a" * 300
    long_b = "a" * 299 + "b"
    store.set(long_a, 1)
    store.set(long_b, 2)
    store.set("spaces and\nnewlines ünïcode * ? [x]", 3)
    assert store.get(long_a) == 1
    assert store.get(long_b) == 2
    assert store.get("spaces and\nnewlines ünïcode * ? [x]") == 3


def test_bad_keys_and_ttls_are_refused(store):
    with pytest.raises(TypeError, match="strings"):
        store.set(42, "x")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="strings"):
        store.get(b"bytes")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="strings"):
        store.get_many(["ok", None])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="positive"):
        store.set("k", 1, ttl=-1)
    with pytest.raises(ValueError, match="positive"):
        store.set("k", 1, ttl=0)
    with pytest.raises(ValueError, match="positive"):
        store.touch("k", float("inf"))
    with pytest.raises(TypeError, match="seconds"):
        store.set("k", 1, ttl="60")
    with pytest.raises(TypeError, match="seconds"):
        store.set("k", 1, ttl=True)
    with pytest.raises(TypeError, match="version"):
        store.get("k", version="2")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="tags"):
        store.set("k", 1, tags=["ok", 3])  # type: ignore[list-item]
    assert store.get("k") is None  # nothing was stored


def test_ttls_over_100_years_are_refused_alike_by_every_backend(store):
    """A TTL past MAX_TTL (100 years) is a ValueError before the store is
    asked, on every backend (Redis would answer some with an error of its own,
    and overflow on others); MAX_TTL itself is kept."""
    from kettle.cache._common import MAX_TTL

    for huge in (MAX_TTL + 1, 10**12, 10**17, 1e300):
        with pytest.raises(ValueError, match="at most 3153600000 seconds"):
            store.set("k", 1, ttl=huge)
        with pytest.raises(ValueError, match="at most"):
            store.add("k", 1, ttl=huge)
        with pytest.raises(ValueError, match="at most"):
            store.touch("k", huge)
        with pytest.raises(ValueError, match="at most"):
            store.set_many({"k": 1}, ttl=huge)
        with pytest.raises(ValueError, match="at most"):
            store.get_or_set("k", 1, ttl=huge)
        with pytest.raises(ValueError, match="lock_timeout must be at most"):
            store.get_or_set("k", 1, lock_timeout=huge)
    assert store.get("k") is None  # nothing was stored
    store.set("k", "long", ttl=MAX_TTL)
    assert store.get("k") == "long"
    assert store.touch("k", MAX_TTL) is True
    assert store.get("k") == "long"

    async def main() -> None:
        with pytest.raises(ValueError, match="at most"):
            await store.aset("k", 1, ttl=10**12)
        await store.aclose()

    asyncio.run(main())


def test_async_twins(workers):
    """The a-prefixed methods do what their sync twins do."""
    a, b = workers

    async def main() -> None:
        await a.aset("k", {"x": 1}, tags=["t"])
        assert await b.aget("k") == {"x": 1}
        assert await a.ahas_key("k")
        assert await a.aadd("k", 2) is False
        assert await a.aadd("n", 1) is True
        assert await b.aincr("n", 4) == 5
        assert await a.adecr("n") == 4
        with pytest.raises(ValueError):
            await a.aincr("missing")
        await a.aset_many({"m1": 1, "m2": 2}, ttl=60)
        assert await b.aget_many(["m1", "m2", "m3"]) == {"m1": 1, "m2": 2}
        await a.adelete_many(["m1"])
        assert await a.aget("m1") is None
        assert await a.atouch("m2", None) is True
        await b.ainvalidate_tags("t")
        assert await a.aget("k", "gone") == "gone"
        assert await a.adelete("n") is True
        await a.aset("v", "one")
        assert await a.aincr_version("v") == 2
        assert await b.aget("v", version=2) == "one"
        await a.aclear()
        assert await b.aget("v", version=2) is None
        await a.aclose()
        await b.aclose()

    asyncio.run(main())


def test_memory_lock_release_never_removes_another_callers_lock():
    """The memory cache releases a stampede lock (sync and async) by comparing
    and deleting in one step under its thread lock. Were it two steps (read
    the token, then delete), a lock that expired between them and was taken
    by another caller would be deleted: the hook below makes exactly that
    happen right after any read of the lock."""
    from kettle.cache import MISSING

    now = [0.0]
    taken: list[str] = []

    class Racing(MemoryCache):
        def _get(self, key: str) -> object:
            found = super()._get(key)
            if ":lock:" in key and found is not MISSING:
                now[0] += 60  # the lock expires, and another caller takes it
                assert self._add(key, "another caller", 30)
                taken.append(key)
            return found

    mem = Racing(clock=lambda: now[0])

    async def main() -> object:
        return await mem.aget_or_set("a", lambda: "async value", lock_timeout=10)

    assert asyncio.run(main()) == "async value"
    assert mem.get_or_set("s", lambda: "sync value", lock_timeout=10) == "sync value"
    for key in taken:  # none, when a release reads nothing apart
        assert MemoryCache._get(mem, key) == "another caller"
    assert MemoryCache._get(mem, mem.lock_key(mem.make_key("a"))) is MISSING


def test_memory_values_are_copies():
    """Changing a value after storing or reading it does not change the
    cache."""
    mem = MemoryCache()
    value = {"items": [1]}
    mem.set("k", value)
    value["items"].append(2)
    got = mem.get("k")
    assert got == {"items": [1]}
    got["items"].append(3)
    assert mem.get("k") == {"items": [1]}


def test_memory_is_a_bounded_lru_with_a_clock():
    now = [100.0]
    mem = MemoryCache(max_entries=3, clock=lambda: now[0])
    for key in "abc":
        mem.set(key, key)
    mem.get("a")  # a is now the most recently used
    mem.set("d", "d")
    assert len(mem) == 3
    assert mem.get("b") is None  # the least recently used went
    assert mem.get_many(["a", "c", "d"]) == {"a": "a", "c": "c", "d": "d"}
    mem.set("short", 1, ttl=10)
    now[0] += 10
    assert mem.get("short") is None
    mem.set("e", 1, ttl=5)
    now[0] += 6
    assert mem.sweep() == 1


def test_database_culls_expired_rows(settings):
    if settings["CACHE_BACKEND"] != "database":
        pytest.skip("the database backend's own behaviour")
    app = _app(settings)
    try:
        db_cache = get_cache(app)
        db_cache.set("gone", 1, ttl=SHORT)
        db_cache.set("kept", 2)
        time.sleep(PAST_SHORT)
        assert db_cache.clear_expired() == 1  # type: ignore[attr-defined]
        with db_cache.engine.connect() as conn:  # type: ignore[attr-defined]
            rows = conn.execute(db_cache.table.select()).all()  # type: ignore[attr-defined]
        assert len(rows) == 1
    finally:
        _close(app)


# -- stampede protection ---------------------------------------------------------------


def test_get_or_set_computes_once_across_threads_and_workers(workers):
    """Many threads (half on each worker) missing one key at once: the value
    is computed once; every caller gets it."""
    a, b = workers
    runs: list[int] = []
    lock = threading.Lock()

    def compute() -> str:
        with lock:
            runs.append(1)
        time.sleep(0.3)
        return "expensive"

    results: list[object] = []
    start = threading.Barrier(8)

    def call(c: Cache) -> None:
        start.wait()
        results.append(c.get_or_set("report", compute, ttl=60))

    threads = [threading.Thread(target=call, args=((a, b)[i % 2],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert results == ["expensive"] * 8
    assert len(runs) == 1
    assert a.get_or_set("report", compute) == "expensive"
    assert len(runs) == 1


def test_aget_or_set_computes_once_across_tasks(workers):
    a, b = workers
    runs: list[int] = []

    async def compute() -> str:
        runs.append(1)
        await asyncio.sleep(0.2)
        return "value"

    async def main() -> list[object]:
        try:
            return await asyncio.gather(
                *(((a, b)[i % 2]).aget_or_set("k", compute, ttl=60) for i in range(10))
            )
        finally:
            await a.aclose()
            await b.aclose()

    assert asyncio.run(main()) == ["value"] * 10
    assert len(runs) == 1


def test_get_or_set_waiters_compute_when_the_first_fails(store):
    """When the caller holding the lock fails, the ones waiting compute the
    value themselves instead of waiting out the lock."""
    calls: list[str] = []
    entered = threading.Event()

    def failing() -> str:
        calls.append("fail")
        entered.set()
        time.sleep(0.2)
        raise RuntimeError("boom")

    errors: list[BaseException] = []

    def first() -> None:
        try:
            store.get_or_set("k", failing, lock_timeout=30)
        except RuntimeError as exc:
            errors.append(exc)

    thread = threading.Thread(target=first)
    thread.start()
    entered.wait(5)
    began = time.monotonic()
    assert store.get_or_set("k", lambda: "second", lock_timeout=30) == "second"
    assert time.monotonic() - began < 5
    thread.join(5)
    assert len(errors) == 1 and calls == ["fail"]


def test_get_or_set_tags_read_before_computing(store):
    """An invalidation while the value is computed makes it a miss: it may
    be built from data the invalidation declared stale."""

    def compute() -> str:
        store.invalidate_tags("posts")
        return "built from old data"

    assert store.get_or_set("k", compute, tags=["posts"]) == "built from old data"
    assert store.get("k") is None
    assert store.get_or_set("k", "fresh", tags=["posts"]) == "fresh"
    assert store.get("k") == "fresh"


# -- the app's cache -------------------------------------------------------------------


def test_cache_proxy_is_the_current_apps_cache(settings):
    app = Kettle(env_file=None, **settings)

    @app.get("/count")
    def count():
        cache.add("hits", 0)
        n = cache.incr("hits")
        return {"n": n, "same": cache._get_current_object() is get_cache()}

    @app.get("/count/async")
    async def count_async():
        await cache.aadd("hits", 0)
        return {"n": await cache.aincr("hits"), "in": "hits" in cache}

    with app.test_client() as client:
        assert client.get("/count").json() == {"n": 1, "same": True}
        assert client.get("/count/async").json() == {"n": 2, "in": True}
    with app.app_context():
        assert cache.get("hits") == 2
    assert get_cache(app).get("hits") == 2
    _close(app)


def test_cache_proxy_outside_an_app_says_so():
    with pytest.raises(RuntimeError, match="get_cache"):
        cache.get("k")


def test_the_cache_is_made_at_start_up_once():
    app = Kettle(env_file=None)
    assert "cache" not in app.extensions
    app.setup()
    made = app.extensions["cache"]
    assert isinstance(made, MemoryCache)
    assert get_cache(app) is made


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"CACHE_BACKEND": "memcached"}, "CACHE_BACKEND 'memcached'"),
        ({"CACHE_BACKEND": "redis", "SECRET_KEY": SECRET}, "CACHE_REDIS_URL"),
        (
            {"CACHE_BACKEND": "redis", "CACHE_REDIS_URL": "redis://127.0.0.1:1/0"},
            "SECRET_KEY",
        ),
        ({"CACHE_MAX_ENTRIES": 0}, "CACHE_MAX_ENTRIES"),
        ({"CACHE_TTL": -5}, "CACHE_TTL"),
        ({"CACHE_TTL": "soon"}, "CACHE_TTL"),
        ({"CACHE_VERSION": "two"}, "CACHE_VERSION"),
        ({"CACHE_KEY_PREFIX": 3}, "CACHE_KEY_PREFIX"),
        # Strings are not parsed: the environment's values arrive converted.
        ({"CACHE_TTL": "60"}, "CACHE_TTL"),
        ({"CACHE_MAX_ENTRIES": "5"}, "CACHE_MAX_ENTRIES"),
        ({"CACHE_TTL": 10**12}, "CACHE_TTL must be .* up to 3153600000"),
        (
            {
                "CACHE_BACKEND": "redis",
                "CACHE_REDIS_URL": "redis://127.0.0.1:1/0",
                "SECRET_KEY": SECRET,
                "CACHE_FAIL_OPEN": "maybe",
            },
            "CACHE_FAIL_OPEN",
        ),
        (
            {
                "CACHE_BACKEND": "database",
                "DATABASE_URL": "sqlite://",
                "SECRET_KEY": SECRET,
                "CACHE_TABLE": "",
            },
            "CACHE_TABLE",
        ),
    ],
)
def test_wrong_settings_fail_at_start_up(options, message):
    app = Kettle(env_file=None, **options)

    @app.get("/")
    def index():
        return "never"

    with pytest.raises(ImproperlyConfigured, match=message):
        app.setup()


def test_settings_from_the_environment_arrive_converted(monkeypatch, tmp_path):
    """Every CACHE_* setting has a default in config.DEFAULTS, so values from
    the environment arrive as the type of their default: ``false`` turns
    CACHE_FAIL_OPEN off (a string would have been true)."""
    monkeypatch.setenv("KETTLE_CACHE_TTL", "1.5")
    monkeypatch.setenv("KETTLE_CACHE_MAX_ENTRIES", "5")
    monkeypatch.setenv("KETTLE_CACHE_VERSION", "-3")
    monkeypatch.setenv("KETTLE_CACHE_KEY_PREFIX", "shop")
    app = Kettle(env_file=None)
    assert app.config["CACHE_TTL"] == 1.5
    assert app.config["CACHE_MAX_ENTRIES"] == 5
    assert app.config["CACHE_VERSION"] == -3
    made = get_cache(app)
    assert isinstance(made, MemoryCache)
    assert (made.default_ttl, made.max_entries, made.version) == (1.5, 5, -3)
    assert made.make_key("k") == "shop:-3:k"

    url = f"redis://127.0.0.1:{_closed_port()}/0"
    monkeypatch.setenv("KETTLE_CACHE_BACKEND", "redis")
    monkeypatch.setenv("KETTLE_CACHE_REDIS_URL", url)
    monkeypatch.setenv("KETTLE_SECRET_KEY", SECRET)
    monkeypatch.setenv("KETTLE_CACHE_FAIL_OPEN", "false")
    app = Kettle(env_file=None)
    assert app.config["CACHE_FAIL_OPEN"] is False
    closed = get_cache(app)
    assert closed.fail_open is False  # type: ignore[attr-defined]
    with pytest.raises(CacheUnavailable):
        closed.get("k")  # fails closed, as asked
    monkeypatch.setenv("KETTLE_CACHE_FAIL_OPEN", "true")
    assert get_cache(Kettle(env_file=None)).get("k", "miss") == "miss"
    monkeypatch.setenv("KETTLE_CACHE_TTL", "none")  # no expiry
    assert Kettle(env_file=None).config["CACHE_TTL"] is None

    monkeypatch.setenv("KETTLE_CACHE_BACKEND", "database")
    monkeypatch.setenv("KETTLE_DATABASE_URL", f"sqlite:///{tmp_path / 'c.db'}")
    monkeypatch.setenv("KETTLE_CACHE_TABLE", "my_cache")
    app = _app({})
    try:
        assert get_cache(app).table.name == "my_cache"  # type: ignore[attr-defined]
        get_cache(app).set("k", "v")
        assert get_cache(app).get("k") == "v"
    finally:
        _close(app)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("CACHE_FAIL_OPEN", "maybe", "not a boolean"),
        ("CACHE_TTL", "soon", "not a number"),
        ("CACHE_MAX_ENTRIES", "many", "not an integer"),
        ("CACHE_VERSION", "two", "not an integer"),
    ],
)
def test_wrong_settings_from_the_environment_fail_at_start_up(
    monkeypatch, name, value, message
):
    monkeypatch.setenv(f"KETTLE_{name}", value)
    with pytest.raises(ValueError, match=f"KETTLE_{name}: .*{message}"):
        Kettle(env_file=None)


def test_set_cache_replaces_the_apps_cache():
    app = Kettle(env_file=None)
    mine = set_cache(app, MemoryCache(max_entries=5))
    app.setup()
    assert get_cache(app) is mine


def test_dummy_cache_keeps_nothing():
    made = get_cache(Kettle(env_file=None, CACHE_BACKEND="dummy"))
    made.set("k", 1)
    assert made.get("k") is None
    calls: list[int] = []
    assert made.get_or_set("k", lambda: calls.append(1) or 5) == 5
    assert made.get_or_set("k", lambda: calls.append(1) or 5) == 5
    assert len(calls) == 2


def test_key_prefixes_keep_apps_apart_on_one_redis(redis_url):
    one = _app({"SECRET_KEY": SECRET}, CACHE_BACKEND="redis", CACHE_REDIS_URL=redis_url)
    two = _app(
        {"SECRET_KEY": SECRET},
        CACHE_BACKEND="redis",
        CACHE_REDIS_URL=redis_url,
        CACHE_KEY_PREFIX="other[app]*",
    )
    try:
        get_cache(one).set("k", "one")
        get_cache(two).set("k", "two")
        get_cache(two).clear()
        assert get_cache(one).get("k") == "one"
        assert get_cache(two).get("k") is None
    finally:
        _close(one, two)


# -- the stores' safety ----------------------------------------------------------------


def test_entries_not_signed_with_the_secret_key_read_as_misses(redis_url, caplog):
    """A value written into Redis by something without SECRET_KEY (or under
    another key) is never unpickled: it reads as a miss, with a warning."""
    import pickle

    import redis

    app = _app({"SECRET_KEY": SECRET}, CACHE_BACKEND="redis", CACHE_REDIS_URL=redis_url)
    other = _app(
        {"SECRET_KEY": "another-secret-" + "y" * 30},
        CACHE_BACKEND="redis",
        CACHE_REDIS_URL=redis_url,
    )
    try:
        mine = get_cache(app)
        mine.set("k", {"ok": True})
        assert get_cache(other).get("k", "miss") == "miss"
        raw = redis.Redis.from_url(redis_url)
        store_key = mine.make_key("k")
        assert raw.get(store_key).startswith(b"p")
        raw.set(store_key, b"p" + b"\x00" * 32 + pickle.dumps({"evil": 1}))
        assert mine.get("k", "miss") == "miss"
        raw.set(store_key, b"garbage")
        assert mine.get("k", "miss") == "miss"
        raw.close()
        assert "signature does not match" in caplog.text
    finally:
        _close(app, other)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_unreachable_redis_fails_open_for_reads_and_plain_writes(caplog):
    """With CACHE_FAIL_OPEN (the default), a Redis that cannot be reached
    makes reads miss and drops writes, with a warning; deletes, counters and
    invalidations still raise, since losing them would leave stale data."""
    url = f"redis://127.0.0.1:{_closed_port()}/0"
    app = _app({"SECRET_KEY": SECRET}, CACHE_BACKEND="redis", CACHE_REDIS_URL=url)
    down = get_cache(app)
    assert down.get("k", "default") == "default"
    down.set("k", 1)
    assert down.add("k", 1) is False
    assert down.get_many(["a", "b"]) == {}
    assert down.get_or_set("k", lambda: "computed") == "computed"
    for call in (
        lambda: down.delete("k"),
        lambda: down.incr("k"),
        lambda: down.incr_version("k"),
        lambda: down.decr_version("k"),
        lambda: down.invalidate_tags("t"),
        lambda: down.clear(),
    ):
        with pytest.raises(CacheUnavailable, match="unreachable"):
            call()
    assert "Redis is unreachable" in caplog.text

    async def main() -> None:
        assert await down.aget("k", "default") == "default"
        assert await down.aget_or_set("k", lambda: "computed") == "computed"
        with pytest.raises(CacheUnavailable):
            await down.adelete("k")
        with pytest.raises(CacheUnavailable):
            await down.aincr_version("k")
        with pytest.raises(CacheUnavailable):
            await down.adecr_version("k")
        await down.aclose()

    asyncio.run(main())


def test_incr_version_on_an_unreachable_redis_is_no_missing_key():
    """incr_version with Redis down says so (CacheUnavailable), on the first
    call (a real connection refused) and while Redis is left alone: it never
    claims the key holds nothing (ValueError)."""
    url = f"redis://127.0.0.1:{_closed_port()}/0"
    app = _app({"SECRET_KEY": SECRET}, CACHE_BACKEND="redis", CACHE_REDIS_URL=url)
    down = get_cache(app)
    with pytest.raises(CacheUnavailable, match="unreachable: "):
        down.incr_version("k")
    with pytest.raises(CacheUnavailable):
        down.incr_version("k")  # paused after the failure

    async def main() -> None:
        fresh = get_cache(
            _app({"SECRET_KEY": SECRET}, CACHE_BACKEND="redis", CACHE_REDIS_URL=url)
        )
        with pytest.raises(CacheUnavailable, match="unreachable: "):
            await fresh.aincr_version("k")
        await fresh.aclose()

    asyncio.run(main())
    _close(app)


def test_unreachable_redis_fails_closed_when_asked():
    url = f"redis://127.0.0.1:{_closed_port()}/0"
    app = _app(
        {"SECRET_KEY": SECRET},
        CACHE_BACKEND="redis",
        CACHE_REDIS_URL=url,
        CACHE_FAIL_OPEN=False,
    )
    with pytest.raises(CacheUnavailable):
        get_cache(app).get("k")
    with pytest.raises(CacheUnavailable):
        get_cache(app).get_or_set("k", lambda: 1)


def test_an_app_without_the_cache_does_not_import_it():
    """``import kettle`` and an app that never uses the cache load none of it;
    importing kettle.cache loads no third-party library."""
    import subprocess
    import sys

    code = (
        "import sys, kettle\n"
        "app = kettle.Kettle(env_file=None); app.setup()\n"
        "print('kettle.cache' in sys.modules)\n"
        "import kettle.cache\n"
        "print(','.join(m for m in ('redis', 'sqlalchemy', 'jinja2')"
        " if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split("\n")
    assert out[0] == "False"
    assert out[1] == ""
