"""Rate limits: ``@rate_limit("5/minute")`` on any route, and a limiter the
login view (or any code) uses to throttle by account or client address.

A limit is a rate (``"5/minute"``, ``"100/hour"``, ``"10/second"``,
``"1000/day"``, ``"5/30s"``, ``"20/5m"``) counted per key (the client address,
the logged-in user, or anything a function of the request returns) under a
name. ``limiter.hit(name, key, rate)`` counts one request and says whether it is
allowed; ``peek`` says whether one would be, without counting it; ``reset``
forgets the key (a successful login forgives the failures before it).

The algorithm is GCRA (the generic cell rate algorithm: a leaky bucket kept as
one number per key, the "theoretical arrival time" of the next request). With a
rate of ``limit`` per ``period``, each request pushes that time ``period /
limit`` further into the future, and a request is refused when it would be more
than ``period`` ahead of now. It was chosen because:

- It is exact where fixed windows are not: a client gets ``limit`` requests at
  once, then one every ``period / limit``; it can never get twice the limit
  across a window boundary, and the count refills steadily instead of all at
  once. Over any long stretch it allows exactly the rate.
- It is cheap: one integer per key (a sliding log keeps one per request; a
  sliding-window counter keeps two counters and only approximates), one read
  and one write per request. A refused request changes nothing, so a client
  hammering a limit does not push its own retry further away.
- ``Retry-After`` and the remaining count fall out of the arithmetic exactly,
  and ``peek`` is the same computation without the write, so it always agrees
  with the next ``hit``.
- In Redis the read, the decision and the write are one Lua script: atomic
  across every worker and machine, timed by the Redis server's clock (workers'
  clocks may differ), with the key expiring when it no longer holds anything.

Times are whole microseconds (exact integer arithmetic, in Python and in
Redis's Lua alike); the interval between requests is rounded up to a
microsecond, so a period grows by less than ``limit`` microseconds.

Backends (``RATELIMIT_BACKEND``): ``"memory"`` (the default: one process, thread
safe, at most ``max_keys`` keys, expired ones dropped) and ``"redis"`` (shared by
every worker, ``RATELIMIT_REDIS_URL`` or ``REDIS_URL``, keys
``kettle:rl:<name>:<key>``). A Redis that cannot be reached lets requests
through with a logged warning (``RATELIMIT_FAIL_OPEN = True``, the default) or
answers 503 (``False``). ``RATELIMIT_ENABLED = False`` turns every limit off.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import math
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from collections.abc import Collection
from typing import TYPE_CHECKING
from typing import Any
from typing import NamedTuple
from typing import TypeVar

from .exceptions import HTTPException
from .exceptions import ImproperlyConfigured
from .params import requires
from .requests import HTTPConnection

if TYPE_CHECKING:
    from .app import Kettle

__all__ = (
    "Limiter",
    "LimiterUnavailable",
    "MemoryLimiter",
    "Rate",
    "RateLimited",
    "RedisLimiter",
    "Verdict",
    "client_address",
    "get_limiter",
    "parse_rate",
    "rate_limit",
    "set_limiter",
)

F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger("kettle.ratelimit")

#: The key of the app's limiter in ``app.extensions``.
EXTENSION = "ratelimit"
#: The session key where ``kettle.auth`` keeps the logged-in user's id.
SESSION_USER = "_auth_user_id"

_US = 1_000_000  # microseconds in a second


# -- rates -----------------------------------------------------------------------------

_UNITS = {
    "s": 1,
    "sec": 1,
    "secs": 1,
    "second": 1,
    "seconds": 1,
    "m": 60,
    "min": 60,
    "mins": 60,
    "minute": 60,
    "minutes": 60,
    "h": 3600,
    "hr": 3600,
    "hrs": 3600,
    "hour": 3600,
    "hours": 3600,
    "d": 86400,
    "day": 86400,
    "days": 86400,
}
_RATE = re.compile(
    r"\s*(\d+)\s*(?:/|\s+per\s+)\s*(\d+(?:\.\d+)?)?\s*([A-Za-z]+)\s*", re.ASCII
)
_RATE_HELP = (
    "write '<count>/<period>', such as '5/minute', '100/hour', '10/second', "
    "'1000/day', '5/30s' or '20/5m'"
)


class Rate:
    """A parsed rate: at most ``limit`` requests per ``period`` seconds.

    Made by :func:`parse_rate`; the arithmetic's constants are computed once:
    ``interval``, the microseconds between requests at a steady pace, and
    ``tau``, how far ahead of now the next arrival time may be (``limit``
    intervals: the burst a fresh key is allowed).
    """

    __slots__ = ("interval", "limit", "period", "tau", "text")

    def __init__(self, limit: int, period: float, text: str | None = None) -> None:
        if limit < 1:
            raise ValueError(f"a rate must allow at least one request, not {limit}")
        micros = round(period * _US)
        if micros < 1:
            raise ValueError(f"a rate's period must be positive, not {period!r}")
        self.limit = limit
        self.period = micros / _US
        self.interval = -(-micros // limit)  # rounded up: never more than the rate
        self.tau = self.interval * limit
        self.text = text or f"{limit}/{self.period:g}s"

    def __repr__(self) -> str:
        return f"Rate({self.text!r})"

    def __str__(self) -> str:
        return self.text

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Rate):
            return NotImplemented
        return (self.limit, self.interval) == (other.limit, other.interval)

    def __hash__(self) -> int:
        return hash((self.limit, self.interval))


@functools.lru_cache(maxsize=512)
def parse_rate(text: str) -> Rate:
    """Parse a rate: ``"<count>/<period>"``, the period a unit (``second``,
    ``minute``, ``hour``, ``day``, or ``s``, ``m``, ``h``, ``d``, plurals and
    ``sec``/``min``/``hr`` too), optionally after a number: ``"5/30s"``,
    ``"20/5m"``, ``"2/1.5h"``. ``"5 per minute"`` reads the same.

    Raises:
        ValueError: ``text`` is not such a rate.
        TypeError: ``text`` is not a string.
    """
    if not isinstance(text, str):
        raise TypeError(f"a rate is a string such as '5/minute', not {text!r}")
    found = _RATE.fullmatch(text)
    unit = _UNITS.get(found.group(3).lower()) if found else None
    if found is None or unit is None:
        raise ValueError(f"invalid rate {text!r}: {_RATE_HELP}")
    count = int(found.group(1))
    amount = float(found.group(2)) if found.group(2) else 1.0
    try:
        return Rate(count, amount * unit, text.strip())
    except ValueError as exc:
        raise ValueError(f"invalid rate {text!r}: {exc}") from None


def _rate(rate: str | Rate) -> Rate:
    return rate if isinstance(rate, Rate) else parse_rate(rate)


# -- verdicts and errors ---------------------------------------------------------------


class Verdict(NamedTuple):
    """What a limiter decided about one request.

    ``remaining`` is how many more requests the key may make right now: after a
    :meth:`~Limiter.hit`, not counting that hit; after a :meth:`~Limiter.peek`,
    counting the request it asked about (so a peek's ``remaining`` is one more
    than the hit that follows it gets). ``retry_after`` is the seconds until a
    request would be allowed (0 when this one is).
    """

    allowed: bool
    remaining: int
    retry_after: float
    limit: int


def _seconds(retry_after: float) -> int:
    """``Retry-After``: whole seconds, rounded up, at least 1."""
    return max(1, math.ceil(retry_after))


class RateLimited(HTTPException):
    """429 Too Many Requests, with ``Retry-After`` (whole seconds) and
    ``RateLimit-Limit``/``-Remaining``/``-Reset`` headers; ``verdict`` is the
    limiter's answer. Raised by :func:`rate_limit`, and handy for a view that
    throttles with :meth:`Limiter.hit` itself."""

    def __init__(self, verdict: Verdict) -> None:
        self.verdict = verdict
        wait = _seconds(verdict.retry_after)
        unit = "second" if wait == 1 else "seconds"
        super().__init__(
            429,
            f"Too many requests: try again in {wait} {unit}.",
            {
                "Retry-After": str(wait),
                "RateLimit-Limit": str(verdict.limit),
                "RateLimit-Remaining": "0",
                "RateLimit-Reset": str(wait),
            },
        )


class LimiterUnavailable(HTTPException):
    """503: the limiter's store (Redis) cannot be reached and
    ``RATELIMIT_FAIL_OPEN`` is False, so requests are refused rather than let
    through unlimited."""

    def __init__(self, reason: str) -> None:
        super().__init__(
            503,
            "The service is briefly unavailable: please try again shortly.",
            {"Retry-After": "1"},
        )
        self.reason = reason


# -- limiters --------------------------------------------------------------------------


class Limiter:
    """The limiter interface (see :class:`MemoryLimiter`, :class:`RedisLimiter`).

    A name groups the counts of one limit (``"login.account"``); the key is
    who is counted under it (a user id, an address). The same name and key
    should always be used with the same rate.

    Args:
        enabled: False: every request is allowed and nothing is stored
            (``RATELIMIT_ENABLED = False``).
    """

    #: Put before ``<name>:<key>`` to make the key of the store.
    prefix = ""

    def __init__(self, *, enabled: bool = True) -> None:
        self.enabled = enabled

    def store_key(self, name: str, key: str) -> str:
        """The key ``name`` and ``key`` are counted under in the store."""
        return f"{self.prefix}{name}:{key}"

    # The backends' work: one check, counting it (``count``) or not; or
    # several at once, all counted only when all allow (the verdict of the
    # limit with the fewest requests left, or of the longest wait).

    def _check(self, key: str, rate: Rate, count: bool) -> Verdict:
        raise NotImplementedError

    async def _check_async(self, key: str, rate: Rate, count: bool) -> Verdict:
        raise NotImplementedError

    def _check_many(self, keys: list[str], rates: list[Rate], count: bool) -> Verdict:
        raise NotImplementedError

    async def _check_many_async(
        self, keys: list[str], rates: list[Rate], count: bool
    ) -> Verdict:
        raise NotImplementedError

    def _delete(self, key: str) -> None:
        raise NotImplementedError

    async def _delete_async(self, key: str) -> None:
        raise NotImplementedError

    # The public API.

    def hit(self, name: str, key: str, rate: str | Rate) -> Verdict:
        """Count one request of ``key`` under ``name`` at ``rate``
        (``"5/minute"`` or a :class:`Rate`), unless it is refused: a refused
        request is not counted."""
        parsed = _rate(rate)
        if not self.enabled:
            return Verdict(True, parsed.limit, 0.0, parsed.limit)
        return self._check(self.store_key(name, key), parsed, True)

    async def hit_async(self, name: str, key: str, rate: str | Rate) -> Verdict:
        """:meth:`hit` for async code (Redis: through ``redis.asyncio``)."""
        parsed = _rate(rate)
        if not self.enabled:
            return Verdict(True, parsed.limit, 0.0, parsed.limit)
        return await self._check_async(self.store_key(name, key), parsed, True)

    def peek(self, name: str, key: str, rate: str | Rate) -> Verdict:
        """Whether a :meth:`hit` now would be allowed, without counting one:
        a login refused before its password is checked while the account is
        locked out."""
        parsed = _rate(rate)
        if not self.enabled:
            return Verdict(True, parsed.limit, 0.0, parsed.limit)
        return self._check(self.store_key(name, key), parsed, False)

    async def peek_async(self, name: str, key: str, rate: str | Rate) -> Verdict:
        """:meth:`peek` for async code."""
        parsed = _rate(rate)
        if not self.enabled:
            return Verdict(True, parsed.limit, 0.0, parsed.limit)
        return await self._check_async(self.store_key(name, key), parsed, False)

    def reset(self, name: str, key: str) -> None:
        """Forget every request of ``key`` under ``name``."""
        if self.enabled:
            self._delete(self.store_key(name, key))

    async def reset_async(self, name: str, key: str) -> None:
        """:meth:`reset` for async code."""
        if self.enabled:
            await self._delete_async(self.store_key(name, key))

    def close(self) -> None:
        """Release the blocking connections (if any)."""

    async def aclose(self) -> None:
        """Release the connections of the running event loop, and the blocking
        ones (the app calls it at shutdown)."""
        self.close()


class MemoryLimiter(Limiter):
    """Counts kept in this process's memory: right for one process (or tests);
    with several workers each counts alone, so use :class:`RedisLimiter`.

    Thread safe (a lock held for a few operations). Memory is bounded: keys
    whose count has run out are dropped as new keys come in, and beyond
    ``max_keys`` the least recently used key is dropped (forgetting a client's
    count, which only ever lets it through sooner).

    Args:
        max_keys: The most keys kept.
        clock: Seconds from a monotonic clock (inject a fake one in tests).
        enabled: As for :class:`Limiter`.
    """

    def __init__(
        self,
        *,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
        enabled: bool = True,
    ) -> None:
        super().__init__(enabled=enabled)
        if max_keys < 1:
            raise ValueError(f"max_keys must be at least 1, not {max_keys}")
        self.max_keys = max_keys
        self.clock = clock
        #: Each key's theoretical arrival time, in microseconds of ``clock``,
        #: least recently used first.
        self._tats: OrderedDict[str, int] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._tats)

    def _check(self, key: str, rate: Rate, count: bool) -> Verdict:
        now = int(self.clock() * _US)
        interval = rate.interval
        tau = rate.tau
        tats = self._tats
        with self._lock:
            tat = tats.get(key, now)
            if tat < now:
                tat = now
            ahead = tat + interval - now
            if ahead > tau:
                return Verdict(False, 0, (ahead - tau) / _US, rate.limit)
            if not count:
                return Verdict(True, (tau - ahead) // interval + 1, 0.0, rate.limit)
            self._store(key, tat + interval, now)
        return Verdict(True, (tau - ahead) // interval, 0.0, rate.limit)

    def _check_many(self, keys: list[str], rates: list[Rate], count: bool) -> Verdict:
        now = int(self.clock() * _US)
        tats = self._tats
        news: list[int] = []
        left, binding = -1, 0  # the fewest requests left, and whose
        wait, refusing = -1, 0  # the longest wait, and whose
        with self._lock:
            for i, (key, rate) in enumerate(zip(keys, rates, strict=True)):
                tat = max(tats.get(key, now), now)
                ahead = tat + rate.interval - now
                if ahead > rate.tau:
                    if ahead - rate.tau > wait:
                        wait, refusing = ahead - rate.tau, i
                elif wait < 0:
                    free = (rate.tau - ahead) // rate.interval + (0 if count else 1)
                    if left < 0 or free < left:
                        left, binding = free, i
                    news.append(tat + rate.interval)
            if wait >= 0:
                return Verdict(False, 0, wait / _US, rates[refusing].limit)
            if count:
                for key, new in zip(keys, news, strict=True):
                    self._store(key, new, now)
        return Verdict(True, left, 0.0, rates[binding].limit)

    def _store(self, key: str, tat: int, now: int) -> None:
        """Keep ``key``'s new arrival time (with the lock held)."""
        tats = self._tats
        if key in tats:
            tats[key] = tat
            tats.move_to_end(key)
        else:
            tats[key] = tat
            self._evict(now)

    def _evict(self, now: int) -> None:
        """Drop up to two expired keys from the least recently used end, and
        the least recently used beyond ``max_keys`` (with the lock held)."""
        tats = self._tats
        for _ in range(2):
            oldest = next(iter(tats))
            if tats[oldest] > now:
                break
            del tats[oldest]
        while len(tats) > self.max_keys:
            tats.popitem(last=False)

    async def _check_async(self, key: str, rate: Rate, count: bool) -> Verdict:
        return self._check(key, rate, count)

    async def _check_many_async(
        self, keys: list[str], rates: list[Rate], count: bool
    ) -> Verdict:
        return self._check_many(keys, rates, count)

    def _delete(self, key: str) -> None:
        with self._lock:
            self._tats.pop(key, None)

    async def _delete_async(self, key: str) -> None:
        self._delete(key)

    def sweep(self) -> int:
        """Drop every key whose count has run out; how many."""
        now = int(self.clock() * _US)
        with self._lock:
            expired = [k for k, tat in self._tats.items() if tat <= now]
            for key in expired:
                del self._tats[key]
        return len(expired)


