"""Rate limits (``kettle.ratelimit``): rates, the GCRA arithmetic of the memory
and Redis limiters (the same answers from both), the ``@rate_limit`` decorator
under ASGI and WSGI with ``def`` and ``async def`` handlers, keys, settings,
concurrency, and a Redis that is down."""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import threading
import time

import pytest

from kettle import Kettle
from kettle import request
from kettle.exceptions import ImproperlyConfigured
from kettle.middleware.proxy import ProxyHeadersMiddleware
from kettle.ratelimit import LimiterUnavailable
from kettle.ratelimit import MemoryLimiter
from kettle.ratelimit import Rate
from kettle.ratelimit import RateLimited
from kettle.ratelimit import RedisLimiter
from kettle.ratelimit import Verdict
from kettle.ratelimit import get_limiter
from kettle.ratelimit import parse_rate
from kettle.ratelimit import rate_limit
from kettle.ratelimit import set_limiter

KEY = "a-long-random-test-key-0123456789"


class Clock:
    """A fake monotonic clock, moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def closed_port() -> int:
    """A local TCP port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- rates -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "limit", "period"),
    [
        ("5/minute", 5, 60),
        ("100/hour", 100, 3600),
        ("10/second", 10, 1),
        ("1000/day", 1000, 86400),
        ("5/30s", 5, 30),
        ("20/5m", 20, 300),
        ("3/1s", 3, 1),
        ("2/1.5h", 2, 5400),
        (" 7 / 2 minutes ", 7, 120),
        ("5 per minute", 5, 60),
        ("1/d", 1, 86400),
        ("9/HOUR", 9, 3600),
    ],
)
def test_rates_are_parsed(text, limit, period):
    rate = parse_rate(text)
    assert (rate.limit, rate.period) == (limit, period)
    assert rate == Rate(limit, period)
    assert str(rate) == text.strip()


@pytest.mark.parametrize(
    "text",
    ["", "5", "minute", "5/", "5/fortnight", "0/minute", "5/0s", "-1/minute",
     "5/minute/2", "5//m", "five/minute", "5/1e3s", "5/m extra"],
)  # fmt: skip
def test_bad_rates_are_refused_with_a_clear_message(text):
    with pytest.raises(ValueError, match="invalid rate") as info:
        parse_rate(text)
    assert (
        "'5/minute'" in str(info.value)
        or "at least one" in str(info.value)
        or ("positive" in str(info.value))
    )
    with pytest.raises(ValueError, match="invalid rate"):
        rate_limit(text)  # at decoration time, not at the first request


def test_a_rate_that_is_not_a_string_is_a_type_error():
    with pytest.raises(TypeError, match="'5/minute'"):
        parse_rate(5)  # type: ignore[arg-type]


def test_bad_decorator_options_fail_at_decoration():
    with pytest.raises(ValueError, match="key 'host'"):
        rate_limit("5/minute", key="host")
    with pytest.raises(ValueError, match="scope"):
        rate_limit("5/minute", scope="route")


def test_the_interval_is_rounded_up_to_a_microsecond():
    rate = parse_rate("3/1s")
    assert rate.interval == 333_334  # never more than 3 in a second
    assert rate.tau == 1_000_002


# -- the limiters' arithmetic ----------------------------------------------------------


def test_memory_limiter_counts_refuses_and_refills():
    clock = Clock()
    limiter = MemoryLimiter(clock=clock)
    verdicts = [limiter.hit("n", "k", "5/minute") for _ in range(5)]
    assert verdicts == [Verdict(True, r, 0.0, 5) for r in (4, 3, 2, 1, 0)]
    assert limiter.hit("n", "k", "5/minute") == Verdict(False, 0, 12.0, 5)
    clock.advance(11.5)  # a refused request did not push the wait further
    assert limiter.hit("n", "k", "5/minute") == Verdict(False, 0, 0.5, 5)
    clock.advance(0.5)  # one request comes back every 12 seconds
    assert limiter.hit("n", "k", "5/minute") == Verdict(True, 0, 0.0, 5)
    assert not limiter.hit("n", "k", "5/minute").allowed
    clock.advance(60)  # a whole period: the whole limit again
    assert limiter.peek("n", "k", "5/minute") == Verdict(True, 5, 0.0, 5)
    assert [limiter.hit("n", "k", "5/minute").allowed for _ in range(6)] == [
        True, True, True, True, True, False,
    ]  # fmt: skip


