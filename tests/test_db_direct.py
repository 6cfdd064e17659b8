"""Direct reads (``kettle.db._direct``), on SQLite, PostgreSQL and MariaDB: a
session's simplest reads (``get()``, ``select(Model)``) run on a pooled driver
connection of their own, and give what SQLAlchemy's own way gives; whatever
they cannot do exactly as SQLAlchemy would goes through SQLAlchemy."""

from __future__ import annotations

import asyncio
import gc
import time

import pytest
import sqlalchemy.exc
from sqlalchemy import LABEL_STYLE_TABLENAME_PLUS_COL
from sqlalchemy import ForeignKey
from sqlalchemy import Select
from sqlalchemy import String
from sqlalchemy import TypeDecorator
from sqlalchemy import bindparam
from sqlalchemy import event
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy import type_coerce
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import Session
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship
from sqlalchemy.orm import with_loader_criteria

from kettle import Kettle
from kettle.db import PK
from kettle.db import Model
from kettle.db import NPlusOneError
from kettle.db import QueryBudgetExceeded
from kettle.db import QueryStats
from kettle.db import get_database
from kettle.db.engine import Borrowed


class DirAuthor(Model):
    id: Mapped[PK]
    name: Mapped[str] = mapped_column(String(80))
    poems: Mapped[list[DirPoem]] = relationship(back_populates="author")


class DirPoem(Model):
    id: Mapped[PK]
    title: Mapped[str] = mapped_column(String(80))
    lines: Mapped[int]
    author_id: Mapped[int] = mapped_column(ForeignKey("dir_author.id"))
    author: Mapped[DirAuthor] = relationship(back_populates="poems")


POEMS = [
    (1, "Ode", 14, 1),
    (2, "Elegy", 30, 1),
    (3, "Sonnet", 14, 2),
    (4, "Haiku", 3, 2),
]


def _app(url: str, options: dict[str, object]):
    app = Kettle(env_file=None, DATABASE_URL=url, DATABASE_ENGINE_OPTIONS=options)
    db = get_database(app)
    db.create_all()
    with db.session() as s:
        s.add_all([DirAuthor(id=1, name="Keats"), DirAuthor(id=2, name="Basho")])
        s.flush()
        s.add_all(
            [DirPoem(id=i, title=t, lines=n, author_id=a) for i, t, n, a in POEMS]
        )
        s.commit()
    return app


@pytest.fixture
def app(database_url):
    """An app on a fresh database holding two authors and four poems."""
    app = _app(database_url.url_sync, {})
    yield app
    get_database(app).dispose()


@pytest.fixture
def small_app(database_url):
    """The same, with a pool of one connection."""
    app = _app(
        database_url.url_sync, {"pool_size": 1, "max_overflow": 0, "pool_timeout": 2}
    )
    yield app
    get_database(app).dispose()


@pytest.fixture
def connects(monkeypatch):
    """How many SQLAlchemy ``Connection`` objects engines made (a direct read
    makes none)."""
    made = []
    connect = Engine.connect

    def counting(self):
        made.append(self)
        return connect(self)

    monkeypatch.setattr(Engine, "connect", counting)
    return made


def poems(rows):
    return [(p.id, p.title, p.lines, p.author_id) for p in rows]


STATEMENTS = [
    lambda: select(DirPoem),
    lambda: select(DirPoem).where(DirPoem.lines == 14).order_by(DirPoem.id),
    lambda: select(DirPoem).where(DirPoem.lines == 3),  # same shape, other value
    lambda: select(DirPoem).filter_by(author_id=2).order_by(DirPoem.title),
    lambda: select(DirPoem).order_by(DirPoem.id.desc()).limit(2).offset(1),
    lambda: (
        select(DirPoem)
        .join(DirPoem.author)
        .where(DirAuthor.name == "Keats")
        .order_by(DirPoem.id)
    ),
    lambda: select(DirPoem).where(DirPoem.title.like("%e%")).order_by(DirPoem.id),
    lambda: select(DirPoem).where(DirPoem.id.in_([2, 4])).order_by(DirPoem.id),
]


