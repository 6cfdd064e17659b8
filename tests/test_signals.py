"""kettle.signals: request signals under ASGI and WSGI, model signals on SQLite and
PostgreSQL, auth signals through real logins, and receivers of both kinds sent
from sync and async code."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
import textwrap
import threading

import pytest
from sqlalchemy import String
from sqlalchemy import func
from sqlalchemy import insert
from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import Session
from sqlalchemy.orm import mapped_column

from kettle import Kettle
from kettle import abort
from kettle import signals
from kettle.auth import Auth
from kettle.auth import User
from kettle.auth import authenticate_async
from kettle.auth import hashers
from kettle.db import PK
from kettle.db import Model
from kettle.db import bulk_insert
from kettle.db import bulk_update
from kettle.db import get_database
from kettle.signals import ANY
from kettle.signals import Namespace
from kettle.signals import got_request_exception
from kettle.signals import receiver
from kettle.signals import request_finished
from kettle.signals import request_started

hashers.set_test_parameters()
SECRET = "a-test-secret-key-" + "x" * 40


class SignalNote(Model):
    __tablename__ = "signals_test_note"
    id: Mapped[PK]
    text: Mapped[str] = mapped_column(String(100))


class SignalOther(Model):
    __tablename__ = "signals_test_other"
    id: Mapped[PK]


@pytest.fixture
def connect():
    """Connect receivers strongly for one test; all disconnected afterwards."""
    made = []

    def do(signal, listener, sender=ANY):
        signal.connect(listener, sender, weak=False)
        made.append((signal, listener))
        return listener

    yield do
    for signal, listener in made:
        signal.disconnect(listener)


def recorder(calls, name, kind):
    """A receiver of ``kind`` ("sync" or "async") appending what it got."""
    if kind == "sync":

        def sync_receiver(sender, **kwargs):
            calls.append((name, sender, kwargs, threading.current_thread().name))

        return sync_receiver

    async def async_receiver(sender, **kwargs):
        asyncio.get_running_loop()  # really awaited on a loop
        calls.append((name, sender, kwargs, threading.current_thread().name))

    return async_receiver


def make_app() -> Kettle:
    app = Kettle(env_file=None)

    @app.get("/sync")
    def sync_page():
        return "sync"

    @app.get("/async")
    async def async_page():
        return "async"

    @app.get("/sync/boom")
    def sync_boom():
        raise RuntimeError("sync boom")

    @app.get("/async/boom")
    async def async_boom():
        raise RuntimeError("async boom")

    @app.get("/missing")
    def missing():
        abort(404)

    return app


# -- request signals ------------------------------------------------------------


@pytest.mark.parametrize("handler", ["sync", "async"])
@pytest.mark.parametrize("kind", ["sync", "async"])
def test_request_signals_carry_the_app_request_and_response(
    make_client, interface, connect, handler, kind
):
    app = make_app()
    calls = []
    connect(request_started, recorder(calls, "started", kind), app)
    connect(request_finished, recorder(calls, "finished", kind), app)
    connect(got_request_exception, recorder(calls, "exception", kind), app)
    client = make_client(app)
    assert client.get(f"/{handler}").text == handler
    assert [c[0] for c in calls] == ["started", "finished"]
    (_, sender, started, _), (_, sender2, finished, thread) = calls
    assert sender is app and sender2 is app
    assert started.keys() == {"request"} and started["request"].path == f"/{handler}"
    assert finished["request"] is started["request"]
    assert finished["response"].status_code == 200
    assert finished["response"].body == handler.encode()
    if interface == "asgi" and kind == "sync":
        # never on the event loop: in the thread pool
        assert thread.startswith("kettle-sync")


@pytest.mark.parametrize("handler", ["sync", "async"])
@pytest.mark.parametrize("kind", ["sync", "async"])
def test_got_request_exception_for_an_unhandled_error(
    make_client, connect, handler, kind
):
    app = make_app()
    calls = []
    connect(got_request_exception, recorder(calls, "exception", kind), app)
    connect(request_finished, recorder(calls, "finished", kind), app)
    client = make_client(app)
    assert client.get(f"/{handler}/boom").status_code == 500
    assert [c[0] for c in calls] == ["exception", "finished"]
    exc = calls[0][2]["exception"]
    assert isinstance(exc, RuntimeError) and str(exc) == f"{handler} boom"
    assert calls[0][2]["request"].path == f"/{handler}/boom"
    assert calls[1][2]["response"].status_code == 500


def test_http_exceptions_and_404s_send_no_exception_signal(make_client, connect):
    app = make_app()
    calls = []
    connect(got_request_exception, recorder(calls, "exception", "sync"), app)
    connect(request_finished, recorder(calls, "finished", "sync"), app)
    client = make_client(app)
    assert client.get("/missing").status_code == 404
    assert client.get("/no-such-page").status_code == 404
    assert [(c[0], c[2]["response"].status_code) for c in calls] == [
        ("finished", 404),
        ("finished", 404),
    ]


def test_an_error_handler_answers_and_the_exception_is_still_sent(make_client, connect):
    app = make_app()

    @app.errorhandler(500)
    def oops(exc):
        return "sorry", 500

    calls = []
    connect(got_request_exception, recorder(calls, "exception", "sync"), app)
    response = make_client(app).get("/sync/boom")
    assert (response.status_code, response.text) == (500, "sorry")
    assert [str(c[2]["exception"]) for c in calls] == ["sync boom"]


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_failing_request_started_receiver_is_answered_by_the_error_handler(
    make_client, connect, kind
):
    app = make_app()
    handled = []

    @app.errorhandler(500)
    def oops(exc):
        handled.append(exc)
        return "handled", 500

    @app.before_request
    def never():
        raise AssertionError("the request must not be handled")

    if kind == "sync":

        def refuse(sender, **kwargs):
            raise ValueError("receiver refused")
    else:

        async def refuse(sender, **kwargs):
            raise ValueError("receiver refused")

    connect(request_started, refuse, app)
    calls = []
    connect(got_request_exception, recorder(calls, "exception", "sync"), app)
    connect(request_finished, recorder(calls, "finished", "sync"), app)
    response = make_client(app).get("/sync")
    assert (response.status_code, response.text) == (500, "handled")
    assert [str(e) for e in handled] == ["receiver refused"]
    assert [c[0] for c in calls] == ["exception", "finished"]
    assert calls[1][2]["response"].body == b"handled"


def test_a_receiver_may_abort_the_request(make_client, connect):
    app = make_app()

    def forbid(sender, request):
        if request.path == "/sync":
            abort(403)

    connect(request_started, forbid, app)
    client = make_client(app)
    assert client.get("/sync").status_code == 403
    assert client.get("/async").status_code == 200


def test_a_failing_request_finished_receiver_gives_a_500(make_client, connect):
    app = make_app()

    def fail(sender, request, response):
        raise RuntimeError("finished failed")

    calls = []
    connect(request_finished, fail, app)
    connect(got_request_exception, recorder(calls, "exception", "sync"), app)
    response = make_client(app).get("/async")
    assert response.status_code == 500
    assert [str(c[2]["exception"]) for c in calls] == ["finished failed"]


def test_a_failing_exception_receiver_is_logged_and_the_500_still_sent(
    make_client, connect, caplog
):
    app = make_app()

    def fail(sender, **kwargs):
        raise KeyError("receiver bug")

    connect(got_request_exception, fail, app)
    with caplog.at_level(logging.ERROR, logger="kettle"):
        assert make_client(app).get("/sync/boom").status_code == 500
    assert any(
        "got_request_exception receiver failed" in r.getMessage()
        for r in caplog.records
    )


def test_receivers_connected_after_start_up_fire_and_disconnected_ones_do_not(
    make_client, connect
):
    app = make_app()
    client = make_client(app)
    assert client.get("/sync").status_code == 200  # the app is built and serving
    calls = []
    late = connect(request_finished, recorder(calls, "finished", "sync"), app)
    client.get("/async")
    assert [c[2]["response"].body for c in calls] == [b"async"]
    request_finished.disconnect(late)
    client.get("/sync")
    assert len(calls) == 1


def test_receivers_hear_only_their_sender(make_client, connect):
    app, other = make_app(), make_app()
    mine, anyone = [], []
    connect(request_started, recorder(mine, "mine", "sync"), app)
    connect(request_started, recorder(anyone, "any", "sync"))
    make_client(app).get("/sync")
    make_client(other).get("/sync")
    assert [c[1] for c in mine] == [app]
    assert [c[1] for c in anyone] == [app, other]


def test_mounted_apps_send_request_started_only(make_client, connect):
    app = make_app()
    inner = make_app()
    app.mount("/inner", inner)
    calls = []
    connect(request_started, recorder(calls, "outer started", "sync"), app)
    connect(request_finished, recorder(calls, "outer finished", "sync"), app)
    connect(request_finished, recorder(calls, "inner finished", "sync"), inner)
    assert make_client(app).get("/inner/sync").text == "sync"
    assert [c[0] for c in calls] == ["outer started", "inner finished"]


def test_without_the_import_an_app_has_no_signal_hooks():
    """``import kettle`` and serving import neither blinker nor kettle.signals,
    and the app's dispatchers stay the class's; an app built before the import
    keeps none, one built after has them."""
    code = textwrap.dedent(
        """
        import sys
        from kettle import Kettle

        def build():
            app = Kettle(env_file=None)
            app.get("/")(lambda: "hi")
            return app

        app = build()
        for interface in ("asgi", "wsgi"):
            with app.test_client(interface=interface) as client:
                assert client.get("/").text == "hi"
        print("blinker" in sys.modules, "kettle.signals" in sys.modules)
        print("dispatch_async" in vars(app), "dispatch_sync" in vars(app))
        from kettle import signals
        heard = []
        def hear(sender, request):
            heard.append(sender)
        signals.request_started.connect(hear)
        with app.test_client() as client:
            client.get("/")
        later = build()
        with later.test_client() as client:
            client.get("/")
        print(heard == [later], "dispatch_async" in vars(later))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.split("\n")[:3] == ["False False", "False False", "True True"]


