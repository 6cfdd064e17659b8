"""Engines as Kettle configures them: the driver for each interface, lazy
transactions, and the per-request query count.

Lazy transactions
-----------------
A request that only reads should cost one round trip per query, as under Django's
autocommit; SQLAlchemy's default sends BEGIN before the first query and ROLLBACK
when the session closes (three round trips for one read). So connections run in
the driver's autocommit mode, and a real transaction starts just before the first
statement that is not a plain SELECT (or when :func:`kettle.db.transaction` asks):

- PostgreSQL: the driver leaves autocommit (psycopg and asyncpg do this without a
  round trip) and sends BEGIN itself with the next statement; autocommit is turned
  back on when the connection returns to the pool.
- SQLite, MySQL and MariaDB: ``BEGIN`` (``BEGIN IMMEDIATE`` on SQLite, which takes
  the write lock at once) is sent before the statement; COMMIT or ROLLBACK ends it.
- Other databases run SQLAlchemy's default: a transaction per session.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import sys
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL
from sqlalchemy.engine import Connection
from sqlalchemy.engine import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.pool import AsyncAdaptedQueuePool
from sqlalchemy.util import await_
from sqlalchemy.util.queue import Empty
from sqlalchemy.util.queue import Full
from sqlalchemy.util.queue import Queue as _SyncQueue
from sqlalchemy.util.queue import QueueCommon

from ..exceptions import ImproperlyConfigured

if TYPE_CHECKING:
    from sqlalchemy.engine.interfaces import DBAPIConnection
    from sqlalchemy.ext.asyncio import AsyncEngine
    from sqlalchemy.orm import Session
    from sqlalchemy.pool import ConnectionPoolEntry
    from sqlalchemy.pool import PoolResetState

__all__ = (
    "QueryBudgetExceeded",
    "QueryStats",
    "begin_now",
    "create_async_engine",
    "create_sync_engine",
    "driver_urls",
    "holds_transaction",
    "needs_commit",
)

log = logging.getLogger("kettle.db")

#: The driver each interface uses when the URL names none (or one that cannot
#: serve that interface).
_SYNC_DRIVERS = {
    "postgresql": "psycopg",
    "mysql": "pymysql",
    "mariadb": "pymysql",
    "sqlite": "pysqlite",
    "oracle": "oracledb",
    "mssql": "pyodbc",
}
_ASYNC_DRIVERS = {
    "postgresql": "asyncpg",
    "mysql": "asyncmy",
    "mariadb": "asyncmy",
    "sqlite": "aiosqlite",
    "oracle": "oracledb_async",
    "mssql": "aioodbc",
}
_ASYNC_CAPABLE = {
    "asyncpg",
    "psycopg",
    "psycopg_async",
    "aiosqlite",
    "asyncmy",
    "aiomysql",
    "oracledb_async",
    "aioodbc",
}
_SYNC_CAPABLE = {
    "psycopg",
    "psycopg2",
    "pg8000",
    "pysqlite",
    "pymysql",
    "mysqldb",
    "mysqlconnector",
    "mariadbconnector",
    "oracledb",
    "cx_oracle",
    "pyodbc",
    "pymssql",
}
#: Dialects whose connections run in autocommit until the first write, and how a
#: transaction starts on them.
_LAZY = {
    "postgresql": "isolation",
    "sqlite": "begin",
    "mysql": "begin",
    "mariadb": "begin",
}
_BEGIN_SQL = {"sqlite": "BEGIN IMMEDIATE", "mysql": "BEGIN", "mariadb": "BEGIN"}


def driver_urls(url: str | URL) -> tuple[URL, URL]:
    """The sync and the async SQLAlchemy URL for a database URL.

    ``postgresql://...`` becomes ``postgresql+psycopg://`` and
    ``postgresql+asyncpg://``; a driver named in the URL is kept for the interfaces
    it serves.
    """
    try:
        parsed = make_url(url)
    except Exception as exc:
        raise ImproperlyConfigured(f"invalid database URL {url!r}: {exc}") from None
    backend = parsed.get_backend_name()
    if backend == "postgres":  # the old scheme Heroku and others still hand out
        backend = "postgresql"
    driver = parsed.drivername.partition("+")[2]
    if backend not in _SYNC_DRIVERS and not driver:
        raise ImproperlyConfigured(
            f"database URL {parsed.render_as_string(hide_password=True)!r}: unknown "
            f"database {backend!r}; name the driver (dialect+driver://...)"
        )
    sync_driver = driver if driver in _SYNC_CAPABLE else _SYNC_DRIVERS.get(backend)
    async_driver = driver if driver in _ASYNC_CAPABLE else _ASYNC_DRIVERS.get(backend)
    if driver and driver not in _SYNC_CAPABLE and driver not in _ASYNC_CAPABLE:
        sync_driver = async_driver = driver  # a third-party driver: trust it
    return (
        parsed.set(drivername=f"{backend}+{sync_driver}"),
        parsed.set(drivername=f"{backend}+{async_driver}"),
    )


class QueryBudgetExceeded(RuntimeError):
    """A request ran more SQL statements than its query budget allows."""


class QueryStats:
    """What one request asked of the database: how many statements, and how long
    they took (seconds, from sending each until its result was ready)."""

    __slots__ = ("_t0", "budget", "count", "raise_over", "time", "where", "warned")

    def __init__(
        self, budget: int | None = None, where: str = "", raise_over: bool = True
    ) -> None:
        self.count = 0
        self.time = 0.0
        self.budget = budget
        self.where = where
        self.raise_over = raise_over
        self.warned = False
        self._t0 = 0.0

    def __repr__(self) -> str:
        return f"<QueryStats {self.count} queries, {self.time * 1000:.2f} ms>"

    def add(self, statement: str) -> None:
        """Count ``statement``, about to run: past the budget, raise
        :class:`QueryBudgetExceeded` (or warn once, when ``raise_over`` is
        off)."""
        if self.budget is not None and self.count >= self.budget:
            self.over_budget(statement)
        self.count += 1

    def over_budget(self, statement: str) -> None:
        """Called before a statement that would exceed the budget."""
        message = (
            f"query budget exceeded{' in ' + self.where if self.where else ''}: "
            f"statement {self.count + 1} of a budget of {self.budget} "
            f"({statement.strip().splitlines()[0][:120]!r}, at {caller()})"
        )
        if self.raise_over:
            raise QueryBudgetExceeded(message)
        if not self.warned:
            self.warned = True
            log.warning(message)


def caller() -> str:
    """``file:line`` of the innermost frame outside SQLAlchemy and Kettle's db
    package: where the application asked for the query."""
    frame: Any = sys._getframe(1)
    while frame is not None:
        name = frame.f_globals.get("__name__", "")
        if not (
            name.startswith("sqlalchemy.")
            or name.startswith("kettle.db")
            or name.startswith("asyncio")
            or name == "contextlib"
        ):
            code = frame.f_code
            return f"{code.co_filename}:{frame.f_lineno} in {code.co_name}"
        frame = frame.f_back
    return "?"


# -- lazy transactions ---------------------------------------------------------------

_TX = "kettle_tx"  # in a connection's info: a transaction Kettle began is open
STATS = "kettle_stats"  # in a connection's info: the QueryStats it counts into

_reads: dict[str, bool] = {}
_LOCKING = (" FOR UPDATE", " FOR SHARE", " FOR NO KEY", " FOR KEY SHARE", " LOCK IN")


def _is_read(statement: str) -> bool:
    """Whether a statement may run outside a transaction: a SELECT that locks no
    rows. Memoised: SQLAlchemy's compiled cache hands out the same strings."""
    known = _reads.get(statement)
    if known is not None:
        return known
    head = statement.lstrip(" \t\r\n(")[:6].upper()
    upper = statement.upper()
    read = head == "SELECT" and not any(lock in upper for lock in _LOCKING)
    if len(_reads) < 4096:
        _reads[statement] = read
    return read


