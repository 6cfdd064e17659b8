"""What every part of the cache shares: the sentinels, the errors, the key
checks and the entries stored with tags."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from typing import Any
from typing import Final

__all__ = (
    "DEFAULT",
    "MAX_KEY_LENGTH",
    "MAX_TTL",
    "MISSING",
    "CacheUnavailable",
    "Tagged",
    "check_key",
    "hashed",
    "new_stamp",
    "tag_list",
)


class _Sentinel:
    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return self._name

    def __reduce__(self) -> str:
        return self._name  # pickled as the module attribute: stays a singleton


#: The value of a miss, where ``None`` could be a stored value.
MISSING: Final[Any] = _Sentinel("MISSING")
#: ``ttl=DEFAULT``: the cache's default TTL (``CACHE_TTL``).
DEFAULT: Final[Any] = _Sentinel("DEFAULT")

#: Keys longer than this are replaced by their SHA-256 (Redis and database keys
#: stay short, and any length is accepted).
MAX_KEY_LENGTH = 200

#: The longest TTL accepted (seconds): 100 years. Longer ones are refused with
#: ValueError, alike on every backend (Redis would refuse expiries past about
#: 290,000 years with an error of its own, and longer float TTLs overflow when
#: made milliseconds); ``None`` is no expiry.
MAX_TTL = 100 * 365 * 24 * 3600


class CacheUnavailable(RuntimeError):
    """The cache's store (Redis, the database) cannot be reached.

    Raised for every operation when ``CACHE_FAIL_OPEN`` is False; with it True
    (the default) reads miss and writes are dropped with a logged warning, but
    operations whose loss would leave stale data behind (``delete``,
    ``delete_many``, ``clear``, ``incr``/``decr``, ``incr_version``,
    ``invalidate_tags``) still raise it."""


class Tagged:
    """An entry stored with tags: the value and each tag's version (its key in
    the store and the number held there when the value was stored). The entry
    is current while every tag still holds that number."""

    __slots__ = ("stamps", "value")

    def __init__(self, value: Any, stamps: tuple[tuple[str, int], ...]) -> None:
        self.value = value
        self.stamps = stamps

    def __reduce__(self) -> tuple[Any, ...]:
        return (Tagged, (self.value, self.stamps))

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Tagged)
            and other.value == self.value
            and other.stamps == self.stamps
        )

    __hash__ = None  # type: ignore[assignment]


def digest(*parts: str) -> str:
    """The SHA-256 of ``parts`` (hex), each ended by a separator that text
    rarely holds."""
    hashed = hashlib.sha256()
    for part in parts:
        hashed.update(part.encode("utf-8", "surrogatepass"))
        hashed.update(b"\x1f")
    return hashed.hexdigest()


def hashed(text: str) -> str:
    return "#" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def check_key(key: object) -> str:
    """``key`` itself, when it is a string.

    Raises:
        TypeError: ``key`` is not a ``str``.
    """
    if type(key) is not str and not isinstance(key, str):
        raise TypeError(
            f"cache keys are strings, not {type(key).__name__} ({key!r}): "
            "build one, such as f'post:{post.id}'"
        )
    return key


def tag_list(tags: str | Iterable[str]) -> tuple[str, ...]:
    if isinstance(tags, str):
        tags = (tags,)
    out = tuple(tags)
    for tag in out:
        if not isinstance(tag, str) or not tag:
            raise TypeError(f"cache tags are non-empty strings, not {tag!r}")
    return out


def new_stamp() -> int:
    """A tag's new version: random, so one made again after the old was
    evicted never equals it."""
    return secrets.randbits(62) + 1
