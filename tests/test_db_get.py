"""The database on the request path, on SQLite, PostgreSQL and MariaDB: Kettle's
shorter way to SQLAlchemy's ``Session.get`` gives the same results, a request that
only read is not committed, query counting follows its setting, and the asyncio
pool serves waiting tasks in order."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import ForeignKey
from sqlalchemy import String
from sqlalchemy import event
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import Session
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import reconstructor
from sqlalchemy.orm import relationship

from kettle import Kettle
from kettle import Request
from kettle.db import PK
from kettle.db import KettleSession
from kettle.db import Model
from kettle.db import QueryStats
from kettle.db import get_database
from kettle.db import query_stats
from kettle.db import transaction


class GetShelf(Model):
    id: Mapped[PK]
    name: Mapped[str] = mapped_column(String(80))
    books: Mapped[list[GetBook]] = relationship(back_populates="shelf")


class GetBook(Model):
    id: Mapped[PK]
    title: Mapped[str] = mapped_column(String(80))
    shelf_id: Mapped[int] = mapped_column(ForeignKey("get_shelf.id"))
    shelf: Mapped[GetShelf] = relationship(back_populates="books")


class GetTag(Model):
    code: Mapped[str] = mapped_column(String(20), primary_key=True)
    label: Mapped[str] = mapped_column(String(80))

    @reconstructor
    def _loaded(self) -> None:
        self.seen = True


class GetRack(Model):
    id: Mapped[PK]
    label: Mapped[str] = mapped_column(String(80))
    slots: Mapped[list[GetSlot]] = relationship(lazy="selectin")


class GetSlot(Model):
    rack_id: Mapped[int] = mapped_column(ForeignKey("get_rack.id"), primary_key=True)
    position: Mapped[int] = mapped_column(primary_key=True)


@pytest.fixture(params=[False, True], ids=["production", "debug"])
def get_app(database_url, request):
    """An app on a fresh database with the tables and a few rows; strict loading
    (debug) or not."""
    app = Kettle(env_file=None, DATABASE_URL=database_url.url_sync, DEBUG=request.param)
    db = get_database(app)
    db.create_all()
    with db.session() as s:
        shelf = GetShelf(id=1, name="Poetry")
        s.add_all([shelf, GetBook(id=1, title="Odes", shelf=shelf)])
        s.add_all(
            [GetTag(code="sf", label="Science fiction"), GetRack(id=1, label="A")]
        )
        s.flush()
        s.add_all([GetSlot(rack_id=1, position=p) for p in (1, 2)])
        s.commit()
    yield app
    db.dispose()


def statements(session: Session) -> QueryStats:
    stats = QueryStats()
    session.info["kettle_stats"] = stats
    return stats


def test_get_reads_a_row_as_sqlalchemy_does(get_app):
    db = get_database(get_app)
    with db.session() as s:
        counted = statements(s)
        book = s.get(GetBook, 1)
        assert (book.id, book.title, book.shelf_id) == (1, "Odes", 1)
        assert s.get(GetBook, 1) is book  # from the identity map
        assert counted.count == 1
        assert s.get(GetBook, 999) is None
        assert book in s and not s.dirty and not s.new
        assert book.shelf.name == "Poetry"  # lazy load on a row get() made
        assert book.shelf.books == [book]
        book.title = "Odes, revised"
        assert list(s.dirty) == [book]
        s.commit()
    with db.session() as s:
        assert s.get(GetBook, 1).title == "Odes, revised"
        assert Session.get(s, GetBook, 1) is s.get(GetBook, 1)


def test_get_matches_sqlalchemy_for_every_kind_of_model(get_app):
    db = get_database(get_app)
    for model, key in ((GetBook, 1), (GetShelf, 1), (GetTag, "sf"), (GetRack, 1)):
        with db.session() as mine, Session(db.engine()) as theirs:
            a, b = mine.get(model, key), theirs.get(model, key)
            columns = [c.key for c in model.__mapper__.column_attrs]
            assert [getattr(a, c) for c in columns] == [getattr(b, c) for c in columns]
    with db.session() as s:
        tag = s.get(GetTag, "sf")
        assert tag.seen  # the reconstructor ran
        counted = statements(s)
        rack = s.get(GetRack, 1)
        loaded = counted.count
        assert sorted(slot.position for slot in rack.slots) == [1, 2]
        assert counted.count == loaded  # slots came with the rack (selectin)
        assert s.get(GetSlot, (1, 2)).position == 2  # a two-column key


def test_get_refreshes_an_expired_object(get_app):
    db = get_database(get_app)
    with db.session() as s:
        shelf = s.get(GetShelf, 1)
        with db.session() as other:
            other.execute(update(GetShelf).values(name="Prose"))
            other.commit()
        assert s.get(GetShelf, 1).name == "Poetry"  # the identity map's copy
        s.expire(shelf)
        assert s.get(GetShelf, 1) is shelf
        assert shelf.name == "Prose"


def test_get_flushes_pending_objects_first(get_app):
    db = get_database(get_app)
    with db.session() as s:
        shelf = GetShelf(id=2, name="Drama")
        s.add(shelf)
        assert s.get(GetShelf, 2) is shelf
        s.delete(s.get(GetBook, 1))
        s.flush()
        assert s.get(GetBook, 1) is None
        s.rollback()


def test_get_with_options_takes_sqlalchemys_way(get_app):
    db = get_database(get_app)
    with db.session() as s:
        book = s.get(GetBook, 1)
        with db.session() as other:
            other.execute(update(GetBook).values(title="Epodes"))
            other.commit()
        assert s.get(GetBook, 1, populate_existing=True).title == "Epodes"
        assert s.get(GetBook, {"id": 1}) is book


@pytest.fixture
def ran(monkeypatch):
    """The statements sessions ran through ``execute()``."""
    statements = []
    execute = KettleSession.execute

    def counting(self, statement, *args, **kwargs):
        statements.append(statement)
        return execute(self, statement, *args, **kwargs)

    monkeypatch.setattr(KettleSession, "execute", counting)
    return statements


def test_plain_models_skip_the_orm_statement(get_app, ran):
    """The shorter way reads a plain model's row without an ORM statement; a model
    with a reconstructor still goes through one."""
    db = get_database(get_app)
    with db.session() as s:
        assert s.get(GetBook, 1).title == "Odes"
        assert ran == []
        assert s.get(GetTag, "sf").label == "Science fiction"
        assert len(ran) == 1


def test_async_get(get_app, ran):
    db = get_database(get_app)

    async def main():
        async with db.async_session() as s:
            book = await s.get(GetBook, 1)
            assert book.title == "Odes"
            assert ran == []  # the shorter way, as for a sync session
            assert await s.get(GetBook, 1) is book
            assert await s.get(GetBook, 999) is None
            book.title = "Odes II"
            await s.commit()
        async with db.async_session() as s:
            assert (await s.get(GetBook, 1)).title == "Odes II"
        await db.dispose_async()

    asyncio.run(main())


def test_a_request_that_only_read_is_not_committed(get_app, make_client):
    commits = []

    def committed(session):
        commits.append(session)

    @get_app.get("/read")
    def read(db: Session):
        return {"title": db.get(GetBook, 1).title}

    @get_app.post("/write")
    def write(db: Session):
        db.get(GetBook, 1).title = "Written"
        return {}

    @get_app.post("/flushed")
    def flushed(db: Session):
        db.add(GetShelf(id=3, name="Flushed"))
        db.flush()
        return {}

    @get_app.get("/locked")
    def locked(db: Session):
        with transaction(db):
            db.execute(select(GetShelf)).all()
        db.execute(select(GetShelf)).all()
        return {}

    event.listen(KettleSession, "after_commit", committed)
    try:
        client = make_client(get_app)
        assert client.get("/read").json() == {"title": "Odes"}
        assert commits == []
        client.post("/write")
        client.post("/flushed")
        assert len(commits) == 2
        client.get("/locked")  # transaction() committed itself: nothing left
        assert len(commits) == 3
    finally:
        event.remove(KettleSession, "after_commit", committed)
    with get_database(get_app).session() as s:
        assert s.get(GetBook, 1).title == "Written"
        assert s.get(GetShelf, 3).name == "Flushed"


@pytest.mark.parametrize(
    ("settings", "counted"),
    [
        ({}, False),
        ({"DATABASE_QUERY_STATS": "true"}, True),
        ({"DATABASE_QUERY_BUDGET": "10"}, True),
        ({"TESTING": True}, True),
        ({"TESTING": True, "DATABASE_QUERY_STATS": "false"}, False),
    ],
)
def test_query_stats_setting(database_url, make_client, settings, counted):
    app = Kettle(env_file=None, DATABASE_URL=database_url.url_sync, **settings)
    get_database(app).create_all()

    @app.get("/")
    def index(request: Request, db: Session):
        db.get(GetShelf, 1)
        db.get(GetShelf, 2)
        stats = query_stats(request)
        return {"count": None if stats is None else stats.count}

    assert make_client(app).get("/").json() == {"count": 2 if counted else None}
    get_database(app).dispose()


def test_async_pool_serves_waiting_tasks_first_come_first_served(database_url):
    """A connection coming back to the asyncio pool goes to the task that waited
    longest, not to one that asks later (SQLAlchemy's queue lets a late task take
    it, and under load some requests waited hundreds of milliseconds)."""
    app = Kettle(
        env_file=None,
        DATABASE_URL=database_url.url_sync,
        DATABASE_ENGINE_OPTIONS={"pool_size": 1, "max_overflow": 0},
    )
    db = get_database(app)
    order = []

    async def main():
        engine = db.async_engine()
        first = await engine.connect()

        async def user(name):
            async with engine.connect() as conn:
                order.append(name)
                await conn.execute(select(1))

        waiting = [asyncio.create_task(user(name)) for name in "bcd"]
        await asyncio.sleep(0.05)  # b, c and d wait, in that order
        await first.close()
        await user("late")  # asks at once, while b has not run yet
        await asyncio.gather(*waiting)
        await db.dispose_async()

    asyncio.run(main())
    assert order == ["b", "c", "d", "late"]


def test_constraint_violation_is_a_409_and_writes_nothing(get_app, make_client):
    @get_app.post("/shelves")
    def add(name: str, db: Session):
        db.add(GetShelf(id=1, name=name))  # id 1 exists: a unique violation
        return {}

    @get_app.post("/books")
    def book(db: Session):
        db.add(GetShelf(id=7, name="Kept?"))
        db.flush()
        db.add(GetBook(id=1, title="Twice", shelf_id=7))
        return {}

    client = make_client(get_app)
    r = client.post("/shelves", params={"name": "Again"})
    assert r.status_code == 409
    detail = r.json()["detail"]
    assert detail.startswith("the request conflicts with data")
    assert detail.endswith(")") == bool(get_app.config["DEBUG"])  # the driver's words
    r = client.post("/books", headers={"accept": "text/html"})
    assert r.status_code == 409 and "409 Conflict" in r.text
    with get_database(get_app).session() as s:
        assert s.get(GetShelf, 1).name == "Poetry"
        assert s.get(GetShelf, 7) is None  # the flushed row was rolled back


def test_an_apps_own_integrity_error_handler_wins(database_url, make_client):
    from sqlalchemy.exc import IntegrityError

    app = Kettle(env_file=None, DATABASE_URL=database_url.url_sync)
    get_database(app).create_all()

    @app.errorhandler(IntegrityError)
    def taken(exc):
        return {"error": "taken"}, 400

    @app.post("/shelves")
    def add(db: Session):
        db.add_all([GetShelf(id=5, name="a"), GetShelf(id=5, name="b")])
        db.flush()
        return {}

    r = make_client(app).post("/shelves")
    assert (r.status_code, r.json()) == (400, {"error": "taken"})
    get_database(app).dispose()
