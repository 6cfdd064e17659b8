"""The ``{% cache %}`` template tag (Django's), in Kettle's Jinja environment::

    {% cache 300 "sidebar" %}...{% endcache %}
    {% cache 600 "post-footer" post.id, request.headers.get("accept-language") %}
        ...
    {% endcache %}

The first argument is the TTL in seconds (``none``: no expiry), the second
the fragment's name, then any values the fragment varies on (commas between
them). The block's output is kept in the app's cache under
:func:`~kettle.cache.fragment_key` and computed by one renderer at a time
(see :meth:`~kettle.cache.Cache.get_or_set`); forget it with
:func:`~kettle.cache.invalidate_fragment`.

A block whose output holds the current request's CSRF token
(``csrf_token()``, ``csrf_input()``) or CSP nonce (``csp_nonce``) is not
kept, since other visitors would be served them: the page shows it as
rendered, and a warning naming the fragment is logged (once per name and
process). Move those out of the block.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from jinja2 import nodes
from jinja2.ext import Extension
from jinja2.parser import Parser
from markupsafe import Markup

from ..context import request_var
from ._app import get_cache
from .fragments import fragment_key
from .fragments import fragment_tag

__all__ = ("FragmentCacheExtension",)

log = logging.getLogger("kettle.cache")

#: The fragments warned of (at most this many names are remembered).
_warned: set[str] = set()
_WARNED_MAX = 1000


class _NotKept(Exception):
    """A rendered fragment that must not be stored (it holds the request's
    CSRF token or CSP nonce): raised out of ``get_or_set``, so nothing is
    stored, with the text to show."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


#: What a fragment may hold of the request's, and what to move out of it.
_CSRF = ("CSRF token", "csrf_token()/csrf_input()")
_NONCE = ("CSP nonce", "csp_nonce")


def _request_value(text: str) -> tuple[str, str] | None:
    """Which of the current request's own values ``text`` holds (its CSP
    nonce, a CSRF token of its session), or None."""
    req = request_var.get(None)
    if req is None:
        return None
    nonce = req._csp_nonce
    if nonce is not None and nonce in text:
        return _NONCE
    from ..csrf import holds_token

    return _CSRF if holds_token(req, text) else None


def _checked(name: str, text: str) -> str:
    """``text``, unless it holds one of the request's own values: then
    :class:`_NotKept` (and a warning, the first time for ``name``)."""
    found = _request_value(text)
    if found is None:
        return text
    if name not in _warned:
        if len(_warned) < _WARNED_MAX:
            _warned.add(name)
        log.warning(
            "{%% cache %%} fragment %r holds the request's %s: it is not kept "
            "(other visitors would get it); move %s out of the block",
            name,
            found[0],
            found[1],
        )
    raise _NotKept(text)


class FragmentCacheExtension(Extension):
    """Adds ``{% cache ttl "name" vary... %}...{% endcache %}``."""

    tags = {"cache"}

    def parse(self, parser: Parser) -> nodes.Node:
        lineno = next(parser.stream).lineno
        ttl = parser.parse_expression()
        parser.stream.skip_if("comma")
        name = parser.parse_expression()
        vary: list[nodes.Expr] = []
        while parser.stream.current.type != "block_end":
            parser.stream.skip_if("comma")
            vary.append(parser.parse_expression())
        body = parser.parse_statements(("name:endcache",), drop_needle=True)
        call = self.call_method("_cached", [ttl, name, nodes.List(vary)], lineno=lineno)
        return nodes.CallBlock(call, [], [], body).set_lineno(lineno)

    def _cached(
        self, ttl: Any, name: Any, vary: list[Any], caller: Callable[[], Any]
    ) -> Any:
        if not isinstance(name, str):
            raise TypeError(
                f'{{% cache %}}: the fragment name is a string ({{% cache 300 "name" '
                f"%}}), not {name!r}"
            )
        key = fragment_key(name, vary)
        tags = [fragment_tag(name)]
        cache = get_cache()
        if self.environment.is_async:
            return self._cached_async(cache, name, key, ttl, tags, caller)

        def render() -> str:
            return _checked(name, str(caller()))

        try:
            text = cache.get_or_set(key, render, ttl, tags=tags)
        except _NotKept as exc:
            text = exc.text
        return Markup(text)  # noqa: S704 - the block's own (escaped) output

    @staticmethod
    async def _cached_async(
        cache: Any,
        name: str,
        key: str,
        ttl: Any,
        tags: list[str],
        caller: Callable[[], Any],
    ) -> Any:
        async def render() -> str:
            return _checked(name, str(await caller()))

        try:
            text = await cache.aget_or_set(key, render, ttl, tags=tags)
        except _NotKept as exc:
            text = exc.text
        return Markup(text)  # noqa: S704 - the block's own (escaped) output