# -- sync and async receivers, from sync and async code ----------------------------


def test_send_from_sync_code_runs_async_receivers_to_completion():
    sig = Namespace().signal("test-sync-send")
    order = []

    def first(sender, **kwargs):
        order.append(("first", kwargs["n"]))
        return 1

    async def second(sender, **kwargs):
        await asyncio.sleep(0)
        order.append(("second", kwargs["n"]))
        return 2

    def third(sender, **kwargs):
        order.append(("third", kwargs["n"]))
        return 3

    for each in (first, second, third):
        sig.connect(each)
    results = sig.send("me", n=7)
    assert order == [("first", 7), ("second", 7), ("third", 7)]  # connection order
    assert [(r.__name__, v) for r, v in results] == [
        ("first", 1),
        ("second", 2),
        ("third", 3),
    ]


def test_send_async_runs_sync_receivers_in_the_thread_pool():
    sig = Namespace().signal("test-async-send")
    seen = []

    def blocking(sender):
        seen.append(("sync", threading.current_thread().name))

    async def awaited(sender):
        seen.append(("async", threading.current_thread().name))

    sig.connect(awaited)
    sig.connect(blocking)

    async def main():
        await sig.send_async("me")
        return threading.current_thread().name

    loop_thread = asyncio.run(main())
    assert [k for k, _ in seen] == ["sync", "async"]  # sync ones first
    assert seen[0][1].startswith("kettle-sync") and seen[1][1] == loop_thread


