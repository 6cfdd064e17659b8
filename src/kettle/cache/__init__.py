"""Caching: Django's cache framework for Kettle.

``from kettle.cache import cache`` is the current app's cache (inside a
request, or ``with app.app_context():``); ``get_cache(app)`` is the same cache
from anywhere::

    from kettle.cache import cache, cache_response

    @app.get("/stats")
    def stats():
        return cache.get_or_set("stats", compute_stats, ttl=60)

    @app.get("/posts")
    @cache_response(ttl=30, tags=["posts"])
    def posts(): ...

Backends (``CACHE_BACKEND``): ``"memory"`` (the default: this process only),
``"redis"`` (every worker and machine), ``"database"`` (a table in the app's
database), ``"dummy"`` (keeps nothing). The backend is made when the app
starts, so a wrong setting fails then, with :class:`~kettle.ImproperlyConfigured`.
See ``docs/cache.md``.
"""

from __future__ import annotations

from typing import cast

from ..context import _Proxy
from ..context import app_var
from ..context import request_var
from ._app import get_cache as get_cache
from ._app import set_cache as set_cache
from ._app import setup as setup
from .base import DEFAULT as DEFAULT
from .base import MISSING as MISSING
from .base import Cache as Cache
from .base import CacheUnavailable as CacheUnavailable
from .decorators import cache_response as cache_response
from .fragments import ainvalidate_fragment as ainvalidate_fragment
from .fragments import fragment_key as fragment_key
from .fragments import invalidate_fragment as invalidate_fragment
from .memory import DummyCache as DummyCache
from .memory import MemoryCache as MemoryCache

__all__ = (
    "DEFAULT",
    "MISSING",
    "Cache",
    "CacheUnavailable",
    "DummyCache",
    "MemoryCache",
    "ainvalidate_fragment",
    "cache",
    "cache_response",
    "fragment_key",
    "get_cache",
    "invalidate_fragment",
    "set_cache",
    "setup",
)


def _current_cache() -> Cache:
    """The current app's cache (LookupError: no current app)."""
    current = request_var.get(None)
    return get_cache(current.app if current is not None else app_var.get())


class _CacheProxy(_Proxy[Cache]):
    """The current app's cache, usable as one (``key in cache`` too)."""

    __slots__ = ()

    def __contains__(self, key: str) -> bool:
        return self._get_current_object().has_key(key)


#: The current app's cache (:func:`get_cache` of the app handling the request,
#: or of ``with app.app_context():``).
cache: Cache = cast(
    "Cache",
    _CacheProxy(
        _current_cache,
        "Working outside of an application context: kettle.cache.cache is the "
        "current app's cache; use it during a request or inside "
        "'with app.app_context():', or call get_cache(app).",
    ),
)