def test_selects_give_what_sqlalchemy_gives(app, connects):
    db = get_database(app)
    for make in STATEMENTS:
        with db.session() as mine, Session(db.engine()) as theirs:
            expected = poems(theirs.scalars(make()))
            assert expected, "every statement finds rows"
            del connects[:]
            assert poems(mine.scalars(make())) == expected
            assert poems(mine.execute(make()).scalars()) == expected
            assert [row._fields for row in mine.execute(make())] == [
                row._fields for row in theirs.execute(make())
            ]
            row = mine.execute(make()).first()
            assert row._mapping[DirPoem] is row.DirPoem is row[0]
            if "IN (" not in str(make()):
                assert connects == []  # read directly
    with db.session() as s:  # the bound values of each statement, not the first
        assert s.scalars(select(DirPoem).where(DirPoem.id == 1)).one().title == "Ode"
        assert s.scalars(select(DirPoem).where(DirPoem.id == 3)).one().title == "Sonnet"


class Shout(TypeDecorator):
    """A column type whose values SQLAlchemy converts as it reads them."""

    impl = String
    cache_ok = True

    def process_result_value(self, value, dialect):
        return None if value is None else value.upper()


COLUMN_STATEMENTS = [
    lambda: select(DirPoem.id, DirPoem.title).order_by(DirPoem.id),
    lambda: (
        select(DirPoem.title.label("name"), DirPoem.lines)
        .where(DirPoem.lines == 14)
        .order_by(DirPoem.id)
    ),
    lambda: select(DirPoem.title.label("name"), DirPoem.lines).where(
        DirPoem.lines == 3
    ),
    lambda: select(DirPoem.title).order_by(DirPoem.title),
    lambda: select(DirPoem.id, DirPoem.id).order_by(DirPoem.id),
    lambda: select(func.count(DirPoem.id)),
    lambda: (
        select(DirPoem.author_id, func.count().label("n"))
        .group_by(DirPoem.author_id)
        .order_by(DirPoem.author_id)
    ),
    lambda: (
        select(DirAuthor.name, DirPoem.title).join(DirPoem.author).order_by(DirPoem.id)
    ),
]
CONVERTED = [  # through SQLAlchemy, every time
    lambda: select(DirPoem.id, DirPoem.title).where(DirPoem.id.in_([1, 3])),
    lambda: select(type_coerce(DirPoem.title, Shout)).order_by(DirPoem.id),
]


def test_column_selects_give_what_sqlalchemy_gives(app, connects):
    """A select of columns (Django's ``values()``) is read through SQLAlchemy
    once per shape, whose result keys it learns, then directly: the same rows,
    keyed the same."""
    db = get_database(app)
    with db.session() as s:
        for make in COLUMN_STATEMENTS + CONVERTED:
            s.execute(make()).all()
    for make in COLUMN_STATEMENTS + CONVERTED:
        with db.session() as mine, Session(db.engine()) as theirs:
            expected = theirs.execute(make()).all()
            assert expected, "every statement finds rows"
            del connects[:]
            got = mine.execute(make()).all()
            assert got == expected
            assert [row._fields for row in got] == [row._fields for row in expected]
            assert [row._asdict() for row in got] == [row._asdict() for row in expected]
            assert mine.scalars(make()).all() == theirs.scalars(make()).all()
            if make in COLUMN_STATEMENTS:
                assert connects == []  # read directly
            else:
                assert connects
    with db.session() as s:
        row = s.execute(COLUMN_STATEMENTS[0]()).first()
        assert row._mapping[DirPoem.title] == row.title == row[1] == "Ode"
        assert s.execute(COLUMN_STATEMENTS[5]()).scalar_one() == 4
        assert s.scalars(select(type_coerce(DirPoem.title, Shout))).first().isupper()