# KEYS: the keys of one or more limits; ARGV: each one's interval and tau
# (microseconds), then "1" to count the request. All are counted, or none.
# Returns {allowed (1/0), remaining, the deciding limit (1-based), microseconds
# until a request would be allowed}, as MemoryLimiter._check_many.
_GCRA_LUA = """
if redis.replicate_commands then redis.replicate_commands() end
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local n = #KEYS
local count = ARGV[2 * n + 1] == '1'
local left, binding, wait, refusing = -1, 1, -1, 1
local news = {}
for i = 1, n do
  local interval = tonumber(ARGV[2 * i - 1])
  local tau = tonumber(ARGV[2 * i])
  local tat = redis.call('GET', KEYS[i])
  tat = tat and tonumber(tat) or now
  if tat < now then tat = now end
  local ahead = tat + interval - now
  if ahead > tau then
    if ahead - tau > wait then wait, refusing = ahead - tau, i end
  elseif wait < 0 then
    local free = math.floor((tau - ahead) / interval)
    if not count then free = free + 1 end
    if left < 0 or free < left then left, binding = free, i end
    news[i] = {tat + interval, ahead}
  end
end
if wait >= 0 then return {0, 0, refusing, wait} end
if count then
  for i = 1, n do
    redis.call('SET', KEYS[i], string.format('%d', news[i][1]),
               'PX', math.ceil(news[i][2] / 1000))
  end
end
return {1, left, binding, 0}
"""