def test_send_from_sync_code_on_the_loop_starts_a_task_and_logs_its_error(caplog):
    sig = Namespace().signal("test-on-loop")
    done = []

    async def ok(sender):
        done.append(sender)

    async def broken(sender):
        raise RuntimeError("async receiver bug")

    sig.connect(ok)
    sig.connect(broken)

    async def main():
        results = sig.send("from-loop")  # sync code on the loop's thread
        assert all(isinstance(task, asyncio.Task) for _, task in results)
        await asyncio.gather(*(t for _, t in results), return_exceptions=True)
        await asyncio.sleep(0)

    with caplog.at_level(logging.ERROR, logger="kettle"):
        asyncio.run(main())
    assert done == ["from-loop"]
    assert any("async signal receiver failed" in r.getMessage() for r in caplog.records)


def test_receiver_decorator_namespaces_and_muting():
    ns = Namespace()
    paid, shipped = ns.signal("paid"), ns.signal("shipped")
    assert ns.signal("paid") is paid and signals.signal("x") is signals.signal("x")
    heard = []

    @receiver([paid, shipped], sender="shop")
    def on_order(sender, **kwargs):
        heard.append((sender, kwargs))

    @paid.connect_via("shop")
    async def on_paid(sender, **kwargs):
        heard.append(("async", kwargs))

    paid.send("shop", order=1)
    paid.send("elsewhere", order=2)  # not this sender
    shipped.send("shop", order=3)
    with paid.muted():
        paid.send("shop", order=4)
    assert heard == [
        ("shop", {"order": 1}),
        ("async", {"order": 1}),
        ("shop", {"order": 3}),
    ]
    paid.disconnect(on_order)
    paid.disconnect(on_paid)
    paid.send("shop", order=5)
    assert len(heard) == 3
    assert repr(paid) == "<NamedSignal 'paid'>"


def test_weak_receivers_go_away_with_their_function():
    sig = Namespace().signal("weak")
    heard = []

    def make():
        def temporary(sender):
            heard.append(sender)

        return temporary

    listener = make()
    sig.connect(listener)
    sig.send(1)
    del listener
    sig.send(2)
    assert heard == [1]


