"""Logging in and out, the current user, and the checks handlers require.

The session holds the logged-in user's id and a digest of their password hash
(``_auth_user_id``, ``_auth_user_hash``): changing the password ends every
other session of the user. :func:`login` and :func:`logout` rotate the session,
so an id or CSRF token planted before the login is worthless after it.
"""

from __future__ import annotations

import datetime
import hmac
import sys
from collections.abc import Callable
from collections.abc import Iterable
from typing import Any
from typing import TypeVar
from urllib.parse import urlencode

from sqlalchemy import func
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from ..concurrency import run_in_threadpool
from ..exceptions import HTTPException
from ..exceptions import ImproperlyConfigured
from ..params import Depends
from ..params import requires
from ..requests import HTTPConnection
from . import hashers
from .models import AnonymousUser
from .models import User
from .permissions import load_permissions
from .permissions import load_permissions_async
from .tokens import bearer
from .tokens import user_for_token
from .tokens import user_for_token_async

__all__ = (
    "authenticate",
    "authenticate_async",
    "get_user",
    "get_user_async",
    "login",
    "login_required",
    "logout",
    "permission_required",
    "user_model",
)

F = TypeVar("F", bound=Callable[..., Any])
SESSION_USER = "_auth_user_id"
SESSION_HASH = "_auth_user_hash"
_STATE = "kettle_user"  # in request.state: the request's user, once loaded
_MODEL = "kettle.auth.user_model"


def user_model(app: Any) -> type[User]:
    """The app's user class: ``AUTH_USER_MODEL`` (``"module:Class"``, a
    subclass of :class:`~kettle.auth.User`), or ``User``."""
    found: type[User] | None = app.extensions.get(_MODEL)
    if found is not None:
        return found
    spec = app.config.get("AUTH_USER_MODEL")
    cls: Any = User
    if spec and spec != "kettle.auth.models:User":
        import importlib

        module, _, attr = str(spec).partition(":")
        try:
            cls = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as exc:
            raise ImproperlyConfigured(
                f"AUTH_USER_MODEL {spec!r} cannot be imported ({exc}); write "
                "it 'package.module:ClassName'"
            ) from exc
        if not (isinstance(cls, type) and issubclass(cls, User)):
            raise ImproperlyConfigured(
                f"AUTH_USER_MODEL {spec!r} is not a subclass of kettle.auth.User"
            )
    app.extensions[_MODEL] = cls
    # The unknown-user check's dummy hash, made before the first login (which
    # would otherwise take longer than the others).
    app.on_startup(_make_dummy_hash)
    return cls  # type: ignore[no-any-return]


def _make_dummy_hash() -> None:
    hashers.get_hasher().dummy_hash  # noqa: B018 - made on first read


def _secret(app: Any) -> str:
    key = app.config.get("SECRET_KEY")
    if not key:
        raise ImproperlyConfigured(
            "kettle.auth needs a SECRET_KEY (sessions are signed with it)"
        )
    return str(key)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


# -- authenticating -----------------------------------------------------------------


def _lookup_statements(model: type[User], name: str) -> list[Any]:
    """The queries finding the user a login name means, in order: by each of
    ``LOGIN_FIELDS``. An email address is compared without case, and names a
    user only when one active user has it (two rows come back otherwise)."""
    if "\x00" in name or len(name) > 254:  # no such name (and PostgreSQL
        return []  # refuses NUL in text)
    statements = []
    for field in model.LOGIN_FIELDS:
        column = getattr(model, field)
        if field == "email":
            if "@" in name:
                statements.append(
                    select(model)
                    .where(func.lower(column) == name.lower(), model.is_active)
                    .limit(2)
                )
        else:
            statements.append(select(model).where(column == name).limit(1))
    return statements


def _only(found: Any) -> User | None:
    return found[0] if len(found) == 1 else None


def _checked(user: User | None, password: str) -> User | None:
    if user is None:
        hashers.check_password(password, None)  # as long as for a real user
        return None
    if not user.check_password(password) or not user.is_active:
        return None
    return user


def authenticate(
    db: Session, username: str, password: str, *, model: type[User] | None = None
) -> User | None:
    """The active user whose name (or email, see ``User.LOGIN_FIELDS``) and
    password match, else None. An unknown name takes as long as a wrong
    password: a hash is computed either way. A matching password hashed the
    old way (Django's PBKDF2, bcrypt) is rehashed with Argon2id, saved with
    the session's commit. ``model``: the user class (default: the app's
    ``AUTH_USER_MODEL`` during a request, else :class:`User`)."""
    model = _model(model)
    user = None
    for statement in _lookup_statements(model, username.strip()):
        user = _only(db.scalars(statement).all())
        if user is not None:
            break
    found = _checked(user, password)
    if found is None:
        _login_failed(username, "credentials")
    return found