def test_bare_selects_are_found_without_a_cache_key(app, connects, monkeypatch):
    """A select of columns or of a class and nothing else (``select(Post.id,
    Post.title)``) finds its plan by what it selects, without SQLAlchemy's cache
    key; the same columns with criteria, another label style, or bound values
    of their own are still told apart."""
    import kettle.db.database as database

    keys = []
    original = Select._generate_cache_key

    def counting(self):
        keys.append(self)
        return original(self)

    monkeypatch.setattr(Select, "_generate_cache_key", counting)
    db = get_database(app)
    short = [(1, "Ode"), (3, "Sonnet")]
    with db.session() as s:  # learns each shape
        s.execute(select(DirPoem.id, DirPoem.title)).all()
        s.scalars(select(DirPoem)).all()
    with db.session() as s:
        del keys[:], connects[:]
        rows = s.execute(select(DirPoem.id, DirPoem.title)).all()
        assert sorted(rows) == [(1, "Ode"), (2, "Elegy"), (3, "Sonnet"), (4, "Haiku")]
        assert sorted(rows)[0].title == "Ode"
        assert sorted(p.id for p in s.scalars(select(DirPoem))) == [1, 2, 3, 4]
        assert keys == [] and connects == []  # found by what they select

    def narrowed():
        return select(DirPoem.id, DirPoem.title).where(DirPoem.lines == 14)

    def labelled():
        return select(DirPoem.id, DirPoem.title).set_label_style(
            LABEL_STYLE_TABLENAME_PLUS_COL
        )

    for _ in range(2):  # learned, then read directly: one statement a session
        with db.session() as s:
            assert sorted(s.execute(narrowed()).all()) == short
        with db.session() as s:
            assert s.execute(labelled()).first()._fields == (
                "dir_poem_id",
                "dir_poem_title",
            )
        with db.session() as s:
            assert s.execute(select(DirPoem.id, DirPoem.title)).first()._fields == (
                "id",
                "title",
            )
    counter = [7]
    tag = bindparam("tag", callable_=lambda: counter[0])
    with db.session() as s:
        assert s.execute(select(DirPoem.id, tag).where(DirPoem.id == 1)).one() == (
            1,
            7,
        )
        counter[0] = 8  # the same elements, another value
        for _ in range(2):
            assert sorted(s.execute(select(DirPoem.id, tag)).all())[0] == (1, 8)
    monkeypatch.setattr(database, "_SELECT_PLANS_MAX", 3)
    with db.session() as s:  # elements made anew each time: kept, then dropped
        for _ in range(5):
            assert s.execute(select(func.count(DirPoem.id))).scalar_one() == 4
            assert len(database._bare_plans) <= 3


def test_direct_objects_are_the_sessions_own(app, connects):
    db = get_database(app)
    with db.session() as s:
        ode = s.get(DirPoem, 1)
        everything = s.scalars(select(DirPoem).order_by(DirPoem.id)).all()
        assert everything[0] is ode  # from the identity map
        assert s.get(DirPoem, 2) is everything[1]
        assert not s.dirty and not s.new
        assert everything[3].author.name == "Basho"  # a lazy load works
        with db.session() as other:
            other.execute(update(DirPoem).values(lines=99))
            other.commit()
        assert s.get(DirPoem, 1).lines == 14  # the identity map's copy
        s.expire(ode)
        again = s.scalars(select(DirPoem).where(DirPoem.id == 1)).one()
        assert again is ode and ode.lines == 99  # SQLAlchemy refreshed it
        ode.title = "Ode to a Nightingale"
        s.commit()
    with db.session() as s:
        assert s.get(DirPoem, 1).title == "Ode to a Nightingale"


def test_reads_after_a_write_see_it_on_one_connection(app):
    db = get_database(app)
    pool = db.engine().pool
    with db.session() as s:
        s.get(DirPoem, 1)
        assert pool.checkedout() == 1  # the direct reads' connection
        s.add(DirPoem(id=5, title="Limerick", lines=5, author_id=1))
        titles = [p.title for p in s.scalars(select(DirPoem).order_by(DirPoem.id))]
        assert titles[-1] == "Limerick"  # autoflushed, read in the transaction
        s.execute(update(DirPoem).where(DirPoem.id == 2).values(lines=31))
        assert s.get(DirPoem, 3).lines == 14
        assert s.scalars(select(DirPoem).where(DirPoem.lines == 31)).one().id == 2
        assert pool.checkedout() == 1  # handed back before SQLAlchemy took one
        s.rollback()
    assert pool.checkedout() == 0
    with db.session() as s:
        assert s.get(DirPoem, 5) is None
        assert s.get(DirPoem, 2).lines == 30


def test_a_session_never_holds_two_connections(small_app, make_client):
    """With a pool of one connection, a request that reads directly and then
    writes does not wait for a second one."""
    app = small_app

    @app.post("/rename")
    def rename(db: Session):
        poem = db.get(DirPoem, 1)
        list(db.scalars(select(DirPoem)))
        poem.title = "Renamed"
        db.flush()
        return {"title": db.get(DirPoem, 1).title}

    client = make_client(app)
    for _ in range(3):
        assert client.post("/rename").json() == {"title": "Renamed"}
    assert get_database(app).engine().pool.checkedout() == 0


