"""The in-memory cache (the default) and the dummy cache."""

from __future__ import annotations

import pickle
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from .base import MISSING
from .base import Cache

__all__ = ("DummyCache", "MemoryCache")

#: Values kept as they are (immutable); others are pickled, so that changing
#: an object after storing or reading it does not change the cache.
_PLAIN = frozenset({int, str, bytes, float, bool, type(None)})


class _Pickled:
    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data


def _keep(entry: Any) -> Any:
    if type(entry) in _PLAIN:
        return entry
    return _Pickled(pickle.dumps(entry, protocol=pickle.HIGHEST_PROTOCOL))


def _give(stored: Any) -> Any:
    if type(stored) is _Pickled:
        return pickle.loads(stored.data)  # noqa: S301 - pickled by this process
    return stored


class MemoryCache(Cache):
    """A cache in this process's memory: a bounded LRU dict, thread safe.

    Each process has its own: with ``kettle serve --workers 4`` there are four
    caches, which neither share entries nor see each other's deletes and tag
    invalidations. Use :class:`~kettle.cache.redis.RedisCache` (or the
    database) when several processes must agree.

    Values other than ``int``, ``str``, ``bytes``, ``float``, ``bool`` and
    ``None`` are pickled (a copy is stored and each read gets its own), as
    Django's local-memory cache does.

    Args:
        max_entries: The most entries kept (``CACHE_MAX_ENTRIES``); beyond
            it, the least recently used is dropped.
        clock: Seconds from a monotonic clock (inject a fake one in tests).
        **options: As for :class:`~kettle.cache.Cache`.
    """

    def __init__(
        self,
        *,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
        **options: Any,
    ) -> None:
        super().__init__(**options)
        if isinstance(max_entries, bool) or not isinstance(max_entries, int):
            raise TypeError(f"max_entries must be an int, not {max_entries!r}")
        if max_entries < 1:
            raise ValueError(f"max_entries must be at least 1, not {max_entries}")
        self.max_entries = max_entries
        self.clock = clock
        #: ``{store key: (expiry on clock or None, stored entry)}``, least
        #: recently used first.
        self._data: OrderedDict[str, tuple[float | None, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._data)

    def _expiry(self, ttl: float | None) -> float | None:
        return None if ttl is None else self.clock() + ttl

    def _live(self, key: str, now: float) -> Any:
        """The stored entry of ``key`` (the lock held), or MISSING; an expired
        one is dropped."""
        found = self._data.get(key)
        if found is None:
            return MISSING
        expires, stored = found
        if expires is not None and expires <= now:
            del self._data[key]
            return MISSING
        self._data.move_to_end(key)
        return stored

    def _put(self, key: str, entry: Any, ttl: float | None) -> None:
        data = self._data
        data[key] = (self._expiry(ttl), entry)
        data.move_to_end(key)
        while len(data) > self.max_entries:
            data.popitem(last=False)

    def _get(self, key: str) -> Any:
        with self._lock:
            stored = self._live(key, self.clock())
        return stored if stored is MISSING else _give(stored)

    def _get_many(self, keys: list[str]) -> list[Any]:
        now = self.clock()
        with self._lock:
            found = [self._live(k, now) for k in keys]
        return [s if s is MISSING else _give(s) for s in found]

    def _set(self, key: str, entry: Any, ttl: float | None) -> None:
        kept = _keep(entry)
        with self._lock:
            self._put(key, kept, ttl)

    def _set_many(self, items: list[tuple[str, Any]], ttl: float | None) -> None:
        kept = [(k, _keep(e)) for k, e in items]
        with self._lock:
            for key, entry in kept:
                self._put(key, entry, ttl)

    def _add(self, key: str, entry: Any, ttl: float | None) -> bool:
        kept = _keep(entry)
        with self._lock:
            if self._live(key, self.clock()) is not MISSING:
                return False
            self._put(key, kept, ttl)
        return True

    def _delete(self, key: str) -> bool:
        with self._lock:
            live = self._live(key, self.clock()) is not MISSING
            self._data.pop(key, None)
        return live

    def _incr(self, key: str, delta: int) -> int:
        with self._lock:
            stored = self._live(key, self.clock())
            if stored is MISSING:
                raise KeyError(key)
            if type(stored) is not int:
                raise TypeError(
                    f"incr()/decr() need an integer value, the key holds "
                    f"{type(_give(stored)).__name__}"
                )
            value = stored + delta
            self._data[key] = (self._data[key][0], value)
        return value

    def _touch(self, key: str, ttl: float | None) -> bool:
        with self._lock:
            stored = self._live(key, self.clock())
            if stored is MISSING:
                return False
            self._data[key] = (self._expiry(ttl), stored)
        return True

    def _clear(self) -> None:
        with self._lock:
            self._data.clear()

    def _release(self, key: str, token: str) -> None:
        # Compare and delete in one step under the lock: a lock that expired
        # and was taken by another caller is never removed by the old holder.
        with self._lock:
            found = self._data.get(key)
            if found is not None and found[1] == token:
                del self._data[key]

    async def _arelease(self, key: str, token: str) -> None:
        self._release(key, token)

    def sweep(self) -> int:
        """Drop every expired entry; how many."""
        now = self.clock()
        with self._lock:
            expired = [
                k
                for k, (exp, _) in self._data.items()
                if exp is not None and exp <= now
            ]
            for key in expired:
                del self._data[key]
        return len(expired)


class DummyCache(Cache):
    """A cache that keeps nothing (``CACHE_BACKEND = "dummy"``): every read
    misses, every write is accepted and forgotten. For development and tests
    of code that must work without a cache; ``get_or_set`` computes every
    time."""

    def _get(self, key: str) -> Any:
        return MISSING

    def _set(self, key: str, entry: Any, ttl: float | None) -> None:
        return None

    def _add(self, key: str, entry: Any, ttl: float | None) -> bool:
        return True

    def _delete(self, key: str) -> bool:
        return False

    def _incr(self, key: str, delta: int) -> int:
        raise KeyError(key)

    def _touch(self, key: str, ttl: float | None) -> bool:
        return False

    def _clear(self) -> None:
        return None

    def _acquire(self, key: str, token: str, ttl: float) -> bool | None:
        return None  # nothing to wait for: compute

    async def _aacquire(self, key: str, token: str, ttl: float) -> bool | None:
        return None
