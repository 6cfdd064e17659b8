"""Tasks declared on blueprints (``@bp.task``): added to each app the blueprint
is registered on, named as ``@app.task`` names them, sent through the app of the
context."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from kettle import Blueprint
from kettle import Kettle
from kettle.exceptions import ImproperlyConfigured
from kettle.tasks import BlueprintTask
from kettle.tasks import Task
from kettle.tasks import current_job


def make_app(backend: str = "immediate", **config: Any) -> Kettle:
    return Kettle(env_file=None, TASKS_BACKEND=backend, **config)


def mail_blueprint() -> tuple[Blueprint, BlueprintTask[[str], str]]:
    bp = Blueprint("mail", url_prefix="/mail")

    @bp.task(retries=2, queue="mail")
    def send(to: str) -> str:
        job = current_job()
        return f"sent to {to} by {job.task if job else 'a direct call'}"

    @bp.post("/{to}")
    def post(to: str) -> dict[str, Any]:
        return {"job": send.enqueue(to).id}

    return bp, send


@pytest.mark.parametrize("backend", ["immediate", "in-process"])
def test_blueprint_task_is_registered_with_the_app_and_runs(backend: str) -> None:
    bp, send = mail_blueprint()
    app = make_app(backend)
    app.register_blueprint(bp)
    # Named as @app.task names a function: module.qualname.
    assert send.name == f"{__name__}.mail_blueprint.<locals>.send"
    task = app.tasks.registry[send.name]
    assert isinstance(task, Task)
    assert task.func is send.func
    assert (task.retries, task.queue) == (2, "mail")
    assert send("bob") == "sent to bob by a direct call"
    with app.test_client() as client:
        job_id = client.post("/mail/ann").json()["job"]
        result = app.tasks.result(job_id).result(timeout=5)
    assert result == f"sent to ann by {send.name}"


def test_blueprint_task_settings_defaults_come_from_the_app() -> None:
    bp = Blueprint("defaults")

    @bp.task
    def plain() -> None: ...

    app = make_app(TASKS_RETRIES=4, TASKS_BACKOFF=0.5)
    app.register_blueprint(bp)
    task = plain.for_app(app)
    assert (task.retries, task.backoff) == (4, 0.5)


def test_blueprint_task_sends_through_the_app_of_the_context() -> None:
    bp, send = mail_blueprint()
    one, two = make_app(), make_app()
    one.register_blueprint(bp)
    two.register_blueprint(bp)
    with one.app_context():
        job = send.enqueue("x")
    assert one.tasks.result(job.id).status == "succeeded"
    assert two.tasks.result(job.id).status == "unknown"
    with two.app_context():
        job = send.enqueue("y")
    assert two.tasks.result(job.id).result(timeout=0) == f"sent to y by {send.name}"
    # Outside any context, with two apps: which one is not guessed.
    with pytest.raises(RuntimeError, match="several apps.*app_context"):
        send.enqueue("z")
    assert send.for_app(one).enqueue("z").status == "succeeded"

    async def from_async() -> Any:
        with one.app_context():
            return await (await send.aenqueue("w")).aresult(timeout=5)

    assert asyncio.run(from_async()) == f"sent to w by {send.name}"


def test_blueprint_task_outside_a_context_uses_its_one_app() -> None:
    bp, send = mail_blueprint()
    app = make_app()
    app.register_blueprint(bp)
    with app.app_context():
        send.enqueue("u")  # the app's tasks take the blueprint's in
    job = send.enqueue_with(("v",), delay=0)
    assert job.result(timeout=0) == f"sent to v by {send.name}"
    assert send.get_result(job.id).status == "succeeded"


def test_blueprint_not_registered_on_the_app_is_refused() -> None:
    bp, send = mail_blueprint()
    app = make_app()
    with pytest.raises(LookupError, match="not registered"):
        send.for_app(app)
    with app.app_context(), pytest.raises(RuntimeError, match="no app yet"):
        send.enqueue("x")


def test_blueprint_task_options_are_checked_at_declaration() -> None:
    bp = Blueprint("bad")
    with pytest.raises(ValueError, match="must have 5 fields"):
        bp.task(cron="* *")(lambda: None)
    with pytest.raises(TypeError, match="unknown option.*retires"):
        bp.task(retires=3)(lambda: None)  # type: ignore[call-overload]

    def needs(x: int) -> None: ...

    with pytest.raises(TypeError, match="must take no arguments.*'x'"):
        bp.task(every=60)(needs)
    assert bp.deferred_tasks == []


def test_blueprint_task_name_clash_with_an_app_task_is_refused() -> None:
    bp = Blueprint("clash")

    @bp.task(name="report")
    def bp_report() -> None: ...

    app = make_app()

    @app.task(name="report")
    def app_report() -> None: ...

    with pytest.raises(ImproperlyConfigured, match="'report' is already registered"):
        app.register_blueprint(bp)  # refused where the blueprint is registered


def test_blueprint_periodic_task_runs_with_the_app() -> None:
    bp = Blueprint("beat")
    ticks: list[int] = []

    @bp.task(every=1)
    def beat() -> None:
        job = current_job()
        assert job is not None and job.tick is not None
        ticks.append(job.tick)

    app = make_app("in-process")

    @app.task
    def other() -> None: ...

    app.register_blueprint(bp)
    assert app.tasks.periodic() == [beat.for_app(app)]
    with app.test_client():
        time.sleep(2.3)
    assert len(ticks) >= 1


def test_registering_the_blueprint_gives_the_app_its_tasks_at_once() -> None:
    bp, send = mail_blueprint()
    app = make_app()
    app.register_blueprint(bp)
    assert "tasks" in app.extensions
    job = send.enqueue("v")  # no context, one app
    assert job.result(timeout=0) == f"sent to v by {send.name}"