def test_direct_reads_are_counted_and_budgeted(app):
    db = get_database(app)
    with db.session(stats=QueryStats(budget=2)) as s:
        s.get(DirPoem, 1)
        s.scalars(select(DirPoem)).all()
        assert s.info["kettle_stats"].count == 2
        assert s.info["kettle_stats"].time > 0
        with pytest.raises(QueryBudgetExceeded):
            s.get(DirPoem, 2)


def test_strict_loading_still_catches_n_plus_one(database_url):
    app = Kettle(env_file=None, DATABASE_URL=database_url.url_sync, DEBUG=True)
    db = get_database(app)
    db.create_all()
    with db.session() as s:
        s.add(DirAuthor(id=1, name="Keats"))
        s.flush()
        s.add_all([DirPoem(id=i, title="t", lines=1, author_id=1) for i in (1, 2)])
        s.commit()
    try:
        with db.session() as s:
            rows = s.scalars(select(DirPoem)).all()
            with pytest.raises(NPlusOneError, match=r"DirPoem\.author"):
                rows[0].author
        with db.session() as s:
            one = s.scalars(select(DirPoem).where(DirPoem.id == 1)).one()
            assert one.author.name == "Keats"  # one row: no N+1
    finally:
        db.dispose()


def test_listeners_take_sqlalchemys_way(app, connects):
    """A ``do_orm_execute`` listener (here: filtering every query) and an engine
    listener see what they would see without Kettle."""
    db = get_database(app)

    def only_short(state):
        if state.is_select:
            state.statement = state.statement.options(
                with_loader_criteria(DirPoem, DirPoem.lines < 20)
            )

    with db.session() as s:
        event.listen(s, "do_orm_execute", only_short)
        assert [p.id for p in s.scalars(select(DirPoem).order_by(DirPoem.id))] == [
            1,
            3,
            4,
        ]
        assert s.get(DirPoem, 2) is None
    seen = []
    engine = db.engine()

    def statement(conn, cursor, sql, params, context, many):
        seen.append(sql)

    event.listen(engine, "before_cursor_execute", statement)
    try:
        with db.session() as s:
            s.get(DirPoem, 1)
            s.scalars(select(DirPoem)).all()
        assert len(seen) == 2
    finally:
        event.remove(engine, "before_cursor_execute", statement)


def test_reads_borrow_a_connection_as_sqlalchemy_would_hand_it(small_app):
    """Direct reads take an idle pooled connection without SQLAlchemy's checkout,
    and give it back without its check-in, where those would do nothing else:
    pool listeners see SQLAlchemy's own, a connection invalidated meanwhile is
    replaced, and one never given back (its session dropped) is not lost."""
    db = get_database(small_app)
    pool = db.engine().pool
    opened = []
    event.listen(pool, "connect", lambda *args: opened.append(1))
    with db.session() as s:
        assert s.get(DirPoem, 1).title == "Ode"
        assert isinstance(s._kettle_fairy, Borrowed)
        assert pool.checkedout() == 1
    assert pool.checkedout() == 0
    seen = []

    def checkout(*args):
        seen.append("checkout")

    event.listen(pool, "checkout", checkout)
    try:
        with db.session() as s:
            assert s.get(DirPoem, 2).title == "Elegy"
            assert not isinstance(s._kettle_fairy, Borrowed)
        assert seen == ["checkout"]  # SQLAlchemy's way while someone listens
    finally:
        event.remove(pool, "checkout", checkout)
    with db.engine().connect() as conn:  # the pool's one connection
        time.sleep(0.05)  # SQLAlchemy compares times: let the clock move
        conn.connection.invalidate(soft=True)  # to be replaced at its next use
    del opened[:]
    with db.session() as s:
        assert s.get(DirPoem, 3).title == "Sonnet"
    assert opened == [1]  # replaced, not used as it was
    with db.session() as s:
        s.get(DirPoem, 1)

        def checkin(*args):
            seen.append("checkin")

        event.listen(pool, "checkin", checkin)  # while the connection is out
    event.remove(pool, "checkin", checkin)
    assert "checkin" not in seen and pool.checkedout() == 0
    del opened[:]
    with db.session() as s:
        assert s.get(DirPoem, 4).title == "Haiku"
    assert opened == [1]  # discarded rather than returned unannounced
    dropped = db.session()
    assert dropped.get(DirPoem, 1).title == "Ode"
    assert pool.checkedout() == 1
    del dropped
    gc.collect()
    assert pool.checkedout() == 0
    with db.session() as s:  # the pool's one connection is usable again
        assert s.get(DirPoem, 2).title == "Elegy"


