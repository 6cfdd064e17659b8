"""The ``dramatiq`` backend against a real Redis, with real ``kettle worker``
subprocesses: jobs run in the worker, delays, retries with backoff, failures,
results read by id, periodic ticks with two processes, and SIGTERM."""

from __future__ import annotations

import importlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from kettle.tasks import EnqueueError
from kettle.tasks import TaskFailed

APP = """
import os
import time

from kettle import Kettle
from kettle.db import PK, Mapped, Model, String, mapped_column
from kettle.tasks import current_job
from sqlalchemy.orm import Session

app = Kettle(env_file=None)


class TaskRun(Model):
    __tablename__ = "tasks_dramatiq_run"
    id: Mapped[PK]
    task: Mapped[str] = mapped_column(String(40))
    pid: Mapped[int]
    attempt: Mapped[int]
    tick: Mapped[int | None]
    at: Mapped[float]


def note(db: Session, task: str) -> int:
    job = current_job()
    db.add(TaskRun(task=task, pid=os.getpid(), attempt=job.attempt, tick=job.tick,
                   at=time.time()))
    return os.getpid()


@app.task
def where(db: Session) -> dict:
    return {"pid": note(db, "where"), "setting": app.config["TASKS_BACKEND"]}


@app.task
async def echo(value):
    return {"value": value, "pid": os.getpid()}


@app.task(retries=3, backoff=0.3)
def flaky(db: Session) -> int:
    note(db, "flaky")
    db.commit()
    if current_job().attempt < 3:
        raise ConnectionError("the service is not there yet")
    return current_job().attempt


@app.task(retries=1, backoff=0.1)
def doomed() -> None:
    raise ValueError("always wrong")


@app.task
def slow(seconds: float, db: Session) -> str:
    time.sleep(seconds)
    note(db, "slow")
    return "finished"


if os.environ.get("TICKING"):
    @app.task(every=1)
    def beat(db: Session) -> None:
        note(db, "beat")
"""


class Worker:
    def __init__(self, process: subprocess.Popen[bytes], log: Path) -> None:
        self.process = process
        self.log = log

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, text: str, count: int = 1, timeout: float = 20) -> None:
        end = time.monotonic() + timeout
        while self.output().count(text) < count:
            if self.process.poll() is not None:
                raise AssertionError(f"the worker exited:\n{self.output()}")
            if time.monotonic() > end:
                raise AssertionError(f"no {text!r} from the worker:\n{self.output()}")
            time.sleep(0.05)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"the worker did not stop:\n{self.output()}") from None