def test_names_and_keys_are_counted_apart():
    limiter = MemoryLimiter(clock=Clock())
    assert limiter.hit("a", "k", "1/minute").allowed
    assert not limiter.hit("a", "k", "1/minute").allowed
    assert limiter.hit("a", "other", "1/minute").allowed
    assert limiter.hit("b", "k", "1/minute").allowed


def test_peek_always_agrees_with_the_next_hit():
    clock = Clock()
    limiter = MemoryLimiter(clock=clock)
    rate = parse_rate("7/20s")
    chance = random.Random(7)
    for _ in range(2000):
        clock.advance(chance.choice((0, 0, 0.1, 0.5, 1, 2.857, 3, 10)))
        before = limiter.peek("n", "k", rate)
        assert limiter.peek("n", "k", rate) == before  # a peek counts nothing
        after = limiter.hit("n", "k", rate)
        assert after.allowed == before.allowed
        if after.allowed:
            assert after.remaining == before.remaining - 1
        else:
            assert after == before


def test_reset_forgets_a_key():
    limiter = MemoryLimiter(clock=Clock())
    for _ in range(3):
        limiter.hit("login", "ann", "3/hour")
    assert not limiter.peek("login", "ann", "3/hour").allowed
    limiter.reset("login", "ann")
    limiter.reset("login", "nobody")  # no error
    assert limiter.peek("login", "ann", "3/hour") == Verdict(True, 3, 0.0, 3)


def test_async_api_of_the_memory_limiter():
    limiter = MemoryLimiter(clock=Clock())

    async def run() -> list[Verdict]:
        out = [await limiter.hit_async("n", "k", "2/minute") for _ in range(3)]
        out.append(await limiter.peek_async("n", "k", "2/minute"))
        await limiter.reset_async("n", "k")
        out.append(await limiter.peek_async("n", "k", "2/minute"))
        await limiter.aclose()
        return out

    assert asyncio.run(run()) == [
        Verdict(True, 1, 0.0, 2),
        Verdict(True, 0, 0.0, 2),
        Verdict(False, 0, 30.0, 2),
        Verdict(False, 0, 30.0, 2),
        Verdict(True, 2, 0.0, 2),
    ]


def test_memory_is_bounded():
    clock = Clock()
    limiter = MemoryLimiter(max_keys=3, clock=clock)
    for key in "abcd":
        limiter.hit("n", key, "1/hour")
    assert len(limiter) == 3  # the least recently used went
    assert limiter.peek("n", "a", "1/hour").allowed
    assert not limiter.peek("n", "d", "1/hour").allowed
    # Keys that have run out are dropped as new ones come in...
    clock.advance(3601)
    limiter.hit("n", "e", "1/hour")
    assert len(limiter) == 2
    # ...and all at once by sweep().
    assert limiter.sweep() == 1
    assert len(limiter) == 1
    clock.advance(3601)
    assert limiter.sweep() == 1
    assert len(limiter) == 0
    with pytest.raises(ValueError, match="max_keys"):
        MemoryLimiter(max_keys=0)


def test_a_disabled_limiter_allows_everything():
    limiter = MemoryLimiter(enabled=False)
    for _ in range(10):
        assert limiter.hit("n", "k", "1/minute") == Verdict(True, 1, 0.0, 1)
    assert limiter.peek("n", "k", "1/minute").allowed
    limiter.reset("n", "k")
    assert len(limiter) == 0


# -- Redis -----------------------------------------------------------------------------


@pytest.fixture
def redis_client(redis_url):
    import redis

    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def redis_limiter(redis_url):
    limiter = RedisLimiter(redis_url)
    yield limiter
    limiter.close()