class RedisLimiter(Limiter):
    """Counts kept in Redis, shared by every worker and machine: one key
    ``kettle:rl:<name>:<key>`` per key, expiring once it holds nothing, updated
    by one atomic Lua script timed by the Redis server's clock.

    Blocking code (``def`` handlers, :meth:`hit`) uses a redis-py client;
    async code (``async def`` handlers, :meth:`hit_async`) a ``redis.asyncio``
    one per event loop. Both time out after ``timeout`` seconds (a URL's
    ``?socket_timeout=`` wins) and try once more, without waiting, on a
    connection error.

    When Redis fails, the request is allowed with a warning logged (at most
    every 10 seconds) if ``fail_open``, and refused with
    :class:`LimiterUnavailable` (a 503) otherwise; Redis is then left alone for
    a second.

    Args:
        url: ``redis://host:port/db`` (or ``rediss://``, ``unix://``).
        fail_open: Let requests through while Redis is unreachable.
        timeout: Seconds to connect, and to wait for an answer.
        enabled: As for :class:`Limiter`.
    """

    prefix = "kettle:rl:"

    def __init__(
        self,
        url: str,
        *,
        fail_open: bool = True,
        timeout: float = 1.0,
        enabled: bool = True,
    ) -> None:
        super().__init__(enabled=enabled)
        from ._redis import LoopClients
        from ._redis import Outage
        from ._redis import fail_fast_options
        from ._redis import require_redis

        require_redis("RATELIMIT_BACKEND = 'redis'")
        import redis

        self.url = url
        self.fail_open = fail_open
        self.timeout = timeout
        self._errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
        self.client = redis.Redis.from_url(url, **fail_fast_options(timeout))
        self._script = self.client.register_script(_GCRA_LUA)
        self._async: LoopClients[Any] = LoopClients(
            url,
            timeout,
            lambda client: client.register_script(_GCRA_LUA),
            lambda script: script.registered_client,
        )
        self._outage = Outage(
            log,
            "rate limits",
            "RATELIMIT_FAIL_OPEN",
            ("letting requests through", "refusing"),
        )

    def __repr__(self) -> str:
        return f"<RedisLimiter {self.client.get_connection_kwargs().get('host')}>"

    # -- Redis failing -------------------------------------------------------------

    def _failed(
        self, exc: BaseException | None, rates: list[Rate] | None = None
    ) -> Verdict:
        """Note a failure (``exc``; None: Redis is paused after one), then fail
        open (a verdict allowing the request) or raise
        :class:`LimiterUnavailable`."""
        if exc is not None:
            self._outage.failed(exc, self.fail_open)
        if not self.fail_open:
            raise LimiterUnavailable(f"Redis is unreachable: {exc}") from exc
        limit = min(r.limit for r in rates) if rates else 0
        return Verdict(True, limit, 0.0, limit)

    # -- blocking -----------------------------------------------------------------

    @staticmethod
    def _args(rates: list[Rate], count: bool) -> list[int]:
        args = [n for rate in rates for n in (rate.interval, rate.tau)]
        args.append(1 if count else 0)
        return args

    @staticmethod
    def _verdict(answer: Any, rates: list[Rate]) -> Verdict:
        allowed, remaining, which, wait = answer
        limit = rates[int(which) - 1].limit
        return Verdict(bool(allowed), int(remaining), int(wait) / _US, limit)

    def _check(self, key: str, rate: Rate, count: bool) -> Verdict:
        return self._check_many([key], [rate], count)

    def _check_many(self, keys: list[str], rates: list[Rate], count: bool) -> Verdict:
        if self._outage.paused():
            return self._failed(None, rates)
        try:
            answer = self._script(keys=keys, args=self._args(rates, count))
        except self._errors as exc:
            return self._failed(exc, rates)
        return self._verdict(answer, rates)

    def _delete(self, key: str) -> None:
        if self._outage.paused():
            self._failed(None)
            return
        try:
            self.client.delete(key)
        except self._errors as exc:
            self._failed(exc)

    def close(self) -> None:
        self.client.close()

    # -- async --------------------------------------------------------------------

    def _async_script(self) -> Any:
        """This event loop's client's script."""
        return self._async.get()

    async def _check_async(self, key: str, rate: Rate, count: bool) -> Verdict:
        return await self._check_many_async([key], [rate], count)

    async def _check_many_async(
        self, keys: list[str], rates: list[Rate], count: bool
    ) -> Verdict:
        if self._outage.paused():
            return self._failed(None, rates)
        script = self._async_script()
        try:
            answer = await script(keys=keys, args=self._args(rates, count))
        except self._errors as exc:
            return self._failed(exc, rates)
        return self._verdict(answer, rates)

    async def _delete_async(self, key: str) -> None:
        if self._outage.paused():
            self._failed(None)
            return
        try:
            await self._async_script().registered_client.delete(key)
        except self._errors as exc:
            self._failed(exc)

    async def aclose(self) -> None:
        self.close()
        await self._async.aclose()


