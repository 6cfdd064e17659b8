"""Templates: Jinja2, found in the app's and each blueprint's ``templates`` folder.

``render("page.html", **context)`` answers with the rendered page, from any
handler; ``@app.get(path, template="page.html")`` renders the context dict the
handler returns; ``render_block("page.html", "items", **context)`` renders one
block of a template (a partial, for htmx-style updates). Autoescaping is on for
every template but plain text (``.txt``). Templates are compiled once and kept;
with ``TEMPLATES_AUTO_RELOAD`` (on in debug) an edited file is compiled again.

Jinja2 is imported when templates are first used (``pip install
'kettle[templates]'``).
"""

from __future__ import annotations

import functools
import mimetypes
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from typing import TYPE_CHECKING
from typing import Any

from .context import _Proxy
from .context import request_var
from .exceptions import ImproperlyConfigured
from .helpers import app_folders
from .helpers import extension
from .responses import HTMLResponse
from .responses import Response

if TYPE_CHECKING:
    from jinja2 import Environment
    from jinja2 import Template

    from .app import Kettle

__all__ = (
    "Templates",
    "get_templates",
    "render",
    "render_async",
    "render_block",
    "render_to_string",
)

#: Template names rendered without autoescaping (plain text: an email body, say).
_PLAIN_SUFFIXES = (".txt", ".text")


def _autoescape(name: str | None) -> bool:
    return name is None or not name.lower().endswith(_PLAIN_SUFFIXES)


@functools.lru_cache(maxsize=512)
def _media_type(name: str) -> str | None:
    """The ``Content-Type`` of a rendered template, by the name's extension;
    None for HTML (``.html``, and names without a known type)."""
    guessed, _ = mimetypes.guess_type(name)
    if guessed is None or guessed == "text/html":
        return None
    if guessed.startswith("text/") or guessed in ("application/xml", "image/svg+xml"):
        return f"{guessed}; charset=utf-8"
    return guessed


def _response(text: str, name: str) -> Response:
    """The response of a rendered template: its type follows the name of the
    template used (which decided its escaping)."""
    media_type = _media_type(name)
    if media_type is None:
        return HTMLResponse(text)
    return Response(text, media_type=media_type)


