"""``@cache_response``: whole responses kept in the app's cache (Django's
``cache_page``)."""

from __future__ import annotations

import functools
import inspect
import time
from collections.abc import Callable
from collections.abc import Iterable
from typing import TYPE_CHECKING
from typing import Any
from typing import TypeVar

from ..context import request_var
from ..responses import Response
from ._app import get_cache
from ._common import digest
from ._common import tag_list as _tag_list
from .base import DEFAULT
from .base import MISSING
from .base import Cache

if TYPE_CHECKING:
    from ..requests import Request

__all__ = ("cache_response",)

F = TypeVar("F", bound=Callable[..., Any])
TagsArg = str | Iterable[str] | Callable[["Request"], Iterable[str]]

#: The session key where ``kettle.auth`` keeps the logged-in user's id, and
#: the one of the CSRF secret (``kettle.csrf``).
_SESSION_USER = "_auth_user_id"
_SESSION_CSRF = "_csrf"
_CACHEABLE_METHODS = frozenset({"GET", "HEAD"})
_REFUSING = frozenset({"private", "no-store", "no-cache"})


def _header_tokens(response: Response, name: bytes) -> list[str]:
    """The comma-separated tokens of every ``name`` header, lower-cased."""
    tokens: list[str] = []
    for key, value in response.raw_headers:
        if key == name:
            text = value.decode("latin-1")
            tokens.extend(t.strip().lower() for t in text.split(",") if t.strip())
    return tokens


def _body_known(response: Response) -> bool:
    """Whether the response's body is all in ``body`` (not streamed or read
    from a file when sent)."""
    kind = type(response)
    return kind.__call__ is Response.__call__ and kind.wsgi is Response.wsgi