# -- the app's limiter -----------------------------------------------------------------


def get_limiter(app: Kettle) -> Limiter:
    """The app's limiter (``app.extensions["ratelimit"]``), made on first use
    from the settings: ``RATELIMIT_BACKEND`` (``"memory"`` or ``"redis"``),
    ``RATELIMIT_REDIS_URL`` (default ``REDIS_URL``), ``RATELIMIT_FAIL_OPEN``,
    ``RATELIMIT_ENABLED``.

    Raises:
        ImproperlyConfigured: An unknown backend, or Redis without a URL.
    """
    from .helpers import extension

    return extension(app, EXTENSION, _make_limiter)


def set_limiter(app: Kettle, limiter: Limiter) -> Limiter:
    """Make ``limiter`` the app's (a :class:`MemoryLimiter` with a fake clock in
    tests, say), instead of one made from the settings; it is closed at the
    app's shutdown."""
    app.extensions[EXTENSION] = limiter
    app.on_shutdown(limiter.aclose)
    return limiter


_BACKENDS = ("memory", "redis")


def _make_limiter(app: Kettle) -> Limiter:
    cfg = app.config
    backend = cfg.get("RATELIMIT_BACKEND") or "memory"
    if backend not in _BACKENDS:
        raise ImproperlyConfigured(
            f"RATELIMIT_BACKEND {backend!r} is not one Kettle knows: use "
            + " or ".join(repr(b) for b in _BACKENDS)
        )
    if not cfg.get("RATELIMIT_ENABLED", True):
        return MemoryLimiter(enabled=False)
    if backend == "memory":
        return MemoryLimiter()
    url = cfg.get("RATELIMIT_REDIS_URL") or cfg.get("REDIS_URL")
    if not url:
        raise ImproperlyConfigured(
            "RATELIMIT_BACKEND = 'redis' needs RATELIMIT_REDIS_URL (or REDIS_URL), "
            "such as 'redis://127.0.0.1:6379/0'"
        )
    limiter = RedisLimiter(url, fail_open=bool(cfg.get("RATELIMIT_FAIL_OPEN", True)))
    app.on_shutdown(limiter.aclose)
    return limiter