def test_redis_limiter_counts_refuses_and_resets(redis_limiter, redis_client):
    limiter = redis_limiter
    assert limiter.peek("login", "ann", "5/minute") == Verdict(True, 5, 0.0, 5)
    assert redis_client.keys("*") == []  # a peek stores nothing
    verdicts = [limiter.hit("login", "ann", "5/minute") for _ in range(6)]
    assert [v.remaining for v in verdicts[:5]] == [4, 3, 2, 1, 0]
    assert all(v.allowed for v in verdicts[:5])
    refused = verdicts[5]
    assert not refused.allowed
    assert 11 < refused.retry_after <= 12.0  # one interval, less the time taken
    assert not limiter.peek("login", "ann", "5/minute").allowed
    # The key: kettle:rl:<name>:<key>, expiring when it holds nothing.
    assert redis_client.keys("*") == [b"kettle:rl:login:ann"]
    assert 59_000 < redis_client.pttl("kettle:rl:login:ann") <= 60_000
    assert limiter.hit("login", "bob", "5/minute").allowed
    limiter.reset("login", "ann")
    assert redis_client.keys("*") == [b"kettle:rl:login:bob"]
    assert limiter.peek("login", "ann", "5/minute") == Verdict(True, 5, 0.0, 5)


def test_redis_limiter_async_api(redis_limiter, redis_client):
    limiter = redis_limiter

    async def run() -> list[Verdict]:
        try:
            out = [await limiter.hit_async("n", "k", "2/minute") for _ in range(3)]
            out.append(await limiter.peek_async("n", "k", "2/minute"))
            await limiter.reset_async("n", "k")
            out.append(await limiter.peek_async("n", "k", "2/minute"))
            out.append(await limiter.hit_async("n", "k", "2/minute"))
            return out
        finally:
            await limiter.aclose()

    out = asyncio.run(run())
    assert out[:2] == [Verdict(True, 1, 0.0, 2), Verdict(True, 0, 0.0, 2)]
    assert not out[2].allowed and 29 < out[2].retry_after <= 30
    assert not out[3].allowed
    assert out[4:] == [Verdict(True, 2, 0.0, 2), Verdict(True, 1, 0.0, 2)]
    # The blocking and the async clients see the same counts.
    assert limiter.hit("n", "k", "2/minute") == Verdict(True, 0, 0.0, 2)
    assert redis_client.keys("*") == [b"kettle:rl:n:k"]


def test_redis_peek_agrees_with_hit(redis_limiter):
    limiter = redis_limiter
    for _ in range(12):
        before = limiter.peek("n", "k", "10/minute")
        after = limiter.hit("n", "k", "10/minute")
        assert after.allowed == before.allowed
        if after.allowed:
            assert after.remaining == before.remaining - 1
        else:
            assert before.retry_after >= after.retry_after > 5


def test_redis_counts_refill_with_time(redis_limiter):
    """The one long real wait of these tests (two seconds: each run of four hits
    has two thirds of a second before one of three comes back)."""
    limiter = redis_limiter
    assert [limiter.hit("n", "k", "3/2s").allowed for _ in range(4)] == [
        True, True, True, False,
    ]  # fmt: skip
    time.sleep(2.01)  # a whole period after the first: all three again
    assert [limiter.hit("n", "k", "3/2s").allowed for _ in range(4)] == [
        True, True, True, False,
    ]  # fmt: skip


# -- concurrency -----------------------------------------------------------------------