class _Policy:
    """What one ``@cache_response`` decided, checked once, at decoration."""

    def __init__(
        self,
        ttl: Any,
        vary: str | Iterable[str],
        per_user: bool,
        statuses: Iterable[int],
        tags: TagsArg,
        lock_timeout: float,
        cache_control: bool,
    ) -> None:
        if ttl is not DEFAULT and ttl is not None:
            Cache._seconds(ttl)
        self.ttl = ttl
        headers: list[str] = []
        cookies: list[str] = []
        for item in [vary] if isinstance(vary, str) else list(vary):
            if not isinstance(item, str) or not item.strip():
                raise TypeError(
                    f"cache_response(vary=...) takes header names and "
                    f"'cookie:<name>' strings, not {item!r}"
                )
            if item.lower().startswith("cookie:"):
                cookies.append(item[7:].strip())
            else:
                headers.append(item.strip().lower())
        self.headers = tuple(headers)
        self.cookies = tuple(cookies)
        #: What the responses' ``Vary`` gets: the headers, and ``Cookie``
        #: (a request with a session cookie is answered apart).
        self.vary_names = (*headers, "cookie")
        self.per_user = bool(per_user)
        self.statuses = frozenset(statuses)
        for status in self.statuses:
            if isinstance(status, bool) or not isinstance(status, int):
                raise TypeError(
                    f"cache_response(statuses=...): {status!r} is no status"
                )
        self.tags_of = tags if callable(tags) else None
        self.tags = () if callable(tags) else _tag_list(tags)
        self.lock_timeout = Cache._seconds(lock_timeout, "lock_timeout")
        self.cache_control = cache_control

    # -- before the handler --------------------------------------------------------

    def bypassed(self, req: Request) -> bool:
        """Whether the request is answered without the cache: not GET/HEAD,
        credentials in ``Authorization``, or (unless ``per_user``) a session
        cookie."""
        if req.method not in _CACHEABLE_METHODS:
            return True
        headers = req.headers
        if "authorization" in headers:
            return True
        if self.per_user:
            return False
        return req.app.config["SESSION_COOKIE_NAME"] in req.cookies

    def base(self, req: Request, identity: str) -> str:
        """The part of the keys that does not depend on the response: the URL,
        the ``vary`` headers and cookies, and who asks (``per_user``)."""
        headers = req.headers
        parts = [str(req.url), identity]
        parts.extend(headers.get(h, "") for h in self.headers)
        cookies = req.cookies
        parts.extend(cookies.get(c, "") for c in self.cookies)
        return digest(*parts)

    @staticmethod
    def _session_cookie(req: Request) -> str | None:
        return req.cookies.get(req.app.config["SESSION_COOKIE_NAME"])

    @staticmethod
    def _user_identity(req: Request, user: Any) -> str | None:
        if not getattr(user, "is_authenticated", False):
            return None
        # The CSRF secret too: a page holding a form is one session's.
        secret = str(req.session.get(_SESSION_CSRF, ""))
        return f"user:{user.id}:{digest(secret)}"

    def identity(self, req: Request) -> str:
        """Who the page is kept for: everyone (no session cookie, or not
        ``per_user``), the logged-in user (checked by ``kettle.auth``), or
        the browser's session."""
        cookie = self._session_cookie(req) if self.per_user else None
        if not cookie:
            return "anonymous"
        if _SESSION_USER in req.session:
            from ..auth.core import get_user

            found = self._user_identity(req, get_user(req))
            if found is not None:
                return found
        return f"session:{digest(cookie)}"

    async def aidentity(self, req: Request) -> str:
        """:meth:`identity` for async handlers."""
        cookie = self._session_cookie(req) if self.per_user else None
        if not cookie:
            return "anonymous"
        if _SESSION_USER in req.session:
            from ..auth.core import get_user_async

            found = self._user_identity(req, await get_user_async(req))
            if found is not None:
                return found
        return f"session:{digest(cookie)}"

    # -- after the handler ---------------------------------------------------------

    def storable(self, req: Request, response: Response) -> bool:
        """Whether the response may be kept for the next requests."""
        if response.status_code not in self.statuses or not _body_known(response):
            return False
        if response._cookies:
            return False
        session = req._session
        if session is not None and session.modified:
            return False  # its cookie is about to be set
        if req._csp_nonce is not None:
            return False  # the page holds this response's nonce
        if any(k == b"set-cookie" for k, _ in response.raw_headers):
            return False
        control = {
            t.split("=", 1)[0].strip()
            for t in _header_tokens(response, b"cache-control")
        }
        refused = _REFUSING - {"private"} if self.per_user else _REFUSING
        if control & refused:
            return False
        # A page that says it depends on the cookies (Vary: Cookie) is not
        # kept: entries never vary on the whole Cookie header.
        varies = _header_tokens(response, b"vary")
        return "*" not in varies and "cookie" not in varies

    def prepare(self, response: Response, cache: Cache) -> tuple[str, ...]:
        """Add ``Vary`` and ``Cache-Control`` to a response about to be kept;
        the names of the request headers it varies on (lower-cased)."""
        headers = response.headers
        for name in self.vary_names:
            headers.add_vary(name)
        if self.cache_control and "cache-control" not in headers:
            ttl = cache.ttl_of(self.ttl)
            if ttl is not None:
                private = "private, " if self.per_user else ""
                headers["cache-control"] = f"{private}max-age={int(ttl)}"
        varies = _header_tokens(response, b"vary")
        return tuple(sorted(set(varies) - set(self.headers) - {"cookie"}))

    def tag_list(self, req: Request) -> tuple[str, ...]:
        if self.tags_of is not None:
            return _tag_list(self.tags_of(req))
        return self.tags


def _page_key(base: str, names: tuple[str, ...], req: Request) -> str:
    headers = req.headers
    return f"kettle.page:{base}:{digest(*(headers.get(n, '') for n in names))}"


def _entry(response: Response) -> tuple[Any, ...]:
    kept = [(k, v) for k, v in response.raw_headers if k not in (b"set-cookie", b"age")]
    return (response.status_code, kept, response.body, time.time())