class Templates:
    """An app's templates: a Jinja2 environment (:attr:`env`) over the app's and
    its blueprints' template folders, with Kettle's globals.

    Made on first use by :func:`get_templates`. Change the environment there
    (``get_templates(app).env.filters["money"] = money``) before the first
    render; the async environment shares its filters, tests and globals.

    Globals in every template: ``url_for``, ``static``, ``request`` (the current
    request), ``session``, ``get_flashed_messages``, ``csrf_token`` and
    ``csrf_input`` (see :mod:`kettle.csrf`), ``config`` (the app's
    settings), and what the app's context processors (``@app.context_processor``)
    return.
    """

    def __init__(self, app: Kettle) -> None:
        try:
            import jinja2
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise ImproperlyConfigured(
                "templates need Jinja2: pip install 'kettle[templates]'"
            ) from exc
        from .context import request
        from .context import session
        from .csrf import csrf_input
        from .csrf import csrf_token
        from .helpers import url_for
        from .security import csp_nonce
        from .sessions import get_flashed_messages
        from .static import static

        self.app = app
        cfg = app.config
        reload = cfg.get("TEMPLATES_AUTO_RELOAD")
        self.auto_reload = bool(cfg.get("DEBUG") if reload is None else reload)
        self.folders = template_folders(app)
        self.env: Environment = jinja2.Environment(
            loader=jinja2.FileSystemLoader(self.folders),
            autoescape=_autoescape,  # noqa: S701 - on for all but plain text
            auto_reload=self.auto_reload,
            cache_size=-1,  # no limit: every template is compiled once
            extensions=["kettle.cache.jinja.FragmentCacheExtension"],  # {% cache %}
        )
        self.env.globals.update(
            url_for=url_for,
            static=static,
            request=request,
            session=session,
            get_flashed_messages=get_flashed_messages,
            csrf_token=csrf_token,
            csp_nonce=csp_nonce,
            csrf_input=csrf_input,
            config=app.config,
            current_user=current_user,
        )
        self._async_env: Environment | None = None
        # PERF: compiled templates by name, without Jinja's cache lookup (which
        # checks the file's age), when templates are not reloaded.
        self._compiled: dict[Any, Template] = {}

    @property
    def async_env(self) -> Environment:
        """The environment of :func:`render_async`: the same loader, filters,
        tests and globals, compiled for async rendering."""
        env = self._async_env
        if env is None:
            env = self._async_env = self.env.overlay(enable_async=True)
        return env

    def get(self, name: str | Sequence[str], *, is_async: bool = False) -> Template:
        """The compiled template ``name`` (the first that exists, for a list).

        Raises:
            jinja2.TemplateNotFound: No folder holds it; the message lists the
                folders searched.
        """
        key = (name if isinstance(name, str) else tuple(name), is_async)
        found = self._compiled.get(key)
        if found is not None:
            return found
        env = self.async_env if is_async else self.env
        try:
            if isinstance(name, str):
                template = env.get_template(name)
            else:
                template = env.select_template(list(name))
        except Exception as exc:
            from jinja2 import TemplateNotFound

            if isinstance(exc, TemplateNotFound):
                raise TemplateNotFound(
                    exc.name,
                    f"template {name!r} not found in "
                    f"{', '.join(self.folders) or 'no template folder'}",
                ) from None
            raise
        if not self.auto_reload:
            self._compiled[key] = template
        return template

    def context(self, context: Mapping[str, Any]) -> dict[str, Any]:
        """What a template sees: the context processors' values, then
        ``context`` (which wins)."""
        processors = self.app.template_context_processors
        if not processors:
            return dict(context)
        merged: dict[str, Any] = {}
        for processor in processors:
            extra = processor()
            if extra:
                merged.update(extra)
        merged.update(context)
        return merged

    def render_to_string(
        self, name: str | Sequence[str], context: Mapping[str, Any]
    ) -> str:
        """Render ``name`` with ``context`` (see :meth:`context`)."""
        return self.render_named(name, context)[0]

    def render_named(
        self, name: str | Sequence[str], context: Mapping[str, Any]
    ) -> tuple[str, str]:
        """The rendered text, and the name of the template used (the first
        of a list that exists)."""
        template = self.get(name)
        return template.render(self.context(context)), template.name or ""

    async def render_to_string_async(
        self, name: str | Sequence[str], context: Mapping[str, Any]
    ) -> str:
        """:meth:`render_to_string` in Jinja's async mode: async functions the
        template calls are awaited, and async iterables can be looped over."""
        return (await self.render_named_async(name, context))[0]

    async def render_named_async(
        self, name: str | Sequence[str], context: Mapping[str, Any]
    ) -> tuple[str, str]:
        """:meth:`render_named` in Jinja's async mode."""
        template = self.get(name, is_async=True)
        text = await template.render_async(self.context(context))
        return text, template.name or ""

    def render_block(
        self, name: str | Sequence[str], block: str, context: Mapping[str, Any]
    ) -> str:
        """Render only the block ``block`` of ``name``.

        Raises:
            LookupError: The template has no such block.
        """
        template = self.get(name)
        render = template.blocks.get(block)
        if render is None:
            raise LookupError(
                f"template {template.name!r} has no block {block!r} "
                f"(its blocks: {', '.join(sorted(template.blocks)) or 'none'})"
            )
        ctx = template.new_context(self.context(context))
        return self.env.concat(render(ctx))

    def render_block_named(
        self, name: str | Sequence[str], block: str, context: Mapping[str, Any]
    ) -> tuple[str, str]:
        """:meth:`render_block`, and the name of the template used."""
        return self.render_block(name, block, context), self.get(name).name or ""


def template_folders(app: Kettle) -> list[str]:
    """The folders templates are looked up in, in order: the app's
    (``TEMPLATES_FOLDER``, relative to the app's folder), then each registered
    blueprint's (``Blueprint(template_folder=...)``), in registration order.
    Folders that do not exist are left out."""
    return app_folders(app, "TEMPLATES_FOLDER", "template_folder")


def get_templates(app: Kettle | None = None) -> Templates:
    """The app's :class:`Templates` (default: the current app's), made on first
    use."""
    return extension(app, "templates", Templates)