async def authenticate_async(
    db: AsyncSession,
    username: str,
    password: str,
    *,
    model: type[User] | None = None,
) -> User | None:
    """:func:`authenticate` through an ``AsyncSession``; the hash is computed
    in the thread pool, off the event loop."""
    model = _model(model)
    user = None
    for statement in _lookup_statements(model, username.strip()):
        user = _only((await db.scalars(statement)).all())
        if user is not None:
            break
    found = await run_in_threadpool(_checked, user, password)
    if found is None:
        failed = _signal("user_login_failed")
        if failed is not None:
            app, kwargs = _failed_kwargs(username, "credentials")
            await failed.send_async(app, **kwargs)
    return found


def _signal(name: str) -> Any:
    """The :mod:`kettle.signals` signal ``name`` if it has receivers, else None.

    PERF: nothing is sent (nor blinker imported) unless the program imported
    kettle.signals and connected a receiver.
    """
    signals = sys.modules.get("kettle.signals")
    if signals is None:
        return None
    found = getattr(signals, name)
    return found if found.receivers else None


def _failed_kwargs(username: str, reason: str) -> tuple[Any, dict[str, Any]]:
    """The sender and the arguments of ``user_login_failed`` (never the
    password)."""
    from ..context import _current_app_or_none
    from ..context import request_var

    request = request_var.get(None)
    app = _current_app_or_none()
    return app, {
        "credentials": {"username": username},
        "request": request,
        "reason": reason,
    }


def _login_failed(username: str, reason: str) -> None:
    """Send :data:`kettle.signals.user_login_failed` (if anyone listens)."""
    failed = _signal("user_login_failed")
    if failed is not None:
        app, kwargs = _failed_kwargs(username, reason)
        failed.send(app, **kwargs)


def _model(model: type[User] | None) -> type[User]:
    if model is not None:
        return model
    from ..context import current_app
    from ..context import has_request_context

    if has_request_context():
        return user_model(current_app._get_current_object())  # type: ignore[attr-defined]
    return User


# -- logging in and out ------------------------------------------------------------


def login(
    conn: HTTPConnection,
    user: User,
    *,
    remember: bool = False,
    second_factor: bool = False,
) -> None:
    """Log ``user`` in for the rest of this browser session (``remember``: for
    ``SESSION_LIFETIME``, through browser restarts).

    The session is rotated (a new id and CSRF token); what it held is kept,
    unless another user was logged in, in which case it starts empty.

    Raises:
        RuntimeError: ``user`` logs in with two factors and the second was not
            checked (``second_factor=True`` says it was; see
            :mod:`kettle.auth.twofactor`).
    """
    if user.totp_secret and not second_factor:
        raise RuntimeError(
            f"{user!r} logs in with two factors: check the code "
            "(kettle.auth.twofactor.verify_code) and call login(..., "
            "second_factor=True), or send them through Auth's /auth/login"
        )
    app = conn.app
    session = conn.session
    before = session.get(SESSION_USER)
    if before is not None and before != user.id:
        session.clear()
    session.rotate()
    session[SESSION_USER] = user.id
    session[SESSION_HASH] = user.session_auth_hash(_secret(app))
    session.permanent = remember
    user.last_login = _now()
    setattr(conn.state, _STATE, user)
    logged_in = _signal("user_logged_in")
    if logged_in is not None:
        logged_in.send(app, user=user, request=conn)


def logout(conn: HTTPConnection) -> None:
    """End the login: the session is emptied and rotated."""
    logged_out = _signal("user_logged_out")
    if logged_out is not None:
        # NOTE: the user is read (with a session of its own) if the request had
        # not read it yet.
        user = get_user(conn)
        logged_out.send(
            conn.app, user=user if user.is_authenticated else None, request=conn
        )
    session = conn.session
    session.clear()
    session.rotate()
    setattr(conn.state, _STATE, AnonymousUser())


def update_session_auth_hash(conn: HTTPConnection, user: User) -> None:
    """After ``user`` changed their own password: keep this session logged in
    (the others end)."""
    session = conn.session
    if session.get(SESSION_USER) == user.id:
        session.rotate()
        session[SESSION_HASH] = user.session_auth_hash(_secret(conn.app))


# -- the current user --------------------------------------------------------------


def _session_user_id(conn: HTTPConnection) -> Any:
    cookies = conn.cookies
    if conn.app.config["SESSION_COOKIE_NAME"] not in cookies:
        return None  # PERF: no session, no user, and the session is not made
    uid = conn.session.get(SESSION_USER)
    # an id as login() stores it; anything else (an old or odd session) is no
    # login, never an error
    if type(uid) is int and -(2**63) <= uid < 2**63:
        return uid
    return None