def _rebuild(entry: Any) -> Response:
    status, headers, body, stored_at = entry
    response = Response(body, status)
    age = max(0, int(time.time() - stored_at))
    response.raw_headers = [
        *headers,
        (b"age", str(age).encode()),
        (b"x-cache", b"HIT"),
    ]
    return response


def _mark(response: Response, state: bytes) -> Response:
    response.raw_headers.append((b"x-cache", state))
    return response


def _to_response(req: Request, rv: Any) -> Response:
    """The response of a handler's return value, as the route would make it
    (its ``template=``, response model and status code)."""
    if isinstance(rv, Response):
        return rv
    from ..handlers import make_response

    pipeline: Any = req.route.handler if req.route is not None else None
    info = getattr(pipeline, "info", None)
    template = getattr(info, "template", None)
    if template is not None:
        from ..templating import _context_of
        from ..templating import render

        context, rest = _context_of(rv, template)
        page = render(template, **context)
        return make_response((page, *rest) if rest else page)
    plan = getattr(pipeline, "plan", None)
    if plan is not None:
        rv = plan.finish(rv)
    return make_response(rv)


async def _to_response_async(req: Request, rv: Any) -> Response:
    if isinstance(rv, Response):
        return rv
    pipeline: Any = req.route.handler if req.route is not None else None
    template = getattr(getattr(pipeline, "info", None), "template", None)
    if template is not None:
        from ..handlers import make_response
        from ..templating import _context_of
        from ..templating import render_async

        context, rest = _context_of(rv, template)
        page = await render_async(template, **context)
        return make_response((page, *rest) if rest else page)
    return _to_response(req, rv)


def cache_response(
    ttl: Any = DEFAULT,
    *,
    vary: str | Iterable[str] = (),
    per_user: bool = False,
    statuses: Iterable[int] = (200,),
    tags: TagsArg = (),
    lock_timeout: float = 10.0,
    cache_control: bool = True,
) -> Callable[[F], F]:
    """Keep the handler's responses in the app's cache for ``ttl`` seconds;
    put it below the route decorator::

        @app.get("/posts")
        @cache_response(ttl=60, vary=["Accept-Language"], tags=["posts"])
        def posts(): ...

    A response is kept per URL (with its query), per value of the ``vary``
    headers and cookies and of the headers the response's own ``Vary`` names.
    Only ``GET`` and ``HEAD`` requests use the cache; only responses with a
    status of ``statuses`` and a body known in advance are kept, and never
    one that sets a cookie (or changed the session), says
    ``Cache-Control: private``, ``no-store`` or ``no-cache``, ``Vary: *``, or
    used the request's CSP nonce. Concurrent misses of one page run the
    handler once (see :meth:`~kettle.cache.Cache.get_or_set`).

    Logged-in users: a request carrying the session cookie, or an
    ``Authorization`` header, is never answered from the cache nor stored,
    unless ``per_user=True``: then each logged-in user (checked by
    ``kettle.auth``; their session's CSRF secret too, since a page may hold a
    form) and each other session gets its own entries, and the page says
    ``Cache-Control: private``. Requests with ``Authorization`` always bypass.

    Responses carry ``X-Cache: HIT`` (with ``Age``, seconds since it was
    kept), ``MISS`` or ``BYPASS``, ``Vary: Cookie`` and the ``vary`` headers,
    and (unless they set their own, or ``cache_control=False``)
    ``Cache-Control: max-age=<ttl>``.

    Args:
        ttl: Seconds a response is kept (``DEFAULT``: ``CACHE_TTL``; None:
            until evicted or invalidated).
        vary: Request headers (``"Accept-Language"``) and cookies
            (``"cookie:theme"``) whose values get apart entries.
        per_user: Cache pages of logged-in users, each user apart.
        statuses: The status codes kept.
        tags: Tags of the entries (or a function of the request returning
            them, called before the handler): ``invalidate_tags("posts")``
            forgets every page with one, and makes a miss of a page whose
            handler was running when it was called.
        lock_timeout: Seconds concurrent misses wait for the first.
        cache_control: Add ``Cache-Control: max-age`` when the response has
            no ``Cache-Control``.

    Raises:
        TypeError, ValueError: An argument is wrong (when decorating).
    """
    policy = _Policy(ttl, vary, per_user, statuses, tags, lock_timeout, cache_control)

    def decorate(func: F) -> F:
        if inspect.iscoroutinefunction(func):
            return _decorate_async(func, policy)  # type: ignore[return-value]
        return _decorate_sync(func, policy)  # type: ignore[return-value]

    return decorate


