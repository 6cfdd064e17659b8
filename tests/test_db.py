"""kettle.db on real databases: every test here runs on SQLite, PostgreSQL and
MariaDB (the ``database_url`` fixture), through both server interfaces where a
request is involved."""

from __future__ import annotations

import asyncio
import datetime
import logging
import threading
import time
from typing import Annotated

import httpx
import pytest
from sqlalchemy import ForeignKey
from sqlalchemy import String
from sqlalchemy import desc
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import Session
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship
from sqlalchemy.orm import selectinload

from kettle import Depends
from kettle import Kettle
from kettle import abort
from kettle.db import PK
from kettle.db import Model
from kettle.db import QueryBudgetExceeded
from kettle.db import Timestamps
from kettle.db import bulk_insert
from kettle.db import bulk_update
from kettle.db import first_or_404
from kettle.db import get_database
from kettle.db import get_or_404
from kettle.db import keyset
from kettle.db import paginate
from kettle.db import query_budget
from kettle.db import replica
from kettle.db import transaction
from kettle.exceptions import ImproperlyConfigured


class DbAuthor(Model):
    id: Mapped[PK]
    name: Mapped[str] = mapped_column(String(80), unique=True)
    books: Mapped[list[DbBook]] = relationship(back_populates="author")


class DbBook(Model, Timestamps):
    __repr_attrs__ = ("title",)

    id: Mapped[PK]
    title: Mapped[str] = mapped_column(String(200))
    year: Mapped[int] = mapped_column(default=2000)
    author_id: Mapped[int] = mapped_column(ForeignKey("db_author.id"))
    author: Mapped[DbAuthor] = relationship(back_populates="books")


@pytest.fixture
def db_app(database_url):
    """An app on a fresh database with the test tables, in debug."""
    app = Kettle(env_file=None, DATABASE_URL=database_url.url_sync, DEBUG=True)
    app.backend = database_url.backend
    db = get_database(app)
    db.create_all()
    yield app
    db.dispose()


def add_books(app: Kettle, count: int, author: str = "Ann") -> None:
    with get_database(app).session() as s:
        a = DbAuthor(name=author)
        s.add(a)
        s.add_all(
            DbBook(title=f"Book {i:03}", year=1900 + i, author=a) for i in range(count)
        )
        s.commit()


def count_rows(app: Kettle, model: type) -> int:
    with get_database(app).session() as s:
        return s.scalar(select(func.count()).select_from(model))


def in_transaction(session: Session) -> bool:
    """What the driver says of the server connection: is a transaction open?"""
    dbapi = session.connection().connection.dbapi_connection
    name = session.bind.dialect.name
    if name == "postgresql":
        import psycopg

        return dbapi.info.transaction_status != psycopg.pq.TransactionStatus.IDLE
    if name == "sqlite":
        return dbapi.in_transaction
    return bool(dbapi.server_status & 1)  # SERVER_STATUS_IN_TRANS


# -- sessions per request ----------------------------------------------------------


def test_commit_on_success_rollback_on_error(db_app, make_client):
    @db_app.post("/authors")
    def create(name: str, db: Session):
        db.add(DbAuthor(name=name))
        return {"ok": True}

    @db_app.post("/fail")
    def fail(name: str, db: Session):
        db.add(DbAuthor(name=name))
        db.flush()  # the row reached the database, inside the transaction
        raise RuntimeError("boom")

    @db_app.post("/missing")
    def missing(name: str, db: Session):
        db.add(DbAuthor(name=name))
        db.flush()
        abort(404)

    client = make_client(db_app, raise_server_exceptions=False)
    assert client.post("/authors?name=kept").status_code == 200
    assert client.post("/fail?name=lost").status_code == 500
    assert client.post("/missing?name=lost2").status_code == 404
    with get_database(db_app).session() as s:
        assert s.scalars(select(DbAuthor.name)).all() == ["kept"]


def test_async_session_commit_and_rollback(db_app, make_client):
    @db_app.post("/authors")
    async def create(name: str, db: AsyncSession):
        db.add(DbAuthor(name=name))
        await db.flush()
        if name == "bad":
            raise RuntimeError("boom")
        return {"id": (await get_or_404(db, DbAuthor, 1)).id}

    client = make_client(db_app, raise_server_exceptions=False)
    assert client.post("/authors?name=good").json() == {"id": 1}
    assert client.post("/authors?name=bad").status_code == 500
    with get_database(db_app).session() as s:
        assert s.scalars(select(DbAuthor.name)).all() == ["good"]


