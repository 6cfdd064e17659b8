"""kettle.db settings: where the URL comes from, drivers, and clear errors."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from kettle import Kettle
from kettle.db import Database
from kettle.db import driver_urls
from kettle.db import get_database
from kettle.exceptions import ImproperlyConfigured


def test_default_is_an_sqlite_file_beside_the_app():
    app = Kettle(env_file=None)
    url = get_database(app).urls[None][0]
    assert url.drivername == "sqlite+pysqlite"
    assert url.database == os.path.join(os.path.dirname(__file__), "app.db")
    assert get_database(app) is get_database(app)


def test_url_from_environment_and_keyword(monkeypatch, tmp_path):
    monkeypatch.setenv("KETTLE_DATABASE_URL", "postgresql://u:secret@db.example/app")
    app = Kettle(env_file=None)
    db = get_database(app)
    sync, async_ = db.urls[None]
    assert (sync.drivername, async_.drivername) == (
        "postgresql+psycopg",
        "postgresql+asyncpg",
    )
    assert "secret" not in repr(db)
    app = Kettle(env_file=None, DATABASE_URL=f"sqlite:///{tmp_path}/x.db")
    assert get_database(app).urls[None][1].drivername == "sqlite+aiosqlite"


def test_binds_from_a_json_environment_variable(monkeypatch):
    monkeypatch.setenv("KETTLE_DATABASE_BINDS", '{"events": "mysql://u@h/e"}')
    db = get_database(Kettle(env_file=None, DATABASE_URL="sqlite://"))
    assert db.urls["events"][0].drivername == "mysql+pymysql"
    monkeypatch.setenv("KETTLE_DATABASE_BINDS", "not json")
    with pytest.raises(ImproperlyConfigured, match="DATABASE_BINDS must be a JSON"):
        get_database(Kettle(env_file=None, DATABASE_URL="sqlite://"))


@pytest.mark.parametrize(
    ("url", "sync", "asynchronous"),
    [
        ("sqlite:///a.db", "sqlite+pysqlite", "sqlite+aiosqlite"),
        ("postgres://h/d", "postgresql+psycopg", "postgresql+asyncpg"),
        ("postgresql+asyncpg://h/d", "postgresql+psycopg", "postgresql+asyncpg"),
        ("postgresql+psycopg://h/d", "postgresql+psycopg", "postgresql+psycopg"),
        ("postgresql+psycopg2://h/d", "postgresql+psycopg2", "postgresql+asyncpg"),
        ("mariadb://h/d", "mariadb+pymysql", "mariadb+asyncmy"),
        ("mysql+aiomysql://h/d", "mysql+pymysql", "mysql+aiomysql"),
        ("oracle://h/d", "oracle+oracledb", "oracle+oracledb_async"),
    ],
)
def test_driver_urls(url, sync, asynchronous):
    s, a = driver_urls(url)
    assert (s.drivername, a.drivername) == (sync, asynchronous)


def test_bad_urls_and_missing_drivers_are_clear():
    with pytest.raises(ImproperlyConfigured, match="invalid database URL"):
        driver_urls("not a url")
    with pytest.raises(ImproperlyConfigured, match="unknown database 'nosuchdb'"):
        driver_urls("nosuchdb://h/d")
    db = get_database(Kettle(env_file=None, DATABASE_URL="oracle://u:p@h/d"))
    with pytest.raises(ImproperlyConfigured, match="pip install 'oracledb'"):
        db.engine()


def test_one_database_per_app():
    app = Kettle(env_file=None, DATABASE_URL="sqlite://")
    get_database(app)
    with pytest.raises(ImproperlyConfigured, match="already has a Database"):
        Database(app)


def test_in_memory_sqlite_is_shared_by_threads():
    import threading

    from sqlalchemy import text

    db = get_database(Kettle(env_file=None, DATABASE_URL="sqlite://"))
    with db.session() as s:
        s.execute(text("CREATE TABLE t (x INTEGER)"))
        s.execute(text("INSERT INTO t VALUES (1)"))
        s.commit()
    seen = []

    def read():
        with db.session() as s:
            seen.append(s.execute(text("SELECT x FROM t")).scalar())

    t = threading.Thread(target=read)
    t.start()
    t.join()
    assert seen == [1]


def test_import_kettle_does_not_import_sqlalchemy():
    code = "import sys, kettle; print('sqlalchemy' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"
