"""Redis clients for the stores the request path waits on (the cache and the
rate limits): options that fail fast, one ``redis.asyncio`` client per event
loop (asyncio connections belong to the loop that opened them), and what is
done while Redis cannot be reached (:class:`Outage`); and, for every Redis
backend, the check that redis-py is installed (:func:`require_redis`). redis-py
is imported here only when a client is made."""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any
from typing import Generic
from typing import TypeVar

__all__ = ("LoopClients", "Outage", "fail_fast_options", "require_redis")

T = TypeVar("T")

#: After a failure, Redis is left alone this many seconds (callers fail open,
#: or fail, at once instead of each waiting on the network).
PAUSE = 1.0
#: At most one warning per this many seconds while Redis is unreachable.
WARN_EVERY = 10.0


def require_redis(feature: str) -> None:
    """Raise :class:`~kettle.exceptions.ImproperlyConfigured`, naming ``feature``,
    when redis-py is not installed."""
    try:
        import redis  # noqa: F401
    except ImportError as exc:  # pragma: no cover - depends on the install
        from .exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(
            f"{feature} needs redis-py: pip install 'kettle[redis]'"
        ) from exc


def fail_fast_options(timeout: float, *, asyncio: bool = False) -> dict[str, Any]:
    """Client options for a store the request path waits on: ``timeout``
    seconds to connect and per command, and a single retry with no backoff
    (``asyncio``: for a ``redis.asyncio`` client)."""
    from redis.backoff import NoBackoff

    if asyncio:
        from redis.asyncio.retry import Retry
    else:
        from redis.retry import Retry  # type: ignore[assignment]

    return {
        "socket_timeout": timeout,
        "socket_connect_timeout": timeout,
        "retry": Retry(NoBackoff(), 1),
    }


class LoopClients(Generic[T]):
    """This event loop's ``redis.asyncio`` client for ``url``, wrapped by
    ``prepare(client)`` (to register scripts, say), made on first use in each
    loop. A loop that is garbage-collected drops its entry.

    Args:
        url: The Redis URL.
        timeout: See :func:`fail_fast_options`.
        prepare: Turns the new client into what :meth:`get` returns.
        client_of: Finds the client in what ``prepare`` returned (for
            :meth:`aclose`).
    """

    def __init__(
        self,
        url: str,
        timeout: float,
        prepare: Callable[[Any], T],
        client_of: Callable[[T], Any],
    ) -> None:
        self.url = url
        self.timeout = timeout
        self._prepare = prepare
        self._client_of = client_of
        self._made: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, T] = (
            weakref.WeakKeyDictionary()
        )
        self._lock = threading.Lock()

    def get(self) -> T:
        """The running loop's prepared client."""
        loop = asyncio.get_running_loop()
        found = self._made.get(loop)
        if found is None:
            self._forget_closed_loops()
            from redis.asyncio import Redis

            with self._lock:
                found = self._made.get(loop)
                if found is None:
                    options = fail_fast_options(self.timeout, asyncio=True)
                    client = Redis.from_url(self.url, **options)
                    found = self._made[loop] = self._prepare(client)
        return found

    def _forget_closed_loops(self) -> None:
        """Drop the clients of loops that are closed (a thread's loop gone with
        its thread): an entry's client refers to its loop, so the entry would
        keep both, and the client's connection, forever. Dropped, they are
        garbage and their sockets are closed with them."""
        with self._lock:
            for loop in [loop for loop in self._made if loop.is_closed()]:
                del self._made[loop]

    async def aclose(self) -> None:
        """Close the running loop's client, if it made one."""
        with self._lock:
            found = self._made.pop(asyncio.get_running_loop(), None)
        if found is not None:
            await self._client_of(found).aclose()


class Outage:
    """Redis failing, for a store the request path waits on: after each
    failure Redis is left alone for :data:`PAUSE` seconds (:meth:`paused`), and
    a warning (an error, when not failing open) is logged at most every
    :data:`WARN_EVERY` seconds.

    Args:
        log: The logger of the warnings.
        what: Who uses Redis, starting the message (``"cache"``).
        setting: The setting that chose whether to fail open, named in the
            message (``"CACHE_FAIL_OPEN"``).
        effects: What callers see meanwhile, when failing open and when not
            (``("reads miss", "operations fail")``).
    """

    __slots__ = ("_effects", "_log", "_setting", "_warned_at", "_what", "until")

    def __init__(
        self, log: logging.Logger, what: str, setting: str, effects: tuple[str, str]
    ) -> None:
        self._log = log
        self._what = what
        self._setting = setting
        self._effects = effects
        #: Redis is left alone until then (``time.monotonic()``; 0: not paused).
        self.until = 0.0
        self._warned_at = -math.inf

    def paused(self) -> bool:
        """Whether Redis failed less than :data:`PAUSE` seconds ago."""
        until = self.until
        return bool(until) and time.monotonic() < until

    def failed(self, exc: BaseException, fail_open: bool) -> None:
        """Note a failure: pause, and warn (unless warned of lately)."""
        now = time.monotonic()
        self.until = now + PAUSE
        if now - self._warned_at >= WARN_EVERY:
            self._warned_at = now
            self._log.log(
                logging.WARNING if fail_open else logging.ERROR,
                "%s: Redis is unreachable (%s: %s); %s until it answers (%s = %s)",
                self._what,
                type(exc).__name__,
                exc,
                self._effects[0] if fail_open else self._effects[1],
                self._setting,
                fail_open,
            )
