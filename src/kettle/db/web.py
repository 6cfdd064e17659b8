"""Sessions in handlers: ``db: Session`` and ``db: AsyncSession`` parameters, one
session per request, committed when the handler succeeds, rolled back when it
raises, closed either way; and the request's query count and time."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from collections.abc import Callable
from collections.abc import Iterator
from logging import DEBUG
from typing import TYPE_CHECKING
from typing import Any
from typing import TypeVar

from ..requests import HTTPConnection
from .database import Database
from .database import get_database
from .engine import QueryStats
from .engine import needs_commit

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession
    from sqlalchemy.orm import Session

    from ..app import Kettle
    from ..responses import Response

__all__ = ("query_budget", "query_stats", "replica", "session_provider")

log = logging.getLogger("kettle.db")
F = TypeVar("F", bound=Callable[..., Any])
_BUDGET = "kettle_query_budget"
_STATS = "kettle_db_stats"  # in request.state: the request's QueryStats


def query_budget(limit: int) -> Callable[[F], F]:
    """Let the decorated handler run at most ``limit`` SQL statements per request
    (overrides ``DATABASE_QUERY_BUDGET``). Going over raises
    :class:`~kettle.db.QueryBudgetExceeded` in debug and testing, and logs a
    warning otherwise."""
    if not isinstance(limit, int) or limit < 0:
        raise ValueError(f"query_budget(): {limit!r} is not a count of queries")

    def decorate(func: F) -> F:
        setattr(func, _BUDGET, limit)
        return func

    return decorate


def query_stats(conn: HTTPConnection) -> QueryStats | None:
    """The request's :class:`~kettle.db.QueryStats` (None before it used a
    session, or when it does not count; see ``DATABASE_QUERY_STATS``)."""
    state = conn.state
    return getattr(state, _STATS) if _STATS in state else None


def _stats(conn: HTTPConnection, db: Database) -> QueryStats | None:
    """The request's statistics, made on its first session: when the app counts
    queries (``DATABASE_QUERY_STATS``), a budget applies, or the ``kettle.db``
    logger would log them."""
    route = conn.route
    budget = db.query_budget
    if route is not None:
        budget = getattr(route.endpoint, _BUDGET, budget)
    if budget is None and not db.query_stats and not log.isEnabledFor(DEBUG):
        return None  # nothing counts: the request's state is not even made
    state = conn.state
    if _STATS in state:
        stats: QueryStats = getattr(state, _STATS)
        return stats
    where = (route.name or "") if route is not None else ""
    stats = QueryStats(budget, where, raise_over=db.strict_loading)
    setattr(state, _STATS, stats)
    return stats


def _report(conn: HTTPConnection, stats: QueryStats | None, debug: bool) -> None:
    level = logging.INFO if debug else DEBUG
    if stats is not None and log.isEnabledFor(level):
        log.log(
            level,
            "%s %s: %d queries, %.2f ms in the database",
            getattr(conn, "method", "WS"),
            conn.path,
            stats.count,
            stats.time * 1000,
        )


def session_provider(app: Kettle, annotation: type) -> Callable[..., Any]:
    """The provider behind a ``Session`` or ``AsyncSession`` parameter (found by
    :class:`kettle.handlers.Injectables`)."""
    from sqlalchemy.ext.asyncio import AsyncSession

    db = get_database(app)
    _install_reporting(db)
    _install_conflict_handler(db)
    if issubclass(annotation, AsyncSession):
        return _async_provider(db)
    return _sync_provider(db)


def _sync_provider(db: Database, bind: str | None = None) -> Callable[..., Any]:
    readonly = bind is not None
    debug = bool(db.app.config.get("DEBUG"))

    def sync_session(conn: HTTPConnection) -> Iterator[Session]:
        stats = _stats(conn, db)
        session = db.session(bind=bind, readonly=readonly, stats=stats)
        try:
            yield session
            if needs_commit(session):
                session.commit()
        finally:
            session.close()  # rolls back what was not committed
            _report(conn, stats, debug)

    sync_session.kettle_handler_kind = "sync"  # type: ignore[attr-defined]
    sync_session.kettle_kind_hint = (  # type: ignore[attr-defined]
        "is a sync Session in an async def handler, where its queries would block "
        "the event loop: annotate it AsyncSession, or make the handler a def"
    )
    return sync_session


def _async_provider(db: Database, bind: str | None = None) -> Callable[..., Any]:
    readonly = bind is not None
    debug = bool(db.app.config.get("DEBUG"))

    async def async_session(conn: HTTPConnection) -> AsyncIterator[AsyncSession]:
        stats = _stats(conn, db)
        session = db.async_session(bind=bind, readonly=readonly, stats=stats)
        try:
            yield session
            if needs_commit(session.sync_session):
                await session.commit()
        finally:
            await session.close()
            _report(conn, stats, debug)

    async_session.kettle_handler_kind = "async"  # type: ignore[attr-defined]
    async_session.kettle_kind_hint = (  # type: ignore[attr-defined]
        "is an AsyncSession in a def handler, which has no event loop to run it: "
        "annotate it Session, or make the handler async def"
    )
    return async_session


_replicas: dict[tuple[str, bool], Callable[..., Any]] = {}


def replica(name: str, *, asynchronous: bool = False) -> Callable[..., Any]:
    """A provider of a read-only session on the database ``name`` of
    ``DATABASE_BINDS``, for ``Depends()``::

        ReadDB = Annotated[Session, Depends(replica("replica"))]

        @app.get("/posts")
        def posts(db: ReadDB): ...

    Every statement of that session goes to ``name``; it refuses to write. Pass
    ``asynchronous=True`` for an ``AsyncSession`` in ``async def`` handlers.
    """
    made = _replicas.get((name, asynchronous))
    if made is not None:
        return made  # the same provider each time: Depends() caches by provider

    def inner(conn: HTTPConnection) -> Callable[..., Any]:
        db = get_database(conn.app)
        providers = db.replica_providers
        provider = providers.get((name, asynchronous))
        if provider is None:
            db._check_key(name)
            make = _async_provider if asynchronous else _sync_provider
            provider = providers[(name, asynchronous)] = make(db, name)
        return provider

    if asynchronous:

        async def async_replica(conn: HTTPConnection) -> AsyncIterator[AsyncSession]:
            async for session in inner(conn)(conn):
                yield session

        async_replica.kettle_handler_kind = "async"  # type: ignore[attr-defined]
        made = async_replica
    else:

        def sync_replica(conn: HTTPConnection) -> Iterator[Session]:
            yield from inner(conn)(conn)

        sync_replica.kettle_handler_kind = "sync"  # type: ignore[attr-defined]
        made = sync_replica
    made.__name__ = made.__qualname__ = f"replica_{name}"
    _replicas[(name, asynchronous)] = made
    return made


def _install_reporting(db: Database) -> None:
    """In debug, a ``Server-Timing`` header with the request's query count and
    time."""
    app = db.app
    if not app.config.get("DEBUG") or db.server_timing:
        return
    db.server_timing = True

    def server_timing(response: Response) -> Response:
        from ..context import request

        stats = query_stats(request._get_current_object())  # type: ignore[attr-defined]
        if stats is not None:
            response.headers.append(
                "Server-Timing",
                f'db;dur={stats.time * 1000:.2f};desc="{stats.count} queries"',
            )
        return response

    app.after_request(server_timing)


_CONFLICT = (
    "the request conflicts with data in the database: a value that must be unique "
    "is taken, or a reference points to a row that does not exist"
)


def _install_conflict_handler(db: Database) -> None:
    """Answer a constraint violation that reaches the app (an ``IntegrityError``
    from a flush or the request's commit; the session is rolled back) with 409
    Conflict instead of 500. In debug the database's own message is added. An
    app's own handler for ``IntegrityError`` (or one of its bases, registered
    before the first route that takes a session) wins."""
    from sqlalchemy.exc import IntegrityError

    app = db.app
    mine = [c for c in IntegrityError.__mro__ if c not in (Exception, BaseException)]
    if any(c in app.error_handlers for c in mine):
        return
    debug = bool(app.config.get("DEBUG"))

    def conflict(exc: IntegrityError) -> Response:
        from ..context import request
        from ..errors import error_response

        detail = _CONFLICT
        if debug:
            detail += f" ({str(exc.orig).strip().splitlines()[0][:300]})"
        return error_response(request._get_current_object(), 409, detail)  # type: ignore[attr-defined]

    app.register_error_handler(IntegrityError, conflict)