# -- keys of requests ------------------------------------------------------------------


@functools.lru_cache(maxsize=4096)
def _ipv6_key(host: str) -> str:
    """An IPv6 client's /64 network (one subscriber's block of addresses), or
    the IPv4 address an IPv4-mapped one holds."""
    try:
        address = ipaddress.IPv6Address(host.split("%", 1)[0])
    except ValueError:
        return host
    if address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(ipaddress.IPv6Network((address, 64), strict=False))


def client_address(conn: HTTPConnection) -> str:
    """The key of ``key="ip"``: the client's address (an IPv6 address's /64
    network), ``"-"`` when the server gives none (a Unix socket)."""
    client = conn.client
    if client is None:
        return "-"
    host = client.host
    return _ipv6_key(host) if ":" in host else host


def _user_id(conn: HTTPConnection) -> Any:
    return conn.session.get(SESSION_USER)


def _user_key(conn: HTTPConnection) -> str:
    user = _user_id(conn)
    return client_address(conn) if user is None else f"user:{user}"


def _ip_user_key(conn: HTTPConnection) -> str:
    user = _user_id(conn)
    address = client_address(conn)
    return address if user is None else f"{address}+user:{user}"


KeyFunc = Callable[[Any], "str | None"]
_KEYS: dict[str, KeyFunc] = {
    "ip": client_address,
    "user": _user_key,
    "ip+user": _ip_user_key,
}


