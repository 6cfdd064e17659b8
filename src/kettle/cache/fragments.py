"""Template fragment caching: the keys of ``{% cache %}`` blocks, and their
invalidation (the Jinja extension itself is :mod:`kettle.cache.jinja`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING
from typing import Any

from ._app import get_cache
from ._common import check_key
from ._common import digest

if TYPE_CHECKING:
    from ..app import Kettle

__all__ = (
    "ainvalidate_fragment",
    "fragment_key",
    "fragment_tag",
    "invalidate_fragment",
)


def fragment_key(name: str, vary: Iterable[Any] = ()) -> str:
    """The cache key of the fragment ``name`` for the values ``vary`` (each
    turned into a string, as Django's ``make_template_fragment_key``)."""
    check_key(name)
    return f"kettle.fragment:{name}:{digest(*map(str, vary))}"


def fragment_tag(name: str) -> str:
    """The tag every cached copy of the fragment ``name`` carries."""
    return f"kettle.fragment:{check_key(name)}"


def invalidate_fragment(name: str, *vary: Any, app: Kettle | None = None) -> None:
    """Forget the cached fragment ``name`` for the values ``vary`` (those of
    ``{% cache ttl "name" v1, v2 %}``), or, with no ``vary``, every copy of
    it, whatever it varied on.

    Args:
        name: The fragment's name.
        *vary: The values it varied on, as the template gave them.
        app: The app whose cache holds it (default: the current app).
    """
    cache = get_cache(app)
    if vary:
        cache.delete(fragment_key(name, vary))
    else:
        cache.invalidate_tags(fragment_tag(name))


async def ainvalidate_fragment(
    name: str, *vary: Any, app: Kettle | None = None
) -> None:
    """:func:`invalidate_fragment` for async code."""
    cache = get_cache(app)
    if vary:
        await cache.adelete(fragment_key(name, vary))
    else:
        await cache.ainvalidate_tags(fragment_tag(name))