def _verified(conn: HTTPConnection, user: User | None) -> User | None:
    """``user`` if still allowed in by the session, else None (and the
    session's login is dropped)."""
    session = conn.session
    if user is not None and user.is_active:
        expected = user.session_auth_hash(_secret(conn.app))
        if hmac.compare_digest(str(session.get(SESSION_HASH, "")), expected):
            return user
    session.pop(SESSION_USER, None)
    session.pop(SESSION_HASH, None)
    return None


def _cached(conn: HTTPConnection) -> Any:
    state = conn.state
    return getattr(state, _STATE) if _STATE in state else None


def _in_session(conn: HTTPConnection, cached: Any, db: Session) -> Any:
    """The cached user as an object of ``db`` (or None for an anonymous one):
    one read outside the handler's session (``get_user``) is read again, so
    that changes to it are saved with the handler's."""
    if not cached.is_authenticated:
        return None
    if sa_inspect(cached).session is db:
        return cached
    return _MISSING


_MISSING: Any = object()


def _load_sync(conn: HTTPConnection, db: Session) -> User | None:
    user: User | None
    cached = _cached(conn)
    if cached is not None:
        found = _in_session(conn, cached, db)
        if found is not _MISSING:
            return found  # type: ignore[no-any-return]
        user = db.get(type(cached), cached.id)
        setattr(conn.state, _STATE, user or AnonymousUser())
        return user
    token = bearer(conn)
    if token is not None:
        user = user_for_token(db, user_model(conn.app), token)
        setattr(conn.state, _STATE, user)
        return user
    uid = _session_user_id(conn)
    user = None
    if uid is not None:
        user = _verified(conn, db.get(user_model(conn.app), uid))
    setattr(conn.state, _STATE, user if user is not None else AnonymousUser())
    return user


async def _load_async(conn: HTTPConnection, db: AsyncSession) -> User | None:
    user: User | None
    cached = _cached(conn)
    if cached is not None:
        found = _in_session(conn, cached, db.sync_session)
        if found is not _MISSING:
            return found  # type: ignore[no-any-return]
        user = await db.get(type(cached), cached.id)
        setattr(conn.state, _STATE, user or AnonymousUser())
        return user
    token = bearer(conn)
    if token is not None:
        user = await user_for_token_async(db, user_model(conn.app), token)
        setattr(conn.state, _STATE, user)
        return user
    uid = _session_user_id(conn)
    user = None
    if uid is not None:
        user = _verified(conn, await db.get(user_model(conn.app), uid))
    setattr(conn.state, _STATE, user if user is not None else AnonymousUser())
    return user


def get_user(conn: HTTPConnection) -> User | AnonymousUser:
    """The request's user (:class:`AnonymousUser` when nobody is logged in).
    Outside a handler that took the user, it is read with a session of its
    own, closed at once: the object is detached (``db.add(user)`` to change
    it)."""
    cached = _cached(conn)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    if _session_user_id(conn) is None and bearer(conn) is None:
        anonymous = AnonymousUser()
        setattr(conn.state, _STATE, anonymous)
        return anonymous
    from ..db import get_database

    with get_database(conn.app).session() as db:
        user = _load_sync(conn, db)
        db.commit()  # a token's last use, when recorded
    return user if user is not None else AnonymousUser()


async def get_user_async(conn: HTTPConnection) -> User | AnonymousUser:
    """:func:`get_user` from async code."""
    cached = _cached(conn)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    if _session_user_id(conn) is None and bearer(conn) is None:
        anonymous = AnonymousUser()
        setattr(conn.state, _STATE, anonymous)
        return anonymous
    from ..db import get_database

    async with get_database(conn.app).async_session() as db:
        user = await _load_async(conn, db)
        await db.commit()  # a token's last use, when recorded
    return user if user is not None else AnonymousUser()


def setting_url(conn: HTTPConnection, setting: str, default: str = "/") -> str:
    """The URL a setting such as ``LOGIN_URL`` names: a path, or a route's
    name (``"auth.login"``).

    Raises:
        LookupError: It names no route.
    """
    target = conn.app.config.get(setting) or default
    if "/" not in target:  # an endpoint's name
        from ..helpers import url_for

        target = url_for(target)
    return str(target)