def render(name: str | Sequence[str], /, **context: Any) -> Response:
    """Render the template ``name`` (or the first of a list that exists) with
    ``context``, as a response (``text/html`` for ``.html``; the type follows
    the extension).

    Example::

        @app.get("/posts/{id:int}")
        def show(id: int, db: Session):
            return render("blog/post.html", post=get_or_404(db, Post, id))
    """
    return _response(*get_templates().render_named(name, context))


async def render_async(name: str | Sequence[str], /, **context: Any) -> Response:
    """:func:`render` in Jinja's async mode, for ``async def`` handlers whose
    template calls async functions (``{{ count() }}``, awaited) or loops over
    async iterables (``{% for row in rows %}``)."""
    await _preload_user()
    return _response(*(await get_templates().render_named_async(name, context)))


class _CurrentUser(_Proxy[Any]):
    """``current_user``: the request's user (``kettle.auth``), or an anonymous
    one; false when nobody is logged in."""

    __slots__ = ()

    def __bool__(self) -> bool:
        try:
            return bool(self._get_current_object())
        except RuntimeError:
            return False


def _lookup_user() -> Any:
    from .auth.core import get_user

    return get_user(request_var.get())


#: The logged-in user of the current request (:mod:`kettle.auth`), for
#: templates and code that has no ``user: User`` parameter.
current_user: Any = _CurrentUser(_lookup_user, "current_user is used outside a request")


async def _preload_user() -> None:
    """Read the logged-in user before an async render, off the event loop's
    blocking path (``current_user`` in the template then reads no database)."""
    req = request_var.get(None)
    if req is None or "kettle.auth.user_model" not in req.app.extensions:
        return
    from .auth.core import get_user_async

    await get_user_async(req)


def render_to_string(name: str | Sequence[str], /, **context: Any) -> str:
    """The rendered text of ``name`` (an email body, a fragment to embed)."""
    return get_templates().render_to_string(name, context)


def render_block(name: str | Sequence[str], block: str, /, **context: Any) -> Response:
    """Render one block of a template as the response: the part of a page an
    htmx request replaces, from the same template as the whole page.

    Example::

        @app.get("/search")
        def search(q: str = ""):
            page = "search.html"
            if request.headers.get("hx-request"):
                return render_block(page, "results", results=find(q))
            return render(page, results=find(q))

    Raises:
        LookupError: The template has no block ``block``.
    """
    return _response(*get_templates().render_block_named(name, block, context))


# -- the template= route option ------------------------------------------------------


def _context_of(rv: Any, template: str) -> tuple[Mapping[str, Any], Any]:
    """Split a handler's return value into the template's context and what
    follows it in a ``(context, status[, headers])`` tuple."""
    rest: Any = ()
    if type(rv) is tuple and rv and (rv[0] is None or isinstance(rv[0], Mapping)):
        rv, rest = rv[0], rv[1:]
    if rv is None:
        return {}, rest
    if isinstance(rv, Mapping):
        return rv, rest
    raise TypeError(
        f"a handler with template={template!r} returned {type(rv).__name__!r}: "
        "return the template's context as a dict (or a Response)"
    )


def templated(func: Callable[..., Any], template: str) -> Callable[..., Any]:
    """``func`` (a route handler) with its returned context dict rendered through
    ``template``; a :class:`~kettle.Response` it returns is sent as it is. An
    ``async def`` handler's template renders in Jinja's async mode."""
    import inspect

    if inspect.iscoroutinefunction(func):

        @functools.wraps(func)
        async def render_result_async(*args: Any, **kwargs: Any) -> Any:
            rv = await func(*args, **kwargs)
            if isinstance(rv, Response):
                return rv
            context, rest = _context_of(rv, template)
            page = await render_async(template, **context)
            return (page, *rest) if rest else page

        return render_result_async

    @functools.wraps(func)
    def render_result(*args: Any, **kwargs: Any) -> Any:
        rv = func(*args, **kwargs)
        if isinstance(rv, Response):
            return rv
        context, rest = _context_of(rv, template)
        page = render(template, **context)
        return (page, *rest) if rest else page

    return render_result