def test_a_set_isolation_level_is_rolled_back_on_return(database_url):
    """With an isolation level of the user's (not autocommit), a read opens a
    transaction in the driver: its connection goes back through SQLAlchemy's
    reset, which ends it, so the next request sees what others committed."""
    app = _app(
        database_url.url_sync,
        {"isolation_level": "SERIALIZABLE", "pool_size": 1, "max_overflow": 0},
    )
    db = get_database(app)
    try:
        with db.session() as s:
            assert s.get(DirPoem, 1).lines == 14
            assert not isinstance(s._kettle_fairy, Borrowed)
        writer = db.engine().pool._creator()  # a connection outside the pool
        try:
            cursor = writer.cursor()
            lines = db.engine().dialect.identifier_preparer.quote("lines")
            cursor.execute(f"UPDATE dir_poem SET {lines} = 15 WHERE id = 1")
            writer.commit()
        finally:
            writer.close()
        with db.session() as s:
            assert s.get(DirPoem, 1).lines == 15  # no snapshot left over
    finally:
        db.dispose()


def test_a_record_put_back_into_a_full_queue_is_counted_out(small_app, monkeypatch):
    """A connection :func:`borrow` took but may not use goes back through the
    pool; when another thread filled the queue meanwhile (simulated: the race
    cannot be caused on demand), the pool closes it and counts it out."""
    import kettle.db.engine as engine_module

    db = get_database(small_app)
    pool = db.engine().pool
    pool._max_overflow = 1
    first, second = pool.connect(), pool.connect()  # the one, and an overflow
    time.sleep(0.05)  # SQLAlchemy compares times: let the clock move
    first.invalidate(soft=True)
    first.close()  # back in the queue, to be replaced at its next use
    fit = engine_module._fit

    def racing(pool_, record):
        second.close()  # another thread hands its connection back meanwhile
        return fit(pool_, record)

    monkeypatch.setattr(engine_module, "_fit", racing)
    assert engine_module.borrow(pool) is None
    assert pool.checkedout() == 0
    monkeypatch.setattr(engine_module, "_fit", fit)
    with db.session() as s:
        assert s.get(DirPoem, 2).title == "Elegy"
    assert pool.checkedout() == 0


def test_bare_selects_about_other_classes_are_told_apart():
    """The same columns selected ``about`` another class (its mapper decides the
    session's bind) are another statement."""
    from kettle.db.database import _bare_signature

    odd = select(DirAuthor.id).with_only_columns(DirPoem.id)
    assert _bare_signature(odd) != _bare_signature(select(DirPoem.id))
    assert _bare_signature(select(DirPoem.id)) == _bare_signature(select(DirPoem.id))


def test_a_driver_error_is_sqlalchemys_error(app):
    db = get_database(app)
    with db.session() as s:
        s.get(DirPoem, 1)  # the direct connection is taken
        with db.engine().begin() as conn:
            conn.execute(text("DROP TABLE dir_poem"))
        with pytest.raises(sqlalchemy.exc.DBAPIError):
            s.scalars(select(DirPoem).where(DirPoem.lines == 3)).all()
    assert db.engine().pool.checkedout() == 0


def test_a_lost_connection_is_replaced(small_app, database_url):
    """The server ends the direct reads' connection; the next read is made on a
    fresh one."""
    if database_url.backend == "sqlite":
        pytest.skip("SQLite has no server to lose")
    db = get_database(small_app)
    engine = db.engine()
    with db.session() as s:
        assert s.get(DirPoem, 1).title == "Ode"
        killer = engine.pool._creator()  # a connection outside the pool
        try:
            cursor = killer.cursor()
            if database_url.backend == "postgresql":
                cursor.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            else:
                cursor.execute(
                    "SELECT id FROM information_schema.processlist "
                    "WHERE db = DATABASE() AND id <> CONNECTION_ID()"
                )
                for (pid,) in cursor.fetchall():
                    cursor.execute(f"KILL {int(pid)}")
        finally:
            killer.close()
        assert s.get(DirPoem, 2).title == "Elegy"
    assert engine.pool.checkedout() == 0
    with db.session() as s:
        assert s.get(DirPoem, 3).title == "Sonnet"