# -- model signals ---------------------------------------------------------------

MODEL_SIGNALS = [
    "model_before_insert",
    "model_after_insert",
    "model_before_update",
    "model_after_update",
    "model_before_delete",
    "model_after_delete",
]


def note_app(url: str) -> Kettle:
    app = Kettle(env_file=None, DATABASE_URL=url)

    @app.post("/sync/notes")
    def create(text: str, db: Session):
        note = SignalNote(text=text)
        db.add(note)
        db.flush()
        return {"id": note.id}

    @app.put("/sync/notes/{id:int}")
    def update(id: int, text: str, db: Session):
        db.get(SignalNote, id).text = text
        return {}

    @app.delete("/sync/notes/{id:int}")
    def remove(id: int, db: Session):
        db.delete(db.get(SignalNote, id))
        return {}

    @app.post("/async/notes")
    async def acreate(text: str, db: AsyncSession):
        note = SignalNote(text=text)
        db.add(note)
        await db.flush()
        return {"id": note.id}

    @app.put("/async/notes/{id:int}")
    async def aupdate(id: int, text: str, db: AsyncSession):
        (await db.get(SignalNote, id)).text = text
        return {}

    @app.delete("/async/notes/{id:int}")
    async def aremove(id: int, db: AsyncSession):
        await db.delete(await db.get(SignalNote, id))
        return {}

    return app


@pytest.fixture
def notes(database_url):
    app = note_app(database_url.url_sync)
    db = get_database(app)
    db.create_all()
    yield app
    db.drop_all()
    db.dispose()


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
@pytest.mark.parametrize("session", ["sync", "async"])
@pytest.mark.parametrize("kind", ["sync", "async"])
def test_model_signals_for_insert_update_and_delete(
    notes, make_client, connect, session, kind
):
    calls = []

    def make(name):
        if kind == "sync":

            def sync_receiver(sender, instance, connection):
                calls.append((name, sender, instance.id, instance.text))
                assert isinstance(connection, Connection)

            return sync_receiver

        async def async_receiver(sender, instance, connection):
            await asyncio.sleep(0)
            calls.append((name, sender, instance.id, instance.text))

        return async_receiver

    for name in MODEL_SIGNALS:
        connect(getattr(signals, name), make(name), SignalNote)
    others = []
    connect(signals.model_after_insert, recorder(others, "other", "sync"), SignalOther)
    client = make_client(notes)
    note_id = client.post(f"/{session}/notes?text=first").json()["id"]
    assert client.put(f"/{session}/notes/{note_id}?text=second").status_code == 200
    assert client.delete(f"/{session}/notes/{note_id}").status_code == 200
    assert calls == [
        ("model_before_insert", SignalNote, None, "first"),
        ("model_after_insert", SignalNote, note_id, "first"),
        ("model_before_update", SignalNote, note_id, "second"),
        ("model_after_update", SignalNote, note_id, "second"),
        ("model_before_delete", SignalNote, note_id, "second"),
        ("model_after_delete", SignalNote, note_id, "second"),
    ]
    assert others == []  # connected to another model


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
def test_a_model_receiver_writes_through_the_flush_connection(notes, connect):
    """The receiver's SQL runs in the flush's transaction: rolled back with it."""

    def count(sender, instance, connection):
        counts.append(
            connection.execute(select(func.count()).select_from(SignalNote)).scalar()
        )

    counts = []
    connect(signals.model_after_insert, count, SignalNote)
    db = get_database(notes)
    with db.session() as s:
        s.add_all([SignalNote(text="a"), SignalNote(text="b")])
        s.flush()
        s.rollback()
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(SignalNote)) == 0
    assert counts[-1] == 2


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_bulk_statements_send_no_model_signals(notes, connect):
    calls = []
    for name in MODEL_SIGNALS:
        connect(getattr(signals, name), recorder(calls, name, "sync"))
    with get_database(notes).session() as s:
        s.execute(insert(SignalNote), [{"text": "bulk1"}, {"text": "bulk2"}])
        bulk_insert(s, SignalNote, [{"text": "bulk3"}])
        bulk_update(s, SignalNote, [{"id": 1, "text": "changed"}])
        s.commit()
        assert s.scalar(select(func.count()).select_from(SignalNote)) == 3
        assert s.get(SignalNote, 1).text == "changed"
    assert calls == []


# -- auth signals ----------------------------------------------------------------