# -- the decorator ---------------------------------------------------------------------


def rate_limit(
    rate: str | Rate,
    key: str | KeyFunc = "ip",
    *,
    name: str | None = None,
    methods: Collection[str] | None = None,
    scope: str | None = None,
) -> Callable[[F], F]:
    """Limit the decorated handler to ``rate`` requests per key; a request over
    it gets 429 with ``Retry-After``. Put it below the route decorator::

        @app.post("/comments")
        @rate_limit("5/minute")
        @rate_limit("100/day", key="user")
        def comment(form: CommentForm): ...

    Several limits on one handler all apply, checked top to bottom before the
    body is read. A ``def`` handler uses the blocking client of the store, an
    ``async def`` one the async client.

    Args:
        rate: ``"5/minute"``, ``"100/hour"``, ``"10/second"``, ``"1000/day"``,
            ``"5/30s"``, ``"20/5m"`` (see :func:`parse_rate`), or a :class:`Rate`.
        key: Who is counted: ``"ip"`` (the client address; behind a reverse
            proxy install ``ProxyHeadersMiddleware``, or every client is the
            proxy), ``"user"`` (the logged-in user, from the session ``kettle.auth``
            keeps; the address for anonymous requests), ``"ip+user"`` (each user
            at each address), or a function of the request returning a string
            (None: the request is not limited).
        name: The name the counts are kept under (default: the handler's module
            and qualified name); handlers with the same name and key share one
            count.
        methods: Only count requests of these methods (``["POST"]``); ``GET``
            includes ``HEAD``. Default: all.
        scope: ``"path"`` to count each URL path apart (``/posts/1`` and
            ``/posts/2``); None (default): one count for the handler.

    Raises:
        ValueError: ``rate`` is not a valid rate, ``key`` or ``scope`` unknown.
    """
    parsed = _rate(rate)
    key_of, key_label = _key_function(key)
    if scope not in (None, "path"):
        raise ValueError(f"rate_limit(): scope must be None or 'path', not {scope!r}")
    only = _method_set(methods)
    per_path = scope == "path"

    def decorate(func: F) -> F:
        label = _default_name(func) if name is None else name
        limit = _Limit(parsed, key_of, only, per_path, f"{label}:", key_label)
        existing = getattr(func, "__kettle_requires__", ())
        below = getattr(existing[0], "kettle_rate_limits", ()) if existing else ()
        if not below:
            return requires(_provider((limit,)))(func)
        # The limit just below is a rate limit too: one check of both, so that
        # a request refused by one is counted by none.
        func = requires(_provider((limit, *below)))(func)
        func.__kettle_requires__ = (  # type: ignore[attr-defined]
            func.__kettle_requires__[0],  # type: ignore[attr-defined]
            *existing[1:],
        )
        return func

    return decorate


