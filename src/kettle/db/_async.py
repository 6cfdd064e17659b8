"""The ``AsyncSession`` Kettle hands out (imported when one is first made: it
needs SQLAlchemy's asyncio extension, and so greenlet)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import IteratorResult
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.util import greenlet_spawn

from ._direct import Compiled
from ._direct import fetch_async
from .database import _MISSING
from .database import KettleSession
from .engine import Borrowed
from .engine import FairAsyncPool
from .engine import QueryBudgetExceeded
from .engine import _lean_events

__all__ = ("KettleAsyncSession",)


class KettleAsyncSession(AsyncSession):
    """SQLAlchemy's own :class:`~sqlalchemy.ext.asyncio.AsyncSession`, over a
    :class:`~kettle.db.database.KettleSession`, whose direct reads (see
    :mod:`kettle.db._direct`) are awaited on asyncpg's own connection, without
    SQLAlchemy's greenlet bridge. On other drivers, and for everything else,
    the sync session's methods run in that bridge as usual."""

    sync_session: KettleSession

    async def get(self, entity: Any, ident: Any, **kwargs: Any) -> Any:
        """SQLAlchemy's :meth:`~sqlalchemy.ext.asyncio.AsyncSession.get`, the
        same in every result."""
        sync = self.sync_session
        plan = sync._planned_get(entity, ident, kwargs)
        if (
            plan is None
            or plan.columns is None
            or (sync.autoflush and not sync._is_clean())
            or not sync._quiet_load(plan)
        ):
            return await super().get(entity, ident, **kwargs)
        found = sync.identity_map.get((plan.identity_class, (ident,), None))
        if found is not None:
            if not found._sa_instance_state.expired:
                return found
            return await super().get(entity, ident, **kwargs)
        bind = sync._bind_for(plan.manager.mapper)
        compiled = _asyncpg_plan(sync, bind, plan)
        if compiled is None:
            return await super().get(entity, ident, **kwargs)
        row = await self._fetch(bind, compiled, {"kettle_pk": ident}, False)
        if row is None:
            return None
        instance = _MISSING if row is _MISSING else sync._loaded(plan, row)
        if instance is _MISSING:
            return await super().get(entity, ident, **kwargs)
        return instance

    async def execute(self, statement: Any, params: Any = None, **kwargs: Any) -> Any:
        """SQLAlchemy's :meth:`~sqlalchemy.ext.asyncio.AsyncSession.execute`
        (and so ``scalars()``), reading a ``select(Model)`` directly as
        :meth:`KettleSession.execute <kettle.db.database.KettleSession.execute>`
        does."""
        if params is None and not any(kwargs.values()):
            result = await self._select_direct(statement)
            if result is not _MISSING:
                return result
        return await super().execute(statement, params, **kwargs)

    async def _select_direct(self, statement: Any) -> Any:
        sync = self.sync_session
        planned = sync._planned_select(statement)
        if planned is None or (sync.autoflush and not sync._is_clean()):
            return _MISSING
        plan, values = planned
        bind = sync._bind_for(plan.mapper)
        if plan.entity is None and bind.dialect not in plan.metadata:
            return _MISSING  # the sync session learns its keys first
        compiled = _asyncpg_plan(sync, bind, plan)
        if compiled is None:
            return _MISSING
        rows = await self._fetch(bind, compiled, values, True)
        if rows is _MISSING:
            return _MISSING
        if plan.entity is None:
            # asyncpg's records, as the tuples SQLAlchemy's rows hold
            return IteratorResult(plan.metadata[bind.dialect], map(tuple, rows))
        return sync._result(plan.entity, rows)

    async def close(self) -> None:
        """SQLAlchemy's :meth:`~sqlalchemy.ext.asyncio.AsyncSession.close`;
        without the greenlet bridge when nothing in it can wait on the database
        (see :func:`_closes_at_once`)."""
        sync = self.sync_session
        if _closes_at_once(sync):
            sync.close()
        else:
            await super().close()

    async def _fetch(
        self, bind: Any, compiled: Compiled, values: Any, all_rows: bool
    ) -> Any:
        """Rows read on asyncpg's connection, or ``_MISSING`` when the driver
        failed (SQLAlchemy then reads again, raising its own error or
        succeeding on a fresh connection)."""
        sync = self.sync_session
        fairy = sync._kettle_fairy
        if fairy is None:
            fairy = await _connect(sync, bind)
        try:
            return await fetch_async(fairy, compiled, values, sync.info, all_rows)
        except QueryBudgetExceeded:
            raise
        except Exception as exc:
            # A server's error leaves the connection usable; anything else
            # (a lost connection) discards it.
            await greenlet_spawn(
                sync._release_direct, None if _server_error(exc) else exc
            )
            return _MISSING
        except BaseException:
            sync._kettle_fairy_broken = True
            raise


async def _connect(sync: KettleSession, bind: Any) -> Any:
    """The direct reads' connection of ``sync``, taken from ``bind``'s pool;
    without the greenlet bridge where Kettle's pool allows
    (:meth:`~kettle.db.engine.FairAsyncPool.connect_async`)."""
    pool = bind.pool
    if isinstance(pool, FairAsyncPool):
        fairy = await pool.connect_async()
        if fairy is not None:
            sync._kettle_fairy = fairy
            sync._kettle_fairy_engine = bind
            return fairy
    return await greenlet_spawn(sync._direct_connection, bind)


def _closes_at_once(sync: KettleSession) -> bool:
    """Whether closing ``sync`` sends nothing to the database: no transaction to
    end, and the direct reads' connection (if any) goes back to the pool's
    queue as it is (autocommit: nothing to roll back; room in the queue: not
    closed; taken by :func:`~kettle.db.engine.borrow`, or else no listener but
    Kettle's own)."""
    if sync.in_transaction():
        return False
    fairy = sync._kettle_fairy
    if fairy is None:
        return True
    pool = sync._kettle_fairy_engine.pool
    if (
        sync._kettle_fairy_broken
        or sync._kettle_cursor is not None  # an adapter's cursor: closed in the bridge
        or not isinstance(pool, FairAsyncPool)
        or pool.checkedin() >= pool.size()  # an overflow connection, to close
    ):
        return False
    if isinstance(fairy, Borrowed):
        # a listener added meanwhile: it is discarded, in the bridge
        return _lean_events(pool)
    if (
        pool.dispatch.checkin
        or not all(getattr(fn, "kettle_reset", False) for fn in pool.dispatch.reset)
        or fairy.dbapi_connection is None
    ):
        return False
    try:
        dialect = sync._kettle_fairy_engine.dialect
        return bool(dialect.detect_autocommit_setting(fairy.dbapi_connection))
    except Exception:  # a driver that cannot tell: close it the usual way
        return False


def _asyncpg_plan(sync: KettleSession, bind: Any, plan: Any) -> Compiled | None:
    """The plan's statement compiled for asyncpg, when ``bind`` uses asyncpg and
    may be read directly (other drivers read directly in the greenlet bridge)."""
    if bind.dialect.driver != "asyncpg":
        return None
    return sync._direct_plan(bind, plan.compiled, plan.columns, plan.bind_keys)


def _server_error(exc: Exception) -> bool:
    import asyncpg  # type: ignore[import-untyped]

    return isinstance(exc, asyncpg.PostgresError)