def _decorate_sync(func: Callable[..., Any], policy: _Policy) -> Callable[..., Any]:
    @functools.wraps(func)
    def cached(*args: Any, **kwargs: Any) -> Response:
        req: Request = request_var.get()
        if policy.bypassed(req):
            return _mark(_to_response(req, func(*args, **kwargs)), b"BYPASS")
        cache = get_cache(req.app)
        base = policy.base(req, policy.identity(req))
        vary_key = f"kettle.page-vary:{base}"

        def lookup() -> Any:
            names = cache.get(vary_key)
            if names is None:
                return MISSING
            entry = cache.get(_page_key(base, names, req))
            return MISSING if entry is None else _rebuild(entry)

        def compute() -> Response:
            # The tags' versions are read before the handler runs (as
            # get_or_set does): an invalidation while it runs makes the page
            # it built (perhaps from stale data) a miss.
            tags = policy.tag_list(req)
            stamps = cache._stamps(tags) if tags else ()
            response = _to_response(req, func(*args, **kwargs))
            if policy.storable(req, response):
                names = policy.prepare(response, cache)
                cache._store_many(
                    {vary_key: names, _page_key(base, names, req): _entry(response)},
                    seconds,
                    stamps,
                )
            return _mark(response, b"MISS")

        found = lookup()
        if found is not MISSING:
            return found  # type: ignore[no-any-return]
        seconds = cache.ttl_of(policy.ttl)
        lock = cache.make_key(vary_key)
        return cache._compute_once(lock, lookup, compute, policy.lock_timeout)  # type: ignore[no-any-return]

    return cached


def _decorate_async(func: Callable[..., Any], policy: _Policy) -> Callable[..., Any]:
    @functools.wraps(func)
    async def cached(*args: Any, **kwargs: Any) -> Response:
        req: Request = request_var.get()
        if policy.bypassed(req):
            rv = await func(*args, **kwargs)
            return _mark(await _to_response_async(req, rv), b"BYPASS")
        cache = get_cache(req.app)
        base = policy.base(req, await policy.aidentity(req))
        vary_key = f"kettle.page-vary:{base}"

        async def lookup() -> Any:
            names = await cache.aget(vary_key)
            if names is None:
                return MISSING
            entry = await cache.aget(_page_key(base, names, req))
            return MISSING if entry is None else _rebuild(entry)

        async def compute() -> Response:
            tags = policy.tag_list(req)  # read first: see the sync twin
            stamps = await cache._astamps(tags) if tags else ()
            rv = await func(*args, **kwargs)
            response = await _to_response_async(req, rv)
            if policy.storable(req, response):
                names = policy.prepare(response, cache)
                await cache._astore_many(
                    {vary_key: names, _page_key(base, names, req): _entry(response)},
                    seconds,
                    stamps,
                )
            return _mark(response, b"MISS")

        found = await lookup()
        if found is not MISSING:
            return found  # type: ignore[no-any-return]
        seconds = cache.ttl_of(policy.ttl)
        lock = cache.make_key(vary_key)
        return await cache._acompute_once(lock, lookup, compute, policy.lock_timeout)  # type: ignore[no-any-return]

    return cached