@pytest.fixture
def env(
    redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    values = {
        "KETTLE_TASKS_BACKEND": "dramatiq",
        "KETTLE_REDIS_URL": redis_url,
        "KETTLE_DATABASE_URL": f"sqlite:///{tmp_path / 'shared.sqlite3'}",
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return values


@pytest.fixture
def web(env: dict[str, str], tmp_path: Path) -> Iterator[ModuleType]:
    """The app module, imported here as the web process would (a fresh module
    name per test: task names are module.function in both processes)."""
    name = f"tasks_app_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(APP)
    sys.path.insert(0, str(tmp_path))
    from kettle.db import Model
    from kettle.db import get_database

    try:
        module = importlib.import_module(name)
        get_database(module.app).create_all()
        yield module
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop(name, None)
        table = Model.metadata.tables.get("tasks_dramatiq_run")
        if table is not None:
            Model.metadata.remove(table)
        if "module" in locals():
            get_database(module.app).dispose()
            module.app.tasks.backend.shutdown()


@pytest.fixture
def start_worker(
    env: dict[str, str], tmp_path: Path, web: ModuleType
) -> Iterator[Callable[..., Worker]]:
    started: list[Worker] = []

    def start(*options: str, extra_env: dict[str, str] | None = None) -> Worker:
        log = tmp_path / f"worker-{len(started)}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "kettle",
                    "worker",
                    f"{web.__name__}:app",
                    *options,
                ],
                cwd=tmp_path,
                env={**os.environ, **env, **(extra_env or {})},
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        worker = Worker(process, log)
        started.append(worker)
        processes = (
            int(options[options.index("--processes") + 1])
            if "--processes" in options
            else 1
        )
        worker.wait_for("kettle worker: pid", count=processes)
        return worker

    yield start
    for worker in started:
        worker.stop()


def runs(tmp_path: Path, task: str) -> list[tuple[int, int, int | None, float]]:
    with sqlite3.connect(tmp_path / "shared.sqlite3") as conn:
        return conn.execute(
            "SELECT pid, attempt, tick, at FROM tasks_dramatiq_run WHERE task = ?"
            " ORDER BY at",
            (task,),
        ).fetchall()


def test_job_runs_in_the_worker_and_its_result_is_read_by_id(
    web: ModuleType, start_worker: Callable[..., Worker], tmp_path: Path
) -> None:
    worker = start_worker("--threads", "2")
    job = web.where.enqueue()
    result = job.result(timeout=15)
    assert result["pid"] == worker.process.pid != os.getpid()
    assert result["setting"] == "dramatiq"  # the task saw the app's settings
    # another handle, by id, as a later request would make
    again = web.app.tasks.result(job.id)
    assert again.status == "succeeded" and again.result() == result
    assert [r[0] for r in runs(tmp_path, "where")] == [worker.process.pid]  # committed
    assert web.echo.enqueue([1, "two"]).result(timeout=15)["value"] == [1, "two"]


def test_delay_is_respected(
    web: ModuleType, start_worker: Callable[..., Worker]
) -> None:
    start_worker()
    sent = time.time()
    job = web.where.enqueue(delay=1.5)
    assert job.status == "queued"
    time.sleep(0.5)
    assert job.status == "queued"
    job.result(timeout=15)
    assert job.info()["started_at"] - sent >= 1.5


def test_retries_with_backoff_then_success(
    web: ModuleType, start_worker: Callable[..., Worker], tmp_path: Path
) -> None:
    start_worker()
    job = web.flaky.enqueue()
    assert job.result(timeout=20) == 3
    assert job.attempts == 3
    times = [r[3] for r in runs(tmp_path, "flaky")]
    assert [r[1] for r in runs(tmp_path, "flaky")] == [1, 2, 3]
    assert times[1] - times[0] >= 0.3  # backoff 0.3 s, then 0.6 s
    assert times[2] - times[1] >= 0.6


def test_failure_after_the_last_retry(
    web: ModuleType, start_worker: Callable[..., Worker]
) -> None:
    worker = start_worker()
    job = web.doomed.enqueue()
    with pytest.raises(TaskFailed) as info:
        job.result(timeout=20)
    assert info.value.error == "ValueError: always wrong"
    assert job.status == "failed" and job.attempts == 2
    worker.wait_for("always wrong")  # logged by the worker


def test_periodic_task_runs_once_per_tick_with_two_processes(
    web: ModuleType, start_worker: Callable[..., Worker], tmp_path: Path
) -> None:
    worker = start_worker(
        "--processes", "2", "--threads", "2", extra_env={"TICKING": "1"}
    )
    time.sleep(4.5)
    worker.stop()
    ticks = sorted(r[2] for r in runs(tmp_path, "beat"))
    assert len(ticks) >= 3, worker.output()
    assert len(set(ticks)) == len(ticks), ticks  # no tick ran twice
    # (A tick missed while the machine stalled is not run late: gaps may be.)


def test_sigterm_lets_the_running_job_finish(
    web: ModuleType, start_worker: Callable[..., Worker], tmp_path: Path
) -> None:
    worker = start_worker()
    job = web.slow.enqueue(1.5)
    deadline = time.monotonic() + 15
    while job.status != "running":
        assert time.monotonic() < deadline, worker.output()
        time.sleep(0.02)
    assert worker.stop() == 0
    assert job.status == "succeeded"
    assert job.result() == "finished"
    assert len(runs(tmp_path, "slow")) == 1
    assert "kettle worker: stopped" in worker.output()


def test_unknown_task_is_logged_and_recorded_as_failed(
    web: ModuleType, start_worker: Callable[..., Worker]
) -> None:
    worker = start_worker()

    # A task the web process has and the worker's code lacks (an old worker).
    def ghost() -> None: ...

    task = web.app.task(name=f"{web.__name__}.ghost")(ghost)
    job = task.enqueue()
    with pytest.raises(TaskFailed, match="no task named"):
        job.result(timeout=15)
    worker.wait_for("no task named")
    assert worker.process.poll() is None  # the worker goes on


def test_redis_down_at_enqueue_is_a_clear_error(tmp_path: Path) -> None:
    from kettle import Kettle

    app = Kettle(
        env_file=None,
        TASKS_BACKEND="dramatiq",
        TASKS_REDIS_URL="redis://127.0.0.1:1/0",
    )

    @app.task
    def anything() -> None: ...

    with pytest.raises(
        EnqueueError, match=r"Redis at redis://127.0.0.1:1/0 \(TASKS_REDIS_URL\)"
    ):
        anything.enqueue()