def holds_transaction(connection: Connection) -> bool:
    """Whether ``connection`` may hold work to commit: a transaction Kettle began
    on it (a write, or :func:`begin_now`), or any use of a database that does not
    run lazy transactions."""
    return connection.dialect.name not in _LAZY or bool(connection.info.get(_TX))


def needs_commit(session: Session) -> bool:
    """Whether ``session`` has anything to commit: changes not yet flushed, or a
    transaction open on one of its connections (a write, or
    :func:`~kettle.db.transaction`, began one). A session that only read has
    nothing: its reads ran in autocommit."""
    tx = session.get_transaction()
    if tx is None:
        return False
    if session._new or session._deleted or session.identity_map._modified:
        return True
    for connection, *_ in tx._connections.values():
        if holds_transaction(connection):
            return True
    return False


def begin_now(connection: Connection) -> None:
    """Start a real transaction on ``connection`` if it is still in autocommit."""
    info = connection.info
    if info.get(_TX):
        return
    dialect = connection.dialect
    how = _LAZY.get(dialect.name)
    if how is None:
        return
    dbapi_conn = connection.connection.dbapi_connection
    if dbapi_conn is None or not dialect.detect_autocommit_setting(dbapi_conn):
        return  # already transactional (an isolation level the user set, say)
    info[_TX] = True
    if how == "isolation":
        dialect.set_isolation_level(dbapi_conn, _default_level(dialect))
    else:
        cursor = dbapi_conn.cursor()
        try:
            cursor.execute(_BEGIN_SQL[dialect.name])
        finally:
            cursor.close()


