"""The database test infrastructure itself (dbservers.py, dbfixtures.py): real
servers start, every test gets a fresh empty database on each backend, the sync and
async drivers reach it, and databases are dropped even when a test leaks a
connection."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

import dbservers
from dbfixtures import DatabaseURL
from dbfixtures import _fresh_mariadb_database
from dbfixtures import _fresh_postgres_database
from dbservers import Server

TESTS = Path(__file__).resolve().parent

metadata = sa.MetaData()
items = sa.Table(
    "items",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(50), nullable=False),
)


def _roundtrip_sync(url: str) -> None:
    engine = sa.create_engine(url)
    try:
        # Fresh: nothing left by an earlier test, which made the same table.
        assert sa.inspect(engine).get_table_names() == []
        metadata.create_all(engine)
        with engine.begin() as conn:
            conn.execute(items.insert(), [{"name": "kettle"}, {"name": "pot"}])
        with engine.connect() as conn:
            rows = conn.execute(sa.select(items.c.name).order_by(items.c.id)).all()
        assert [r.name for r in rows] == ["kettle", "pot"]
    finally:
        engine.dispose()


@pytest.mark.parametrize("run", [1, 2])
def test_sync_roundtrip_in_a_fresh_database(
    database_url: DatabaseURL, run: int
) -> None:
    """Runs twice per backend: the second run would see the first one's table if
    databases were shared."""
    _roundtrip_sync(database_url.url_sync)


def test_async_roundtrip(database_url: DatabaseURL) -> None:
    async def main() -> list[str]:
        engine = create_async_engine(database_url.url_async)
        try:
            async with engine.begin() as conn:
                names = await conn.run_sync(lambda c: sa.inspect(c).get_table_names())
                assert names == []
                await conn.run_sync(metadata.create_all)
                await conn.execute(items.insert(), [{"name": "a"}, {"name": "b"}])
            async with engine.connect() as conn:
                result = await conn.execute(
                    sa.select(items.c.name).order_by(items.c.id)
                )
                return [r.name for r in result]
        finally:
            await engine.dispose()

    assert asyncio.run(main()) == ["a", "b"]


def test_urls_name_the_drivers(database_url: DatabaseURL) -> None:
    sync_driver, async_driver = {
        "sqlite": ("sqlite", "sqlite+aiosqlite"),
        "postgresql": ("postgresql+psycopg", "postgresql+asyncpg"),
        "mariadb": ("mariadb+pymysql", "mariadb+asyncmy"),
    }[database_url.backend]
    assert sa.make_url(database_url.url_sync).drivername == sync_driver
    assert sa.make_url(database_url.url_async).drivername == async_driver
    if database_url.backend != "sqlite":
        assert sa.make_url(database_url.url_sync).database == database_url.database


def _database_exists(server: Server, name: str) -> bool:
    engine = sa.create_engine(server.admin_url)
    try:
        with engine.connect() as conn:
            if server.name == "postgresql":
                query = "SELECT count(*) FROM pg_database WHERE datname = :n"
            else:
                query = "SELECT count(*) FROM information_schema.schemata WHERE schema_name = :n"
            return bool(conn.execute(sa.text(query), {"n": name}).scalar_one())
    finally:
        engine.dispose()


@pytest.mark.parametrize("backend", ["postgresql", "mariadb"])
def test_database_dropped_despite_a_leaked_connection(
    request: pytest.FixtureRequest, backend: str
) -> None:
    """A test that leaves a connection open inside a transaction holding locks on
    its database does not stop the database from being dropped afterwards."""
    if backend == "postgresql":
        server: Server = request.getfixturevalue("postgres_server")
        fresh = _fresh_postgres_database
    else:
        server = request.getfixturevalue("mariadb_server")
        fresh = _fresh_mariadb_database
    began = time.monotonic()
    with fresh(server) as name:
        assert _database_exists(server, name)
        engine = sa.create_engine(server.url_for(name)[0], poolclass=sa.NullPool)
        leaked = engine.connect()
        leaked.begin()
        metadata.create_all(leaked)
        leaked.execute(items.insert(), {"name": "locked"})
    assert not _database_exists(server, name)
    assert time.monotonic() - began < 15
    # The server ended the leaked session; closing it only tidies up our side.
    leaked.invalidate()
    leaked.close()
    engine.dispose()


def test_server_from_url() -> None:
    pg = dbservers.server_from_url(
        "postgresql", "postgresql://me:p%40ss@db.internal:5433/app"
    )
    assert pg.url_sync == "postgresql+psycopg://me:p%40ss@db.internal:5433/app"
    assert pg.url_async == "postgresql+asyncpg://me:p%40ss@db.internal:5433/app"
    assert pg.admin_url == pg.url_sync
    assert pg.pid is None
    pg.stop()  # a given server is not ours to stop

    my = dbservers.server_from_url("mariadb", "mysql+pymysql://me@localhost")
    assert (my.port, my.password, my.database) == (3306, "", "kettle_test")
    assert my.url_for("other") == (
        "mariadb+pymysql://me@localhost:3306/other",
        "mariadb+asyncmy://me@localhost:3306/other",
    )
    with pytest.raises(RuntimeError, match="not a mariadb URL"):
        dbservers.server_from_url("mariadb", "postgresql://me@localhost/x")


def test_started_servers_are_ours(
    postgres_server: Server, mariadb_server: Server
) -> None:
    for server in (postgres_server, mariadb_server):
        if server.pid is None:  # given by KETTLE_TEST_*_URL
            continue
        assert server.host == "127.0.0.1"
        os.kill(server.pid, 0)  # alive
        assert server.log_path is not None and server.log_path.exists()


def test_environment_names_an_existing_server(
    postgres_server: Server, mariadb_server: Server, tmp_path: Path
) -> None:
    """With KETTLE_TEST_POSTGRES_URL and KETTLE_TEST_MARIADB_URL set, the fixtures use
    those servers (here: this session's) and start none of their own."""
    test_file = tmp_path / "test_given.py"
    test_file.write_text(
        textwrap.dedent(
            f"""
            import sqlalchemy as sa

            def test_given(postgres_server, mariadb_server, database_url):
                assert postgres_server.pid is None
                assert postgres_server.port == {postgres_server.port}
                assert mariadb_server.pid is None
                assert mariadb_server.port == {mariadb_server.port}
                engine = sa.create_engine(database_url.url_sync)
                with engine.connect() as conn:
                    assert conn.execute(sa.text("SELECT 1")).scalar_one() == 1
                engine.dispose()
            """
        )
    )
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(TESTS), *filter(None, [env.get("PYTHONPATH")])]
    )
    env["KETTLE_TEST_POSTGRES_URL"] = postgres_server.url_sync.replace(
        "postgresql+psycopg://", "postgresql://"
    )
    env["KETTLE_TEST_MARIADB_URL"] = mariadb_server.url_sync.replace(
        "mariadb+pymysql://", "mysql://"
    )
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "dbfixtures"]
        + ["-p", "no:cacheprovider", str(test_file)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed" in result.stdout
