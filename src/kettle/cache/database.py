"""The database cache: a table in the app's main database."""

from __future__ import annotations

import hashlib
import time
from typing import TYPE_CHECKING
from typing import Any

from ..concurrency import run_in_threadpool
from .base import MISSING
from .base import Cache
from .codec import SignedPickle

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection
    from sqlalchemy.engine import Engine

__all__ = ("CACHE_TABLE", "DatabaseCache")


#: The default table (``CACHE_TABLE``), made at start-up when missing
#: (Kettle's migrations leave it alone).
CACHE_TABLE = "kettle_cache"
#: Expired rows are deleted after this many writes (and by ``clear_expired``).
_CULL_EVERY = 100
#: Tries of an atomic increment before giving up (other writers kept winning).
_INCR_TRIES = 50


def _row_key(store_key: str) -> str:
    """The row's primary key: the SHA-256 of the store key (fixed length, and
    no collation of any database can make two keys equal)."""
    return hashlib.sha256(store_key.encode("utf-8", "surrogatepass")).hexdigest()


class DatabaseCache(Cache):
    """A cache in a table of the app's main database (``kettle.db``), shared
    by every process using that database: slower than Redis (each operation is
    a statement, each write a transaction), but nothing else to run.

    The table (``CACHE_TABLE``, default ``kettle_cache``) holds the SHA-256 of
    each store key, the value (a signed pickle, see :mod:`kettle.cache.codec`;
    a ``LONGBLOB`` on MySQL and MariaDB, up to 4 GB, where ``BLOB`` holds only
    64 KB) and its expiry (seconds since the epoch; machines' clocks should
    agree).
    Expired rows read as misses and are deleted every 100 writes, and by
    :meth:`clear_expired`. ``clear()`` empties the whole table: give each app
    sharing a database its own ``CACHE_TABLE``.

    Async methods run the statements in Kettle's thread pool.

    Args:
        engine: A SQLAlchemy engine (the app's: ``get_database(app).engine()``).
        secret_key: Signs the stored pickles (the app's ``SECRET_KEY``).
        table: The table's name.
        **options: As for :class:`~kettle.cache.Cache`.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        secret_key: str | bytes,
        table: str = CACHE_TABLE,
        **options: Any,
    ) -> None:
        super().__init__(**options)
        from sqlalchemy import Column
        from sqlalchemy import Float
        from sqlalchemy import LargeBinary
        from sqlalchemy import MetaData
        from sqlalchemy import String
        from sqlalchemy import Table
        from sqlalchemy import exc
        from sqlalchemy import inspect
        from sqlalchemy.dialects.mysql import LONGBLOB

        self.engine = engine
        self.codec = SignedPickle(secret_key)
        self._integrity_error = exc.IntegrityError
        self.table = Table(
            table,
            MetaData(),
            Column("key", String(64), primary_key=True),
            # MySQL's and MariaDB's BLOB holds 64 KB, less than many pages.
            Column(
                "value",
                LargeBinary().with_variant(LONGBLOB(), "mysql", "mariadb"),
                nullable=False,
            ),
            Column("expires", Float(precision=53), nullable=True, index=True),
        )
        try:
            self.table.create(engine, checkfirst=True)
        except exc.DBAPIError:
            # Another worker, starting at the same moment, made it between the
            # check and the CREATE: fine if it is there now.
            if not inspect(engine).has_table(table):
                raise
        self._writes = 0

    def __repr__(self) -> str:
        return f"<DatabaseCache {self.table.name} prefix={self.key_prefix!r}>"

    # -- helpers -------------------------------------------------------------------

    @staticmethod
    def _expires(ttl: float | None) -> float | None:
        return None if ttl is None else time.time() + ttl

    def _live(self) -> Any:
        """The condition of a row that has not expired."""
        c = self.table.c
        return (c.expires.is_(None)) | (c.expires > time.time())

    def _wrote(self) -> None:
        self._writes += 1
        if self._writes % _CULL_EVERY == 0:
            self.clear_expired()

    def _write(
        self, conn: Connection, row: str, data: bytes, expires: float | None
    ) -> None:
        """Insert or replace a row (in ``conn``'s transaction; an IntegrityError
        when another inserted it meanwhile, and the caller tries again)."""
        table = self.table
        done = conn.execute(
            table.update().where(table.c.key == row).values(value=data, expires=expires)
        )
        if not done.rowcount:
            conn.execute(table.insert().values(key=row, value=data, expires=expires))

    # -- primitives ----------------------------------------------------------------

    def _get(self, key: str) -> Any:
        return self._get_many([key])[0]

    def _get_many(self, keys: list[str]) -> list[Any]:
        from sqlalchemy import select

        c = self.table.c
        rows = [_row_key(k) for k in keys]
        with self.engine.connect() as conn:
            found = dict(
                conn.execute(
                    select(c.key, c.value).where(c.key.in_(set(rows)), self._live())
                ).all()
            )
        return [self.codec.loads(found.get(r)) for r in rows]

    def _set(self, key: str, entry: Any, ttl: float | None) -> None:
        self._set_many([(key, entry)], ttl)

    def _set_many(self, items: list[tuple[str, Any]], ttl: float | None) -> None:
        expires = self._expires(ttl)
        rows = [(_row_key(k), self.codec.dumps(e)) for k, e in items]
        for attempt in range(3):
            try:
                with self.engine.begin() as conn:
                    for row, data in rows:
                        self._write(conn, row, data, expires)
                break
            except self._integrity_error:  # a row inserted meanwhile: update it
                if attempt == 2:
                    raise
        self._wrote()

    def _add(self, key: str, entry: Any, ttl: float | None) -> bool:
        table = self.table
        row = _row_key(key)
        try:
            with self.engine.begin() as conn:
                # An expired row is replaced; a live one makes the insert fail
                # (and the transaction roll back).
                conn.execute(
                    table.delete().where(
                        table.c.key == row, table.c.expires <= time.time()
                    )
                )
                conn.execute(
                    table.insert().values(
                        key=row,
                        value=self.codec.dumps(entry),
                        expires=self._expires(ttl),
                    )
                )
        except self._integrity_error:
            return False
        self._wrote()
        return True

    def _delete(self, key: str) -> bool:
        table = self.table
        row = _row_key(key)
        with self.engine.begin() as conn:
            live = conn.execute(
                table.delete().where(table.c.key == row, self._live())
            ).rowcount
            conn.execute(table.delete().where(table.c.key == row))
        return bool(live)

    def _delete_many(self, keys: list[str]) -> None:
        table = self.table
        with self.engine.begin() as conn:
            conn.execute(
                table.delete().where(table.c.key.in_([_row_key(k) for k in keys]))
            )

    def _incr(self, key: str, delta: int) -> int:
        from sqlalchemy import select

        table = self.table
        row = _row_key(key)
        for _ in range(_INCR_TRIES):
            with self.engine.begin() as conn:
                raw = conn.execute(
                    select(table.c.value).where(table.c.key == row, self._live())
                ).scalar()
                entry = self.codec.loads(raw)
                if entry is MISSING:
                    raise KeyError(key)
                if type(entry) is not int:
                    raise TypeError(
                        "incr()/decr() need an integer value, the key holds "
                        f"{type(entry).__name__}"
                    )
                # Compare and swap: only if no other writer changed it meanwhile.
                done = conn.execute(
                    table.update()
                    .where(table.c.key == row, table.c.value == raw)
                    .values(value=self.codec.dumps(entry + delta))
                )
                if done.rowcount:
                    return entry + delta
            time.sleep(0.001)
        raise RuntimeError(f"incr() of cache key {key!r}: too many concurrent writers")

    def _touch(self, key: str, ttl: float | None) -> bool:
        table = self.table
        with self.engine.begin() as conn:
            done = conn.execute(
                table.update()
                .where(table.c.key == _row_key(key), self._live())
                .values(expires=self._expires(ttl))
            )
        return bool(done.rowcount)

    def _clear(self) -> None:
        with self.engine.begin() as conn:
            conn.execute(self.table.delete())

    def clear_expired(self) -> int:
        """Delete the expired rows; how many."""
        table = self.table
        with self.engine.begin() as conn:
            done = conn.execute(table.delete().where(table.c.expires <= time.time()))
        return int(done.rowcount or 0)

    def _release(self, key: str, token: str) -> None:
        table = self.table
        with self.engine.begin() as conn:
            conn.execute(
                table.delete().where(
                    table.c.key == _row_key(key),
                    table.c.value == self.codec.dumps(token),
                )
            )

    # -- async: the same statements, in the thread pool ----------------------------

    async def _aget(self, key: str) -> Any:
        return await run_in_threadpool(self._get, key)

    async def _aget_many(self, keys: list[str]) -> list[Any]:
        return await run_in_threadpool(self._get_many, keys)

    async def _aset(self, key: str, entry: Any, ttl: float | None) -> None:
        await run_in_threadpool(self._set, key, entry, ttl)

    async def _aset_many(self, items: list[tuple[str, Any]], ttl: float | None) -> None:
        await run_in_threadpool(self._set_many, items, ttl)

    async def _aadd(self, key: str, entry: Any, ttl: float | None) -> bool:
        return await run_in_threadpool(self._add, key, entry, ttl)

    async def _adelete(self, key: str) -> bool:
        return await run_in_threadpool(self._delete, key)

    async def _adelete_many(self, keys: list[str]) -> None:
        await run_in_threadpool(self._delete_many, keys)

    async def _aincr(self, key: str, delta: int) -> int:
        return await run_in_threadpool(self._incr, key, delta)

    async def _atouch(self, key: str, ttl: float | None) -> bool:
        return await run_in_threadpool(self._touch, key, ttl)

    async def _aclear(self) -> None:
        await run_in_threadpool(self._clear)

    async def _arelease(self, key: str, token: str) -> None:
        await run_in_threadpool(self._release, key, token)