def _default_level(dialect: Any) -> Any:
    level = dialect.default_isolation_level
    if not level or level == "AUTOCOMMIT":
        return "READ COMMITTED"
    return level


def _execution_context(base: type[Any]) -> type[Any]:
    """The dialect's execution context, plus Kettle's per-statement work: the lazy
    BEGIN and the request's query count and time.

    This is done here rather than in ``before/after_cursor_execute`` listeners:
    any ``ConnectionEvents`` listener puts SQLAlchemy on its event-dispatching
    path for every statement, commit and rollback, which cost more than the
    work itself (a tenth of a one-query request).
    """

    class KettleExecutionContext(base):  # type: ignore[misc]
        _kettle_t0 = 0.0

        def pre_exec(self) -> None:
            super().pre_exec()
            info = self.root_connection.info
            if not info.get(_TX) and not _is_read(self.statement):
                begin_now(self.root_connection)
            stats: QueryStats | None = info.get(STATS)
            if stats is not None:
                stats.add(self.statement)
                self._kettle_stats = stats
                self._kettle_t0 = time.perf_counter()

        def post_exec(self) -> None:
            super().post_exec()
            if self._kettle_t0:
                self._kettle_stats.time += time.perf_counter() - self._kettle_t0

    KettleExecutionContext.__qualname__ = f"Kettle{base.__name__}"
    return KettleExecutionContext


def _info(proxied: Any) -> dict[Any, Any] | None:
    try:
        info: dict[Any, Any] = proxied.info
    except NotImplementedError:  # the ad-hoc proxy of first-connect checks
        return None
    return info


def _transaction_end(dialect: Any) -> None:
    """End a BEGIN-started transaction with the driver's commit or rollback
    (SQLite, MySQL and MariaDB): wraps the dialect's ``do_commit`` and
    ``do_rollback``, which receive the pool's proxy of the connection."""
    commit = dialect.do_commit
    rollback = dialect.do_rollback

    def do_commit(proxied: Any) -> None:
        # The driver sends COMMIT (SQLAlchemy calls its commit() even in
        # autocommit mode); the BEGIN-started transaction is over after it.
        commit(proxied)
        info = _info(proxied)
        if info:
            info.pop(_TX, None)

    def do_rollback(proxied: Any) -> None:
        # With skip_autocommit_rollback, SQLAlchemy skips the driver's rollback()
        # on an autocommit connection, which would leave a BEGIN-started
        # transaction open: roll it back here.
        info = _info(proxied)
        if info and info.pop(_TX, None):
            proxied.dbapi_connection.rollback()
        else:
            rollback(proxied)

    dialect.do_commit = do_commit
    dialect.do_rollback = do_rollback


def _on_reset(
    dbapi_conn: DBAPIConnection,
    record: ConnectionPoolEntry,
    state: PoolResetState,
    *,
    dialect: Any,
) -> None:
    info = record.info
    info.pop(STATS, None)
    if not info.pop(_TX, False) or state.terminate_only or not state.asyncio_safe:
        return
    if dialect.name == "postgresql":
        if not state.transaction_was_reset:
            dbapi_conn.rollback()
        dialect.set_isolation_level(dbapi_conn, "AUTOCOMMIT")
    else:
        dbapi_conn.rollback()


def _sqlite_connect(dbapi_conn: Any, record: Any) -> None:
    cursor = dbapi_conn.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        cursor.close()


