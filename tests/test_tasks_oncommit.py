"""Enqueue on commit: a job enqueued inside a request's transaction is sent when
it commits, dropped when it rolls back, on SQLite and PostgreSQL, through ASGI
and WSGI, with sync and async sessions."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from kettle import Kettle
from kettle.db import PK
from kettle.db import Mapped
from kettle.db import Model
from kettle.db import String
from kettle.db import get_database
from kettle.db import mapped_column
from kettle.db import transaction
from kettle.tasks import TaskNotFound

pytestmark = pytest.mark.parametrize(
    "database_url", ["sqlite", "postgresql"], indirect=True
)


_apps: list[Kettle] = []


@pytest.fixture(autouse=True)
def _dispose() -> Any:
    """Close each app's pooled connections after the test."""
    yield
    while _apps:
        get_database(_apps.pop()).dispose()


class TaskOrder(Model):
    __tablename__ = "tasks_oncommit_order"
    id: Mapped[PK]
    name: Mapped[str] = mapped_column(String(50))


def make_app(database_url: Any, backend: str = "immediate") -> tuple[Kettle, list[Any]]:
    """An app whose task records, when it runs, whether it sees the order row
    (it runs in a session of its own, so it sees committed rows only)."""
    app = Kettle(
        env_file=None, TASKS_BACKEND=backend, DATABASE_URL=database_url.url_sync
    )
    seen: list[Any] = []

    @app.task
    def ship(name: str, db: Session) -> bool:
        found = db.scalars(select(TaskOrder).where(TaskOrder.name == name)).first()
        seen.append((name, found is not None))
        return found is not None

    app.state["ship"] = ship

    @app.post("/orders/{name}")
    def create(name: str, db: Session, fail: bool = False) -> dict[str, Any]:
        db.add(TaskOrder(name=name))
        job = ship.enqueue(name)
        status = job.status  # not sent yet: the transaction is open
        if fail:
            raise RuntimeError("the handler failed after enqueueing")
        return {"job": job.id, "status_in_handler": status}

    @app.post("/async-orders/{name}")
    async def acreate(name: str, db: AsyncSession) -> dict[str, Any]:
        db.add(TaskOrder(name=name))
        job = await ship.aenqueue(name)
        return {"job": job.id, "status_in_handler": job.status}

    @app.post("/rollback/{name}")
    def rollback(name: str, db: Session) -> dict[str, Any]:
        db.add(TaskOrder(name=name))
        job = ship.enqueue(name)
        db.rollback()
        return {"job": job.id}

    @app.post("/explicit/{name}")
    def explicit(name: str, db: Session) -> dict[str, Any]:
        with transaction(db):
            db.add(TaskOrder(name=name))
            job = ship.enqueue(name)
            assert job.status == "unknown"
        return {"job": job.id, "after_block": job.status}

    @app.post("/read-only")
    def read_only(db: Session) -> dict[str, Any]:
        db.scalars(select(TaskOrder)).all()  # autocommit reads: nothing to wait for
        job = ship.enqueue("nothing")
        return {"status": job.status}

    @app.post("/bypass/{name}")
    def bypass(name: str, db: Session) -> dict[str, Any]:
        db.add(TaskOrder(name=name))
        job = ship.enqueue(name, on_commit=False)
        return {"status": job.status}

    get_database(app).create_all()
    _apps.append(app)
    return app, seen


@pytest.mark.parametrize("interface", ["asgi", "wsgi"])
def test_committed_transaction_sends_the_job(database_url: Any, interface: str) -> None:
    app, seen = make_app(database_url)
    with app.test_client(interface=interface) as client:
        body = client.post("/orders/a").json()
    assert body["status_in_handler"] == "unknown"
    assert seen == [("a", True)]  # ran after the commit: the row was there
    assert app.tasks.result(body["job"]).status == "succeeded"


def test_async_session_commit_sends_the_job(database_url: Any) -> None:
    app, seen = make_app(database_url)
    with app.test_client() as client:
        body = client.post("/async-orders/b").json()
    assert body["status_in_handler"] == "unknown"
    assert seen == [("b", True)]


@pytest.mark.parametrize("interface", ["asgi", "wsgi"])
def test_error_in_handler_drops_the_job(database_url: Any, interface: str) -> None:
    app, seen = make_app(database_url)
    with app.test_client(interface=interface, raise_server_exceptions=False) as client:
        response = client.post("/orders/c?fail=true")
    assert response.status_code == 500
    assert seen == []


def test_rollback_drops_the_job(database_url: Any) -> None:
    app, seen = make_app(database_url)
    with app.test_client() as client:
        job_id = client.post("/rollback/d").json()["job"]
    assert seen == []
    assert app.tasks.result(job_id).status == "unknown"


def test_explicit_transaction_block_sends_at_its_commit(database_url: Any) -> None:
    app, seen = make_app(database_url)
    with app.test_client() as client:
        body = client.post("/explicit/e").json()
    assert body["after_block"] == "succeeded"
    assert seen == [("e", True)]


def test_no_open_transaction_sends_at_once(database_url: Any) -> None:
    app, seen = make_app(database_url)
    with app.test_client() as client:
        assert client.post("/read-only").json() == {"status": "succeeded"}
    assert seen == [("nothing", False)]


def test_on_commit_false_sends_at_once(database_url: Any) -> None:
    app, seen = make_app(database_url)
    with app.test_client() as client:
        assert client.post("/bypass/f").json() == {"status": "succeeded"}
    assert seen == [("f", False)]  # it ran before the commit: no row yet


def test_in_process_backend_sends_after_commit(database_url: Any) -> None:
    app, seen = make_app(database_url, backend="in-process")
    with app.test_client(raise_server_exceptions=False) as client:
        job_id = client.post("/orders/g").json()["job"]
        assert app.tasks.result(job_id).result(timeout=5) is True
        assert client.post("/orders/h?fail=true").status_code == 500
    assert seen == [("g", True)]


def test_outside_requests_a_session_transaction_defers_too(database_url: Any) -> None:
    app, seen = make_app(database_url)
    ship = app.state["ship"]
    db = get_database(app)
    with db.session() as session:
        session.add(TaskOrder(name="i"))
        job = ship.enqueue("i")
        assert job.status == "unknown"
        session.commit()
    assert job.status == "succeeded"
    with db.session() as session:
        session.add(TaskOrder(name="j"))
        ship.enqueue("j")
        session.rollback()
    assert seen == [("i", True)]


def test_result_of_a_job_waiting_for_its_commit_is_not_waited_for(
    database_url: Any,
) -> None:
    """Before the commit nothing is stored under the job's id: result() says so
    at once (waiting would never end: the commit comes after it)."""
    app, seen = make_app(database_url)
    ship = app.state["ship"]
    db = get_database(app)
    with db.session() as session:
        session.add(TaskOrder(name="k"))
        job = ship.enqueue("k")
        start = time.monotonic()
        with pytest.raises(TaskNotFound, match="not sent"):
            job.result(timeout=5)
        assert time.monotonic() - start < 1
        session.commit()
    assert job.result() is True
    assert seen == [("k", True)]
