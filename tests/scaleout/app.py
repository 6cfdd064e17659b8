"""The app of the scale-out test (tests/test_scaleout.py).

Two ``kettle serve`` instances of it run behind nginx, sharing PostgreSQL and
Redis; ``kettle worker`` runs its tasks. Every setting comes from the
environment (``KETTLE_DATABASE_URL``, ``KETTLE_REDIS_URL``, the backends), as in
a real deployment; ``SCALEOUT_INSTANCE`` names the instance in a response header.
"""

import os

from sqlalchemy import String
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import Session
from sqlalchemy.orm import mapped_column

from kettle import Form
from kettle import Kettle
from kettle import Response
from kettle import WebSocket
from kettle.auth import Auth
from kettle.auth import User
from kettle.cache import cache
from kettle.channels import publish
from kettle.channels import relay
from kettle.channels import subscribe
from kettle.db import PK
from kettle.db import Model
from kettle.db import get_database
from kettle.middleware import ProxyHeadersMiddleware

INSTANCE = os.environ.get("SCALEOUT_INSTANCE", "?")

app = Kettle()
app.add_middleware(ProxyHeadersMiddleware)  # nginx on 127.0.0.1 is trusted
Auth(app)


class ScaleoutNote(Model):
    """One note, read through the cache."""

    __tablename__ = "scaleout_note"
    id: Mapped[PK]
    text: Mapped[str] = mapped_column(String(200))


class ScaleoutJob(Model):
    """A row written by a task: which process ran it."""

    __tablename__ = "scaleout_job"
    id: Mapped[PK]
    token: Mapped[str] = mapped_column(String(64), unique=True)
    pid: Mapped[int]
    instance: Mapped[str] = mapped_column(String(20))


class ScaleoutWrite(Model):
    """One acknowledged write of the load test."""

    __tablename__ = "scaleout_write"
    id: Mapped[PK]
    token: Mapped[str] = mapped_column(String(64), unique=True)


@app.after_request
def name_the_instance(response: Response) -> Response:
    response.headers["X-Instance"] = INSTANCE
    return response


@app.get("/whoami")
def whoami(user: User | None) -> dict[str, str | None]:
    return {"instance": INSTANCE, "user": user.username if user else None}


@app.post("/writes")
def write(db: Session, token: str = Form()) -> Response:
    db.add(ScaleoutWrite(token=token))
    db.flush()  # a clash is an error now, not after the response is made
    return Response(token, status_code=201)


@app.get("/note")
def note(db: Session) -> dict[str, object]:
    """The note, from the shared cache when it is there (tagged "notes")."""
    cached = cache.get("note")
    if cached is not None:
        return {"text": cached, "cached": True, "instance": INSTANCE}
    text = db.get(ScaleoutNote, 1).text  # type: ignore[union-attr]
    cache.set("note", text, ttl=600, tags=["notes"])
    return {"text": text, "cached": False, "instance": INSTANCE}


@app.post("/note/invalidate")
def invalidate_notes() -> dict[str, str]:
    cache.invalidate_tags("notes")
    return {"instance": INSTANCE}


@app.task
def record_job(token: str, db: Session) -> int:
    """Runs in ``kettle worker``: notes its process in the database."""
    db.add(ScaleoutJob(token=token, pid=os.getpid(), instance=INSTANCE))
    return os.getpid()


@app.post("/jobs")
def start_job(db: Session, token: str = Form()) -> dict[str, str]:
    # Inside the request's transaction: sent to Redis when it commits.
    db.add(ScaleoutWrite(token=token))
    return {"job": record_job.enqueue(token).id, "instance": INSTANCE}


@app.get("/jobs/{job_id}")
def job_status(job_id: str) -> dict[str, object]:
    job = app.tasks.result(job_id)
    return {"status": job.status, "result": job.info().get("result")}


@app.websocket("/ws/{room}")
async def room(ws: WebSocket, room: str, user: User) -> None:
    """A logged-in user's socket: says which instance holds it, then relays the
    room's messages (published by any instance) until the client leaves."""
    await ws.accept()
    async with subscribe(f"room:{room}") as subscription:
        await ws.send_json({"instance": INSTANCE, "user": user.username})
        async for _ in relay(ws, subscription):
            pass


@app.post("/say/{room}")
def say(room: str, text: str = Form()) -> dict[str, str]:
    publish(f"room:{room}", {"text": text, "via": INSTANCE})
    return {"instance": INSTANCE}


def create_tables_and_user() -> None:
    """Run once before the instances start (the test's ``kettle db migrate``)."""
    from kettle.auth.commands import create_user

    database = get_database(app)
    database.create_all()
    with database.session() as db:
        db.add(ScaleoutNote(id=1, text="first"))
        db.commit()
    create_user(app, "alice", "scale out!", validate=False)