def _instrument(engine: Engine) -> None:
    dialect = engine.dialect
    if dialect.name in _LAZY:
        if dialect.name != "postgresql":
            _transaction_end(dialect)

        def on_reset(dbapi_conn: Any, record: Any, state: Any) -> None:
            _on_reset(dbapi_conn, record, state, dialect=dialect)

        on_reset.kettle_reset = True  # type: ignore[attr-defined]
        event.listen(engine.pool, "reset", on_reset)
    if dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_connect)
    context_cls = _execution_context(dialect.execution_ctx_cls)

    def ready(dbapi_conn: Any, record: Any) -> None:
        # Installed once the dialect's first-connect initialize() has run (it is
        # a "connect" listener registered before this one): its SHOW and
        # version queries must not start transactions.
        dialect.execution_ctx_cls = context_cls

    event.listen(engine, "connect", ready)


class _FairQueue(QueueCommon[Any]):
    """The asyncio pool's queue of idle connections, first come first served: a
    connection coming back goes straight to the task that has waited longest.

    SQLAlchemy's queue wakes that task but leaves the connection in the queue,
    where a task arriving meanwhile can take it; the woken one then queues again
    at the back. Under load (more requests than connections) some requests waited
    hundreds of milliseconds that way.
    """

    def __init__(self, maxsize: int = 0, use_lifo: bool = False) -> None:
        self.maxsize = maxsize
        self.use_lifo = use_lifo
        self._items: collections.deque[Any] = collections.deque()
        self._waiters: collections.deque[asyncio.Future[Any]] = collections.deque()

    def empty(self) -> bool:
        return not self._items

    def full(self) -> bool:
        return 0 < self.maxsize <= len(self._items)

    def qsize(self) -> int:
        return len(self._items)

    def put_nowait(self, item: Any) -> None:
        waiters = self._waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():  # not timed out or cancelled
                waiter.set_result(item)
                return
        if self.full():
            raise Full()
        self._items.append(item)

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        self.put_nowait(item)  # never full while connections are counted out

    def get_nowait(self) -> Any:
        items = self._items
        if not items:
            raise Empty()
        return items.pop() if self.use_lifo else items.popleft()

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        if self._items or not block:
            return self.get_nowait()
        try:
            return await_(self.wait(timeout))
        except TimeoutError:
            raise Empty() from None

    async def wait(self, timeout: float | None) -> Any:
        """The next item put, once every task that waited longer has its own;
        ``TimeoutError`` after ``timeout`` seconds (None: no limit)."""
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            return await asyncio.wait_for(waiter, timeout)
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self.put_nowait(waiter.result())  # handed over as we stopped
            raise

    def peek(self) -> Any:
        """The item :meth:`get_nowait` would take (the queue holds one)."""
        return self._items[-1] if self.use_lifo else self._items[0]

    def put_back(self, item: Any) -> None:
        """Put ``item`` where :meth:`get_nowait` takes the next one from."""
        if self.use_lifo:
            self._items.append(item)
        else:
            self._items.appendleft(item)


class Borrowed:
    """A pooled connection taken for Kettle's direct reads (:func:`borrow`)
    without SQLAlchemy's checkout: what those reads use of SQLAlchemy's
    ``_ConnectionFairy`` (``dbapi_connection``, ``driver_connection``,
    :meth:`invalidate`, :meth:`close`), at a fraction of its cost."""

    __slots__ = ("_pool", "_record", "dbapi_connection", "driver_connection")

    def __init__(self, pool: Any, record: Any) -> None:
        self._pool = pool
        self._record = record
        self.dbapi_connection = record.dbapi_connection
        self.driver_connection = record.driver_connection

    def close(self) -> None:
        """Give the connection back to the pool as SQLAlchemy's check-in would:
        it is in autocommit, with no transaction, so there is nothing to reset.
        A connection whose check-in someone began to listen to meanwhile is
        discarded (the pool opens a new one) rather than returned unannounced."""
        record = self._record
        if record is None:
            return
        self._record = None
        pool = self._pool
        if not _lean_events(pool):
            record.invalidate()
        pool._return_conn(record)  # closed instead when the queue is full

    def invalidate(self, e: BaseException | None = None) -> None:
        """Discard the connection (a driver error broke it, or a read was
        interrupted); its place in the pool is kept for a new one."""
        record = self._record
        if record is not None:
            record.invalidate(e)
            self.close()

    def __del__(self) -> None:
        # Never closed (its session was dropped): as for a fairy the garbage
        # collector finds, the connection is discarded and its place given back.
        record = self._record
        if record is None:
            return
        try:
            dialect = self._pool._dialect
            if dialect.is_async and not dialect.has_terminate:
                # closing it would need the event loop: dropped, not closed
                self._record = None
                record.dbapi_connection = None
                self._pool._return_conn(record)
            else:
                self.invalidate()
            log.warning(
                "a session was dropped without being closed: its database "
                "connection was discarded (close sessions, or use them in 'with')"
            )
        except Exception:  # at interpreter exit, the pool may be gone
            log.debug("a dropped session's connection could not be discarded")