def hammer(limiter, threads=50, rate="20/minute"):
    """Hit one key from ``threads`` threads at once; how many were allowed."""
    barrier = threading.Barrier(threads)
    allowed = []

    def one():
        barrier.wait()
        allowed.append(limiter.hit("n", "k", rate).allowed)

    workers = [threading.Thread(target=one) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return sum(allowed)


def test_memory_is_exact_under_concurrency():
    assert hammer(MemoryLimiter()) == 20


def test_redis_is_exact_under_concurrency(redis_limiter):
    assert hammer(redis_limiter) == 20


def test_redis_async_is_exact_under_concurrency(redis_limiter):
    async def run() -> int:
        try:
            verdicts = await asyncio.gather(
                *(redis_limiter.hit_async("n", "k", "20/minute") for _ in range(50))
            )
        finally:
            await redis_limiter.aclose()
        return sum(v.allowed for v in verdicts)

    assert asyncio.run(run()) == 20


# -- a Redis that is down --------------------------------------------------------------


def test_an_unreachable_redis_fails_open_with_a_warning(caplog):
    limiter = RedisLimiter(f"redis://127.0.0.1:{closed_port()}/0", timeout=0.5)
    with caplog.at_level(logging.WARNING, logger="kettle.ratelimit"):
        for _ in range(5):
            assert limiter.hit("n", "k", "1/minute") == Verdict(True, 1, 0.0, 1)
        assert limiter.peek("n", "k", "1/minute").allowed
        limiter.reset("n", "k")
    warnings = [r for r in caplog.records if r.name == "kettle.ratelimit"]
    assert len(warnings) == 1  # once, not once a request
    assert warnings[0].levelno == logging.WARNING
    assert "Redis is unreachable" in warnings[0].getMessage()
    assert "RATELIMIT_FAIL_OPEN" in warnings[0].getMessage()
    limiter.close()


def test_an_unreachable_redis_fails_open_for_async_code(caplog):
    limiter = RedisLimiter(f"redis://127.0.0.1:{closed_port()}/0")

    async def run() -> list[Verdict]:
        try:
            out = [await limiter.hit_async("n", "k", "1/minute") for _ in range(3)]
            out.append(await limiter.peek_async("n", "k", "1/minute"))
            await limiter.reset_async("n", "k")
            return out
        finally:
            await limiter.aclose()

    with caplog.at_level(logging.WARNING, logger="kettle.ratelimit"):
        assert asyncio.run(run()) == [Verdict(True, 1, 0.0, 1)] * 4
    assert len(caplog.records) == 1


def test_an_unreachable_redis_can_refuse_requests(caplog):
    limiter = RedisLimiter(f"redis://127.0.0.1:{closed_port()}/0", fail_open=False)
    with caplog.at_level(logging.WARNING, logger="kettle.ratelimit"):
        with pytest.raises(LimiterUnavailable) as info:
            limiter.hit("n", "k", "1/minute")
        assert info.value.status_code == 503
        with pytest.raises(LimiterUnavailable):  # paused: refused at once
            limiter.hit("n", "k", "1/minute")
    assert [r.levelno for r in caplog.records] == [logging.ERROR]
    limiter.close()


def test_an_unreachable_redis_under_both_interfaces(make_client, caplog):
    port = closed_port()
    app = Kettle(
        env_file=None,
        RATELIMIT_BACKEND="redis",
        RATELIMIT_REDIS_URL=f"redis://127.0.0.1:{port}/0",
    )
    add_routes(app)
    client = make_client(app)
    with caplog.at_level(logging.WARNING, logger="kettle.ratelimit"):
        for path in ("/sync", "/async"):
            assert [client.get(path).status_code for _ in range(5)] == [200] * 5
    assert any("Redis is unreachable" in r.getMessage() for r in caplog.records)

    closed = Kettle(
        env_file=None,
        RATELIMIT_BACKEND="redis",
        RATELIMIT_REDIS_URL=f"redis://127.0.0.1:{port}/0",
        RATELIMIT_FAIL_OPEN=False,
    )
    add_routes(closed)
    client = make_client(closed)
    with caplog.at_level(logging.CRITICAL, logger="kettle.ratelimit"):
        for path in ("/sync", "/async"):
            response = client.get(path)
            assert response.status_code == 503
            assert response.headers["retry-after"] == "1"


# -- the decorator ---------------------------------------------------------------------


def add_routes(app: Kettle) -> None:
    @app.get("/sync")
    @rate_limit("3/minute")
    def limited_sync():
        return {"ok": True}

    @app.get("/async")
    @rate_limit("3/minute")
    async def limited_async():
        return {"ok": True}


@pytest.fixture(params=["memory", "redis"])
def backend(request):
    """The settings of a limiter backend, and the memory one's clock."""
    if request.param == "memory":
        return {"RATELIMIT_BACKEND": "memory"}, Clock()
    url = request.getfixturevalue("redis_url")
    return {"RATELIMIT_BACKEND": "redis", "RATELIMIT_REDIS_URL": url}, None


def make_app(backend, **settings) -> Kettle:
    options, clock = backend
    app = Kettle(env_file=None, SECRET_KEY=KEY, **options, **settings)
    if clock is not None:
        set_limiter(app, MemoryLimiter(clock=clock))
    return app


@pytest.mark.parametrize("path", ["/sync", "/async"])
def test_n_requests_then_429(backend, make_client, path):
    app = make_app(backend)
    add_routes(app)
    client = make_client(app)
    assert [client.get(path).status_code for _ in range(3)] == [200, 200, 200]
    refused = client.get(path)
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "20"
    assert refused.headers["ratelimit-limit"] == "3"
    assert refused.headers["ratelimit-remaining"] == "0"
    assert refused.headers["ratelimit-reset"] == "20"
    assert refused.json() == {"detail": "Too many requests: try again in 20 seconds."}
    other = "/async" if path == "/sync" else "/sync"
    assert client.get(other).status_code == 200  # each handler has its count


@pytest.mark.parametrize("path", ["/sync", "/async"])
def test_counts_refill_with_the_clock(make_client, path):
    clock = Clock()
    app = Kettle(env_file=None)
    set_limiter(app, MemoryLimiter(clock=clock))
    add_routes(app)
    client = make_client(app)
    assert [client.get(path).status_code for _ in range(4)] == [200, 200, 200, 429]
    clock.advance(19)
    refused = client.get(path)
    assert refused.headers["retry-after"] == "1"
    assert refused.json()["detail"] == "Too many requests: try again in 1 second."
    clock.advance(1)
    assert [client.get(path).status_code for _ in range(2)] == [200, 429]
    clock.advance(60)
    assert [client.get(path).status_code for _ in range(4)] == [200, 200, 200, 429]


def test_the_limiter_is_made_once_per_app(backend):
    app = make_app(backend)
    assert get_limiter(app) is get_limiter(app)
    assert get_limiter(app) is not get_limiter(make_app(backend))
    get_limiter(app).close()


def test_each_client_address_is_counted_apart(backend, make_client):
    app = make_app(backend)

    @app.get("/")
    @rate_limit("2/minute")
    async def index():
        return {"client": request.client.host}

    # Behind a proxy, the real address comes from its headers.
    app.add_middleware(ProxyHeadersMiddleware, trusted_hosts="*")
    client = make_client(app)

    def status(address: str) -> int:
        return client.get("/", headers={"x-forwarded-for": address}).status_code

    assert [status("10.0.0.1") for _ in range(3)] == [200, 200, 429]
    assert [status("10.0.0.2") for _ in range(3)] == [200, 200, 429]
    # An IPv6 client is counted by its /64 network; IPv4-mapped as IPv4.
    assert [status("2001:db8::1"), status("2001:db8::2")] == [200, 200]
    assert status("2001:db8::3") == 429
    assert status("2001:db8:0:1::1") == 200
    assert status("::ffff:10.0.0.1") == 429


def test_logged_in_users_are_counted_apart(backend, make_client):
    app = make_app(backend)

    @app.post("/login/{user_id:int}")
    def log_in(user_id: int):
        request.session["_auth_user_id"] = user_id  # what kettle.auth keeps
        return {"ok": True}

    @app.get("/me")
    @rate_limit("2/minute", key="user")
    def me():
        return {"ok": True}

    @app.get("/pair")
    @rate_limit("1/minute", key="ip+user")
    async def pair():
        return {"ok": True}

    ann, bob, anonymous = make_client(app), make_client(app), make_client(app)
    ann.post("/login/1")
    bob.post("/login/2")
    assert [ann.get("/me").status_code for _ in range(3)] == [200, 200, 429]
    assert [bob.get("/me").status_code for _ in range(3)] == [200, 200, 429]
    # Anonymous requests are counted by their address.
    assert [anonymous.get("/me").status_code for _ in range(3)] == [200, 200, 429]
    assert [ann.get("/pair").status_code for _ in range(2)] == [200, 429]
    assert bob.get("/pair").status_code == 200
    assert anonymous.get("/pair").status_code == 200


def test_a_key_function(backend, make_client):
    app = make_app(backend)

    def api_key(conn):
        return conn.headers.get("x-api-key")  # None: not limited

    @app.get("/api")
    @rate_limit("1/minute", key=api_key)
    def api():
        return {"ok": True}

    client = make_client(app)
    assert client.get("/api", headers={"x-api-key": "a"}).status_code == 200
    assert client.get("/api", headers={"x-api-key": "a"}).status_code == 429
    assert client.get("/api", headers={"x-api-key": "b"}).status_code == 200
    assert [client.get("/api").status_code for _ in range(3)] == [200] * 3


def test_only_the_given_methods_are_counted(backend, make_client):
    app = make_app(backend)

    @app.route("/form", methods=["GET", "POST"])
    @rate_limit("1/minute", methods=["post"])
    def form():
        return {"method": request.method}

    client = make_client(app)
    assert [client.get("/form").status_code for _ in range(3)] == [200] * 3
    assert [client.post("/form").status_code for _ in range(2)] == [200, 429]


def test_scope_path_counts_each_url_apart(backend, make_client):
    app = make_app(backend)

    @app.post("/posts/{post_id:int}/like")
    @rate_limit("1/minute", scope="path")
    def like(post_id: int):
        return {"liked": post_id}

    client = make_client(app)
    assert client.post("/posts/1/like").status_code == 200
    assert client.post("/posts/1/like").status_code == 429
    assert client.post("/posts/2/like").status_code == 200


def test_several_limits_all_apply(make_client):
    clock = Clock()
    app = Kettle(env_file=None)
    set_limiter(app, MemoryLimiter(clock=clock))

    @app.get("/")
    @rate_limit("3/minute")
    @rate_limit("5/hour")
    def index():
        return {"ok": True}

    client = make_client(app)
    assert [client.get("/").status_code for _ in range(4)] == [200] * 3 + [429]
    assert client.get("/").headers["retry-after"] == "20"  # the minute's
    clock.advance(60)
    assert [client.get("/").status_code for _ in range(3)] == [200, 200, 429]
    # The hour's: one request every 720 s, the first 3600 s ahead of now.
    assert client.get("/").headers["retry-after"] == "660"
    # A request refused by one limit is counted by none: not by the minute's.
    clock.advance(660)
    assert [client.get("/").status_code for _ in range(2)] == [200, 429]
    assert client.get("/").headers["retry-after"] == "720"


def test_several_limits_are_one_atomic_check_in_redis(redis_url, make_client):
    app = Kettle(env_file=None, RATELIMIT_BACKEND="redis", REDIS_URL=redis_url)

    @app.get("/")
    @rate_limit("2/minute", name="minute")
    @rate_limit("3/hour", name="hour")
    async def index():
        return {"ok": True}

    client = make_client(app)
    assert [client.get("/").status_code for _ in range(4)] == [200, 200, 429, 429]
    assert client.get("/").headers["retry-after"] == "30"
    limiter = get_limiter(app)
    assert limiter.peek("hour", "testclient", "3/hour").remaining == 1


def test_limits_apart_from_each_other_all_apply(make_client):
    from kettle import requires

    app = Kettle(env_file=None)
    set_limiter(app, MemoryLimiter(clock=Clock()))
    seen = []

    @app.get("/")
    @rate_limit("2/minute")
    @requires(lambda: seen.append(1))
    @rate_limit("1/minute", key=lambda conn: conn.query.get("who"))
    def index():
        return {"ok": True}

    client = make_client(app)
    assert client.get("/?who=a").status_code == 200
    # Checked apart, the first limit counted the request the last refused.
    assert client.get("/?who=a").status_code == 429
    assert client.get("/?who=b").status_code == 429  # the first: 2 a minute
    assert client.get("/").status_code == 429


def test_a_shared_name_shares_the_count(backend, make_client):
    app = make_app(backend)

    @app.get("/a")
    @rate_limit("2/minute", name="api")
    def a():
        return {"ok": True}

    @app.get("/b")
    @rate_limit("2/minute", name="api")
    async def b():
        return {"ok": True}

    client = make_client(app)
    assert [client.get(p).status_code for p in ("/a", "/b", "/a", "/b")] == [
        200, 200, 429, 429,
    ]  # fmt: skip
    # The app's limiter holds the same count.
    assert not get_limiter(app).peek("api", "testclient", "2/minute").allowed


def test_redis_keys_of_the_decorator(redis_url, redis_client, make_client):
    app = Kettle(env_file=None, RATELIMIT_BACKEND="redis", REDIS_URL=redis_url)

    @app.get("/")
    @rate_limit("2/minute", name="home")
    def home():
        return {"ok": True}

    client = make_client(app)
    client.get("/")
    assert redis_client.keys("*") == [b"kettle:rl:home:testclient"]
    assert 0 < redis_client.pttl("kettle:rl:home:testclient") <= 30_000


def test_redis_counts_refill_under_the_decorator(redis_url, make_client):
    app = Kettle(env_file=None, RATELIMIT_BACKEND="redis", REDIS_URL=redis_url)

    @app.get("/")
    @rate_limit("4/2s")
    async def home():
        return {"ok": True}

    client = make_client(app)
    assert [client.get("/").status_code for _ in range(5)] == [200] * 4 + [429]
    assert client.get("/").headers["retry-after"] == "1"
    # One request back every half second: the second below is refused unless
    # all of this took over a second.
    time.sleep(0.51)
    assert [client.get("/").status_code for _ in range(2)] == [200, 429]


def test_ratelimit_enabled_false_turns_every_limit_off(backend, make_client):
    options, _ = backend
    app = Kettle(env_file=None, RATELIMIT_ENABLED=False, **options)
    add_routes(app)
    client = make_client(app)
    for path in ("/sync", "/async"):
        assert [client.get(path).status_code for _ in range(10)] == [200] * 10
    limiter = get_limiter(app)
    assert not limiter.enabled
    assert all(limiter.hit("n", "k", "1/hour").allowed for _ in range(3))
    # Off, Redis is not even needed.
    off = Kettle(env_file=None, RATELIMIT_ENABLED=False, RATELIMIT_BACKEND="redis")
    assert get_limiter(off).hit("n", "k", "1/hour").allowed


def test_the_default_limiter_is_in_memory():
    limiter = get_limiter(Kettle(env_file=None))
    assert type(limiter) is MemoryLimiter
    assert limiter.enabled and limiter.max_keys == 100_000


def test_bad_settings_fail_with_a_clear_message():
    with pytest.raises(ImproperlyConfigured, match="'memory' or 'redis'"):
        get_limiter(Kettle(env_file=None, RATELIMIT_BACKEND="memcache"))
    with pytest.raises(ImproperlyConfigured, match="needs RATELIMIT_REDIS_URL"):
        get_limiter(Kettle(env_file=None, RATELIMIT_BACKEND="redis"))


def test_the_decorator_goes_below_the_route():
    app = Kettle(env_file=None)
    with pytest.raises(ImproperlyConfigured, match="below the route decorator"):

        @rate_limit("5/minute")
        @app.get("/")
        def index():
            return "hi"


def test_rate_limited_is_a_429_for_views_that_throttle_themselves(make_client):
    clock = Clock()
    app = Kettle(env_file=None)
    limiter = set_limiter(app, MemoryLimiter(clock=clock))

    @app.post("/login")
    def login(username: str, password: str):
        verdict = limiter.peek("login", username, "2/minute")
        if not verdict.allowed:
            raise RateLimited(verdict)
        if password != "right":
            limiter.hit("login", username, "2/minute")
            return {"ok": False}
        limiter.reset("login", username)
        return {"ok": True}

    client = make_client(app)

    def log_in(password: str):
        return client.post(f"/login?username=ann&password={password}")

    assert [log_in("wrong").json() for _ in range(2)] == [{"ok": False}] * 2
    refused = log_in("right")  # refused before the password is checked
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "30"
    clock.advance(30)
    assert log_in("right").json() == {"ok": True}
    assert limiter.peek("login", "ann", "2/minute").remaining == 2