def test_async_sessions_read_the_same(database_url, monkeypatch):
    """An ``AsyncSession`` gives what the sync one gives; on asyncpg (the async
    driver of a ``postgresql://`` URL) it awaits the driver itself: SQLAlchemy's
    greenlet-bridged methods are not called."""
    url = make_url(database_url.url_sync)
    if database_url.backend == "postgresql":
        url = url.set(drivername="postgresql")
    app = _app(url.render_as_string(hide_password=False), {})
    db = get_database(app)
    bridged = []
    for name in ("get", "execute"):
        original = getattr(AsyncSession, name)

        def counting(self, *args, _original=original, _name=name, **kwargs):
            bridged.append(_name)
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(AsyncSession, name, counting)
    with db.session() as s:
        expected = [poems(s.scalars(make())) for make in STATEMENTS]

    async def main():
        async with db.async_session() as s:
            ode = await s.get(DirPoem, 1)
            assert ode.title == "Ode"
            assert (
                await s.scalars(select(DirPoem).where(DirPoem.id == 1))
            ).one() is ode
            assert await s.get(DirPoem, 99) is None
            # the IN statement, last, goes through SQLAlchemy (and so would every
            # read after it: the session then holds SQLAlchemy's connection)
            got = [poems(await s.scalars(make())) for make in STATEMENTS]
            ode.title = "Ode, revised"
            await s.commit()
        async with db.async_session() as s:
            assert (await s.get(DirPoem, 1)).title == "Ode, revised"
        await db.dispose_async()
        return got

    assert asyncio.run(main()) == expected
    db.dispose()
    if database_url.backend == "postgresql":
        assert bridged == ["execute"]


def test_async_column_selects_read_the_same(database_url, monkeypatch):
    """Column selects in an ``AsyncSession``: the same rows as the sync session;
    on asyncpg, once a shape's keys are learned, read without the bridge."""
    url = make_url(database_url.url_sync)
    if database_url.backend == "postgresql":
        url = url.set(drivername="postgresql")
    app = _app(url.render_as_string(hide_password=False), {})
    db = get_database(app)
    with db.session() as s:
        expected = [s.execute(make()).all() for make in COLUMN_STATEMENTS]
    bridged = []
    original = AsyncSession.execute

    def counting(self, *args, **kwargs):
        bridged.append("execute")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(AsyncSession, "execute", counting)

    async def main():
        got = []
        for _ in range(2):  # the first learns each shape's keys
            async with db.async_session() as s:
                got.append([(await s.execute(m())).all() for m in COLUMN_STATEMENTS])
        await db.dispose_async()
        return got

    first, second = asyncio.run(main())
    db.dispose()
    assert first == second == expected
    assert [[row._fields for row in rows] for rows in second] == [
        [row._fields for row in rows] for rows in expected
    ]
    if database_url.backend == "postgresql":
        # learned in the first session's first statement; the rest of that
        # session is SQLAlchemy's (it holds SQLAlchemy's connection)
        assert len(bridged) == len(COLUMN_STATEMENTS)


def test_async_sessions_close_without_waiting(database_url, monkeypatch):
    """An ``AsyncSession`` that only read closes without SQLAlchemy's greenlet
    bridge when giving its connection back sends nothing to the database; when
    it must (a transaction to end, an overflow connection to close), it closes
    as SQLAlchemy does. Either way no connection is left checked out."""
    url = make_url(database_url.url_sync)
    if database_url.backend == "postgresql":
        url = url.set(drivername="postgresql")
    app = _app(
        url.render_as_string(hide_password=False), {"pool_size": 1, "max_overflow": 1}
    )
    db = get_database(app)
    bridged = []
    original = AsyncSession.close

    async def counting(self):
        bridged.append(self)
        await original(self)

    monkeypatch.setattr(AsyncSession, "close", counting)

    async def main():
        engine = db.async_engine()  # the engine of this event loop
        first, second = db.async_session(), db.async_session()
        assert (await first.get(DirPoem, 1)).title == "Ode"
        assert (await second.get(DirPoem, 2)).title == "Elegy"
        assert engine.pool.checkedout() == 2  # the second is the overflow
        await first.close()  # back into the empty queue: no bridge needed
        assert engine.pool.checkedout() == 1
        assert bridged == []
        await second.close()  # the queue is full: the overflow one is closed
        assert engine.pool.checkedout() == 0
        assert bridged == [second]
        async with db.async_session() as s:
            (await s.get(DirPoem, 3)).lines = 15  # a write: a transaction to end
        async with db.async_session() as s:
            assert (await s.get(DirPoem, 3)).lines == 14  # not committed
        assert engine.pool.checkedout() == 0
        await db.dispose_async()

    asyncio.run(main())
    db.dispose()


