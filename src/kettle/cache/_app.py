"""The app's cache: made from the settings when the app starts."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING
from typing import Any
from typing import cast

from ..config import DEFAULTS
from ..context import _current_app_or_none
from ..exceptions import ImproperlyConfigured
from ..helpers import extension
from ._common import MAX_TTL
from .base import Cache
from .memory import DummyCache
from .memory import MemoryCache

if TYPE_CHECKING:
    from ..app import Kettle

__all__ = ("BACKENDS", "EXTENSION", "get_cache", "set_cache", "setup")

#: The key of the app's cache in ``app.extensions``.
EXTENSION = "cache"
BACKENDS = ("memory", "redis", "database", "dummy")


def get_cache(app: Kettle | None = None) -> Cache:
    """The app's cache (default: the current app's), made from its settings
    when the app starts (or on first use).

    Raises:
        ImproperlyConfigured: A setting is wrong (see :func:`setup`).
        RuntimeError: No app given, and none is current.
    """
    if app is None:
        app = _current_app()
    return extension(app, EXTENSION, _make_cache)


def set_cache(app: Kettle, cache: Cache) -> Cache:
    """Make ``cache`` the app's (a :class:`MemoryCache` with a fake clock in
    tests, say) instead of one made from the settings; it is closed at the
    app's shutdown."""
    app.extensions[EXTENSION] = cache
    app.on_shutdown(cache.aclose)
    return cache


def setup(app: Kettle) -> None:
    """Make the app's cache from its settings now (Kettle calls this when an
    app that imported :mod:`kettle.cache` starts): a wrong setting fails at
    start-up rather than at the first request using the cache.

    Settings (their defaults are in ``kettle.config.DEFAULTS``, so values
    from the environment arrive converted): ``CACHE_BACKEND``, ``CACHE_TTL``
    (300; None: no expiry; at most 100 years), ``CACHE_KEY_PREFIX``
    (``"kettle:cache"``), ``CACHE_VERSION`` (1), ``CACHE_MAX_ENTRIES``
    (memory; 10000), ``CACHE_REDIS_URL`` (default ``REDIS_URL``),
    ``CACHE_FAIL_OPEN`` (Redis; True), ``CACHE_TABLE`` (database;
    ``"kettle_cache"``). Redis and the database sign what they
    store with ``SECRET_KEY``, which they require.

    Raises:
        ImproperlyConfigured: An unknown backend, or a setting the backend
            needs is missing or wrong.
    """
    get_cache(app)


def _current_app() -> Any:
    app = _current_app_or_none()
    if app is None:
        raise RuntimeError(
            "kettle.cache.cache is the current app's cache: use it during a "
            "request or inside 'with app.app_context():', or call get_cache(app)"
        )
    return app


def _setting(cfg: Any, name: str) -> Any:
    return cfg.get(name, DEFAULTS[name])


def _wrong(name: str, allowed: str, value: object) -> ImproperlyConfigured:
    return ImproperlyConfigured(f"setting {name} must be {allowed}, not {value!r}")


def _common(cfg: Any) -> dict[str, Any]:
    """The options of every backend, checked. Settings from the environment
    arrive converted to the type of their default (see ``config.DEFAULTS``)."""
    ttl = _setting(cfg, "CACHE_TTL")
    if ttl is not None and (
        isinstance(ttl, bool)
        or not isinstance(ttl, int | float)
        or not math.isfinite(ttl)
        or not 0 < ttl <= MAX_TTL
    ):
        raise _wrong(
            "CACHE_TTL",
            f"a positive number of seconds up to {MAX_TTL} (100 years), or None "
            "for no expiry",
            ttl,
        )
    prefix = _setting(cfg, "CACHE_KEY_PREFIX")
    if not isinstance(prefix, str):
        raise _wrong("CACHE_KEY_PREFIX", "a string", prefix)
    version = _setting(cfg, "CACHE_VERSION")
    if type(version) is not int:
        raise _wrong("CACHE_VERSION", "an integer", version)
    return {"default_ttl": ttl, "key_prefix": prefix, "version": version}


def _secret(cfg: Any, backend: str) -> str | bytes:
    key = cfg.get("SECRET_KEY")
    if not key:
        raise ImproperlyConfigured(
            f"CACHE_BACKEND = {backend!r} needs a SECRET_KEY: entries in a shared "
            "store are signed with it, so that whoever can write there cannot "
            "make the app unpickle their data. Set SECRET_KEY (or "
            "KETTLE_SECRET_KEY) to a long random string"
        )
    return cast("str | bytes", key)


def _make_cache(app: Kettle) -> Cache:
    cfg = app.config
    backend = cfg.get("CACHE_BACKEND") or "memory"
    if backend not in BACKENDS:
        raise ImproperlyConfigured(
            f"CACHE_BACKEND {backend!r} is not one Kettle knows: use "
            + ", ".join(repr(b) for b in BACKENDS)
        )
    options = _common(cfg)
    made: Cache
    if backend == "memory":
        entries = _setting(cfg, "CACHE_MAX_ENTRIES")
        if isinstance(entries, bool) or not isinstance(entries, int) or entries < 1:
            raise _wrong("CACHE_MAX_ENTRIES", "a whole number >= 1", entries)
        made = MemoryCache(max_entries=entries, **options)
    elif backend == "dummy":
        made = DummyCache(**options)
    elif backend == "redis":
        url = cfg.get("CACHE_REDIS_URL") or cfg.get("REDIS_URL")
        if not url:
            raise ImproperlyConfigured(
                "CACHE_BACKEND = 'redis' needs CACHE_REDIS_URL (or REDIS_URL), "
                "such as 'redis://127.0.0.1:6379/0'"
            )
        fail_open = cfg.get_flag("CACHE_FAIL_OPEN")
        from .redis import RedisCache

        made = RedisCache(
            url,
            secret_key=_secret(cfg, backend),
            fail_open=True if fail_open is None else fail_open,
            **options,
        )
    else:
        from ..db import get_database
        from .database import DatabaseCache

        table = _setting(cfg, "CACHE_TABLE")
        if not isinstance(table, str) or not table:
            raise _wrong("CACHE_TABLE", "a table name", table)
        made = DatabaseCache(
            get_database(app).engine(),
            secret_key=_secret(cfg, backend),
            table=table,
            **options,
        )
    app.on_shutdown(made.aclose)
    return made
