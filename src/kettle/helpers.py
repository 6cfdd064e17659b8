"""Helpers that use the current request or app: ``url_for`` and ``redirect``."""

from __future__ import annotations

from typing import Any

from .context import app_var
from .context import request_var
from .responses import RedirectResponse

__all__ = ("redirect", "url_for")


def _current_app() -> Any:
    current = request_var.get(None)
    if current is not None:
        return current.app
    app = app_var.get(None)
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

        return redirect("show_user", user_id=3)    # /users/3
        return redirect("/login?next=/")           # as given

    Raises:
        LookupError: ``params`` were given but no route is named ``target``.
    """
    if "/" not in target and ":" not in target:
        current = request_var.get(None)
        app = current.app if current is not None else app_var.get(None)
        if app is not None and (target.startswith(".") or app.router.has_name(target)):
            return RedirectResponse(app.url_for(target, **params), status_code)
        if params:
            raise LookupError(
                f"no route named {target!r} to fill with {sorted(params)}"
            )
    return RedirectResponse(target, status_code)