@pytest.fixture
def auth_app(tmp_path):
    app = Kettle(
        env_file=None,
        SECRET_KEY=SECRET,
        DATABASE_URL=f"sqlite:///{tmp_path / 'auth.sqlite3'}",
        AUTH_LOGIN_RATE_ACCOUNT="3/5m",
    )
    Auth(app)

    @app.post("/api/login")
    async def api_login(username: str, password: str, db: AsyncSession):
        user = await authenticate_async(db, username, password)
        return {"ok": user is not None}

    db = get_database(app)
    db.create_all()
    with db.session() as s:
        s.add(User(username="alice", password="correct horse"))
        s.commit()
    yield app
    db.drop_all()
    db.dispose()


def log_in(client, username="alice", password="correct horse"):
    return client.post("/auth/login", data={"username": username, "password": password})


def test_login_and_logout_send_the_user(auth_app, make_client, connect):
    calls = []
    connect(signals.user_logged_in, recorder(calls, "in", "sync"), auth_app)
    connect(signals.user_logged_out, recorder(calls, "out", "async"), auth_app)
    connect(signals.user_login_failed, recorder(calls, "failed", "sync"), auth_app)
    client = make_client(auth_app, follow_redirects=False)
    assert log_in(client).status_code == 303
    assert client.post("/auth/logout").status_code == 303
    assert client.post("/auth/logout").status_code == 303  # nobody logged in now
    assert [(c[0], c[1]) for c in calls] == [
        ("in", auth_app),
        ("out", auth_app),
        ("out", auth_app),
    ]
    assert calls[0][2]["user"].username == "alice"
    assert calls[0][2]["request"].path == "/auth/login"
    assert calls[1][2]["user"].username == "alice"
    assert calls[1][2]["request"].path == "/auth/logout"
    assert calls[2][2]["user"] is None


def test_failed_logins_send_the_name_never_the_password(auth_app, make_client, connect):
    calls = []
    connect(signals.user_login_failed, recorder(calls, "failed", "sync"), auth_app)
    client = make_client(auth_app, follow_redirects=False)
    for _ in range(3):
        assert log_in(client, password="wrong guess").status_code == 200
    assert log_in(client, password="another guess").status_code == 429  # throttled
    assert log_in(client, "nobody", "x-secret-x").status_code == 200
    assert [(c[1], c[2]["reason"], c[2]["credentials"]) for c in calls] == [
        (auth_app, "credentials", {"username": "alice"}),
        (auth_app, "credentials", {"username": "alice"}),
        (auth_app, "credentials", {"username": "alice"}),
        (auth_app, "throttled", {"username": "alice"}),
        (auth_app, "credentials", {"username": "nobody"}),
    ]
    assert all(c[2]["request"].path == "/auth/login" for c in calls)
    text = repr([c[2] for c in calls])
    assert "guess" not in text and "x-secret-x" not in text


def test_authenticate_async_sends_login_failed(auth_app, make_client, connect):
    calls = []
    connect(signals.user_login_failed, recorder(calls, "failed", "async"), auth_app)
    client = make_client(auth_app)
    url = "/api/login?username=alice&password="
    assert client.post(url + "wrong").json() == {"ok": False}
    assert client.post(url + "correct%20horse").json() == {"ok": True}
    assert [(c[2]["credentials"], c[2]["reason"]) for c in calls] == [
        ({"username": "alice"}, "credentials")
    ]
    assert calls[0][2]["request"].path == "/api/login"


def test_a_wrong_second_factor_code_is_a_failed_login(auth_app, make_client, connect):
    import time

    from kettle.auth import totp

    with get_database(auth_app).session() as db:
        alice = db.scalars(select(User).filter_by(username="alice")).one()
        alice.totp_secret = secret = totp.new_secret()
        db.commit()
    calls = []
    connect(signals.user_login_failed, recorder(calls, "failed", "sync"), auth_app)
    connect(signals.user_logged_in, recorder(calls, "in", "async"), auth_app)
    client = make_client(auth_app, follow_redirects=False)
    assert log_in(client).headers["location"] == "/auth/two-factor"
    assert calls == []  # the password was right: half logged in
    assert client.post("/auth/two-factor", data={"code": "000000"}).status_code == 200
    code = totp.totp(secret, at=time.time())
    assert client.post("/auth/two-factor", data={"code": code}).status_code == 303
    assert [(c[0], c[2].get("reason")) for c in calls] == [
        ("failed", "second_factor"),
        ("in", None),
    ]
    assert calls[0][2]["credentials"] == {"username": "alice"}
    assert calls[1][2]["user"].username == "alice"
