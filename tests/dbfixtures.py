"""Pytest fixtures for real databases: SQLite, PostgreSQL and MariaDB.

Loaded from conftest.py as a plugin. ``postgres_server`` and ``mariadb_server`` start
a private server (see dbservers.py) the first time a test asks for one and stop it at
the end of the session; set ``KETTLE_TEST_POSTGRES_URL`` or ``KETTLE_TEST_MARIADB_URL``
to use an existing server instead (its user must be allowed to create databases).
A server that cannot be had fails the tests that need it: they are never skipped.

``database_url`` runs a test once per backend with a fresh, empty database, which is
created before the test and dropped after it. Databases are made with the plain
drivers (psycopg, pymysql), not through SQLAlchemy or Kettle.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import tempfile
import urllib.parse
import uuid
from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path

import pytest

import dbservers
from dbservers import Server

BACKENDS = ["sqlite", "postgresql", "mariadb"]

#: Seconds a DROP DATABASE may wait on locks a test left behind before it fails.
_DROP_LOCK_TIMEOUT = 10


@dataclasses.dataclass(frozen=True)
class DatabaseURL:
    """A fresh database for one test: its backend name and SQLAlchemy URLs."""

    backend: str
    url_sync: str
    url_async: str
    #: The database's name (a file path for SQLite).
    database: str


def _server_fixture(
    name: str, env_var: str, start: Callable[[Path], Server]
) -> Iterator[Server]:
    url = os.environ.get(env_var)
    if url:
        try:
            given = dbservers.server_from_url(name, url)
        except RuntimeError as exc:
            error = f"{env_var}: {exc}"
        else:
            yield given
            return
        pytest.fail(error, pytrace=False)  # outside the except: no chained traceback
    # Not pytest's tmp_path: its parents are private to root, and PostgreSQL runs as
    # the postgres user, which must be able to reach its data directory.
    base = Path(tempfile.mkdtemp(prefix=f"kettle-{name}-"))
    os.chmod(base, 0o711)
    try:
        server = start(base)
    except (RuntimeError, OSError) as exc:
        error = f"could not start {name}: {exc}"
    else:
        try:
            yield server
        finally:
            server.stop()
            shutil.rmtree(base, ignore_errors=True)
        return
    shutil.rmtree(base, ignore_errors=True)
    pytest.fail(error, pytrace=False)  # outside the except: no chained traceback


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Server]:
    """A PostgreSQL server for the whole session, started on first use."""
    yield from _server_fixture(
        "postgresql", "KETTLE_TEST_POSTGRES_URL", dbservers.start_postgres
    )


@pytest.fixture(scope="session")
def mariadb_server() -> Iterator[Server]:
    """A MariaDB server for the whole session, started on first use."""
    yield from _server_fixture(
        "mariadb", "KETTLE_TEST_MARIADB_URL", dbservers.start_mariadb
    )


@pytest.fixture(scope="session")
def redis_server() -> Iterator[Server]:
    """A Redis server for the whole session, started on first use (or
    ``KETTLE_TEST_REDIS_URL``'s)."""
    url = os.environ.get("KETTLE_TEST_REDIS_URL")
    if url:
        parsed = urllib.parse.urlsplit(url)
        yield Server(
            name="redis",
            host=parsed.hostname or "127.0.0.1",
            port=parsed.port or 6379,
            user="",
            password="",
            database=(parsed.path.strip("/") or "0"),
            admin_database="0",
        )
        return
    yield from _server_fixture("redis", "KETTLE_TEST_REDIS_URL", dbservers.start_redis)


@pytest.fixture
def redis_url(redis_server: Server) -> Iterator[str]:
    """The URL of an emptied Redis database (flushed before and after)."""
    import redis

    url = f"redis://{redis_server.host}:{redis_server.port}/{redis_server.database}"
    client = redis.Redis.from_url(url)
    client.flushdb()
    try:
        yield url
    finally:
        client.flushdb()
        client.close()


@contextlib.contextmanager
def _fresh_postgres_database(server: Server) -> Iterator[str]:
    import psycopg
    from psycopg import sql
    from psycopg.rows import TupleRow

    name = f"t_{uuid.uuid4().hex[:16]}"
    ident = sql.Identifier(name)

    def admin() -> psycopg.Connection[TupleRow]:
        return psycopg.connect(
            host=server.host,
            port=server.port,
            user=server.user,
            password=server.password,
            dbname=server.admin_database,
            autocommit=True,
            connect_timeout=10,
        )

    with admin() as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(ident))
    try:
        yield name
    finally:
        with admin() as conn:
            # FORCE ends the sessions a test left open on it.
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(ident)
            )


@contextlib.contextmanager
def _fresh_mariadb_database(server: Server) -> Iterator[str]:
    import pymysql

    name = f"t_{uuid.uuid4().hex[:16]}"

    def admin() -> pymysql.connections.Connection:
        return pymysql.connect(
            host=server.host,
            port=server.port,
            user=server.user,
            password=server.password,
            autocommit=True,
            connect_timeout=10,
            read_timeout=60,
            write_timeout=60,
        )

    with admin() as conn, conn.cursor() as cur:
        cur.execute(
            f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
        )
    try:
        yield name
    finally:
        with admin() as conn, conn.cursor() as cur:
            cur.execute(f"SET SESSION lock_wait_timeout = {_DROP_LOCK_TIMEOUT}")
            # Connections a test left open on it would hold metadata locks that make
            # DROP DATABASE wait: end them first.
            cur.execute(
                "SELECT id FROM information_schema.processlist"
                " WHERE db = %s AND id <> CONNECTION_ID()",
                (name,),
            )
            for (thread_id,) in cur.fetchall():
                with contextlib.suppress(pymysql.err.OperationalError):
                    cur.execute(f"KILL CONNECTION {int(thread_id)}")
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")


@pytest.fixture(params=BACKENDS)
def database_url(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[DatabaseURL]:
    """A fresh, empty database on each backend in turn, dropped after the test."""
    backend: str = request.param
    if backend == "sqlite":
        path = tmp_path / "test.sqlite3"
        yield DatabaseURL(
            backend, f"sqlite:///{path}", f"sqlite+aiosqlite:///{path}", str(path)
        )
        return
    if backend == "postgresql":
        server: Server = request.getfixturevalue("postgres_server")
        fresh = _fresh_postgres_database
    else:
        server = request.getfixturevalue("mariadb_server")
        fresh = _fresh_mariadb_database
    with fresh(server) as name:
        url_sync, url_async = server.url_for(name)
        yield DatabaseURL(backend, url_sync, url_async, name)