def _lean_events(pool: Any) -> bool:
    """Whether SQLAlchemy's checkout and check-in of ``pool`` would do nothing
    a :class:`Borrowed` connection skips: no ``checkout`` or ``checkin``
    listener, no ``reset`` listener but Kettle's own (which has nothing to undo
    on a connection that held no transaction), no debug logging of each."""
    dispatch = pool.dispatch
    if dispatch.checkout or dispatch.checkin or pool._should_log_debug():
        return False
    for fn in dispatch.reset:
        if not getattr(fn, "kettle_reset", False):
            return False
    return True


def _lean_queue(pool: Any) -> Any:
    """The queue of ``pool``'s idle connections, when one can be taken from it
    as it is (see :func:`borrow`); None otherwise."""
    queue = getattr(pool, "_pool", None)
    if (
        type(queue) not in _LEAN_QUEUES
        # connections in autocommit: nothing for a reset on return to end
        or not getattr(getattr(pool, "_dialect", None), "_kettle_autocommit", False)
        or getattr(pool, "_pre_ping", True)
        or getattr(pool, "_recycle", 0) >= 0
        or not _lean_events(pool)
    ):
        return None
    return queue


def _fit(pool: Any, record: Any) -> bool:
    """Whether ``record``'s connection is used as it is by SQLAlchemy's checkout:
    open, and not invalidated (the whole pool's, or this one) since it opened."""
    started = getattr(record, "starttime", None)
    return (
        record.dbapi_connection is not None
        and started is not None
        and getattr(pool, "_invalidate_time", None) is not None
        and pool._invalidate_time <= started
        and getattr(record, "_soft_invalidate_time", started + 1) <= started
    )


def _put_back(pool: Any, queue: Any, record: Any) -> None:
    """Return a record :func:`borrow` took but may not use, for SQLAlchemy's
    checkout to take (and recycle)."""
    if isinstance(queue, _FairQueue):
        queue.put_back(record)  # never full; one thread
    else:
        # another thread may have filled the queue meanwhile: then the pool
        # closes the record's connection and counts it out, as at any return
        pool._return_conn(record)


def borrow(pool: Any) -> Borrowed | None:
    """An idle connection of a ``QueuePool`` (or :class:`FairAsyncPool`),
    taken without SQLAlchemy's checkout when that checkout would do nothing
    but take it: no ping before use (``pool_pre_ping``), no age limit
    (``pool_recycle``), no listener (see :func:`_lean_events`), a connection
    open and not invalidated. None otherwise (the caller takes one from the
    pool as SQLAlchemy does): no idle connection, or one that is not fit.

    The pool counts it as checked out until :meth:`Borrowed.close`. It never
    waits, and never opens a connection, so it needs no greenlet bridge."""
    queue = _lean_queue(pool)
    if queue is None:
        return None
    try:
        record = queue.get_nowait()
    except Empty:
        return None
    if _fit(pool, record):
        return Borrowed(pool, record)
    _put_back(pool, queue, record)
    return None


