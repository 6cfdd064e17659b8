"""Sessions: ``request.session`` (also the ``kettle.session`` proxy), a dict kept
from one request of a browser to the next, and flash messages.

The default backend keeps the session in a cookie, signed with ``SECRET_KEY``
(itsdangerous): the browser can read it but not change it. The session is read
when a handler first uses it and written back only when it changed. Values are
JSON: strings, numbers, booleans, None, lists and dicts.

The cookie is ``HttpOnly``, ``SameSite=Lax``, and ``Secure`` when the request came
over HTTPS (or ``COOKIE_SECURE`` is set). Browsers refuse cookies over about 4 KB:
a session that would not fit raises :class:`SessionTooLarge` instead of being
silently lost.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import secrets
from collections.abc import Iterable
from typing import TYPE_CHECKING
from typing import Any

from .exceptions import ImproperlyConfigured

if TYPE_CHECKING:
    from .app import Kettle
    from .requests import HTTPConnection
    from .responses import Response

__all__ = (
    "CookieSessions",
    "DatabaseSessions",
    "RedisSessions",
    "ServerSessions",
    "Session",
    "SessionTooLarge",
    "flash",
    "get_flashed_messages",
)

#: The longest ``name=value`` of a cookie that every browser keeps.
MAX_COOKIE_SIZE = 4093
_FLASHES = "_flashes"
_PERMANENT = "_permanent"


class SessionTooLarge(RuntimeError):
    """The session would not fit in its cookie."""


class Session(dict[str, Any]):
    """The session: a dict that knows whether it changed (and so must be saved).

    Changing a value held inside it (``session["cart"].append(item)``) is not
    seen: assign it again, or set ``session.modified = True``.
    """

    #: No valid session came with the request.
    new: bool
    #: Changed during this request: saved with the response.
    modified: bool

    def __init__(
        self, data: Any = (), *, new: bool = False, sid: str | None = None
    ) -> None:
        super().__init__(data)
        self.new = new
        self.modified = False
        self.rotated = False
        #: The id a server-side session is kept under (None: none yet).
        self.sid = sid
        self.saved = False

    def __setitem__(self, key: str, value: Any) -> None:
        self.modified = True
        super().__setitem__(key, value)

    def __delitem__(self, key: str) -> None:
        self.modified = True
        super().__delitem__(key)

    def clear(self) -> None:
        self.modified = True
        super().clear()

    def pop(self, key: str, *default: Any) -> Any:
        if key in self:
            self.modified = True
        return super().pop(key, *default)

    def popitem(self) -> tuple[str, Any]:
        self.modified = True
        return super().popitem()

    def setdefault(self, key: str, default: Any = None) -> Any:
        if key not in self:
            self.modified = True
        return super().setdefault(key, default)

    def update(self, *args: Any, **kwargs: Any) -> None:
        self.modified = True
        super().update(*args, **kwargs)

    def __ior__(self, other: Any) -> Session:  # type: ignore[override,misc]
        self.update(other)
        return self

    @property
    def permanent(self) -> bool:
        """Whether the cookie outlives the browser: True (the default) keeps it
        ``SESSION_LIFETIME`` seconds; False makes it a browser-session cookie,
        gone when the browser closes (the data still expires after
        ``SESSION_LIFETIME``). A login without "remember me" sets it False."""
        return bool(self.get(_PERMANENT, True))

    @permanent.setter
    def permanent(self, value: bool) -> None:
        if value:
            self.pop(_PERMANENT, None)
        else:
            self[_PERMANENT] = False

    def rotate(self) -> None:
        """Start a new session holding the same data, as at a login or logout:
        the token CSRF checks is replaced (and a server-side backend gives the
        session a new id), so a token or id an attacker planted before is
        worthless after."""
        self.pop("_csrf", None)
        self.rotated = self.modified = True

    def __repr__(self) -> str:
        return f"<Session {dict.__repr__(self)}>"


class _CookieSettings:
    """The session cookie's name and attributes (``SESSION_COOKIE_*``)."""

    #: Whether sessions are read and written on a server (I/O, run off the
    #: event loop under ASGI).
    server_side = False

    def __init__(self, app: Kettle) -> None:
        cfg = app.config
        self.name: str = cfg["SESSION_COOKIE_NAME"]
        self.lifetime: int = int(cfg["SESSION_LIFETIME"])
        self.path: str = cfg["SESSION_COOKIE_PATH"]
        self.domain: str | None = cfg["SESSION_COOKIE_DOMAIN"]
        self.samesite: Any = cfg["SESSION_COOKIE_SAMESITE"]
        self.secure: bool | None = cfg["SESSION_COOKIE_SECURE"]

    def set_cookie(
        self, response: Response, value: str, permanent: bool = True
    ) -> None:
        response.set_cookie(
            self.name,
            value,
            max_age=self.lifetime if permanent else None,
            path=self.path,
            domain=self.domain,
            secure=self.secure,
            httponly=True,
            samesite=self.samesite,
        )

    def delete_cookie(self, response: Response) -> None:
        response.delete_cookie(self.name, path=self.path, domain=self.domain)


