"""Direct reads: the ORM's simplest reads run on the driver's own connection.

A request that only reads needs no transaction: Kettle's connections run in
autocommit until the first write (see :mod:`kettle.db.engine`). For such a read,
what SQLAlchemy's ``Session`` and ``Connection`` do around a statement (a
``SessionTransaction``, a ``Connection`` and its ``RootTransaction``, an execution
context, a ``CursorResult``, the pool's reset) costs more than the round trip to
the database. So a session reads on a pooled DBAPI connection of its own, taken
at its first such read and held until the session closes or needs a transaction:
it gives the connection back to the pool before SQLAlchemy takes one, so a session
never holds two. The statement is compiled once per dialect and runs on the
driver's cursor (on asyncpg, the driver's own coroutine, with no greenlet).

Only where nothing is lost that way:

- the engine is one Kettle made for a database with lazy transactions, with no
  ``ConnectionEvents`` or ``DialectEvents`` listener, no engine-wide execution
  options, and SQLAlchemy's statement logging off (``echo``);
- the session has no connection of its own to that engine yet (after a write,
  reads go to the transaction's connection, and see the write);
- every column comes back from the driver as its Python value (no result
  processor: no ``TypeDecorator``, no type the dialect converts).

The request's query count, time and budget are kept as for any statement. A
driver error gives the connection back (or discards it, when it is broken) and
the read runs again through SQLAlchemy, which raises its own exception or, on a
fresh connection, succeeds.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy.engine import Engine

from .engine import _LAZY
from .engine import STATS
from .engine import QueryStats

__all__ = ("Compiled", "compiled_for", "direct_engine", "fetch", "fetch_async")


class Compiled:
    """A SELECT compiled for one dialect, with what its driver call needs: the
    SQL string, the order of its parameters (positional drivers), their bind
    processors."""

    __slots__ = ("names", "order", "positional", "processors", "sql", "width")

    def __init__(
        self, statement: Any, dialect: Any, keys: tuple[str, ...] | None = None
    ) -> None:
        compiled = statement.compile(dialect=dialect)
        if compiled.literal_execute_params or compiled.post_compile_params:
            raise _NotPlain("parameters rendered at execution (IN lists, ...)")
        self.sql: str = compiled.string
        #: How many columns its rows have.
        self.width: int = len(compiled._result_columns)
        self.positional: bool = bool(compiled.positional)
        #: The bind names in the order a positional driver takes them.
        self.names: tuple[str, ...] = tuple(compiled.positiontup or ())
        processors: dict[str, Any] = {}
        for bind, name in compiled.bind_names.items():
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                processors[name] = processor
        self.processors = processors
        #: The bind names of ``keys`` (the keys of the statement's bound
        #: parameters, in the order of its cache key): parameters given as a
        #: tuple are in that order.
        self.order: tuple[str, ...] = ()
        if keys is not None:
            by_key = {bind.key: name for bind, name in compiled.bind_names.items()}
            if not all(key in by_key for key in keys):
                raise _NotPlain("a parameter the cache key does not extract")
            self.order = tuple(by_key[key] for key in keys)
            if set(self.order) != set(compiled.bind_names.values()):
                raise _NotPlain("a parameter the cache key does not extract")

    def parameters(self, values: dict[str, Any] | tuple[Any, ...]) -> Any:
        """The driver's parameters for ``values``: by bind name, or a tuple in
        the order of ``keys``."""
        if type(values) is tuple:
            values = dict(zip(self.order, values, strict=True))
        assert isinstance(values, dict)
        if self.processors:
            values = {
                k: (p(v) if (p := self.processors.get(k)) is not None else v)
                for k, v in values.items()
            }
        if self.positional:
            return tuple(values[name] for name in self.names)
        return values


def _plain_results(columns: Any, dialect: Any) -> bool:
    """Whether the driver returns each column's Python value as it is."""
    for column in columns:
        try:
            impl = column.type.dialect_impl(dialect)
            if impl.result_processor(dialect, None) is not None:
                return False
        except Exception:  # a type that needs the driver's column type: not plain
            return False
    return True


class _NotPlain(Exception):
    """A statement that cannot run directly."""


def compiled_for(
    cache: dict[Any, Compiled | None],
    statement: Any,
    dialect: Any,
    keys: tuple[str, ...] | None = None,
) -> Compiled | None:
    """``statement`` compiled for ``dialect`` (made once, kept in ``cache``), or
    None when its results would need converting or its parameters rendering at
    execution. ``keys``: see :attr:`Compiled.order`."""
    try:
        return cache[dialect]
    except KeyError:
        pass
    made = None
    if _plain_results(statement.selected_columns, dialect):
        try:
            made = Compiled(statement, dialect, keys)
        except _NotPlain:
            pass
    cache[dialect] = made
    return made


def direct_engine(bind: Any) -> bool:
    """Whether reads on ``bind`` may skip SQLAlchemy's ``Connection``."""
    return (
        isinstance(bind, Engine)
        and bind.dialect.name in _LAZY
        and not bind._has_events
        and not bind.dialect._has_events
        and not bind._execution_options
        and not bind._should_log_info()
    )


def _count(info: dict[Any, Any], sql: str) -> QueryStats | None:
    """Count a statement into the session's query statistics, if it keeps any;
    the statistics, to add its time to."""
    stats: QueryStats | None = info.get(STATS)
    if stats is not None:
        stats.add(sql)
    return stats


def fetch(
    cursor: Any,
    compiled: Compiled,
    values: dict[str, Any] | tuple[Any, ...],
    info: Any,
    all_rows: bool = False,
) -> Any:
    """Run ``compiled`` on a pooled connection's cursor (kept for the next
    reads): its first row (or None), or with ``all_rows`` the list of them.
    Driver errors propagate."""
    stats = _count(info, compiled.sql)
    t0 = time.perf_counter() if stats is not None else 0.0
    try:
        cursor.execute(compiled.sql, compiled.parameters(values))
        return cursor.fetchall() if all_rows else cursor.fetchone()
    finally:
        if stats is not None:
            stats.time += time.perf_counter() - t0


async def fetch_async(
    fairy: Any,
    compiled: Compiled,
    values: dict[str, Any] | tuple[Any, ...],
    info: Any,
    all_rows: bool = False,
) -> Any:
    """:func:`fetch` on asyncpg's own connection, awaited directly."""
    stats = _count(info, compiled.sql)
    t0 = time.perf_counter() if stats is not None else 0.0
    driver = fairy.driver_connection
    try:
        if all_rows:
            return await driver.fetch(compiled.sql, *compiled.parameters(values))
        return await driver.fetchrow(compiled.sql, *compiled.parameters(values))
    finally:
        if stats is not None:
            stats.time += time.perf_counter() - t0