class FairAsyncPool(AsyncAdaptedQueuePool):
    """SQLAlchemy's asyncio pool with a first-come-first-served queue (the pool
    of Kettle's async engines unless ``DATABASE_ENGINE_OPTIONS`` names one)."""

    _queue_class = _FairQueue

    def __init__(self, creator: Any, *args: Any, **kw: Any) -> None:
        super().__init__(creator, *args, **kw)
        self._kettle_max_overflow: int = kw.get("max_overflow", 10)

    async def connect_async(self) -> Borrowed | None:
        """An idle connection taken at once (:func:`borrow`), or, when the pool
        is at its limit, the connection the next request to finish hands over,
        awaited here rather than through the greenlet bridge (first come, first
        served, and the pool's ``timeout``). None when :meth:`connect` must be
        used: a connection to open, or one that is not fit to use as it is."""
        borrowed = borrow(self)
        if borrowed is not None:
            return borrowed
        queue = _lean_queue(self)
        limit = self._kettle_max_overflow
        if queue is None or not queue.empty() or limit < 0 or self.overflow() < limit:
            return None
        try:
            record = await queue.wait(self.timeout())
        except TimeoutError:
            from sqlalchemy import exc

            raise exc.TimeoutError(
                f"QueuePool limit of size {self.size()} overflow "
                f"{self.overflow()} reached, connection timed out, timeout "
                f"{self.timeout():.2f}",
                code="3o7r",
            ) from None
        if _fit(self, record) and _lean_events(self):
            return Borrowed(self, record)
        queue.put_back(record)  # where connect() takes it from; nothing ran between
        return None


#: The queues :func:`borrow` takes from (a subclass may behave otherwise).
_LEAN_QUEUES = (_SyncQueue, _FairQueue)


def _engine_options(url: URL, options: Mapping[str, Any], echo: bool) -> dict[str, Any]:
    opts: dict[str, Any] = {"echo": echo}
    backend = url.get_backend_name()
    if backend in _LAZY:
        opts["isolation_level"] = "AUTOCOMMIT"
        # The pool's reset would otherwise send a ROLLBACK through drivers that
        # cannot tell it is not needed (a transaction Kettle began is ended by
        # _on_reset and the wrapped do_rollback instead).
        opts["skip_autocommit_rollback"] = True
    if backend == "sqlite" and url.database in (None, "", ":memory:"):
        from sqlalchemy.pool import StaticPool

        # One in-memory database, shared by every thread.
        opts["poolclass"] = StaticPool
        opts["connect_args"] = {"check_same_thread": False}
    opts.update(options)
    return opts


def create_sync_engine(
    url: URL, options: Mapping[str, Any] | None = None, echo: bool = False
) -> Engine:
    """A SQLAlchemy engine with Kettle's lazy transactions and query counting."""
    from sqlalchemy import create_engine

    opts = _engine_options(url, options or {}, echo)
    try:
        engine = create_engine(url, **opts)
    except ImportError as exc:
        raise _missing_driver(url, exc) from exc
    _instrument(engine)
    _mark_autocommit(engine, opts)
    return engine


def _mark_autocommit(engine: Engine, opts: Mapping[str, Any]) -> None:
    """Note on the dialect (which its pool keeps, also when recreated) whether
    every pooled connection is in the driver's autocommit mode."""
    engine.dialect._kettle_autocommit = (  # type: ignore[attr-defined]
        opts.get("isolation_level") == "AUTOCOMMIT"
    )


def create_async_engine(
    url: URL, options: Mapping[str, Any] | None = None, echo: bool = False
) -> AsyncEngine:
    """The asyncio form of :func:`create_sync_engine`."""
    from sqlalchemy.ext.asyncio import create_async_engine as create

    opts = _engine_options(url, options or {}, echo)
    if url.get_backend_name() == "sqlite" and opts.get("poolclass") is not None:
        opts.pop("connect_args", None)
    opts.setdefault("poolclass", FairAsyncPool)
    try:
        engine = create(url, **opts)
    except ImportError as exc:
        raise _missing_driver(url, exc) from exc
    _instrument(engine.sync_engine)
    _mark_autocommit(engine.sync_engine, opts)
    return engine


_EXTRAS = {
    "psycopg": "kettle[postgresql]",
    "asyncpg": "kettle[postgresql]",
    "pymysql": "kettle[mysql]",
    "asyncmy": "kettle[mysql]",
    "aiosqlite": "kettle[db]",
    "oracledb": "oracledb",
}


def _missing_driver(url: URL, exc: ImportError) -> ImproperlyConfigured:
    driver = url.get_driver_name()
    extra = _EXTRAS.get(driver, driver)
    return ImproperlyConfigured(
        f"the database driver {driver!r} for {url.get_backend_name()} is not "
        f"installed ({exc}); install it: pip install '{extra}'"
    )