class _Limit(NamedTuple):
    """One ``@rate_limit`` of a handler, as its checks use it."""

    rate: Rate
    key_of: KeyFunc
    only: frozenset[str] | None
    per_path: bool
    tail: str  # "<name>:"
    label: str  # the key's kind, for messages


def _request_keys(
    limits: tuple[_Limit, ...], conn: HTTPConnection
) -> tuple[Limiter, list[str], list[Rate]]:
    """The app's limiter, and the store keys and rates of the limits that
    apply to the request (none when limits are off)."""
    app = conn.app
    limiter: Limiter = app.extensions.get(EXTENSION) or get_limiter(app)
    keys: list[str] = []
    rates: list[Rate] = []
    if not limiter.enabled:
        return limiter, keys, rates
    for limit in limits:
        if limit.only is not None and conn.method not in limit.only:
            continue
        who = limit.key_of(conn)
        if who is None:
            continue
        if limit.per_path:
            who = f"{who}@{conn.path}"
        keys.append(f"{limiter.prefix}{limit.tail}{who}")
        rates.append(limit.rate)
    return limiter, keys, rates


def _provider(limits: tuple[_Limit, ...]) -> Callable[..., None]:
    """The requirement checking ``limits`` (top to bottom) for a handler: its
    ``kettle_variant`` is a ``def`` check for a ``def`` handler (blocking store
    client) and an ``async def`` one for an ``async def`` handler."""

    def check_sync(conn: HTTPConnection) -> None:
        limiter, keys, rates = _request_keys(limits, conn)
        if not keys:
            return
        if len(keys) == 1:
            verdict = limiter._check(keys[0], rates[0], True)
        else:
            verdict = limiter._check_many(keys, rates, True)
        if not verdict.allowed:
            raise RateLimited(verdict)

    async def check_async(conn: HTTPConnection) -> None:
        limiter, keys, rates = _request_keys(limits, conn)
        if not keys:
            return
        if len(keys) == 1:
            verdict = await limiter._check_async(keys[0], rates[0], True)
        else:
            verdict = await limiter._check_many_async(keys, rates, True)
        if not verdict.allowed:
            raise RateLimited(verdict)

    def check() -> None:  # pragma: no cover - replaced by a variant
        raise AssertionError("replaced by its variant for the handler")

    check.kettle_variant = (  # type: ignore[attr-defined]
        lambda is_async, optional: check_async if is_async else check_sync
    )
    check.kettle_rate_limits = limits  # type: ignore[attr-defined]
    shown = ", ".join(f"{x.rate.text!r} by {x.label}" for x in limits)
    check.__qualname__ = f"rate_limit({shown})"
    check_sync.__qualname__ = check_async.__qualname__ = check.__qualname__
    return check


def _key_function(key: str | KeyFunc) -> tuple[KeyFunc, str]:
    """The function giving a request's key, and its label."""
    if callable(key):
        return key, getattr(key, "__qualname__", "key")
    found = _KEYS.get(key)
    if found is None:
        raise ValueError(
            f"rate_limit(): key {key!r} is not 'ip', 'user', 'ip+user' or a "
            "function of the request"
        )
    return found, key


def _method_set(methods: Collection[str] | None) -> frozenset[str] | None:
    """The methods counted (None: all); ``GET`` brings ``HEAD``."""
    if methods is None:
        return None
    if isinstance(methods, str):
        methods = [methods]
    only = frozenset(m.upper() for m in methods)
    return only | {"HEAD"} if "GET" in only else only


def _default_name(func: Callable[..., Any]) -> str:
    """The handler's module and qualified name, and ``#2``, ``#3``... for its
    second and later limits (one count per limit)."""
    label = f"{func.__module__}.{func.__qualname__}"
    earlier = sum(
        len(getattr(p, "kettle_rate_limits", ()))
        for p in getattr(func, "__kettle_requires__", ())
    )
    return f"{label}#{earlier + 1}" if earlier else label