class CookieSessions(_CookieSettings):
    """The session backend that keeps each session in a signed cookie.

    Settings: ``SECRET_KEY`` (required; ``SECRET_KEY_FALLBACKS``, a list of older
    keys, still verify cookies signed with them), ``SESSION_COOKIE_NAME``,
    ``SESSION_LIFETIME`` (seconds since the session last changed),
    ``SESSION_COOKIE_PATH``, ``SESSION_COOKIE_DOMAIN``,
    ``SESSION_COOKIE_SAMESITE``, ``SESSION_COOKIE_SECURE`` (None: over HTTPS).
    """

    def __init__(self, app: Kettle) -> None:
        from itsdangerous import URLSafeTimedSerializer

        cfg = app.config
        key = cfg.get("SECRET_KEY")
        if not key:
            raise ImproperlyConfigured(
                "sessions need a SECRET_KEY: set it in the settings, the "
                "environment (KETTLE_SECRET_KEY) or .env, to a long random string "
                "(python -c 'import secrets; print(secrets.token_urlsafe(48))')"
            )
        keys = [*(cfg.get("SECRET_KEY_FALLBACKS") or ()), key]  # the last signs
        self.serializer = URLSafeTimedSerializer(
            keys, salt="kettle.session", serializer=_JSON
        )
        super().__init__(app)

    def load(self, conn: HTTPConnection) -> Session:
        """The request's session: its cookie's, or a new empty one when there
        is none, or it is tampered with, signed with an unknown key or expired."""
        from itsdangerous import BadSignature

        raw = conn.cookies.get(self.name)
        if not raw:
            return Session(new=True)
        try:
            data = self.serializer.loads(raw, max_age=self.lifetime)
        except BadSignature:
            return Session(new=True)
        if not isinstance(data, dict):
            return Session(new=True)
        return Session(data)

    def save(self, conn: HTTPConnection, session: Session, response: Response) -> None:
        """Write a changed session into the response's cookie (or delete the
        cookie of a session emptied)."""
        _vary_cookie(response)
        if not session.modified:
            return
        if not session:
            if not session.new:
                self.delete_cookie(response)
            return
        value = self.serializer.dumps(_json_ready(session))
        size = len(self.name) + 1 + len(value)
        if size > MAX_COOKIE_SIZE:
            raise SessionTooLarge(
                f"the session cookie would be {size} bytes, over the "
                f"{MAX_COOKIE_SIZE} bytes browsers keep (it would be dropped, "
                "and the session lost): keep less in the session (ids rather "
                "than objects), or keep sessions on the server "
                "(SESSION_BACKEND = 'redis' or 'database')"
            )
        self.set_cookie(response, value, session.permanent)


class ServerSessions(_CookieSettings):
    """The base of backends that keep sessions on a server: the cookie holds
    only a random id (256 bits), and the store holds the data under its SHA-256
    hash (a copy of the store gives no usable ids), expiring ``SESSION_LIFETIME``
    seconds after the session last changed. ``rotate()`` moves the data to a new
    id and deletes the old one; emptying the session deletes it.

    Subclasses read, write and delete by key (blocking; Kettle runs them off the
    event loop under ASGI)."""

    server_side = True

    def read(self, key: str) -> dict[str, Any] | None:
        raise NotImplementedError

    def write(self, key: str, data: str) -> None:
        raise NotImplementedError

    def delete(self, key: str) -> None:
        raise NotImplementedError

    def load(self, conn: HTTPConnection) -> Session:
        sid = conn.cookies.get(self.name)
        if not sid or len(sid) > 128:
            return Session(new=True)
        data = self.read(_store_key(sid))
        if data is None:  # unknown, expired, or deleted
            return Session(new=True)
        return Session(data, sid=sid)

    def save(self, conn: HTTPConnection, session: Session, response: Response) -> None:
        _vary_cookie(response)
        if not session.modified:
            return
        old = session.sid
        if not session:
            if old is not None:
                self.delete(_store_key(old))
                self.delete_cookie(response)
            return
        data = json.dumps(_json_ready(session), separators=(",", ":"))
        sid = old
        if sid is None or session.rotated:
            sid = secrets.token_urlsafe(32)
            if old is not None:
                self.delete(_store_key(old))
        self.write(_store_key(sid), data)
        session.sid = sid
        self.set_cookie(response, sid, session.permanent)