def refuse_anonymous(conn: HTTPConnection) -> HTTPException:
    """What answers a request that needs a login and has none: a redirect to
    ``LOGIN_URL`` (with ``next=``) for a page a browser asked for, else 401
    (also when the app has no login page: ``LOGIN_URL`` names no route)."""
    method = getattr(conn, "method", "GET")
    accept = conn.headers.get("accept", "")
    login_page = None
    if method in ("GET", "HEAD") and "text/html" in accept:
        try:
            login_page = setting_url(conn, "LOGIN_URL", "/auth/login")
        except LookupError:
            login_page = None
    if login_page is not None:
        here = conn.url.path
        if conn.url.query:
            here += "?" + conn.url.query
        url = login_page + "?" + urlencode({"next": here})
        return HTTPException(303, "Log in to see this page.", headers={"location": url})
    return HTTPException(
        401,
        "Authentication required: log in first.",
        headers={"www-authenticate": 'Bearer realm="kettle"'},
    )


# -- providers ---------------------------------------------------------------------


def optional_user_sync(conn: HTTPConnection, db: Session) -> User | None:
    """The provider of ``user: User | None`` in a ``def`` handler."""
    return _load_sync(conn, db)


async def optional_user_async(conn: HTTPConnection, db: AsyncSession) -> User | None:
    """The provider of ``user: User | None`` in an ``async def`` handler."""
    return await _load_async(conn, db)


def required_user_sync(
    conn: HTTPConnection, user: Any = Depends(optional_user_sync)
) -> User:
    """The provider of ``user: User``: the logged-in user, or the request is
    refused (:func:`refuse_anonymous`)."""
    if user is None:
        raise refuse_anonymous(conn)
    return user  # type: ignore[no-any-return]


async def required_user_async(
    conn: HTTPConnection, user: Any = Depends(optional_user_async)
) -> User:
    if user is None:
        raise refuse_anonymous(conn)
    return user  # type: ignore[no-any-return]


def _pick_user_provider(is_async: bool, optional: bool) -> Callable[..., Any]:
    if optional:
        return optional_user_async if is_async else optional_user_sync
    return required_user_async if is_async else required_user_sync


def user_provider(app: Any, annotation: type) -> Callable[..., Any]:
    """The provider behind a ``User`` parameter (found by annotation):
    Kettle picks its form for the handler (``def`` or ``async def``, ``User``
    or ``User | None``)."""
    model = user_model(app)
    if not issubclass(model, annotation):
        raise ImproperlyConfigured(
            f"a parameter annotated {annotation.__name__} gets the current user, "
            f"a {model.__name__} (AUTH_USER_MODEL): annotate it {model.__name__}"
        )

    def current_user(*args: Any, **kwargs: Any) -> Any:  # pragma: no cover
        raise AssertionError("replaced by its variant for the handler")

    current_user.kettle_variant = _pick_user_provider  # type: ignore[attr-defined]
    return current_user


# -- requirements ------------------------------------------------------------------


def _login_check() -> None:  # pragma: no cover - replaced by a variant
    raise AssertionError("replaced by its variant for the handler")


_login_check.kettle_variant = (  # type: ignore[attr-defined]
    lambda is_async, optional: required_user_async if is_async else required_user_sync
)


def login_required(func: F) -> F:
    """Refuse the handler to anonymous requests: a browser's page request is
    redirected to ``LOGIN_URL?next=<this page>``, anything else gets 401. Put
    it below the route decorator."""
    return requires(_login_check)(func)


def _denied(codes: tuple[str, ...]) -> HTTPException:
    return HTTPException(
        403,
        f"You do not have permission to do this (it needs {', '.join(codes)}).",
    )


def permission_required(*codenames: str) -> Callable[[F], F]:
    """Refuse the handler unless the logged-in user holds every permission of
    ``codenames`` (``"post.change"``): anonymous requests as
    :func:`login_required`, users without them with 403."""
    if not codenames or not all(isinstance(c, str) and c for c in codenames):
        raise TypeError("permission_required() takes one or more permission codes")
    codes = tuple(codenames)

    def check_sync(db: Session, user: Any = Depends(required_user_sync)) -> None:
        if user.is_superuser and user.is_active:
            return
        if user._kettle_permissions is None:
            load_permissions(user, db)
        if not user.has_perms(codes):
            raise _denied(codes)

    async def check_async(
        db: AsyncSession, user: Any = Depends(required_user_async)
    ) -> None:
        if user.is_superuser and user.is_active:
            return
        if user._kettle_permissions is None:
            await load_permissions_async(db, user)
        if not user.has_perms(codes):
            raise _denied(codes)

    def check() -> None:  # pragma: no cover - replaced by a variant
        raise AssertionError("replaced by its variant for the handler")

    check.kettle_variant = (  # type: ignore[attr-defined]
        lambda is_async, optional: check_async if is_async else check_sync
    )
    check.__qualname__ = f"permission_required{codes!r}"
    return requires(check)


def has_perms(user: User | AnonymousUser, codenames: Iterable[str]) -> bool:
    """Whether ``user`` (possibly anonymous) holds every permission of
    ``codenames``."""
    return user.has_perms(list(codenames))
