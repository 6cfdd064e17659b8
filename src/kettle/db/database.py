"""An app's databases: engines made from its settings, and sessions on them."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import threading
import uuid
from collections.abc import Iterator
from collections.abc import Mapping
from typing import TYPE_CHECKING
from typing import Any

from sqlalchemy import MetaData
from sqlalchemy import bindparam
from sqlalchemy import event
from sqlalchemy import inspect as _inspect
from sqlalchemy import select
from sqlalchemy.engine import URL
from sqlalchemy.engine import Connection
from sqlalchemy.engine import Engine
from sqlalchemy.engine import IteratorResult
from sqlalchemy.engine.result import SimpleResultMetaData
from sqlalchemy.orm import ColumnProperty
from sqlalchemy.orm import Mapper
from sqlalchemy.orm import Relationship
from sqlalchemy.orm import Session as _SASession
from sqlalchemy.orm import Synonym
from sqlalchemy.sql import ColumnElement
from sqlalchemy.sql import Select

from ..exceptions import ImproperlyConfigured
from ._direct import Compiled
from ._direct import compiled_for
from ._direct import direct_engine
from ._direct import fetch
from .engine import STATS
from .engine import QueryBudgetExceeded
from .engine import QueryStats
from .engine import begin_now
from .engine import borrow
from .engine import caller
from .engine import create_async_engine
from .engine import create_sync_engine
from .engine import driver_urls
from .model import Model

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine
    from sqlalchemy.ext.asyncio import AsyncSession
    from sqlalchemy.orm import ORMExecuteState

    from ..app import Kettle

__all__ = (
    "Database",
    "NPlusOneError",
    "ReadOnlySessionError",
    "get_database",
)

_create_lock = threading.Lock()


class NPlusOneError(RuntimeError):
    """A relationship was lazy-loaded on one of many rows a query returned: one
    more query per row (an "N+1"). Raised when strict loading is on (in debug and
    tests)."""


class ReadOnlySessionError(RuntimeError):
    """A session reading from a replica was asked to write."""


_NOT_PLANNED: Any = object()
_MISSING: Any = object()
_FAST_IDENTS = (int, str, uuid.UUID)
#: Relationship loading that runs only when the attribute is used: rows of a class
#: with only these can be loaded without the ORM's eager-loading steps.
_ON_ACCESS = {"select", "raise", "raise_on_sql", "noload", "dynamic", "write_only"}


class _GetPlan:
    """How :meth:`KettleSession.get` reads one row of a class by primary key.

    ``statement`` is the ORM SELECT, built once. Where the class maps plain
    columns of one table (no deferred or expression columns, no eagerly loaded
    relationships, no composite), ``columns`` is a Core SELECT of those columns
    and ``keys`` their attribute names: the row is then read in Core and the
    object made as SQLAlchemy's loader makes a new one (an instance without
    ``__init__``, its attributes set, put in the identity map), skipping the
    ORM's per-query set-up.
    """

    __slots__ = (
        "columns",
        "compiled",
        "identity_class",
        "metadata",
        "keys",
        "manager",
        "pk_index",
        "statement",
    )

    def __init__(self, mapper: Mapper[Any]) -> None:
        pk = mapper.primary_key[0]
        where = pk == bindparam("kettle_pk", type_=pk.type)
        self.statement = select(mapper).where(where)
        self.identity_class = mapper._identity_class
        self.manager = mapper.class_manager
        self.columns: Any = None
        # the rows of select(Model), keyed as SQLAlchemy keys them
        self.metadata = SimpleResultMetaData(
            [mapper.class_.__name__], extra=[(mapper.class_,)]
        )
        #: ``columns`` compiled per dialect, for direct reads.
        self.compiled: dict[Any, Compiled | None] = {}
        self.keys: tuple[str, ...] = ()
        self.pk_index = 0
        props = mapper.column_attrs
        plain = all(
            len(prop.columns) == 1
            and not prop.deferred
            and prop.columns[0].table is mapper.local_table
            for prop in props
        ) and all(
            (isinstance(prop, Relationship) and prop.lazy in _ON_ACCESS)
            or isinstance(prop, (ColumnProperty, Synonym))
            for prop in mapper.attrs
        )
        if plain:
            columns: list[Any] = [prop.columns[0] for prop in props]
            self.columns = select(*columns).where(where)
            self.keys = tuple(prop.key for prop in props)
            self.pk_index = columns.index(pk)

    #: The keys of the parameters direct reads pass as a tuple (none: get() passes
    #: them by name).
    bind_keys: tuple[str, ...] | None = None


class _SelectPlan:
    """How a ``select(Model)`` statement of one shape (one cache key) is read
    directly: the same statement selecting the class's columns instead of the
    class (``columns``), whose rows become objects as :meth:`KettleSession.get`
    makes them (``entity``)."""

    __slots__ = ("bind_keys", "columns", "compiled", "entity")

    def __init__(self, entity: _GetPlan, statement: Any, cache_key: Any) -> None:
        self.entity = entity
        self.columns = statement.with_only_columns(
            *entity.columns.selected_columns, maintain_column_froms=True
        )
        self.compiled: dict[Any, Compiled | None] = {}
        self.bind_keys = tuple(bind.key for bind in cache_key.bindparams)

    @property
    def mapper(self) -> Any:
        return self.entity.manager.mapper


class _ColumnsPlan:
    """How a select of columns (``select(Post.id, Post.title)``: SQLAlchemy's
    form of Django's ``values()``) of one shape is read directly: the statement
    as it is, its rows as the driver gives them, in a result keyed as
    SQLAlchemy keyed the first result it made for the statement's shape
    (``metadata``, per dialect, since labels are cut to a dialect's identifier
    length). Until that first result, reads go through SQLAlchemy."""

    __slots__ = ("bind_keys", "columns", "compiled", "mapper", "metadata")

    entity = None

    def __init__(self, statement: Any, cache_key: Any, mapper: Any) -> None:
        self.columns = statement
        self.mapper = mapper
        self.compiled: dict[Any, Compiled | None] = {}
        self.bind_keys = tuple(bind.key for bind in cache_key.bindparams)
        self.metadata: dict[Any, Any] = {}

    def learn(self, dialect: Any, result: Any, compiled: Compiled | None) -> None:
        """Keep the keys of ``result``, SQLAlchemy's result for this shape, when
        its rows are the driver's rows as they are (``compiled``, the statement
        compiled for ``dialect``, reads them): one value per selected column, in
        order, none converted."""
        metadata = getattr(result, "_metadata", None)
        if (
            compiled is not None
            and isinstance(result, IteratorResult)
            and not result._source_supports_scalars
            and type(metadata) is SimpleResultMetaData
            and metadata._tuplefilter is None
            and metadata._processors is None
            and len(metadata._keys) == compiled.width
        ):
            self.metadata[dialect] = metadata


_Plan = _SelectPlan | _ColumnsPlan

#: Per cache key of a statement: its :class:`_SelectPlan` or
#: :class:`_ColumnsPlan`, or None where it cannot be read directly.
_select_plans: dict[Any, _Plan | None] = {}
_SELECT_PLANS_MAX = 2000

#: What a ``select()`` of columns or entities alone (no criteria, no options,
#: nothing but what it selects) holds.
_BARE_SELECT = frozenset(("_propagate_attrs", "_raw_columns", "_label_style"))

#: Per bare select (:data:`_BARE_SELECT`): its label style and the identities of
#: the elements it selects (a mapped attribute's column, a mapped class: the same
#: objects in each ``select(Post.id, Post.title)``), to the elements (kept alive,
#: so no other object takes their identity) and the statement's plan. Found
#: without making the statement's cache key. Statements with bound values
#: (each statement's own) are not kept.
_bare_plans: dict[tuple[Any, ...], tuple[tuple[Any, ...], _Plan | None]] = {}


def _bare_signature(statement: Select[Any]) -> tuple[Any, ...] | None:
    """The key of a bare select in :data:`_bare_plans`; None for any other."""
    if statement.__dict__.keys() != _BARE_SELECT:
        return None
    # what the statement is about (its mapper: the session's bind for it) is
    # in its cache key, and can differ with the same columns (with_only_columns)
    about = statement._propagate_attrs
    return (
        statement._label_style,
        about.get("compile_state_plugin"),
        about.get("plugin_subject"),
        *map(id, statement._raw_columns),
    )


def _select_plan(statement: Select[Any], cache_key: Any) -> _Plan | None:
    """The plan of an ORM statement without options or row locks, selecting
    one class mapped alone (as :func:`_get_plan` requires) or only columns."""
    plan: _Plan | None = None
    columns = statement._raw_columns
    if (
        columns
        and not statement._with_options
        and not getattr(statement, "_compile_state_funcs", ())
        and not getattr(statement, "_with_context_options", ())
        and statement._for_update_arg is None
        and statement._propagate_attrs.get("compile_state_plugin") == "orm"
    ):
        entity = columns[0]._annotations.get("parententity")
        if len(columns) == 1 and entity is not None:
            described = statement.column_descriptions
            if (
                len(described) == 1
                and described[0]["expr"] is entity.class_
                and not described[0]["aliased"]
            ):
                found = _get_plan(entity.class_)
                if found is not None and found.columns is not None:
                    plan = _SelectPlan(found, statement, cache_key)
        if plan is None and all(isinstance(c, ColumnElement) for c in columns):
            subject = statement._propagate_attrs.get("plugin_subject")
            plan = _ColumnsPlan(statement, cache_key, getattr(subject, "mapper", None))
    if len(_select_plans) < _SELECT_PLANS_MAX:
        _select_plans[cache_key.key] = plan
    return plan


#: Per mapped class: its :class:`_GetPlan`, or None where get() cannot take a
#: shorter way.
_get_plans: dict[Any, _GetPlan | None] = {}


#: The execution options an ``AsyncSession`` passes with every statement: its
#: rows read before the result leaves the greenlet (as direct reads read them).
_PREBUFFER = {"prebuffer_rows": True}


def _plain_call(kwargs: dict[str, Any]) -> bool:
    """Whether ``execute()``'s keyword arguments ask for nothing but the
    defaults (or an ``AsyncSession``'s pre-buffering)."""
    for name, value in kwargs.items():
        if value and not (name == "execution_options" and value == _PREBUFFER):
            return False
    return True


def _defaults_only(kwargs: dict[str, Any]) -> bool:
    """Whether get()'s keyword arguments all have their default meaning (an
    ``AsyncSession`` passes each one on)."""
    return kwargs.get("identity_token") is None and not any(
        value for name, value in kwargs.items() if name != "identity_token"
    )


def _get_plan(entity: Any) -> _GetPlan | None:
    """The plan of :meth:`KettleSession.get` for ``entity`` (made at its first
    use): for a class mapped alone (no inheritance, no polymorphic loading, no
    joined eager loads), with a one-column primary key."""
    known: _GetPlan | None = _get_plans.get(entity, _NOT_PLANNED)
    if known is not _NOT_PLANNED:
        return known
    plan = None
    mapper: Any = _inspect(entity, raiseerr=False) if isinstance(entity, type) else None
    if (
        isinstance(mapper, Mapper)
        and mapper.inherits is None
        and mapper.polymorphic_on is None
        and not mapper.with_polymorphic
        and not mapper.always_refresh
        and len(mapper.primary_key) == 1
        and not any(r.lazy == "joined" for r in mapper.relationships)
    ):
        plan = _GetPlan(mapper)
    _get_plans[entity] = plan
    return plan


class KettleSession(_SASession):
    """The SQLAlchemy session Kettle hands out: SQLAlchemy's own ``Session``, plus
    what a request needs (query statistics, strict loading, a read-only mode) and
    a quicker :meth:`get`."""

    def __init__(
        self,
        *args: Any,
        kettle_stats: QueryStats | None = None,
        kettle_strict: bool = False,
        kettle_readonly: bool = False,
        kettle_unbound: set[Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._kettle_unbound = kettle_unbound
        if kettle_stats is not None or kettle_strict or kettle_readonly:
            info = self.info
            if kettle_stats is not None:
                info[STATS] = kettle_stats
            if kettle_strict:
                info["kettle_strict"] = True
            if kettle_readonly:
                info["kettle_readonly"] = True

    def get(self, entity: Any, ident: Any, **kwargs: Any) -> Any:
        """SQLAlchemy's :meth:`~sqlalchemy.orm.Session.get`, the same in every
        result, taking a shorter way in the common case: one scalar key, no
        options, a class mapped alone. It looks in the identity map, then runs a
        SELECT built once per class (SQLAlchemy builds one per call); where the
        class maps plain columns and nobody listens to its loads, the row is read
        directly (see :mod:`kettle.db._direct`) and the object made as
        SQLAlchemy's loader makes it."""
        plan = self._planned_get(entity, ident, kwargs)
        if plan is None:
            return super().get(entity, ident, **kwargs)
        found = self.identity_map.get((plan.identity_class, (ident,), None))
        if found is not None:
            if not found._sa_instance_state.expired:
                return found
            return super().get(entity, ident, **kwargs)
        if plan.columns is None or not self._quiet_load(plan):
            return self.execute(plan.statement, {"kettle_pk": ident}).scalar()
        self._autoflush()
        mapper = plan.manager.mapper
        values = {"kettle_pk": ident}
        row = self._read_direct(self._bind_for(mapper), plan, values)
        if row is _MISSING:
            connection = self.connection(bind_arguments={"mapper": mapper})
            row = connection.execute(plan.columns, values).first()
        if row is None:
            return None
        instance = self._loaded(plan, row)
        if instance is _MISSING:
            return super().get(entity, ident, **kwargs)
        return instance

    def _planned_get(self, entity: Any, ident: Any, kwargs: dict[str, Any]) -> Any:
        """The plan of a :meth:`get` that may take the shorter way, else None."""
        if (
            type(ident) not in _FAST_IDENTS
            or self.execution_options
            or (kwargs and not _defaults_only(kwargs))
        ):
            return None
        return _get_plan(entity)

    def _loaded(self, plan: _GetPlan, row: Any) -> Any:
        """The object of a row read for ``plan``, put in the identity map as
        SQLAlchemy's loader puts a new one; ``_MISSING`` when the map already
        holds that identity (a flush put it there, or the key was cast)."""
        key = (plan.identity_class, (row[plan.pk_index],), None)
        if key in self.identity_map:
            return _MISSING
        return self._new_object(plan, key, row)

    def _new_object(self, plan: _GetPlan, key: Any, row: Any) -> Any:
        """A new object of ``plan``'s class from ``row``, put in the identity
        map under ``key`` as SQLAlchemy's loader puts one."""
        instance = plan.manager.new_instance()
        state = instance._sa_instance_state
        values = state.dict
        for name, value in zip(plan.keys, row, strict=True):
            values[name] = value
        state.key = key
        state.session_id = self.hash_key
        self.identity_map._add_unpresent(state, key)
        return instance

    def execute(self, statement: Any, params: Any = None, **kwargs: Any) -> Any:
        """SQLAlchemy's :meth:`~sqlalchemy.orm.Session.execute`; a
        ``select(Model)`` or a select of columns, with no parameters, options or
        execution options, reads its rows directly where :meth:`get` would (in
        a result of the same kind, with the same objects or rows)."""
        if params is None and _plain_call(kwargs):
            planned = self._planned_select(statement)
            if planned is not None:
                plan, values = planned
                result = self._select_direct(plan, values)
                if result is not _MISSING:
                    return result
                if plan.entity is None:
                    return self._learned(plan, statement)
        return super().execute(statement, params, **kwargs)

    def scalars(self, statement: Any, params: Any = None, **kwargs: Any) -> Any:
        """SQLAlchemy's :meth:`~sqlalchemy.orm.Session.scalars`, reading
        directly as :meth:`execute` does."""
        if params is None and _plain_call(kwargs):
            return self.execute(statement).scalars()
        return super().scalars(statement, params, **kwargs)

    def _select_direct(self, plan: _Plan, values: tuple[Any, ...]) -> Any:
        """The result of a planned select read directly, or ``_MISSING``."""
        bind = self._bind_for(plan.mapper)
        if plan.entity is None and bind.dialect not in plan.metadata:
            return _MISSING  # SQLAlchemy reads it first (see _learned)
        self._autoflush()
        rows = self._read_direct(bind, plan, values, all_rows=True)
        if rows is _MISSING:
            return _MISSING
        if plan.entity is None:
            return IteratorResult(plan.metadata[bind.dialect], iter(rows))
        return self._result(plan.entity, rows)

    def _learned(self, plan: _ColumnsPlan, statement: Any) -> Any:
        """SQLAlchemy's result of a select of columns, whose keys the plan
        learns for the next direct reads."""
        result = super().execute(statement)
        bind = self._bind_for(plan.mapper)
        dialect = bind.dialect
        if direct_engine(bind) and dialect not in plan.metadata:
            compiled = compiled_for(
                plan.compiled, plan.columns, dialect, plan.bind_keys
            )
            plan.learn(dialect, result, compiled)
        return result

    def _planned_select(self, statement: Any) -> tuple[_Plan, tuple[Any, ...]] | None:
        """The plan of a statement that may be read directly, and the values of
        its parameters; None if it may not."""
        if (
            type(statement) is not Select
            or statement._execution_options
            or self.execution_options
        ):
            return None
        signature = _bare_signature(statement)
        if signature is not None:
            bare = _bare_plans.get(signature)
            if bare is not None:
                plan = bare[1]
                if plan is None or not self._quiet_load(plan.entity):
                    return None
                return plan, ()
        cache_key = statement._generate_cache_key()
        if cache_key is None:
            return None
        plan = _select_plans.get(cache_key.key, _NOT_PLANNED)
        if plan is _NOT_PLANNED:
            plan = _select_plan(statement, cache_key)
        if signature is not None and not cache_key.bindparams:
            if len(_bare_plans) >= _SELECT_PLANS_MAX:
                # filled by elements made anew for each statement (func.count(),
                # say), which are never found again: start over
                _bare_plans.clear()
            _bare_plans[signature] = (tuple(statement._raw_columns), plan)
        if plan is None or not self._quiet_load(plan.entity):
            return None
        return plan, tuple(bind.effective_value for bind in cache_key.bindparams)

    def _result(self, plan: _GetPlan, rows: Any) -> Any:
        """An ORM result of the objects of ``rows`` (read for ``plan``), or
        ``_MISSING`` when one of them is in the identity map not fully loaded."""
        identity_map = self.identity_map
        identity_class = plan.identity_class
        pk_index = plan.pk_index
        keys = plan.keys
        loaded: list[Any] = []
        new_states: list[Any] = []
        for row in rows:
            key = (identity_class, (row[pk_index],), None)
            instance = identity_map.get(key)
            if instance is not None:
                known = instance._sa_instance_state.dict
                if not all(name in known for name in keys):
                    return _MISSING  # expired or deferred: SQLAlchemy refreshes it
                loaded.append(instance)
                continue
            instance = self._new_object(plan, key, row)
            loaded.append(instance)
            new_states.append(instance._sa_instance_state)
        if len(new_states) > 1 and self.info.get("kettle_strict"):
            counted = [len(new_states)]  # as _count_rows counts a query's loads
            for state in new_states:
                state.info["kettle_rows"] = counted
        # The objects themselves, as SQLAlchemy's loader gives a one-entity
        # result: scalars() takes them as they are, rows wrap each one.
        return IteratorResult(
            plan.metadata, iter(loaded), _source_supports_scalars=True
        )

    # -- direct reads (kettle.db._direct) ----------------------------------------------

    _kettle_fairy: Any = None  # the pooled DBAPI connection direct reads use
    _kettle_fairy_engine: Any = None
    _kettle_cursor: Any = None  # the direct reads' cursor on that connection
    _kettle_fairy_broken = False  # interrupted mid-read: discard, do not pool

    def _direct_plan(
        self,
        bind: Any,
        cache: dict[Any, Compiled | None],
        statement: Any,
        keys: tuple[str, ...] | None = None,
    ) -> Compiled | None:
        """``statement`` compiled for ``bind`` (kept in ``cache``), when a read
        may run there directly: an engine that allows it, which this session
        holds no connection of (nor a direct one to another engine)."""
        if not direct_engine(bind):
            return None
        if self._kettle_fairy is not None and self._kettle_fairy_engine is not bind:
            return None
        tx = self._transaction
        while tx is not None:
            if bind in tx._connections:
                return None
            tx = tx._parent
        return compiled_for(cache, statement, bind.dialect, keys)

    def _direct_connection(self, bind: Engine) -> Any:
        fairy = self._kettle_fairy
        if fairy is None:
            fairy = borrow(bind.pool) or bind.raw_connection()
            self._kettle_fairy = fairy
            self._kettle_fairy_engine = bind
        return fairy

    def _read_direct(
        self,
        bind: Any,
        plan: Any,
        values: dict[str, Any] | tuple[Any, ...],
        all_rows: bool = False,
    ) -> Any:
        """The first row (or all rows) of ``plan``'s SELECT read directly, or
        ``_MISSING``
        when that cannot be done (or the driver failed: the caller reads through
        SQLAlchemy, which raises its own error or succeeds on a fresh
        connection)."""
        compiled = self._direct_plan(bind, plan.compiled, plan.columns, plan.bind_keys)
        if compiled is None:
            return _MISSING
        fairy = self._direct_connection(bind)
        try:
            cursor = self._kettle_cursor
            if cursor is None:
                cursor = fairy.dbapi_connection.cursor()
                if bind.dialect.is_async:  # an adapter's: closed now, in the bridge
                    try:
                        return fetch(cursor, compiled, values, self.info, all_rows)
                    finally:
                        cursor.close()
                self._kettle_cursor = cursor  # kept for the session's next reads
            return fetch(cursor, compiled, values, self.info, all_rows)
        except bind.dialect.loaded_dbapi.Error as exc:
            broken = bind.dialect.is_disconnect(exc, fairy.dbapi_connection, None)
            self._release_direct(exc if broken else None)
            return _MISSING
        except QueryBudgetExceeded:
            raise
        except BaseException:
            self._kettle_fairy_broken = True
            raise

    def _release_direct(self, error: BaseException | None = None) -> None:
        """Give the direct reads' connection back to the pool (discard it when
        ``error`` broke it, or a read was interrupted)."""
        fairy = self._kettle_fairy
        if fairy is None:
            return
        cursor = self._kettle_cursor
        self._kettle_fairy = self._kettle_fairy_engine = self._kettle_cursor = None
        if error is not None or self._kettle_fairy_broken:
            self._kettle_fairy_broken = False
            if cursor is not None:
                with contextlib.suppress(Exception):  # its connection is gone
                    cursor.close()
            fairy.invalidate(error)
        elif cursor is not None:
            cursor.close()
        fairy.close()

    def get_bind(self, mapper: Any = None, clause: Any = None, **kwargs: Any) -> Any:
        # Every way SQLAlchemy takes a connection (execute, flush, connection(),
        # bulk operations) asks for the bind first: the direct reads' connection
        # goes back to the pool then, before SQLAlchemy takes one.
        if self._kettle_fairy is not None:
            self._release_direct()
        return self._bind_for(mapper, clause, **kwargs)

    def _close_impl(self, invalidate: bool, is_reset: bool = False) -> None:
        if self._kettle_fairy is not None:
            if invalidate:
                self._kettle_fairy_broken = True
            self._release_direct()
        super()._close_impl(invalidate, is_reset)

    def expunge_all(self) -> None:
        """SQLAlchemy's :meth:`~sqlalchemy.orm.Session.expunge_all`, which an
        empty session (one that read only rows, or nothing) skips."""
        if self._new or self._deleted or len(self.identity_map):
            super().expunge_all()

    def _quiet_load(self, plan: _GetPlan | None) -> bool:
        """Whether nobody listens to a load of the plan's class (or, with no
        plan, to a select of columns): no ``load`` listener but Kettle's row
        count (counted as it would count), no reconstructor, no
        ``loaded_as_persistent`` listener, no ``do_orm_execute`` listener but
        Kettle's own checks (which look at writes and relationship loads
        only)."""
        dispatch = self.dispatch
        if dispatch.loaded_as_persistent:
            return False
        if dispatch.do_orm_execute and not all(
            fn is _check_execute for fn in dispatch.do_orm_execute
        ):
            return False
        return plan is None or all(
            fn is _count_rows for fn in plan.manager.dispatch.load
        )

    def _bind_for(self, mapper: Any = None, clause: Any = None, **kwargs: Any) -> Any:
        """The bind of :meth:`get_bind`, without giving back the direct reads'
        connection."""
        unbound = self._kettle_unbound
        if unbound and mapper is not None:
            table: Any = getattr(_inspect(mapper), "local_table", None)
            if table is not None and table in unbound:
                raise ImproperlyConfigured(
                    f"table {table.name!r} lives in the database "
                    f"{table.info['bind_key']!r} (__bind_key__), which "
                    "DATABASE_BINDS does not name"
                )
        return super().get_bind(mapper, clause=clause, **kwargs)


class CheckedSession(KettleSession):
    """A :class:`KettleSession` that also checks each ORM statement: for N+1
    lazy loads under strict loading, and for writes on a read-only session. The
    check costs a little on every statement, so only such sessions have it."""


@event.listens_for(KettleSession, "after_begin")
def _count_into(session: _SASession, transaction: Any, connection: Any) -> None:
    stats = session.info.get(STATS)
    if stats is not None:
        connection.info[STATS] = stats


@event.listens_for(KettleSession, "before_flush")
def _refuse_flush(session: _SASession, context: Any, instances: Any) -> None:
    if session.info.get("kettle_readonly"):
        raise ReadOnlySessionError(
            "this session reads from a replica and cannot write; use the app's "
            "main session (db: Session) for changes"
        )


@event.listens_for(CheckedSession, "do_orm_execute")
def _check_execute(state: ORMExecuteState) -> None:
    info = state.session.info
    if info.get("kettle_readonly") and (
        state.is_insert or state.is_update or state.is_delete
    ):
        raise ReadOnlySessionError("this session reads from a replica and cannot write")
    if not info.get("kettle_strict") or not state.is_relationship_load:
        return
    owner = state.lazy_loaded_from
    if owner is None:
        return
    rows = owner.info.get("kettle_rows")
    if rows is None or rows[0] < 2:
        return
    path = state.loader_strategy_path
    relation = path[-1] if path is not None and len(path) else None
    key = getattr(relation, "key", "?")
    model = owner.class_.__name__
    raise NPlusOneError(
        f"N+1 query: {model}.{key} lazy-loaded on {owner.obj()!r}, one of "
        f"{rows[0]} {model} rows one query returned, at {caller()}. Load it with "
        f"the query: .options(selectinload({model}.{key})) (or joinedload), or "
        f"set lazy='selectin' on the relationship."
    )


def _count_rows(state: Any, context: Any) -> None:
    session = context.session
    if session is None or not session.info.get("kettle_strict"):
        return
    key = ("kettle_rows", state.class_)
    rows = context.attributes.get(key)
    if rows is None:
        rows = context.attributes[key] = [0]
    rows[0] += 1
    state.info["kettle_rows"] = rows


_counting_lock = threading.Lock()


def _count_loaded_rows() -> None:
    """Count the rows each query loads (what tells a lazy load in a loop from a
    single one), from the first strict-loading Database on: a listener on every
    mapper's ``load`` costs a little on every loaded row."""
    with _counting_lock:
        if not event.contains(Mapper, "load", _count_rows):
            event.listen(Mapper, "load", _count_rows, raw=True)


def _setting_dict(value: Any, name: str) -> dict[str, Any]:
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip() else {}
        except ValueError:
            raise ImproperlyConfigured(f"{name} must be a JSON object") from None
    if not isinstance(value, Mapping):
        raise ImproperlyConfigured(f"{name} must be a mapping, not {value!r}")
    return dict(value)


class Database:
    """An app's databases: the main one (``DATABASE_URL``) and the named ones
    (``DATABASE_BINDS``), each with a sync and an async engine made on first use.

    One per app, made from its settings by :func:`get_database` (which is what
    injecting ``db: Session`` does); make it yourself only to pass settings in code.

    Args:
        app: The app whose settings and lifecycle it uses.
        metadata: The tables it manages (default: every :class:`~kettle.db.Model`).
    """

    def __init__(self, app: Kettle, metadata: MetaData | None = None) -> None:
        if "db" in app.extensions:
            raise ImproperlyConfigured("this app already has a Database")
        cfg = app.config
        self.app = app
        self.metadata = metadata if metadata is not None else Model.metadata
        url = cfg.get("DATABASE_URL") or _default_url(app)
        self.urls: dict[str | None, tuple[URL, URL]] = {None: driver_urls(url)}
        for key, bind_url in _setting_dict(
            cfg.get("DATABASE_BINDS") or {}, "DATABASE_BINDS"
        ).items():
            self.urls[key] = driver_urls(bind_url)
        self.engine_options = _setting_dict(
            cfg.get("DATABASE_ENGINE_OPTIONS") or {}, "DATABASE_ENGINE_OPTIONS"
        )
        self.echo = bool(cfg.get("DATABASE_ECHO"))
        strict = cfg.get("DATABASE_STRICT_LOADING")
        self.strict_loading = (
            bool(cfg.get("DEBUG") or cfg.get("TESTING"))
            if strict is None
            else _truthy(strict)
        )
        counting = cfg.get("DATABASE_QUERY_STATS")
        #: Whether every request counts its statements and their time
        #: (``DATABASE_QUERY_STATS``; default: in debug and testing). Requests
        #: under a query budget, or while the ``kettle.db`` logger logs at DEBUG,
        #: count regardless.
        self.query_stats = (
            bool(cfg.get("DEBUG") or cfg.get("TESTING"))
            if counting is None
            else _truthy(counting)
        )
        budget = cfg.get("DATABASE_QUERY_BUDGET")
        #: The most SQL statements one request may run (``DATABASE_QUERY_BUDGET``).
        self.query_budget = int(budget) if budget not in (None, "") else None
        self._engines: dict[str | None, Engine] = {}
        self._async_engines: dict[tuple[str | None, object], AsyncEngine] = {}
        self._binds: tuple[int, dict[Any, str | None]] = (-1, {})
        self._test_connection: Connection | None = None
        #: Per kind of engine ("engine", "async_engine"): the number of tables,
        #: the engine and the session arguments made for them.
        self._default_args: dict[str, tuple[int, Any, dict[str, Any]]] = {}
        #: Providers of replica sessions, by (bind, asynchronous); see replica().
        self.replica_providers: dict[tuple[str, bool], Any] = {}
        #: Whether the app reports query counts in a Server-Timing header.
        self.server_timing = False
        app.extensions["db"] = self
        app.on_shutdown(self.dispose_async)

    @property
    def strict_loading(self) -> bool:
        """Whether a lazy load on one of many rows raises :class:`NPlusOneError`
        (``DATABASE_STRICT_LOADING``; default: in debug and testing)."""
        return self._strict_loading

    @strict_loading.setter
    def strict_loading(self, value: bool) -> None:
        if value:
            _count_loaded_rows()
        self._strict_loading = value

    def __repr__(self) -> str:
        url = self.urls[None][0].render_as_string(hide_password=True)
        return f"<Database {url}>"

    # -- engines -------------------------------------------------------------------

    def _check_key(self, key: str | None) -> None:
        if key not in self.urls:
            known = ", ".join(repr(k) for k in self.urls if k is not None) or "none"
            raise ImproperlyConfigured(
                f"no database named {key!r} in DATABASE_BINDS (known: {known})"
            )

    def engine(self, key: str | None = None) -> Engine:
        """The sync engine of the main database, or of the bind named ``key``."""
        engine = self._engines.get(key)
        if engine is None:
            self._check_key(key)
            with _create_lock:
                engine = self._engines.get(key)
                if engine is None:
                    engine = create_sync_engine(
                        self.urls[key][0], self.engine_options, self.echo
                    )
                    self._engines[key] = engine
        return engine

    def async_engine(self, key: str | None = None) -> AsyncEngine:
        """The asyncio engine of the main database, or of the bind ``key``.

        One per event loop: asyncio drivers' connections belong to the loop that
        opened them, and a WSGI server runs ``async def`` handlers on a loop per
        thread (an ASGI server has just one).
        """
        try:
            loop: object = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        engine = self._async_engines.get((key, loop))
        if engine is None:
            self._check_key(key)
            with _create_lock:
                engine = self._async_engines.get((key, loop))
                if engine is None:
                    engine = create_async_engine(
                        self.urls[key][1], self.engine_options, self.echo
                    )
                    self._async_engines[(key, loop)] = engine
        return engine

    def dispose(self) -> None:
        """Close every pooled connection of the sync engines."""
        for engine in self._engines.values():
            engine.dispose()

    async def dispose_async(self) -> None:
        """Close every pooled connection of the sync engines and of this event
        loop's async ones (the app does this at shutdown)."""
        self.dispose()
        loop = asyncio.get_running_loop()
        for (key, owner), engine in list(self._async_engines.items()):
            if owner is loop or owner is None:
                await engine.dispose()
                del self._async_engines[(key, owner)]

    # -- sessions --------------------------------------------------------------------

    def _table_binds(self) -> dict[Any, str | None]:
        """``{table: bind key}`` of the tables that live in a named database (None
        for a name this app's ``DATABASE_BINDS`` lacks)."""
        count, binds = self._binds
        if count != len(self.metadata.tables):
            binds = {}
            for t in self.metadata.tables.values():
                key = t.info.get("bind_key")
                if key is not None:
                    binds[t] = key if key in self.urls else None
            self._binds = (len(self.metadata.tables), binds)
        return binds

    def session(
        self,
        *,
        bind: str | None = None,
        readonly: bool = False,
        stats: QueryStats | None = None,
    ) -> KettleSession:
        """A new sync session (use it as a context manager, or close it).

        Args:
            bind: Send every statement to this named database (a read replica,
                say) instead of each model's own.
            readonly: Refuse to write (for a replica).
            stats: Count statements and their time into this.
        """
        return self._session_class(readonly)(
            **self._cached_session_args(bind, self.engine),
            kettle_stats=stats,
            kettle_strict=self.strict_loading,
            kettle_readonly=readonly,
        )

    def async_session(
        self,
        *,
        bind: str | None = None,
        readonly: bool = False,
        stats: QueryStats | None = None,
    ) -> AsyncSession:
        """A new :class:`~sqlalchemy.ext.asyncio.AsyncSession` (``async with`` it,
        or ``await`` its ``close()``)."""
        return (_async_session_class or _load_async_session_class())(
            **self._cached_session_args(bind, self.async_engine),
            sync_session_class=self._session_class(readonly),
            kettle_stats=stats,
            kettle_strict=self.strict_loading,
            kettle_readonly=readonly,
        )

    def _session_class(self, readonly: bool) -> type[KettleSession]:
        """Sessions that check each statement (for N+1 loads or writes) when
        strict loading is on or the session is read-only; plain ones otherwise."""
        return CheckedSession if readonly or self.strict_loading else KettleSession

    def _cached_session_args(self, bind: str | None, engine: Any) -> dict[str, Any]:
        """:meth:`_session_args`; in the common case (the app's own databases,
        no test transaction) made once per engine and count of tables."""
        if bind is not None or self._test_connection is not None:
            return self._session_args(bind, engine)
        count = len(self.metadata.tables)
        main = engine()  # the sync engine, or this event loop's async one
        made = self._default_args.get(engine.__name__)
        if made is None or made[0] != count or made[1] is not main:
            made = (count, main, self._session_args(None, engine))
            self._default_args[engine.__name__] = made
        return made[2]

    def _session_args(self, bind: str | None, engine: Any) -> dict[str, Any]:
        args: dict[str, Any] = {"expire_on_commit": False}
        test_conn = self._test_connection
        if test_conn is not None:
            if engine != self.engine:
                raise ImproperlyConfigured(
                    "an AsyncSession cannot join the test's rolled-back transaction "
                    "(it is on a sync connection); test async handlers against a "
                    "database the test creates and drops"
                )
            args["bind"] = test_conn
            args["join_transaction_mode"] = "create_savepoint"
            return args
        if bind is not None:
            args["bind"] = engine(bind)
            return args
        args["bind"] = engine()
        table_binds = self._table_binds()
        if table_binds:
            args["binds"] = {
                t: engine(k) for t, k in table_binds.items() if k is not None
            }
            unbound = {t for t, k in table_binds.items() if k is None}
            if unbound:
                args["kettle_unbound"] = unbound
        return args

    @contextlib.contextmanager
    def rolled_back(self) -> Iterator[KettleSession]:
        """Run a block (a test) in one transaction of the main database, rolled
        back when it ends; every sync session opened meanwhile, the request
        sessions included, joins it (their commits become savepoints).

        Yields a session in that transaction, for arranging data. Requests should
        come one at a time (they share one connection). The pytest fixture ``db``
        of :mod:`kettle.db.testing` wraps this.
        """
        if self._test_connection is not None:
            raise RuntimeError("rolled_back() blocks do not nest")
        conn = self.engine().connect()
        try:
            begin_now(conn)
            outer = conn.begin()
            self._test_connection = conn
            try:
                with self.session() as session:
                    yield session
            finally:
                self._test_connection = None
                outer.rollback()
        finally:
            conn.close()

    # -- schema ----------------------------------------------------------------------

    def create_all(self, key: str | None = None) -> None:
        """Create the missing tables of the main database (or of bind ``key``)
        without migrations: for tests and quick scripts."""
        self.metadata.create_all(self.engine(key), tables=self._tables(key))

    def drop_all(self, key: str | None = None) -> None:
        """Drop the tables :meth:`create_all` makes."""
        self.metadata.drop_all(self.engine(key), tables=self._tables(key))

    def _tables(self, key: str | None) -> list[Any]:
        self._check_key(key)
        return [t for t in self.metadata.sorted_tables if t.info.get("bind_key") == key]


#: Kettle's ``AsyncSession`` class, once imported (it needs greenlet).
_async_session_class: type[AsyncSession] | None = None


def _load_async_session_class() -> type[AsyncSession]:
    global _async_session_class
    from ._async import KettleAsyncSession

    _async_session_class = KettleAsyncSession
    return KettleAsyncSession


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def _default_url(app: Kettle) -> str:
    return "sqlite:///" + os.path.join(app.root_path, "app.db")


def get_database(app: Kettle | None = None) -> Database:
    """The app's :class:`Database`, made from its settings on first use.

    Args:
        app: The app (default: :data:`kettle.current_app`).
    """
    if app is None:
        from ..context import current_app

        app = current_app._get_current_object()  # type: ignore[attr-defined]
    assert app is not None
    db: Database | None = app.extensions.get("db")
    if db is None:
        with _create_lock:
            db = app.extensions.get("db")
            if db is None:
                db = Database(app)
    return db
