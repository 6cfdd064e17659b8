"""Helpers that use the current request or app: ``url_for`` and ``redirect``."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any
from typing import TypeVar

from .context import _current_app_or_none
from .responses import RedirectResponse

__all__ = ("redirect", "url_for")

T = TypeVar("T")
_extension_lock = threading.Lock()


def extension(app: Any, key: str, make: Callable[[Any], T]) -> T:
    """``app.extensions[key]``, made by ``make(app)`` on first use (once, also
    when threads ask together); ``app`` None: the current app's."""
    if app is None:
        app = _current_app()
    found: T | None = app.extensions.get(key)
    if found is None:
        with _extension_lock:
            found = app.extensions.get(key)
            if found is None:
                found = app.extensions[key] = make(app)
    return found


def app_folders(app: Any, setting: str, attribute: str) -> list[str]:
    """Folders of the app and its blueprints that exist, in search order: the
    app's (the ``setting``, relative to the app's folder), then each registered
    blueprint's (its ``attribute``, relative to its folder), in registration
    order."""
    folders: list[str] = []
    own = app.config.get(setting)
    if own:
        folders.append(os.path.join(app.root_path, os.fspath(own)))
    for blueprint in app.blueprints.values():
        folder = getattr(blueprint, attribute)
        if folder:
            folders.append(os.path.join(blueprint.root_path, os.fspath(folder)))
    return [os.path.abspath(f) for f in folders if os.path.isdir(f)]


def _current_app() -> Any:
    app = _current_app_or_none()
    if app is None:
        raise RuntimeError(
            "url_for() needs an app: call it during a request, inside "
            "'with app.app_context():', or use app.url_for(...)"
        )
    return app


def url_for(name: str, /, **params: Any) -> str:
    """Build the URL of the route ``name`` (``"bp.name"`` for blueprint routes,
    ``".name"`` for the current blueprint's).

    Path parameters fill the path; other params become the query string.
    ``_external=True`` makes it absolute, ``_anchor`` adds a fragment. Outside a
    request, use ``app.url_for(...)`` or ``with app.app_context():``.
    """
    return str(_current_app().url_for(name, **params))


def redirect(target: str, status_code: int = 302, **params: Any) -> RedirectResponse:
    """Redirect to ``target``: a route name (reversed with ``params``) or a URL.

    Example::

        @app.post("/users")
        def create_user():
            return redirect("show_user", user_id=3)    # to /users/3

        redirect("/login?next=/")                      # a URL: as given

    Raises:
        LookupError: ``params`` were given but no route is named ``target``
            (a URL takes none).
    """
    if "/" not in target and ":" not in target:
        app = _current_app_or_none()
        if app is not None and (target.startswith(".") or app.router.has_name(target)):
            return RedirectResponse(app.url_for(target, **params), status_code)
        if params:
            raise LookupError(
                f"no route named {target!r} to fill with {sorted(params)}"
            )
    elif params:  # a URL: the values would be dropped without a word
        raise LookupError(
            f"{target!r} is a URL, not a route's name: it takes no values "
            f"({sorted(params)})"
        )
    return RedirectResponse(target, status_code)
