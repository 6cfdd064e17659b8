"""The timeout of ``def`` tasks at its edge: a run that ends as its time runs out
either returns or times out, never both, and no TaskTimeout reaches the thread
after the run (where it would land in the backend's or the pool's own code)."""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from kettle import Kettle
from kettle.tasks import TaskFailed
from kettle.tasks import TaskTimeout

JOBS = 400
TIMEOUT = 0.003


@pytest.fixture
def busy_gil() -> Iterator[None]:
    """Switch threads often, with a thread always wanting the GIL: the timer's
    thread and the task's then interleave at any bytecode, as on a loaded
    server."""
    interval = sys.getswitchinterval()
    stop = threading.Event()

    def spin() -> None:
        while not stop.is_set():
            sum(range(50))

    spinner = threading.Thread(target=spin, daemon=True)
    sys.setswitchinterval(1e-5)
    spinner.start()
    try:
        yield
    finally:
        stop.set()
        spinner.join()
        sys.setswitchinterval(interval)


@pytest.fixture
def thread_errors(monkeypatch: pytest.MonkeyPatch) -> list[BaseException | None]:
    """Exceptions that ended a thread."""
    seen: list[BaseException | None] = []
    monkeypatch.setattr(
        threading, "excepthook", lambda args: seen.append(args.exc_value)
    )
    return seen


def edge_task(app: Kettle, returned: dict[int, bool]) -> Any:
    @app.task(timeout=TIMEOUT)
    def edge(i: int) -> int:
        # Runs for about its timeout: from a little less to a little more.
        end = time.monotonic() + TIMEOUT * (0.9 + (i * 37 % 100) / 500)
        while time.monotonic() < end:
            pass
        # A store, not a call: nothing between it and the return where the
        # interpreter would raise a pending exception.
        returned[i] = True
        return i

    return edge


@pytest.mark.usefixtures("busy_gil")
def test_immediate_runs_at_the_edge_of_their_timeout_return_or_time_out() -> None:
    """The immediate backend runs jobs in this thread: a TaskTimeout raised
    after a run returned would surface in this test's own code."""
    app = Kettle(env_file=None, TASKS_BACKEND="immediate")
    returned: dict[int, bool] = {}
    edge = edge_task(app, returned)
    outcomes: dict[int, str] = {}
    for i in range(JOBS):
        job = edge.enqueue(i)
        # Python code for a stray exception to land in.
        total = 0
        for n in range(2000):
            total += n
        try:
            assert job.result(timeout=0) == i
            outcomes[i] = "returned"
        except TaskFailed as exc:
            assert exc.error_type == "TaskTimeout", exc
            outcomes[i] = "timed out"
    timed_out = {i for i, o in outcomes.items() if o == "timed out"}
    assert not timed_out & set(returned), "a run that returned failed with TaskTimeout"
    assert set(returned) | timed_out == set(range(JOBS))
    assert timed_out and returned, "no run on one side of the edge: not a test"


@pytest.mark.usefixtures("busy_gil")
def test_in_process_runs_at_the_edge_of_their_timeout_leave_the_threads_working(
    thread_errors: list[BaseException | None], caplog: pytest.LogCaptureFixture
) -> None:
    app = Kettle(env_file=None, TASKS_BACKEND="in-process", TASKS_THREADS=4)
    returned: dict[int, bool] = {}
    edge = edge_task(app, returned)

    @app.task
    def ping(i: int) -> int:
        return i

    caplog.set_level(logging.WARNING, "kettle.tasks")
    try:
        jobs = [edge.enqueue(i) for i in range(JOBS)]
        timed_out: set[int] = set()
        for i, job in enumerate(jobs):
            try:
                # TimeoutError here: a job left "running" by an exception that
                # hit the backend's own code.
                assert job.result(timeout=30) == i
            except TaskFailed as exc:
                assert exc.error_type == "TaskTimeout", exc
                timed_out.add(i)
        assert not timed_out & set(returned), (
            "a run that returned failed with TaskTimeout"
        )
        assert set(returned) | timed_out == set(range(JOBS))
        # The threads still work: a stray TaskTimeout in one would have ended it.
        pings = [ping.enqueue(i) for i in range(20)]
        assert [p.result(timeout=10) for p in pings] == list(range(20))
    finally:
        app.tasks.backend.shutdown()
    assert thread_errors == []
    assert not [r for r in caplog.records if "could not run" in r.getMessage()]


@pytest.mark.usefixtures("busy_gil")
def test_a_timeout_that_expired_before_the_run_started_fails_it_cleanly(
    thread_errors: list[BaseException | None],
) -> None:
    """A tiny timeout may run out before the function is called (the timer's
    thread starting on a loaded machine): the run fails with TaskTimeout, and
    the exception never lands in the timer's own start-up code."""
    app = Kettle(env_file=None, TASKS_BACKEND="immediate")

    @app.task(timeout=1e-9)
    def instant() -> None:
        end = time.monotonic() + 2
        while time.monotonic() < end:
            time.sleep(0.0005)

    start = time.monotonic()
    for _ in range(100):
        with pytest.raises(TaskFailed) as info:
            instant.enqueue().result(timeout=0)
        assert info.value.error_type == "TaskTimeout"
    assert time.monotonic() - start < 10
    time.sleep(0.05)  # a stray exception would land here
    assert thread_errors == []


def test_a_task_that_swallows_its_timeout_returns_normally() -> None:
    app = Kettle(env_file=None, TASKS_BACKEND="immediate")

    @app.task(timeout=0.05)
    def stubborn() -> str:
        try:
            while True:
                time.sleep(0.005)
        except TaskTimeout:
            return "caught"

    assert stubborn.enqueue().result(timeout=0) == "caught"
    time.sleep(0.1)  # and nothing follows