@pytest.fixture
def bridged(monkeypatch):
    """The names of the functions Kettle's async direct reads ran through
    SQLAlchemy's greenlet bridge."""
    import kettle.db._async as direct_async

    ran = []
    original = direct_async.greenlet_spawn

    async def counting(fn, *args, **kwargs):
        ran.append(fn.__name__)
        return await original(fn, *args, **kwargs)

    monkeypatch.setattr(direct_async, "greenlet_spawn", counting)
    return ran


@pytest.mark.parametrize("options", [{}, {"pool_pre_ping": True}])
def test_async_reads_take_an_idle_connection_at_once(database_url, bridged, options):
    """On asyncpg a read takes an idle pooled connection without the greenlet
    bridge, unless taking it may wait on the database: a new connection to
    open, a ping before use (``pool_pre_ping``), or a connection invalidated."""
    if database_url.backend != "postgresql":
        pytest.skip("asyncpg's direct reads")
    url = make_url(database_url.url_sync).set(drivername="postgresql")
    app = _app(url.render_as_string(hide_password=False), options)
    db = get_database(app)

    async def read(ident):
        async with db.async_session() as s:
            return (await s.get(DirPoem, ident)).title

    async def main():
        assert await read(1) == "Ode"  # opens the pool's first connection
        assert bridged == ["_direct_connection"]
        del bridged[:]
        assert await read(2) == "Elegy"
        assert bridged == ([] if not options else ["_direct_connection"])
        del bridged[:]
        async with db.async_session() as s:  # the connection breaks
            await s.get(DirPoem, 3)
            s.sync_session._kettle_fairy.invalidate()
        assert await read(4) == "Haiku"  # reconnects through the bridge
        assert "_direct_connection" in bridged
        assert db.async_engine().pool.checkedout() == 0
        await db.dispose_async()

    asyncio.run(main())
    db.dispose()


def test_async_reads_wait_for_a_connection_in_turn(database_url, bridged):
    """With every connection in use, an asyncpg read waits for the next one
    handed back (without the bridge), in turn; the pool's timeout and a
    cancelled wait lose no connection."""
    if database_url.backend != "postgresql":
        pytest.skip("asyncpg's direct reads")
    url = make_url(database_url.url_sync).set(drivername="postgresql")
    options = {"pool_size": 1, "max_overflow": 0, "pool_timeout": 1.0}
    app = _app(url.render_as_string(hide_password=False), options)
    db = get_database(app)

    async def main():
        pool = db.async_engine().pool
        order = []

        async def read(name, ident):
            async with db.async_session() as s:
                title = (await s.get(DirPoem, ident)).title
                order.append(name)
                await asyncio.sleep(0.05)  # hold the connection a while
                return title

        assert await read("warm", 1) == "Ode"  # opens the one connection
        del bridged[:], order[:]
        titles = await asyncio.gather(read("a", 1), read("b", 2), read("c", 3))
        assert titles == ["Ode", "Elegy", "Sonnet"]
        assert order == ["a", "b", "c"]  # first come, first served
        assert bridged == []
        holder = db.async_session()
        await holder.get(DirPoem, 1)
        with pytest.raises(sqlalchemy.exc.TimeoutError, match="QueuePool limit"):
            await read("late", 2)
        waiting = asyncio.ensure_future(read("cancelled", 2))
        await asyncio.sleep(0.05)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        await holder.close()
        assert pool.checkedout() == 0
        assert await read("after", 4) == "Haiku"
        await db.dispose_async()

    asyncio.run(main())
    db.dispose()
