"""The cache interface every backend shares: keys, TTLs, versions, tags and
stampede protection, sync and async.

A backend implements a few primitives on *store keys* (the user's key made
into ``<prefix>:<version>:<key>``) and *entries* (the value, or a
:class:`Tagged` wrapping it with the versions of its tags); everything else is
built here once, for every backend.
"""

from __future__ import annotations

import inspect
import math
import secrets
import time
from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Mapping
from typing import Any
from typing import TypeVar
from typing import overload

from ._common import DEFAULT
from ._common import MAX_KEY_LENGTH
from ._common import MAX_TTL
from ._common import MISSING
from ._common import CacheUnavailable
from ._common import Tagged
from ._common import check_key
from ._common import hashed
from ._common import new_stamp
from ._common import tag_list

__all__ = (
    "DEFAULT",
    "MISSING",
    "Cache",
    "CacheUnavailable",
    "Tagged",
)

T = TypeVar("T")


#: The first and the longest pause between polls of a caller waiting for
#: another to compute a value (seconds).
_POLL_FIRST = 0.002
_POLL_MAX = 0.05


class Cache:
    """A cache: the interface of every backend (Django's cache API).

    Keys are strings; values are any picklable object (see the backends for how
    they are stored). ``ttl`` is in seconds: ``DEFAULT`` (the cache's
    ``default_ttl``), a positive number, or ``None`` (kept until evicted or
    deleted). Every method has an ``a``-prefixed async twin (``aget``,
    ``aset``...), which does not block the event loop.

    Args:
        default_ttl: Seconds an entry lives when ``ttl`` is not given (None:
            forever).
        key_prefix: Put before every key in the store (``CACHE_KEY_PREFIX``):
            apps sharing a store keep apart.
        version: The version of keys when ``version=`` is not given
            (``CACHE_VERSION``).
    """

    def __init__(
        self,
        *,
        default_ttl: float | None = 300,
        key_prefix: str = "kettle:cache",
        version: int = 1,
    ) -> None:
        if default_ttl is not None:
            default_ttl = self._seconds(default_ttl, "default_ttl")
        if not isinstance(key_prefix, str):
            raise TypeError(f"key_prefix must be a string, not {key_prefix!r}")
        self.default_ttl = default_ttl
        self.key_prefix = key_prefix
        self.version = self._version(version)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} prefix={self.key_prefix!r}>"

    # -- keys and TTLs ---------------------------------------------------------------

    @staticmethod
    def _version(version: object) -> int:
        if type(version) is not int:
            raise TypeError(f"a cache key's version is an int, not {version!r}")
        return version

    def make_key(self, key: str, version: int | None = None) -> str:
        """The store key of ``key``: ``<prefix>:<version>:<key>`` (a key over
        200 characters is replaced by its SHA-256).

        Raises:
            TypeError: ``key`` is not a string, or ``version`` not an int.
        """
        check_key(key)
        number = self.version if version is None else self._version(version)
        if len(key) > MAX_KEY_LENGTH:
            key = hashed(key)
        return f"{self.key_prefix}:{number}:{key}"

    def tag_key(self, tag: str) -> str:
        """The store key holding the version of ``tag``."""
        if len(tag) > MAX_KEY_LENGTH:
            tag = hashed(tag)
        return f"{self.key_prefix}:tag:{tag}"

    def lock_key(self, store_key: str) -> str:
        """The store key of the lock of computing ``store_key``'s value."""
        return f"{self.key_prefix}:lock:{hashed(store_key)}"

    @staticmethod
    def _seconds(ttl: object, what: str = "ttl") -> float:
        if isinstance(ttl, bool) or not isinstance(ttl, int | float):
            raise TypeError(f"{what} is a number of seconds or None, not {ttl!r}")
        if not math.isfinite(ttl) or ttl <= 0:
            raise ValueError(
                f"{what} must be a positive number of seconds (None: no expiry), "
                f"not {ttl!r}; to remove an entry, delete it"
            )
        if ttl > MAX_TTL:
            raise ValueError(
                f"{what} must be at most {MAX_TTL} seconds (100 years), not "
                f"{ttl!r}; for an entry that never expires, give None"
            )
        return float(ttl)

    def ttl_of(self, ttl: Any) -> float | None:
        """Seconds an entry stored with ``ttl`` lives (None: no expiry).

        Raises:
            TypeError: ``ttl`` is not a number, None or ``DEFAULT``.
            ValueError: ``ttl`` is zero, negative, infinite, NaN or over
                100 years (3,153,600,000 seconds).
        """
        if ttl is DEFAULT:
            return self.default_ttl
        if ttl is None:
            return None
        return self._seconds(ttl)

    # -- the backend's primitives (store keys and entries) -----------------------------

    def _get(self, key: str) -> Any:
        raise NotImplementedError

    def _get_checked(self, key: str) -> Any:
        """:meth:`_get` for an operation whose loss would leave stale data:
        CacheUnavailable rather than a miss when the store cannot be reached
        (even when failing open)."""
        return self._get(key)

    def _get_many(self, keys: list[str]) -> list[Any]:
        return [self._get(k) for k in keys]

    def _set(self, key: str, entry: Any, ttl: float | None) -> None:
        raise NotImplementedError

    def _set_many(self, items: list[tuple[str, Any]], ttl: float | None) -> None:
        for key, entry in items:
            self._set(key, entry, ttl)

    def _add(self, key: str, entry: Any, ttl: float | None) -> bool:
        raise NotImplementedError

    def _delete(self, key: str) -> bool:
        raise NotImplementedError

    def _delete_many(self, keys: list[str]) -> None:
        for key in keys:
            self._delete(key)

    def _incr(self, key: str, delta: int) -> int:
        """Add ``delta`` to an integer entry; KeyError when there is none."""
        raise NotImplementedError

    def _touch(self, key: str, ttl: float | None) -> bool:
        raise NotImplementedError

    def _clear(self) -> None:
        raise NotImplementedError

    def _write_stamps(self, items: list[tuple[str, int]]) -> None:
        """Store new tag versions (an invalidation: never dropped silently)."""
        self._set_many(list(items), None)

    def _acquire(self, key: str, token: str, ttl: float) -> bool | None:
        """Take the lock ``key``: True, or False when another holds it, or None
        when the store cannot be reached (compute without a lock)."""
        return self._add(key, token, ttl)

    def _release(self, key: str, token: str) -> None:
        if self._get(key) == token:
            self._delete(key)

    # Async twins: by default the sync primitive (right for memory); Redis uses
    # redis.asyncio, the database a worker thread.

    async def _aget(self, key: str) -> Any:
        return self._get(key)

    async def _aget_checked(self, key: str) -> Any:
        return await self._aget(key)

    async def _aget_many(self, keys: list[str]) -> list[Any]:
        return self._get_many(keys)

    async def _aset(self, key: str, entry: Any, ttl: float | None) -> None:
        self._set(key, entry, ttl)

    async def _aset_many(self, items: list[tuple[str, Any]], ttl: float | None) -> None:
        self._set_many(items, ttl)

    async def _aadd(self, key: str, entry: Any, ttl: float | None) -> bool:
        return self._add(key, entry, ttl)

    async def _adelete(self, key: str) -> bool:
        return self._delete(key)

    async def _adelete_many(self, keys: list[str]) -> None:
        self._delete_many(keys)

    async def _aincr(self, key: str, delta: int) -> int:
        return self._incr(key, delta)

    async def _atouch(self, key: str, ttl: float | None) -> bool:
        return self._touch(key, ttl)

    async def _aclear(self) -> None:
        self._clear()

    async def _awrite_stamps(self, items: list[tuple[str, int]]) -> None:
        await self._aset_many(list(items), None)

    async def _aacquire(self, key: str, token: str, ttl: float) -> bool | None:
        return await self._aadd(key, token, ttl)

    async def _arelease(self, key: str, token: str) -> None:
        if await self._aget(key) == token:
            await self._adelete(key)

    # -- tags --------------------------------------------------------------------------

    def _stamps(self, tags: str | Iterable[str]) -> tuple[tuple[str, int], ...]:
        """The current version of each tag (made when a tag has none)."""
        keys = [self.tag_key(t) for t in tag_list(tags)]
        if not keys:
            return ()
        found = self._get_many(keys)
        for i, stamp in enumerate(found):
            if stamp is MISSING:
                fresh = new_stamp()
                if not self._add(keys[i], fresh, None):
                    fresh = self._get(keys[i])  # made meanwhile by another
                    if fresh is MISSING:  # and gone again: a lost store
                        fresh = new_stamp()
                        self._set(keys[i], fresh, None)
                found[i] = fresh
        return tuple(zip(keys, found, strict=True))

    async def _astamps(self, tags: str | Iterable[str]) -> tuple[tuple[str, int], ...]:
        keys = [self.tag_key(t) for t in tag_list(tags)]
        if not keys:
            return ()
        found = await self._aget_many(keys)
        for i, stamp in enumerate(found):
            if stamp is MISSING:
                fresh = new_stamp()
                if not await self._aadd(keys[i], fresh, None):
                    fresh = await self._aget(keys[i])
                    if fresh is MISSING:
                        fresh = new_stamp()
                        await self._aset(keys[i], fresh, None)
                found[i] = fresh
        return tuple(zip(keys, found, strict=True))

    @staticmethod
    def _tag_keys(entries: Iterable[Any]) -> list[str]:
        keys: dict[str, None] = {}
        for entry in entries:
            if type(entry) is Tagged:
                for key, _ in entry.stamps:
                    keys[key] = None
        return list(keys)

    @staticmethod
    def _current(entry: Any, stamps: Mapping[str, Any]) -> Any:
        """The value of ``entry``, or MISSING when a tag moved on since it was
        stored."""
        if type(entry) is not Tagged:
            return entry
        for key, stamp in entry.stamps:
            if stamps.get(key, MISSING) != stamp:
                return MISSING
        return entry.value

    def _values(self, entries: list[Any]) -> list[Any]:
        """The values of entries read together (one read of their tags)."""
        tag_keys = self._tag_keys(entries)
        if not tag_keys:
            return entries
        stamps = dict(zip(tag_keys, self._get_many(tag_keys), strict=True))
        return [self._current(e, stamps) for e in entries]

    async def _avalues(self, entries: list[Any]) -> list[Any]:
        tag_keys = self._tag_keys(entries)
        if not tag_keys:
            return entries
        stamps = dict(zip(tag_keys, await self._aget_many(tag_keys), strict=True))
        return [self._current(e, stamps) for e in entries]

    @staticmethod
    def _entry(value: Any, stamps: tuple[tuple[str, int], ...]) -> Any:
        return Tagged(value, stamps) if stamps else value

    def _store_many(
        self,
        mapping: Mapping[str, Any],
        seconds: float | None,
        stamps: tuple[tuple[str, int], ...],
        version: int | None = None,
    ) -> None:
        """Store ``mapping`` with tag versions read earlier (by :meth:`_stamps`,
        before the values were computed: an invalidation meanwhile makes them
        misses)."""
        items = self._items(mapping, stamps, version)
        if items:
            self._set_many(items, seconds)

    def _items(
        self,
        mapping: Mapping[str, Any],
        stamps: tuple[tuple[str, int], ...],
        version: int | None,
    ) -> list[tuple[str, Any]]:
        return [
            (self.make_key(k, version), self._entry(v, stamps))
            for k, v in mapping.items()
        ]

    async def _astore_many(
        self,
        mapping: Mapping[str, Any],
        seconds: float | None,
        stamps: tuple[tuple[str, int], ...],
        version: int | None = None,
    ) -> None:
        items = self._items(mapping, stamps, version)
        if items:
            await self._aset_many(items, seconds)

    # -- the public API (sync) -------------------------------------------------------

    def get(self, key: str, default: Any = None, *, version: int | None = None) -> Any:
        """The value stored under ``key``, or ``default`` when there is none (it
        expired, was evicted, deleted, or one of its tags was invalidated)."""
        entry = self._get(self.make_key(key, version))
        if entry is MISSING:
            return default
        value = self._values([entry])[0]
        return default if value is MISSING else value

    def set(
        self,
        key: str,
        value: Any,
        ttl: Any = DEFAULT,
        *,
        version: int | None = None,
        tags: str | Iterable[str] = (),
    ) -> None:
        """Store ``value`` under ``key`` for ``ttl`` seconds.

        Args:
            key: The key (a string).
            value: Any picklable value.
            ttl: Seconds to keep it; ``DEFAULT``: ``CACHE_TTL``; None: no expiry.
            version: The key's version (default: ``CACHE_VERSION``).
            tags: Tags of the entry: :meth:`invalidate_tags` with one of them
                makes it a miss.

        Raises:
            TypeError: ``key`` is not a string, ``ttl`` not a number.
            ValueError: ``ttl`` is not positive.
        """
        store_key = self.make_key(key, version)
        seconds = self.ttl_of(ttl)
        stamps = self._stamps(tags) if tags else ()
        self._set(store_key, self._entry(value, stamps), seconds)

    def add(
        self,
        key: str,
        value: Any,
        ttl: Any = DEFAULT,
        *,
        version: int | None = None,
        tags: str | Iterable[str] = (),
    ) -> bool:
        """Store ``value`` only when ``key`` holds nothing; whether it did.
        Atomic on every backend (one caller of many wins)."""
        store_key = self.make_key(key, version)
        seconds = self.ttl_of(ttl)
        stamps = self._stamps(tags) if tags else ()
        return self._add(store_key, self._entry(value, stamps), seconds)

    def delete(self, key: str, *, version: int | None = None) -> bool:
        """Remove ``key``; whether it held a value."""
        return self._delete(self.make_key(key, version))

    def get_many(
        self, keys: Iterable[str], *, version: int | None = None
    ) -> dict[str, Any]:
        """``{key: value}`` of the keys holding a value (misses left out)."""
        names = [check_key(k) for k in keys]
        if not names:
            return {}
        entries = self._get_many([self.make_key(k, version) for k in names])
        values = self._values(entries)
        return {k: v for k, v in zip(names, values, strict=True) if v is not MISSING}

    def set_many(
        self,
        mapping: Mapping[str, Any],
        ttl: Any = DEFAULT,
        *,
        version: int | None = None,
        tags: str | Iterable[str] = (),
    ) -> list[str]:
        """Store every ``key: value`` of ``mapping``; the keys that failed
        (always empty: a failure raises, or with ``CACHE_FAIL_OPEN`` drops all)."""
        seconds = self.ttl_of(ttl)
        stamps = self._stamps(tags) if tags else ()
        self._store_many(mapping, seconds, stamps, version)
        return []

    def delete_many(self, keys: Iterable[str], *, version: int | None = None) -> None:
        """Remove every key of ``keys``."""
        store_keys = [self.make_key(k, version) for k in keys]
        if store_keys:
            self._delete_many(store_keys)

    def incr(self, key: str, delta: int = 1, *, version: int | None = None) -> int:
        """Add ``delta`` to the integer under ``key``, atomically; the new value.
        The entry keeps its expiry.

        Raises:
            ValueError: ``key`` holds nothing (as in Django: set it first, or
                use :meth:`add` then :meth:`incr`).
            TypeError: ``key`` holds something other than an integer, or
                ``delta`` is not an integer.
        """
        if isinstance(delta, bool) or not isinstance(delta, int):
            raise TypeError(f"incr()/decr() take an integer delta, not {delta!r}")
        try:
            return self._incr(self.make_key(key, version), delta)
        except KeyError:
            raise ValueError(f"cache key {key!r} holds no value to add to") from None

    def decr(self, key: str, delta: int = 1, *, version: int | None = None) -> int:
        """Subtract ``delta`` from the integer under ``key`` (see :meth:`incr`)."""
        if isinstance(delta, bool) or not isinstance(delta, int):
            raise TypeError(f"incr()/decr() take an integer delta, not {delta!r}")
        return self.incr(key, -delta, version=version)

    def touch(
        self, key: str, ttl: Any = DEFAULT, *, version: int | None = None
    ) -> bool:
        """Give ``key`` a new expiry, ``ttl`` seconds from now (None: none);
        whether it held a value."""
        return self._touch(self.make_key(key, version), self.ttl_of(ttl))

    def has_key(self, key: str, *, version: int | None = None) -> bool:
        """Whether ``key`` holds a current value (also ``key in cache``)."""
        return self.get(key, MISSING, version=version) is not MISSING

    def __contains__(self, key: str) -> bool:
        return self.has_key(key)

    def clear(self) -> None:
        """Remove every entry of this cache (its prefix's, on a shared store)."""
        self._clear()

    def incr_version(
        self, key: str, delta: int = 1, *, version: int | None = None
    ) -> int:
        """Move the entry of ``key`` to version ``version + delta`` (the old
        version then misses); the new version.

        Raises:
            ValueError: ``key`` holds nothing at ``version``.
            CacheUnavailable: The store cannot be reached (even with
                ``CACHE_FAIL_OPEN``: nothing could be said of the key).
        """
        number = self.version if version is None else self._version(version)
        old = self.make_key(key, number)
        entry = self._get_checked(old)
        if entry is MISSING:
            raise ValueError(f"cache key {key!r} holds no value at version {number}")
        self._set(self.make_key(key, number + delta), entry, self.default_ttl)
        self._delete(old)
        return number + delta

    def decr_version(
        self, key: str, delta: int = 1, *, version: int | None = None
    ) -> int:
        """:meth:`incr_version` by ``-delta``."""
        return self.incr_version(key, -delta, version=version)

    def invalidate_tags(self, *tags: str) -> None:
        """Make every entry stored with any of ``tags`` a miss, for every
        process sharing the store: each tag's version number changes (one
        write per tag; entries are checked when read, none is scanned)."""
        keys = [self.tag_key(t) for t in tag_list(tags)]
        if keys:
            self._write_stamps([(k, new_stamp()) for k in keys])

    @overload
    def get_or_set(
        self,
        key: str,
        default: Callable[[], T],
        ttl: Any = ...,
        *,
        version: int | None = ...,
        tags: str | Iterable[str] = ...,
        lock_timeout: float = ...,
    ) -> T: ...
    @overload
    def get_or_set(
        self,
        key: str,
        default: T,
        ttl: Any = ...,
        *,
        version: int | None = ...,
        tags: str | Iterable[str] = ...,
        lock_timeout: float = ...,
    ) -> T: ...
    def get_or_set(
        self,
        key: str,
        default: Any,
        ttl: Any = DEFAULT,
        *,
        version: int | None = None,
        tags: str | Iterable[str] = (),
        lock_timeout: float = 10.0,
    ) -> Any:
        """The value under ``key``; on a miss, ``default()`` (or ``default``,
        when it is not callable) stored and returned.

        Stampede protection: when many callers miss the same key at once (in
        threads, or in processes sharing Redis or a database), one takes a lock
        kept in the store and computes; the others wait for its value (polling
        every few milliseconds). A caller that waited ``lock_timeout`` seconds,
        or saw the lock released without a value (the computation failed),
        computes the value itself.

        Args:
            key: The key.
            default: A function computing the value, or the value.
            ttl: As for :meth:`set`.
            version: As for :meth:`set`.
            tags: As for :meth:`set`; their versions are read before computing,
                so an invalidation during the computation makes it a miss.
            lock_timeout: Seconds the lock is held at most, and waited for.
        """
        store_key = self.make_key(key, version)
        seconds = self.ttl_of(ttl)
        tag_names = tag_list(tags)
        lock_timeout = self._seconds(lock_timeout, "lock_timeout")

        def lookup() -> Any:
            entry = self._get(store_key)
            return entry if entry is MISSING else self._values([entry])[0]

        def compute() -> Any:
            stamps = self._stamps(tag_names) if tag_names else ()
            value = default() if callable(default) else default
            self._set(store_key, self._entry(value, stamps), seconds)
            return value

        found = lookup()
        if found is not MISSING:
            return found
        return self._compute_once(store_key, lookup, compute, lock_timeout)

    def _compute_once(
        self,
        store_key: str,
        lookup: Callable[[], Any],
        compute: Callable[[], Any],
        timeout: float,
    ) -> Any:
        """``lookup()``'s value, else ``compute()``'s by one caller at a time
        (the lock of ``store_key``), the others waiting for it (see
        :meth:`get_or_set`)."""
        lock = self.lock_key(store_key)
        token = secrets.token_hex(16)
        held = self._acquire(lock, token, timeout)
        if held is None:
            return compute()
        if held:
            try:
                found = lookup()  # made while the lock was being taken
                return compute() if found is MISSING else found
            finally:
                self._release(lock, token)
        deadline = time.monotonic() + timeout
        pause = _POLL_FIRST
        while True:
            time.sleep(pause)
            pause = min(pause * 2, _POLL_MAX)
            found = lookup()
            if found is not MISSING:
                return found
            if self._get(lock) is MISSING or time.monotonic() >= deadline:
                found = lookup()  # stored just before the lock went
                return compute() if found is MISSING else found

    # -- the public API (async) ------------------------------------------------------

    async def aget(
        self, key: str, default: Any = None, *, version: int | None = None
    ) -> Any:
        """:meth:`get` for async code."""
        entry = await self._aget(self.make_key(key, version))
        if entry is MISSING:
            return default
        value = (await self._avalues([entry]))[0]
        return default if value is MISSING else value

    async def aset(
        self,
        key: str,
        value: Any,
        ttl: Any = DEFAULT,
        *,
        version: int | None = None,
        tags: str | Iterable[str] = (),
    ) -> None:
        """:meth:`set` for async code."""
        store_key = self.make_key(key, version)
        seconds = self.ttl_of(ttl)
        stamps = await self._astamps(tags) if tags else ()
        await self._aset(store_key, self._entry(value, stamps), seconds)

    async def aadd(
        self,
        key: str,
        value: Any,
        ttl: Any = DEFAULT,
        *,
        version: int | None = None,
        tags: str | Iterable[str] = (),
    ) -> bool:
        """:meth:`add` for async code."""
        store_key = self.make_key(key, version)
        seconds = self.ttl_of(ttl)
        stamps = await self._astamps(tags) if tags else ()
        return await self._aadd(store_key, self._entry(value, stamps), seconds)

    async def adelete(self, key: str, *, version: int | None = None) -> bool:
        """:meth:`delete` for async code."""
        return await self._adelete(self.make_key(key, version))

    async def aget_many(
        self, keys: Iterable[str], *, version: int | None = None
    ) -> dict[str, Any]:
        """:meth:`get_many` for async code."""
        names = [check_key(k) for k in keys]
        if not names:
            return {}
        entries = await self._aget_many([self.make_key(k, version) for k in names])
        values = await self._avalues(entries)
        return {k: v for k, v in zip(names, values, strict=True) if v is not MISSING}

    async def aset_many(
        self,
        mapping: Mapping[str, Any],
        ttl: Any = DEFAULT,
        *,
        version: int | None = None,
        tags: str | Iterable[str] = (),
    ) -> list[str]:
        """:meth:`set_many` for async code."""
        seconds = self.ttl_of(ttl)
        stamps = await self._astamps(tags) if tags else ()
        await self._astore_many(mapping, seconds, stamps, version)
        return []

    async def adelete_many(
        self, keys: Iterable[str], *, version: int | None = None
    ) -> None:
        """:meth:`delete_many` for async code."""
        store_keys = [self.make_key(k, version) for k in keys]
        if store_keys:
            await self._adelete_many(store_keys)

    async def aincr(
        self, key: str, delta: int = 1, *, version: int | None = None
    ) -> int:
        """:meth:`incr` for async code."""
        if isinstance(delta, bool) or not isinstance(delta, int):
            raise TypeError(f"incr()/decr() take an integer delta, not {delta!r}")
        try:
            return await self._aincr(self.make_key(key, version), delta)
        except KeyError:
            raise ValueError(f"cache key {key!r} holds no value to add to") from None

    async def adecr(
        self, key: str, delta: int = 1, *, version: int | None = None
    ) -> int:
        """:meth:`decr` for async code."""
        if isinstance(delta, bool) or not isinstance(delta, int):
            raise TypeError(f"incr()/decr() take an integer delta, not {delta!r}")
        return await self.aincr(key, -delta, version=version)

    async def atouch(
        self, key: str, ttl: Any = DEFAULT, *, version: int | None = None
    ) -> bool:
        """:meth:`touch` for async code."""
        return await self._atouch(self.make_key(key, version), self.ttl_of(ttl))

    async def ahas_key(self, key: str, *, version: int | None = None) -> bool:
        """:meth:`has_key` for async code."""
        return await self.aget(key, MISSING, version=version) is not MISSING

    async def aclear(self) -> None:
        """:meth:`clear` for async code."""
        await self._aclear()

    async def aincr_version(
        self, key: str, delta: int = 1, *, version: int | None = None
    ) -> int:
        """:meth:`incr_version` for async code."""
        number = self.version if version is None else self._version(version)
        old = self.make_key(key, number)
        entry = await self._aget_checked(old)
        if entry is MISSING:
            raise ValueError(f"cache key {key!r} holds no value at version {number}")
        await self._aset(self.make_key(key, number + delta), entry, self.default_ttl)
        await self._adelete(old)
        return number + delta

    async def adecr_version(
        self, key: str, delta: int = 1, *, version: int | None = None
    ) -> int:
        """:meth:`decr_version` for async code."""
        return await self.aincr_version(key, -delta, version=version)

    async def ainvalidate_tags(self, *tags: str) -> None:
        """:meth:`invalidate_tags` for async code."""
        keys = [self.tag_key(t) for t in tag_list(tags)]
        if keys:
            await self._awrite_stamps([(k, new_stamp()) for k in keys])

    @overload
    async def aget_or_set(
        self,
        key: str,
        default: Callable[[], Awaitable[T]],
        ttl: Any = ...,
        *,
        version: int | None = ...,
        tags: str | Iterable[str] = ...,
        lock_timeout: float = ...,
    ) -> T: ...
    @overload
    async def aget_or_set(
        self,
        key: str,
        default: Callable[[], T],
        ttl: Any = ...,
        *,
        version: int | None = ...,
        tags: str | Iterable[str] = ...,
        lock_timeout: float = ...,
    ) -> T: ...
    @overload
    async def aget_or_set(
        self,
        key: str,
        default: T,
        ttl: Any = ...,
        *,
        version: int | None = ...,
        tags: str | Iterable[str] = ...,
        lock_timeout: float = ...,
    ) -> T: ...
    async def aget_or_set(
        self,
        key: str,
        default: Any,
        ttl: Any = DEFAULT,
        *,
        version: int | None = None,
        tags: str | Iterable[str] = (),
        lock_timeout: float = 10.0,
    ) -> Any:
        """:meth:`get_or_set` for async code; ``default`` may be an async
        function (its result is awaited)."""
        store_key = self.make_key(key, version)
        seconds = self.ttl_of(ttl)
        tag_names = tag_list(tags)
        lock_timeout = self._seconds(lock_timeout, "lock_timeout")

        async def lookup() -> Any:
            entry = await self._aget(store_key)
            return entry if entry is MISSING else (await self._avalues([entry]))[0]

        async def compute() -> Any:
            stamps = await self._astamps(tag_names) if tag_names else ()
            value = default() if callable(default) else default
            if inspect.isawaitable(value):
                value = await value
            await self._aset(store_key, self._entry(value, stamps), seconds)
            return value

        found = await lookup()
        if found is not MISSING:
            return found
        return await self._acompute_once(store_key, lookup, compute, lock_timeout)

    async def _acompute_once(
        self,
        store_key: str,
        lookup: Callable[[], Awaitable[Any]],
        compute: Callable[[], Awaitable[Any]],
        timeout: float,
    ) -> Any:
        """:meth:`_compute_once` for async code."""
        lock = self.lock_key(store_key)
        token = secrets.token_hex(16)
        held = await self._aacquire(lock, token, timeout)
        if held is None:
            return await compute()
        if held:
            try:
                found = await lookup()
                return await compute() if found is MISSING else found
            finally:
                await self._arelease(lock, token)
        import asyncio

        deadline = time.monotonic() + timeout
        pause = _POLL_FIRST
        while True:
            await asyncio.sleep(pause)
            pause = min(pause * 2, _POLL_MAX)
            found = await lookup()
            if found is not MISSING:
                return found
            if await self._aget(lock) is MISSING or time.monotonic() >= deadline:
                found = await lookup()
                return await compute() if found is MISSING else found

    # -- life ------------------------------------------------------------------------

    def close(self) -> None:
        """Release the blocking connections (if any)."""

    async def aclose(self) -> None:
        """Release this event loop's connections and the blocking ones (the
        app calls it at shutdown)."""
        self.close()
