"""The admin's theme switch: ``POST /admin/theme`` with ``theme`` (``auto``,
``light`` or ``dark``) remembers the choice in a cookie, which
``admin/base.html`` reads into ``<html data-theme="...">``. A plain form posts
it, so it works without JavaScript."""

from __future__ import annotations

from ..exceptions import HTTPException
from ..helpers import url_for
from ..requests import Request
from ..responses import RedirectResponse
from ..responses import Response
from ..security import safe_next

__all__ = ("COOKIE", "THEMES", "theme_view")

#: The cookie holding the choice (absent: ``auto``, the system's theme).
COOKIE = "kettle_admin_theme"
#: The choices.
THEMES = ("auto", "light", "dark")
_MAX_AGE = 400 * 24 * 3600  # the longest browsers keep a cookie


def theme_view(request: Request) -> Response:
    """Remember ``theme`` for the admin's pages, then go back to ``next`` (a
    page of this site; the dashboard otherwise)."""
    value = request.get_form().get("theme")
    if value not in THEMES:
        raise HTTPException(400, "The theme is one of auto, light or dark.")
    home = str(url_for("admin.index"))
    response = RedirectResponse(safe_next(request, home), 303)
    path = home.rstrip("/") or "/"
    if value == "auto":
        response.delete_cookie(COOKIE, path=path)
    else:
        response.set_cookie(COOKIE, str(value), max_age=_MAX_AGE, path=path)
    return response