def _store_key(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()


class RedisSessions(ServerSessions):
    """Sessions in Redis (``SESSION_REDIS_URL``, default ``REDIS_URL``), under
    ``kettle:session:<hash>`` keys that expire with the session: every worker
    and machine sees the same sessions. Needs ``pip install 'kettle[redis]'``."""

    PREFIX = "kettle:session:"

    def __init__(self, app: Kettle) -> None:
        super().__init__(app)
        url = app.config.get("SESSION_REDIS_URL") or app.config.get("REDIS_URL")
        if not url:
            raise ImproperlyConfigured(
                "SESSION_BACKEND = 'redis' needs SESSION_REDIS_URL (or REDIS_URL), "
                "such as 'redis://127.0.0.1:6379/0'"
            )
        from ._redis import require_redis

        require_redis("SESSION_BACKEND = 'redis'")
        import redis

        self.client = redis.Redis.from_url(url)

    def read(self, key: str) -> dict[str, Any] | None:
        return _stored(self.client.get(self.PREFIX + key))

    def write(self, key: str, data: str) -> None:
        self.client.set(self.PREFIX + key, data, ex=self.lifetime)

    def delete(self, key: str) -> None:
        self.client.delete(self.PREFIX + key)


#: The table of database sessions (made at first use; Kettle's migrations leave
#: it alone).
SESSION_TABLE = "kettle_session"


class DatabaseSessions(ServerSessions):
    """Sessions in a table of the app's main database (``kettle_session``, made
    when first needed), through ``kettle.db``. Expired rows are removed now and
    then as sessions are written, and by :meth:`clear_expired`."""

    def __init__(self, app: Kettle) -> None:
        super().__init__(app)
        from sqlalchemy import Column
        from sqlalchemy import DateTime
        from sqlalchemy import MetaData
        from sqlalchemy import String
        from sqlalchemy import Table
        from sqlalchemy import Text

        from .db import get_database

        self.engine = get_database(app).engine()
        self.table = Table(
            SESSION_TABLE,
            MetaData(),
            Column("key", String(64), primary_key=True),
            Column("data", Text, nullable=False),
            Column("expires_at", DateTime(timezone=True), nullable=False, index=True),
        )
        self.table.create(self.engine, checkfirst=True)
        self._writes = 0

    def read(self, key: str) -> dict[str, Any] | None:
        from sqlalchemy import select

        table = self.table
        with self.engine.connect() as conn:
            row = conn.execute(
                select(table.c.data, table.c.expires_at).where(table.c.key == key)
            ).first()
        if row is None or _aware(row.expires_at) <= _now():
            return None
        return _stored(row.data)

    def write(self, key: str, data: str) -> None:
        table = self.table
        expires = _now() + datetime.timedelta(seconds=self.lifetime)
        with self.engine.begin() as conn:
            updated = conn.execute(
                table.update()
                .where(table.c.key == key)
                .values(data=data, expires_at=expires)
            )
            if not updated.rowcount:
                conn.execute(
                    table.insert().values(key=key, data=data, expires_at=expires)
                )
        self._writes += 1
        if self._writes % 100 == 0:
            self.clear_expired()

    def delete(self, key: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(self.table.delete().where(self.table.c.key == key))

    def clear_expired(self) -> int:
        """Delete the rows of expired sessions; how many."""
        with self.engine.begin() as conn:
            done = conn.execute(
                self.table.delete().where(self.table.c.expires_at <= _now())
            )
        return int(done.rowcount or 0)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _aware(moment: datetime.datetime) -> datetime.datetime:
    """SQLite gives times back without their zone: they are UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.UTC)


def _stored(raw: Any) -> dict[str, Any] | None:
    if raw is None:
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _vary_cookie(response: Response) -> None:
    """A response that read the session differs per browser: shared caches must
    keep one copy per ``Cookie`` header."""
    headers = response.headers
    vary = headers.get("vary")
    if vary is None:
        headers["vary"] = "Cookie"
    elif "cookie" not in vary.lower() and vary.strip() != "*":
        headers["vary"] = f"{vary}, Cookie"


class _JSONSerializer:
    """Compact JSON for itsdangerous."""

    @staticmethod
    def dumps(obj: Any) -> str:
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)

    @staticmethod
    def loads(text: str | bytes) -> Any:
        return json.loads(text)


_JSON = _JSONSerializer()


def _json_ready(session: Session) -> dict[str, Any]:
    """The session's data, checked to be JSON."""
    try:
        json.dumps(session)
    except (TypeError, ValueError) as exc:
        for key, value in session.items():
            try:
                json.dumps(value)
            except (TypeError, ValueError):
                raise TypeError(
                    f"session[{key!r}] is a {type(value).__name__}: session values "
                    "must be JSON (str, int, float, bool, None, and lists and "
                    "dicts of those); store an id or a string instead"
                ) from None
        raise TypeError(f"the session cannot be stored as JSON: {exc}") from None
    return dict(session)


# -- the app's backend -----------------------------------------------------------------


Backend = CookieSessions | ServerSessions
_BACKENDS: dict[str, type[Backend]] = {
    "cookie": CookieSessions,
    "redis": RedisSessions,
    "database": DatabaseSessions,
}


def backend(app: Kettle) -> Backend:
    """The app's session backend (``SESSION_BACKEND``), made on first use."""
    from .helpers import extension

    return extension(app, "sessions", _make_backend)


def _make_backend(app: Kettle) -> Backend:
    name = app.config.get("SESSION_BACKEND") or "cookie"
    made = _BACKENDS.get(name)
    if made is None:
        raise ImproperlyConfigured(
            f"SESSION_BACKEND {name!r} is not one Kettle knows: use "
            + ", ".join(repr(n) for n in _BACKENDS)
        )
    return made(app)


def open_session(conn: HTTPConnection) -> Session:
    """The session of a request (what ``request.session`` reads, once)."""
    return backend(conn.app).load(conn)


def save_session(conn: HTTPConnection, response: Response) -> None:
    """Save the request's session, when it was used, into ``response`` (once)."""
    session = conn._session
    if session is not None and not session.saved:
        session.saved = True
        backend(conn.app).save(conn, session, response)


async def preload_async(conn: HTTPConnection, store: ServerSessions) -> None:
    """Under ASGI, read a server-side session before the handler, off the event
    loop (when the request names one), so ``request.session`` waits on nothing."""
    if conn._session is None and store.name in conn.cookies:
        from .concurrency import run_in_threadpool

        conn._session = await run_in_threadpool(store.load, conn)


async def save_async(conn: HTTPConnection, response: Response) -> None:
    """:func:`save_session` off the event loop (a server-side session)."""
    from .concurrency import run_in_threadpool

    await run_in_threadpool(save_session, conn, response)


# -- flash messages --------------------------------------------------------------------


def flash(message: str, category: str = "message") -> None:
    """Keep a message for the next page the user sees (read there with
    :func:`get_flashed_messages`, in a template or a handler); ``category``:
    ``"error"``, ``"success"``, ... as the templates style them."""
    from .context import request

    session = request.session
    flashes = list(session.get(_FLASHES, ()))
    flashes.append([category, str(message)])
    session[_FLASHES] = flashes


def get_flashed_messages(
    with_categories: bool = False, category_filter: Iterable[str] = ()
) -> list[Any]:
    """The messages flashed for this user, taken out of the session (each is
    shown once): ``["Saved."]``, or with ``with_categories`` ``[("success",
    "Saved.")]``; only those of ``category_filter``'s categories when given.
    Calls within one request give the same messages."""
    from .context import request

    conn = request._get_current_object()  # type: ignore[attr-defined]
    flashes = conn._flashes
    if flashes is None:
        session = conn.session
        flashes = conn._flashes = (
            [tuple(f) for f in session.pop(_FLASHES)] if _FLASHES in session else []
        )
    wanted = set(category_filter)
    if wanted:
        flashes = [f for f in flashes if f[0] in wanted]
    if with_categories:
        return list(flashes)
    return [message for _, message in flashes]