def test_reads_run_without_a_transaction_writes_in_one(db_app, make_client):
    seen = {}

    @db_app.post("/probe")
    def probe(db: Session):
        db.execute(select(DbAuthor)).all()
        seen["after read"] = in_transaction(db)
        db.add(DbAuthor(name="x"))
        db.flush()
        seen["after write"] = in_transaction(db)
        return {}

    @db_app.get("/explicit")
    def explicit(db: Session):
        with transaction(db):
            db.execute(select(DbAuthor)).all()
            seen["explicit"] = in_transaction(db)
        seen["after block"] = in_transaction(db)
        return {}

    client = make_client(db_app)
    client.post("/probe")
    client.get("/explicit")
    assert seen == {
        "after read": False,
        "after write": True,
        "explicit": True,
        "after block": False,
    }
    assert count_rows(db_app, DbAuthor) == 1


def test_no_connection_leaked_after_1000_requests(db_app, interface):
    @db_app.get("/ok/{id:int}")
    def ok(id: int, db: Session):
        return {"name": get_or_404(db, DbAuthor, id).name}

    @db_app.post("/err")
    def err(db: Session):
        db.add(DbAuthor(name="e"))
        db.flush()
        raise RuntimeError("boom")

    @db_app.get("/aok/{id:int}")
    async def aok(id: int, db: AsyncSession):
        return {"name": (await get_or_404(db, DbAuthor, id)).name}

    add_books(db_app, 1)
    db = get_database(db_app)
    with db_app.test_client(interface=interface, raise_server_exceptions=False) as c:
        for i in range(1000):
            kind = i % 4
            if kind == 0:
                assert c.get("/ok/1").status_code == 200
            elif kind == 1:
                assert c.get("/ok/999").status_code == 404
            elif kind == 2:
                assert c.post("/err").status_code == 500
            else:
                assert c.get("/aok/1").status_code == 200
        assert db.engine().pool.checkedout() == 0
        assert db.async_engine().sync_engine.pool.checkedout() == 0
    assert count_rows(db_app, DbAuthor) == 1


def test_concurrent_requests_do_not_share_a_session(db_app):
    asyncio.run(_concurrent_requests(db_app))


