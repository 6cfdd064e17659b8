"""The Redis cache: one store for every worker and machine."""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable
from collections.abc import Callable
from typing import Any

from .base import Cache
from .base import CacheUnavailable
from .codec import SignedPickle

__all__ = ("RedisCache",)

log = logging.getLogger("kettle.cache")

# Add to an integer only when the key exists (INCRBY would make it); keeps
# the expiry.
_INCR_LUA = """
if redis.call('EXISTS', KEYS[1]) == 0 then return nil end
return redis.call('INCRBY', KEYS[1], ARGV[1])
"""
# A new expiry (ARGV[1] milliseconds; "" for none) for a key that exists.
_TOUCH_LUA = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if ARGV[1] == '' then redis.call('PERSIST', KEYS[1])
else redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return 1
"""
# Release a lock only when it is still ours.
_UNLOCK_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def _ms(ttl: float) -> int:
    return max(1, math.ceil(ttl * 1000))


def _glob_escape(text: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


class RedisCache(Cache):
    """A cache in Redis, shared by every worker and machine using the same
    URL and prefix. Keys are ``<prefix>:<version>:<key>``; values are signed
    pickles (see :mod:`kettle.cache.codec`), integers plain digits.

    Blocking code uses a redis-py client; async code (``aget``...) a
    ``redis.asyncio`` client per event loop. Both time out after ``timeout``
    seconds and retry once on a dropped connection.

    When Redis cannot be reached: with ``fail_open`` (``CACHE_FAIL_OPEN``,
    the default) reads miss and writes are dropped, with a warning logged at
    most every 10 seconds, and Redis is left alone for a second after each
    failure (requests do not each wait for a timeout); ``delete``,
    ``delete_many``, ``clear``, ``incr``/``decr``, ``incr_version`` and
    ``invalidate_tags`` raise :class:`~kettle.cache.CacheUnavailable` all the
    same, since losing them would leave stale data. Without ``fail_open``
    every operation raises it.

    Args:
        url: ``redis://host:port/db`` (or ``rediss://``, ``unix://``).
        secret_key: Signs the stored pickles (the app's ``SECRET_KEY``).
        fail_open: See above.
        timeout: Seconds to connect, and to wait for an answer.
        **options: As for :class:`~kettle.cache.Cache`.
    """

    def __init__(
        self,
        url: str,
        *,
        secret_key: str | bytes,
        fail_open: bool = True,
        timeout: float = 1.0,
        **options: Any,
    ) -> None:
        super().__init__(**options)
        from .._redis import LoopClients
        from .._redis import Outage
        from .._redis import fail_fast_options
        from .._redis import require_redis

        require_redis("CACHE_BACKEND = 'redis'")
        import redis

        self.url = url
        self.fail_open = fail_open
        self.timeout = timeout
        self.codec = SignedPickle(secret_key)
        self._errors: tuple[type[BaseException], ...] = (
            redis.ConnectionError,
            redis.TimeoutError,
            OSError,
        )
        self._response_error = redis.ResponseError
        self.client = redis.Redis.from_url(url, **fail_fast_options(timeout))
        self._scripts = _with_scripts(self.client)[1]
        self._async: LoopClients[tuple[Any, dict[str, Any]]] = LoopClients(
            url, timeout, _with_scripts, lambda found: found[0]
        )
        self._outage = Outage(
            log,
            "cache",
            "CACHE_FAIL_OPEN",
            ("reads miss and writes are dropped", "cache operations fail"),
        )

    def __repr__(self) -> str:
        host = self.client.get_connection_kwargs().get("host")
        return f"<RedisCache {host} prefix={self.key_prefix!r}>"

    # -- Redis failing -------------------------------------------------------------

    def _failed(self, exc: BaseException | None, must: bool) -> None:
        """Note a failure (None: Redis is paused after one); raise
        CacheUnavailable unless the operation may fail open."""
        if exc is not None:
            self._outage.failed(exc, self.fail_open)
        if must or not self.fail_open:
            raise CacheUnavailable(
                f"the cache's Redis ({self.url.split('@')[-1]}) is unreachable"
                + (f": {exc}" if exc is not None else "")
            ) from exc

    def _call(self, func: Callable[[], Any], fallback: Any, must: bool = False) -> Any:
        if self._outage.paused():
            self._failed(None, must)
            return fallback
        try:
            return func()
        except self._errors as exc:
            self._failed(exc, must)
            return fallback

    async def _acall(
        self, func: Callable[[], Awaitable[Any]], fallback: Any, must: bool = False
    ) -> Any:
        if self._outage.paused():
            self._failed(None, must)
            return fallback
        try:
            return await func()
        except self._errors as exc:
            self._failed(exc, must)
            return fallback

    # -- clients -------------------------------------------------------------------

    def _aclient(self) -> tuple[Any, dict[str, Any]]:
        """This event loop's client and scripts."""
        return self._async.get()

    # -- primitives (blocking) -----------------------------------------------------

    def _get(self, key: str) -> Any:
        raw = self._call(lambda: self.client.get(key), None)
        return self.codec.loads(raw)

    def _get_checked(self, key: str) -> Any:
        return self.codec.loads(self._call(lambda: self.client.get(key), None, True))

    def _get_many(self, keys: list[str]) -> list[Any]:
        raws = self._call(lambda: self.client.mget(keys), [None] * len(keys))
        return [self.codec.loads(r) for r in raws]

    def _set(self, key: str, entry: Any, ttl: float | None) -> None:
        data = self.codec.dumps(entry)
        px = None if ttl is None else _ms(ttl)
        self._call(lambda: self.client.set(key, data, px=px), None)

    def _pipeline_set(self, items: list[tuple[str, Any]], ttl: float | None) -> Any:
        pipe = self.client.pipeline(transaction=False)
        px = None if ttl is None else _ms(ttl)
        for key, entry in items:
            pipe.set(key, self.codec.dumps(entry), px=px)
        return pipe

    def _set_many(self, items: list[tuple[str, Any]], ttl: float | None) -> None:
        pipe = self._pipeline_set(items, ttl)
        self._call(pipe.execute, None)

    def _write_stamps(self, items: list[tuple[str, int]]) -> None:
        pipe = self._pipeline_set(list(items), None)
        self._call(pipe.execute, None, must=True)

    def _add(self, key: str, entry: Any, ttl: float | None) -> bool:
        data = self.codec.dumps(entry)
        px = None if ttl is None else _ms(ttl)
        return bool(
            self._call(lambda: self.client.set(key, data, px=px, nx=True), False)
        )

    def _delete(self, key: str) -> bool:
        return bool(self._call(lambda: self.client.delete(key), 0, must=True))

    def _delete_many(self, keys: list[str]) -> None:
        self._call(lambda: self.client.delete(*keys), 0, must=True)

    def _incr(self, key: str, delta: int) -> int:
        script = self._scripts["incr"]
        try:
            found = self._call(lambda: script(keys=[key], args=[delta]), None, True)
        except self._response_error as exc:
            raise TypeError(
                f"incr()/decr() need an integer value of 64 bits ({exc})"
            ) from None
        if found is None:
            raise KeyError(key)
        return int(found)

    def _touch(self, key: str, ttl: float | None) -> bool:
        script = self._scripts["touch"]
        arg = "" if ttl is None else _ms(ttl)
        return bool(self._call(lambda: script(keys=[key], args=[arg]), 0))

    def _clear(self) -> None:
        pattern = _glob_escape(self.key_prefix) + ":*"

        def clear() -> None:
            batch: list[Any] = []
            for key in self.client.scan_iter(match=pattern, count=1000):
                batch.append(key)
                if len(batch) >= 1000:
                    self.client.unlink(*batch)
                    batch = []
            if batch:
                self.client.unlink(*batch)

        self._call(clear, None, must=True)

    def _acquire(self, key: str, token: str, ttl: float) -> bool | None:
        data = self.codec.dumps(token)
        failed = object()
        got = self._call(
            lambda: self.client.set(key, data, px=_ms(ttl), nx=True), failed
        )
        return None if got is failed else bool(got)

    def _release(self, key: str, token: str) -> None:
        script = self._scripts["unlock"]
        data = self.codec.dumps(token)
        self._call(lambda: script(keys=[key], args=[data]), 0)

    def close(self) -> None:
        self.client.close()

    # -- primitives (async) --------------------------------------------------------

    async def _aget(self, key: str) -> Any:
        client = self._aclient()[0]
        return self.codec.loads(await self._acall(lambda: client.get(key), None))

    async def _aget_checked(self, key: str) -> Any:
        client = self._aclient()[0]
        raw = await self._acall(lambda: client.get(key), None, True)
        return self.codec.loads(raw)

    async def _aget_many(self, keys: list[str]) -> list[Any]:
        client = self._aclient()[0]
        raws = await self._acall(lambda: client.mget(keys), [None] * len(keys))
        return [self.codec.loads(r) for r in raws]

    async def _aset(self, key: str, entry: Any, ttl: float | None) -> None:
        client = self._aclient()[0]
        data = self.codec.dumps(entry)
        px = None if ttl is None else _ms(ttl)
        await self._acall(lambda: client.set(key, data, px=px), None)

    def _apipeline_set(self, items: list[tuple[str, Any]], ttl: float | None) -> Any:
        pipe = self._aclient()[0].pipeline(transaction=False)
        px = None if ttl is None else _ms(ttl)
        for key, entry in items:
            pipe.set(key, self.codec.dumps(entry), px=px)
        return pipe

    async def _aset_many(self, items: list[tuple[str, Any]], ttl: float | None) -> None:
        pipe = self._apipeline_set(items, ttl)
        await self._acall(pipe.execute, None)

    async def _awrite_stamps(self, items: list[tuple[str, int]]) -> None:
        pipe = self._apipeline_set(list(items), None)
        await self._acall(pipe.execute, None, must=True)

    async def _aadd(self, key: str, entry: Any, ttl: float | None) -> bool:
        client = self._aclient()[0]
        data = self.codec.dumps(entry)
        px = None if ttl is None else _ms(ttl)
        return bool(
            await self._acall(lambda: client.set(key, data, px=px, nx=True), False)
        )

    async def _adelete(self, key: str) -> bool:
        client = self._aclient()[0]
        return bool(await self._acall(lambda: client.delete(key), 0, must=True))

    async def _adelete_many(self, keys: list[str]) -> None:
        client = self._aclient()[0]
        await self._acall(lambda: client.delete(*keys), 0, must=True)

    async def _aincr(self, key: str, delta: int) -> int:
        script = self._aclient()[1]["incr"]
        try:
            found = await self._acall(
                lambda: script(keys=[key], args=[delta]), None, True
            )
        except self._response_error as exc:
            raise TypeError(
                f"incr()/decr() need an integer value of 64 bits ({exc})"
            ) from None
        if found is None:
            raise KeyError(key)
        return int(found)

    async def _atouch(self, key: str, ttl: float | None) -> bool:
        script = self._aclient()[1]["touch"]
        arg = "" if ttl is None else _ms(ttl)
        return bool(await self._acall(lambda: script(keys=[key], args=[arg]), 0))

    async def _aclear(self) -> None:
        client = self._aclient()[0]
        pattern = _glob_escape(self.key_prefix) + ":*"

        async def clear() -> None:
            batch: list[Any] = []
            async for key in client.scan_iter(match=pattern, count=1000):
                batch.append(key)
                if len(batch) >= 1000:
                    await client.unlink(*batch)
                    batch = []
            if batch:
                await client.unlink(*batch)

        await self._acall(clear, None, must=True)

    async def _aacquire(self, key: str, token: str, ttl: float) -> bool | None:
        client = self._aclient()[0]
        data = self.codec.dumps(token)
        failed = object()
        got = await self._acall(
            lambda: client.set(key, data, px=_ms(ttl), nx=True), failed
        )
        return None if got is failed else bool(got)

    async def _arelease(self, key: str, token: str) -> None:
        script = self._aclient()[1]["unlock"]
        data = self.codec.dumps(token)
        await self._acall(lambda: script(keys=[key], args=[data]), 0)

    async def aclose(self) -> None:
        self.close()
        await self._async.aclose()


def _with_scripts(client: Any) -> tuple[Any, dict[str, Any]]:
    """A client and its registered scripts."""
    return client, {
        name: client.register_script(text)
        for name, text in (
            ("incr", _INCR_LUA),
            ("touch", _TOUCH_LUA),
            ("unlock", _UNLOCK_LUA),
        )
    }