async def _concurrent_requests(db_app):
    sessions = []
    gate = asyncio.Barrier(4)

    @db_app.post("/w/{n:int}")
    async def write(n: int, db: AsyncSession):
        sessions.append(db)
        await db.scalars(select(DbAuthor.name))  # each has a connection now
        db.add(DbAuthor(name=f"a{n}"))
        await asyncio.wait_for(gate.wait(), 10)  # all four are in flight here
        return {"names": [a.name for a in db.new]}

    transport = httpx.ASGITransport(app=db_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        responses = await asyncio.gather(*(c.post(f"/w/{n}") for n in range(4)))
    await get_database(db_app).dispose_async()
    assert len({id(s) for s in sessions}) == 4
    for n, r in enumerate(responses):
        assert r.json()["names"] == [f"a{n}"]  # only its own pending rows
    assert count_rows(db_app, DbAuthor) == 4


def test_concurrent_sync_requests_do_not_share_a_session(db_app):
    sessions = []
    gate = threading.Barrier(3, timeout=20)

    @db_app.get("/s")
    def read(db: Session):
        sessions.append(db)
        db.execute(select(DbAuthor)).all()
        gate.wait()
        return {}

    with db_app.test_client(interface="wsgi") as c:
        threads = [threading.Thread(target=c.get, args=("/s",)) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    assert len({id(s) for s in sessions}) == 3
    assert get_database(db_app).engine().pool.checkedout() == 0


def test_wrong_session_kind_is_refused_at_start_up(db_app):
    with pytest.raises(ImproperlyConfigured, match="AsyncSession"):

        @db_app.get("/a")
        async def a(db: Session):
            return {}

    with pytest.raises(ImproperlyConfigured, match="no event loop"):

        @db_app.get("/b")
        def b(db: AsyncSession):
            return {}


def author_names(db: Session) -> list[str]:
    return list(db.scalars(select(DbAuthor.name).order_by(DbAuthor.name)))


def test_session_in_a_dependency(db_app, make_client):
    @db_app.get("/names")
    def names(found: Annotated[list[str], Depends(author_names)], db: Session):
        db.add(DbAuthor(name="late"))  # same session as the dependency's
        return {"names": found}

    add_books(db_app, 0, "Zed")
    client = make_client(db_app)
    assert client.get("/names").json() == {"names": ["Zed"]}
    assert count_rows(db_app, DbAuthor) == 2


# -- queries ---------------------------------------------------------------------


def test_get_and_first_or_404(db_app, make_client):
    @db_app.get("/books/{id:int}")
    def book(id: int, db: Session):
        return {"title": get_or_404(db, DbBook, id).title}

    @db_app.get("/by-year/{year:int}")
    def by_year(year: int, db: Session):
        stmt = select(DbBook).where(DbBook.year == year)
        return {"title": first_or_404(db, stmt, description="No book that year.").title}

    add_books(db_app, 3)
    client = make_client(db_app)
    assert client.get("/books/2").json() == {"title": "Book 001"}
    r = client.get("/books/99")
    assert r.status_code == 404
    assert "No DbBook with key 99" in r.text
    for huge in (2**31, 2**63, 10**30):  # more than an INTEGER holds
        r = client.get(f"/books/{huge}")
        assert r.status_code == 404, r.text  # PostgreSQL would refuse the query
        assert f"No DbBook with key {huge}" in r.text
    assert client.get("/by-year/1902").json() == {"title": "Book 002"}
    r = client.get("/by-year/1800")
    assert r.status_code == 404
    assert "No book that year." in r.text


def test_paginate(db_app, make_client):
    @db_app.get("/books")
    def books(db: Session, page: int = 1, per_page: int = 10):
        p = paginate(db, select(DbBook).order_by(DbBook.id), page, per_page)
        return {"titles": [b.title for b in p], **p.to_dict()}

    add_books(db_app, 25)
    client = make_client(db_app)
    first = client.get("/books").json()
    assert first["titles"] == [f"Book {i:03}" for i in range(10)]
    assert (first["total"], first["pages"], first["has_next"], first["has_prev"]) == (
        25,
        3,
        True,
        False,
    )
    last = client.get("/books?page=3").json()
    assert last["titles"] == [f"Book {i:03}" for i in range(20, 25)]
    assert last["has_next"] is False
    assert client.get("/books?page=4").status_code == 404
    assert client.get("/books?page=0").status_code == 404
    assert client.get("/books?per_page=0").status_code == 400
    capped = client.get("/books?per_page=1000").json()
    assert capped["per_page"] == 100 and len(capped["titles"]) == 25


def test_paginate_and_keyset_async(db_app):
    asyncio.run(_paginate_and_keyset_async(db_app))


async def _paginate_and_keyset_async(db_app):
    add_books(db_app, 7)
    db = get_database(db_app)
    async with db.async_session() as s:
        page = await paginate(s, select(DbBook).order_by(DbBook.id), 2, 3)
        assert [b.title for b in page] == ["Book 003", "Book 004", "Book 005"]
        assert page.total == 7
        walked, cursor = [], None
        while True:
            kp = await keyset(s, select(DbBook), DbBook.id, after=cursor, per_page=3)
            walked += [b.id for b in kp]
            cursor = kp.next_cursor
            if cursor is None:
                break
        assert walked == list(range(1, 8))
    await db.dispose_async()


def test_keyset_pages_over_two_columns(db_app, make_client):
    @db_app.get("/books")
    def books(db: Session, after: str | None = None):
        kp = keyset(
            db,
            select(DbBook),
            [desc(DbBook.year), DbBook.id],
            after=after,
            per_page=4,
        )
        return {"ids": [b.id for b in kp], "next": kp.next_cursor}

    add_books(db_app, 10)
    with get_database(db_app).session() as s:  # ties on year, broken by id
        s.execute(text("UPDATE db_book SET year = 1950 WHERE id IN (2, 3, 4)"))
        s.commit()
    client = make_client(db_app)
    ids, after = [], None
    while True:
        page = client.get("/books", params={"after": after} if after else {}).json()
        ids += page["ids"]
        after = page["next"]
        if after is None:
            break
    assert ids == [2, 3, 4, 10, 9, 8, 7, 6, 5, 1]
    r = client.get("/books?after=not-a-cursor")
    assert r.status_code == 400
    assert "cursor" in r.text


def test_keyset_cursor_carries_dates(db_app):
    add_books(db_app, 3)
    with get_database(db_app).session() as s:
        kp = keyset(s, select(DbBook), [DbBook.created_at, DbBook.id], per_page=2)
        assert kp.has_next
        rest = keyset(
            s,
            select(DbBook),
            [DbBook.created_at, DbBook.id],
            after=kp.next_cursor,
            per_page=2,
        )
        assert [b.id for b in kp] + [b.id for b in rest] == [1, 2, 3]


def test_bulk_insert_and_update(db_app):
    add_books(db_app, 0)
    with get_database(db_app).session() as s:
        n = bulk_insert(
            s,
            DbBook,
            [{"title": f"T{i}", "year": i, "author_id": 1} for i in range(50)],
        )
        assert n == 50
        bulk_update(s, DbBook, [{"id": i, "year": 3000} for i in range(1, 11)])
        s.commit()
        assert s.scalar(select(func.count()).where(DbBook.year == 3000)) == 10
        with pytest.raises(ValueError, match="primary key id"):
            bulk_update(s, DbBook, [{"year": 1}])
    assert count_rows(db_app, DbBook) == 50


def test_raw_sql_parameters_stay_data(db_app):
    add_books(db_app, 2)
    hostile = "x' OR '1'='1"
    with get_database(db_app).session() as s:
        rows = s.execute(
            text("SELECT id FROM db_book WHERE title = :title"), {"title": hostile}
        ).all()
        assert rows == []


def test_transaction_blocks_and_savepoints(db_app):
    with get_database(db_app).session() as s:
        with transaction(s):
            s.add(DbAuthor(name="outer"))
            with pytest.raises(RuntimeError), transaction(s):
                s.add(DbAuthor(name="inner"))
                s.flush()
                raise RuntimeError("undo the inner block only")
        assert s.scalars(select(DbAuthor.name)).all() == ["outer"]
        with pytest.raises(RuntimeError), transaction(s):
            s.add(DbAuthor(name="gone"))
            s.flush()
            raise RuntimeError("undo all")
    assert count_rows(db_app, DbAuthor) == 1


# -- N+1, query counts, budgets ----------------------------------------------------


def test_lazy_load_in_a_loop_raises(db_app, make_client):
    @db_app.get("/n1")
    def n_plus_one(db: Session):
        return [b.author.name for b in db.scalars(select(DbBook))]

    @db_app.get("/eager")
    def eager(db: Session):
        stmt = select(DbBook).options(selectinload(DbBook.author))
        return [b.author.name for b in db.scalars(stmt)]

    @db_app.get("/one")
    def one(db: Session):
        return {"author": get_or_404(db, DbBook, 1).author.name}  # one row: fine

    add_books(db_app, 3)
    client = make_client(db_app, raise_server_exceptions=False)
    r = client.get("/n1")
    assert r.status_code == 500
    message = r.json()["exception"]
    assert "N+1 query: DbBook.author lazy-loaded" in message
    assert "test_db.py" in message and "selectinload(DbBook.author)" in message
    assert client.get("/eager").json() == ["Ann"] * 3
    assert client.get("/one").json() == {"author": "Ann"}


def test_strict_loading_off_outside_debug(database_url, make_client):
    app = Kettle(env_file=None, DATABASE_URL=database_url.url_sync)
    db = get_database(app)
    db.create_all()

    @app.get("/n1")
    def n_plus_one(db: Session):
        return [b.author.name for b in db.scalars(select(DbBook))]

    add_books(app, 2)
    assert make_client(app).get("/n1").json() == ["Ann", "Ann"]
    db.dispose()


def test_query_count_and_time_reported(db_app, make_client, caplog):
    @db_app.get("/three")
    def three(db: Session):
        for i in (1, 2, 3):
            db.get(DbBook, i)
        return {}

    add_books(db_app, 3)
    client = make_client(db_app)
    with caplog.at_level(logging.INFO, logger="kettle.db"):
        r = client.get("/three")
    timing = r.headers["server-timing"]
    assert timing.startswith("db;dur=") and 'desc="3 queries"' in timing
    assert any("GET /three: 3 queries" in m for m in caplog.messages)


def test_no_server_timing_outside_debug(database_url, make_client):
    app = Kettle(env_file=None, DATABASE_URL=database_url.url_sync)

    @app.get("/")
    def index(db: Session):
        db.execute(select(1))
        return {}

    r = make_client(app).get("/")
    assert "server-timing" not in r.headers
    get_database(app).dispose()


def test_query_budget(db_app, make_client):
    @db_app.get("/many")
    @query_budget(2)
    def many(db: Session):
        for i in (1, 2, 3):
            db.get(DbBook, i)
        return {}

    @db_app.get("/few")
    @query_budget(2)
    def few(db: Session):
        db.get(DbBook, 1)
        return {}

    add_books(db_app, 3)
    client = make_client(db_app, raise_server_exceptions=False)
    r = client.get("/many")
    assert r.status_code == 500
    assert "query budget exceeded in many: statement 3 of a budget of 2" in r.text
    assert client.get("/few").status_code == 200
    with pytest.raises(ValueError):
        query_budget(-1)


def test_query_budget_setting_warns_in_production(database_url, make_client, caplog):
    app = Kettle(
        env_file=None, DATABASE_URL=database_url.url_sync, DATABASE_QUERY_BUDGET="1"
    )
    get_database(app).create_all()

    @app.get("/two")
    def two(db: Session):
        db.get(DbBook, 1)
        db.get(DbBook, 2)
        return {}

    with caplog.at_level(logging.WARNING, logger="kettle.db"):
        assert make_client(app).get("/two").status_code == 200
    assert any("query budget exceeded" in m for m in caplog.messages)
    get_database(app).dispose()
    with pytest.raises(QueryBudgetExceeded):
        raise QueryBudgetExceeded("importable")


# -- models ----------------------------------------------------------------------


def test_model_names_repr_and_timestamps(db_app):
    assert DbBook.__tablename__ == "db_book"
    with get_database(db_app).session() as s:
        a = DbAuthor(name="Ann")
        assert repr(a) == "<DbAuthor (unsaved)>"
        b = DbBook(title="T", author=a)
        s.add(b)
        s.commit()
        assert repr(b) == "<DbBook id=1 title='T'>"
        created, updated = b.created_at, b.updated_at
        assert created is not None and updated is not None
        time.sleep(0.01)
        b.title = "U"
        s.commit()
        assert b.updated_at > updated
        assert b.created_at == created
        fresh = s.execute(select(DbBook.created_at)).scalar_one()
        if fresh.tzinfo is None:
            fresh = fresh.replace(tzinfo=datetime.UTC)
        assert abs(fresh - created) < datetime.timedelta(seconds=1)


# -- binds and replicas ------------------------------------------------------------


class DbEvent(Model):
    __bind_key__ = "events"
    id: Mapped[PK]
    kind: Mapped[str] = mapped_column(String(20))


def test_binds_route_models_to_their_database(database_url, tmp_path, make_client):
    events = tmp_path / "events.sqlite3"
    app = Kettle(
        env_file=None,
        DATABASE_URL=database_url.url_sync,
        DATABASE_BINDS={"events": f"sqlite:///{events}"},
    )
    db = get_database(app)
    db.create_all()
    db.create_all("events")

    @app.post("/both")
    def both(db: Session):
        db.add(DbAuthor(name="main"))
        db.add(DbEvent(kind="created"))
        return {}

    make_client(app).post("/both")
    with db.engine("events").connect() as c:
        assert c.execute(text("SELECT kind FROM db_event")).all() == [("created",)]
    with db.engine().connect() as c:
        assert c.execute(text("SELECT name FROM db_author")).all() == [("main",)]
        tables = db.engine().dialect.get_table_names(c)
        assert "db_event" not in tables
    with pytest.raises(ImproperlyConfigured, match="no database named 'nope'"):
        db.engine("nope")
    db.dispose()


ReadDB = Annotated[Session, Depends(replica("replica"))]


@pytest.fixture
def replica_app(database_url):
    """A debug app whose "replica" bind is a stand-in: the same database under a
    second name. Its tables are made, and Rita is an author."""
    app = Kettle(
        env_file=None,
        DATABASE_URL=database_url.url_sync,
        DATABASE_BINDS={"replica": database_url.url_sync},
        DEBUG=True,
    )
    get_database(app).create_all()
    add_books(app, 0, "Rita")
    yield app
    get_database(app).dispose()


def test_replica_reads_and_refuses_writes(replica_app, make_client):
    app = replica_app

    @app.get("/names")
    def names(db: ReadDB):
        return list(db.scalars(select(DbAuthor.name)))

    @app.post("/names")
    def write(db: ReadDB):
        db.add(DbAuthor(name="nope"))
        return {}

    client = make_client(app, raise_server_exceptions=False)
    assert client.get("/names").json() == ["Rita"]
    r = client.post("/names")
    assert r.status_code == 500 and "ReadOnlySessionError" in r.text
    assert replica("replica") is replica("replica")


def test_query_count_spans_every_session_of_a_request(replica_app, make_client):
    """The main session and a replica's, in one request, count into one total."""
    app = replica_app

    @app.get("/both")
    def both(db: Session, read: ReadDB):
        db.get(DbAuthor, 1)
        list(read.scalars(select(DbAuthor.name)))
        return {}

    r = make_client(app).get("/both")
    assert 'desc="2 queries"' in r.headers["server-timing"]


# -- tests in a rolled-back transaction ------------------------------------------


def test_rolled_back_undoes_everything_requests_wrote(db_app, make_client):
    @db_app.post("/authors")
    def create(name: str, db: Session):
        db.add(DbAuthor(name=name))
        return {}

    @db_app.post("/fail")
    def fail(db: Session):
        db.add(DbAuthor(name="failed"))
        db.flush()
        raise RuntimeError("boom")

    @db_app.get("/authors")
    def names(db: Session):
        return list(db.scalars(select(DbAuthor.name).order_by(DbAuthor.name)))

    database = get_database(db_app)
    client = make_client(db_app, raise_server_exceptions=False)
    with database.rolled_back() as s:
        s.add(DbAuthor(name="arranged"))
        s.flush()
        assert client.post("/authors?name=posted").status_code == 200
        assert client.post("/fail").status_code == 500  # undoes only its own work
        assert client.get("/authors").json() == ["arranged", "posted"]
    assert count_rows(db_app, DbAuthor) == 0
    assert client.get("/authors").json() == []
    assert database.engine().pool.checkedout() == 0


def test_pytest_plugin_rolls_each_test_back(database_url, tmp_path):
    import subprocess
    import sys

    (tmp_path / "conftest.py").write_text(
        "import os, pytest\n"
        "from kettle import Kettle\n"
        "from kettle.db import get_database\n"
        "pytest_plugins = ['kettle.db.testing']\n"
        "@pytest.fixture(scope='session')\n"
        "def app():\n"
        "    app = Kettle(env_file=None, DATABASE_URL=os.environ['TEST_DB_URL'])\n"
        "    import models\n"
        "    get_database(app).create_all()\n"
        "    yield app\n"
        "    get_database(app).dispose()\n"
    )
    (tmp_path / "models.py").write_text(
        "from sqlalchemy import String\n"
        "from sqlalchemy.orm import Mapped, mapped_column\n"
        "from kettle.db import Model, PK\n"
        "class Note(Model):\n"
        "    id: Mapped[PK]\n"
        "    text: Mapped[str] = mapped_column(String(50))\n"
    )
    (tmp_path / "test_notes.py").write_text(
        "from sqlalchemy import func, select\n"
        "from sqlalchemy.orm import Session\n"
        "from models import Note\n"
        "def test_a(db, app):\n"
        "    @app.post('/notes')\n"
        "    def add(text: str, db: Session):\n"
        "        db.add(Note(text=text))\n"
        "        return {}\n"
        "    db.add(Note(text='arranged')); db.flush()\n"
        "    app.test_client().post('/notes?text=posted')\n"
        "    assert db.scalar(select(func.count()).select_from(Note)) == 2\n"
        "def test_b_sees_nothing(db):\n"
        "    assert db.scalar(select(func.count()).select_from(Note)) == 0\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        env={**__import__("os").environ, "TEST_DB_URL": database_url.url_sync},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout
