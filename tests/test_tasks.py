"""kettle.tasks: declaring tasks, the immediate and in-process backends, results,
retries, timeouts, periodic schedules, and the checks on bad input and settings."""

from __future__ import annotations

import asyncio
import datetime
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from kettle import Kettle
from kettle import current_app
from kettle.cli import cli
from kettle.exceptions import ImproperlyConfigured
from kettle.tasks import Cron
from kettle.tasks import Every
from kettle.tasks import TaskFailed
from kettle.tasks import TaskNotFound
from kettle.tasks import current_job

BACKENDS = ["immediate", "in-process"]


def make_app(backend: str, **config: Any) -> Kettle:
    return Kettle(env_file=None, TASKS_BACKEND=backend, **config)


@pytest.fixture(params=BACKENDS)
def app(request: pytest.FixtureRequest) -> Any:
    made = make_app(request.param)
    yield made
    if "tasks" in made.extensions:
        made.tasks.backend.shutdown()


# -- declaring and calling ---------------------------------------------------------------


def test_import_kettle_does_not_import_tasks() -> None:
    code = (
        "import sys, kettle\n"
        "app = kettle.Kettle(env_file=None)\n"
        "assert 'kettle.tasks' not in sys.modules\n"
        "assert 'dramatiq' not in sys.modules\n"
        "@app.task\n"
        "def f(): pass\n"
        "assert 'kettle.tasks' in sys.modules\n"
        "assert 'dramatiq' not in sys.modules  # only the dramatiq backend loads it\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_task_called_directly_is_a_plain_call(app: Kettle) -> None:
    @app.task
    def add(a: int, b: int) -> int:
        assert current_job() is None
        return a + b

    assert add(2, 3) == 5
    assert (
        add.name == f"{__name__}.test_task_called_directly_is_a_plain_call.<locals>.add"
    )
    assert app.tasks.registry[add.name] is add


def test_duplicate_task_name_is_refused(app: Kettle) -> None:
    @app.task(name="same")
    def one() -> None: ...

    with pytest.raises(ImproperlyConfigured, match="already registered"):

        @app.task(name="same")
        def two() -> None: ...


# -- results and status ------------------------------------------------------------------


def test_enqueue_runs_and_result_is_readable_by_id(app: Kettle) -> None:
    @app.task
    def add(a: int, b: int) -> dict[str, Any]:
        job = current_job()
        assert job is not None
        return {"sum": a + b, "job": job.id, "app": current_app.config["TASKS_BACKEND"]}

    job = add.enqueue(2, b=3)
    value = job.result(timeout=5)
    assert value == {"sum": 5, "job": job.id, "app": app.config["TASKS_BACKEND"]}
    again = app.tasks.result(job.id)
    assert again.status == "succeeded"
    assert again.result(timeout=0) == value
    assert add.get_result(job.id).attempts == 1
    assert app.tasks.result("no-such-job").status == "unknown"


def within(seconds: float, func: Callable[[], Any]) -> BaseException | None:
    """What ``func()`` raised (None if it returned), failing the test if it
    has not ended after ``seconds`` (it is left to run, in a daemon thread)."""
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            func()
        except BaseException as exc:
            outcome.append(exc)
        else:
            outcome.append(None)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert outcome, f"still waiting after {seconds}s"
    return outcome[0]


def test_result_of_an_unknown_job_raises_at_once(app: Kettle) -> None:
    unknown = app.tasks.result("no-such-job")
    error = within(1, unknown.result)  # no timeout given
    assert isinstance(error, TaskNotFound)
    assert isinstance(error, LookupError)
    assert error.job_id == "no-such-job"
    assert "no job no-such-job is stored" in str(error)
    error = within(1, lambda: asyncio.run(unknown.aresult()))
    assert isinstance(error, TaskNotFound)


def test_result_waits_for_a_queued_job_up_to_its_timeout() -> None:
    app = make_app("in-process")

    @app.task
    def later() -> str:
        return "done"

    try:
        job = later.enqueue(delay=2)
        start = time.monotonic()
        with pytest.raises(TimeoutError, match="status: queued"):
            job.result(timeout=0.1)
        # Its own timeout, not the job's two seconds (room for a busy machine).
        assert 0.09 <= time.monotonic() - start < 1.5
        assert job.result() == "done"  # no timeout: as long as it takes
    finally:
        app.tasks.backend.shutdown()


def test_async_task(app: Kettle) -> None:
    @app.task
    async def double(x: int) -> list[int]:
        await asyncio.sleep(0.01)
        return [x, x * 2]

    assert double.enqueue(4).result(timeout=5) == [4, 8]

    async def from_async_code() -> Any:
        job = await double.aenqueue(5)
        return await job.aresult(timeout=5)

    assert asyncio.run(from_async_code()) == [5, 10]


def test_result_comes_back_as_json_would(app: Kettle) -> None:
    @app.task
    def pair() -> tuple[int, int]:
        return (1, 2)

    assert pair.enqueue().result(timeout=5) == [1, 2]


def test_failure_is_a_failed_result_with_the_error(
    app: Kettle, caplog: pytest.LogCaptureFixture
) -> None:
    @app.task
    def broken() -> None:
        raise KeyError("missing")

    job = broken.enqueue()
    with pytest.raises(TaskFailed) as info:
        job.result(timeout=5)
    assert info.value.error_type == "KeyError"
    assert "missing" in info.value.error
    assert "raise KeyError" in (info.value.traceback or "")
    assert job.status == "failed"
    assert job.error == "KeyError: 'missing'"
    # The worker logs the failure just after recording it.
    deadline = time.monotonic() + 5
    while not any("failed" in r.getMessage() for r in caplog.records):
        assert time.monotonic() < deadline, "the failure was not logged"
        time.sleep(0.01)


def test_unstorable_result_fails_without_retry(app: Kettle) -> None:
    @app.task(retries=3, backoff=0)
    def returns_object() -> object:
        return object()

    job = returns_object.enqueue()
    with pytest.raises(TaskFailed, match="result cannot be stored"):
        job.result(timeout=5)
    assert job.attempts == 1


# -- retries -----------------------------------------------------------------------------


def test_retries_then_success(app: Kettle) -> None:
    attempts: list[int] = []

    @app.task(retries=3, backoff=0.05)
    def flaky() -> str:
        job = current_job()
        assert job is not None
        attempts.append(job.attempt)
        if job.attempt < 3:
            raise ConnectionError("not yet")
        return "done"

    job = flaky.enqueue()
    assert job.result(timeout=5) == "done"
    assert attempts == [1, 2, 3]
    assert job.attempts == 3
    assert job.status == "succeeded"


def test_fails_after_max_retries(app: Kettle) -> None:
    runs: list[int] = []

    @app.task(retries=2, backoff=0.01)
    def always() -> None:
        runs.append(1)
        raise ValueError("nope")

    job = always.enqueue()
    with pytest.raises(TaskFailed, match="after 3 attempts"):
        job.result(timeout=5)
    assert len(runs) == 3


def test_only_listed_exceptions_are_retried(app: Kettle) -> None:
    runs: list[int] = []

    @app.task(retries=5, backoff=0, retry_on=ConnectionError)
    def wrong() -> None:
        runs.append(1)
        raise ValueError("a bug, not a hiccup")

    with pytest.raises(TaskFailed):
        wrong.enqueue().result(timeout=5)
    assert runs == [1]


def test_backoff_doubles_up_to_its_maximum() -> None:
    app = make_app("immediate")

    @app.task(retries=10, backoff=2, backoff_max=10)
    def t() -> None: ...

    assert [t.backoff_for(n) for n in range(1, 6)] == [2, 4, 8, 10, 10]

    @app.task(backoff=lambda n: n * 1.5)
    def u() -> None: ...

    assert u.backoff_for(3) == 4.5


def test_in_process_waits_the_backoff() -> None:
    app = make_app("in-process")
    starts: list[float] = []

    @app.task(retries=2, backoff=0.2)
    def flaky() -> None:
        starts.append(time.monotonic())
        if len(starts) < 3:
            raise ConnectionError

    try:
        flaky.enqueue().result(timeout=5)
    finally:
        app.tasks.backend.shutdown()
    gaps = [b - a for a, b in zip(starts, starts[1:], strict=False)]
    assert gaps[0] >= 0.19 and gaps[1] >= 0.39, gaps


# -- delays, timeouts ----------------------------------------------------------------------


def test_in_process_honours_delay() -> None:
    app = make_app("in-process")

    @app.task
    def when() -> float:
        return time.time()

    try:
        start = time.time()
        job = when.enqueue(delay=datetime.timedelta(milliseconds=300))
        assert job.status == "queued"
        assert job.result(timeout=5) - start >= 0.29
        at = when.enqueue_at(datetime.datetime.now() + datetime.timedelta(seconds=0.3))
        assert at.result(timeout=5) - start >= 0.29
        later = when.enqueue_in(0.2)
        assert later.result(timeout=5) >= time.time() - 0.5
    finally:
        app.tasks.backend.shutdown()


def test_immediate_ignores_delay() -> None:
    app = make_app("immediate")

    @app.task
    def now() -> str:
        return "ran"

    job = now.enqueue(delay=3600)
    assert job.status == "succeeded"
    assert job.result(timeout=0) == "ran"


def test_timeout_stops_a_sync_and_an_async_task(app: Kettle) -> None:
    @app.task(timeout=0.2)
    def spin() -> None:
        end = time.monotonic() + 5
        while time.monotonic() < end:
            pass

    @app.task(timeout=datetime.timedelta(seconds=0.2))
    async def sleepy() -> None:
        await asyncio.sleep(5)

    for task in (spin, sleepy):
        start = time.monotonic()
        with pytest.raises(TaskFailed) as info:
            task.enqueue().result(timeout=5)
        assert info.value.error_type == "TaskTimeout"
        assert time.monotonic() - start < 2


def test_in_process_shutdown_finishes_running_and_drops_delayed() -> None:
    app = make_app("in-process")
    started = threading.Event()

    @app.task
    def slow() -> str:
        started.set()
        time.sleep(0.3)
        return "finished"

    running = slow.enqueue()
    delayed = slow.enqueue(delay=60)
    assert started.wait(5)
    app.tasks.backend.shutdown()
    assert running.status == "succeeded"
    assert delayed.status == "failed"
    assert "had not come" in (delayed.error or "")


def test_in_process_shutdown_with_the_app_lifespan() -> None:
    app = make_app("in-process")
    done: list[str] = []

    @app.task
    def slow() -> None:
        time.sleep(0.2)
        done.append("yes")

    @app.get("/")
    def index() -> dict[str, str]:
        return {"job": slow.enqueue().id}

    with app.test_client() as client:
        job_id = client.get("/").json()["job"]
    assert done == ["yes"]  # the shutdown hook waited for it
    assert app.tasks.result(job_id).status == "succeeded"


def test_in_process_shutdown_has_a_time_limit(caplog: pytest.LogCaptureFixture) -> None:
    app = make_app("in-process", TASKS_THREADS=1, TASKS_SHUTDOWN_TIMEOUT=0.3)
    started = threading.Event()
    release = threading.Event()

    @app.task
    def stuck() -> str:
        started.set()
        release.wait(10)
        return "late"

    @app.task
    def quick() -> str:
        return "quick"

    running = stuck.enqueue()
    waiting = quick.enqueue()  # due, but the one thread is taken
    delayed = quick.enqueue(delay=60)
    assert started.wait(5)
    start = time.monotonic()
    try:
        app.tasks.backend.shutdown()
        assert 0.29 <= time.monotonic() - start < 2
        assert running.status == "failed"
        assert running.info()["error_type"] == "Abandoned"
        assert "still running when the shutdown time limit (0.3s" in (
            running.error or ""
        )
        assert waiting.status == "failed"
        assert "not started when the shutdown time limit" in (waiting.error or "")
        assert "had not come" in (delayed.error or "")
        warned = "\n".join(r.getMessage() for r in caplog.records)
        for job in (running, waiting, delayed):
            assert job.id in warned
        assert f"job {running.id} ({stuck.name}) abandoned" in warned
    finally:
        release.set()
    # The backend runs jobs again after a shutdown; the abandoned thread, done
    # with its job, takes no more.
    try:
        assert quick.enqueue().result(timeout=5) == "quick"
    finally:
        app.tasks.backend.shutdown()


def test_a_script_with_a_stuck_job_exits_within_the_time_limit(tmp_path: Path) -> None:
    """No lifespan runs the shutdown hooks here: the backend's exit hook does,
    and its threads do not hold the process up past the limit."""
    script = tmp_path / "stuck_script.py"
    script.write_text(
        "import time\n"
        "from kettle import Kettle\n"
        "app = Kettle(env_file=None, TASKS_BACKEND='in-process',\n"
        "             TASKS_SHUTDOWN_TIMEOUT=0.5)\n"
        "@app.task\n"
        "def stuck():\n"
        "    time.sleep(60)\n"
        "@app.task\n"
        "def quick():\n"
        "    print('quick ran', flush=True)\n"
        "stuck.enqueue()\n"
        "quick.enqueue(delay=0.2)\n"
        "time.sleep(0.1)\n"
    )
    start = time.monotonic()
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - start < 10
    assert "abandoned: still running when the shutdown time limit" in done.stderr
    assert "quick ran" not in done.stdout  # not due at the exit: dropped


def test_shutdown_timeout_setting_is_checked_at_startup() -> None:
    app = make_app("in-process", TASKS_SHUTDOWN_TIMEOUT="soon")

    @app.task
    def t() -> None: ...

    with pytest.raises(ImproperlyConfigured, match="TASKS_SHUTDOWN_TIMEOUT"):
        asyncio.run(app.startup())


# -- bad input, bad settings -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((datetime.datetime(2024, 1, 1),), {}, r"argument 1 is a datetime.*isoformat"),
        ((), {"data": {1: "x"}}, r"argument 'data' has the key 1"),
        ((), {"data": [{"a": {1, 2}}]}, r"argument 'data'\[0\]\['a'\] is a set"),
        ((float("nan"),), {}, r"argument 1 is nan"),
    ],
)
def test_arguments_must_be_json(
    app: Kettle, args: tuple[Any, ...], kwargs: dict[str, Any], message: str
) -> None:
    ran: list[int] = []

    @app.task
    def take(*args: Any, **kwargs: Any) -> None:
        ran.append(1)

    with pytest.raises(TypeError, match=message):
        take.enqueue(*args, **kwargs)
    assert ran == []


def test_arguments_must_fit_the_signature(app: Kettle) -> None:
    @app.task
    def add(a: int, b: int) -> int:
        return a + b

    with pytest.raises(TypeError, match="missing a required argument: 'b'"):
        add.enqueue(1)
    with pytest.raises(TypeError, match="unexpected keyword argument 'c'"):
        add.enqueue(1, 2, c=3)


def test_enqueue_with_for_functions_taking_option_names(app: Kettle) -> None:
    @app.task
    def greet(delay: int, on_commit: str) -> str:
        return f"{delay}-{on_commit}"

    job = greet.enqueue_with((5,), {"on_commit": "x"}, delay=0)
    assert job.result(timeout=5) == "5-x"


def test_unknown_backend_is_refused_at_startup() -> None:
    app = make_app("celery")

    @app.task
    def t() -> None: ...

    with pytest.raises(ImproperlyConfigured, match="TASKS_BACKEND 'celery'"):
        asyncio.run(app.startup())


def test_dramatiq_backend_needs_a_redis_url() -> None:
    app = make_app("dramatiq")

    @app.task
    def t() -> None: ...

    with pytest.raises(ImproperlyConfigured, match="TASKS_REDIS_URL"):
        t.enqueue()


def test_bad_options_are_refused() -> None:
    app = make_app("immediate")
    with pytest.raises(ValueError, match="retries must not be negative"):
        app.task(retries=-1)(lambda: None)
    with pytest.raises(TypeError, match="every= or cron="):
        app.task(every=60, cron="* * * * *")(lambda: None)
    with pytest.raises(ValueError, match="must have 5 fields"):
        app.task(cron="* * *")(lambda: None)

    def needs(x: int) -> None: ...

    with pytest.raises(TypeError, match="must take no arguments.*'x'"):
        app.task(every=60)(needs)


# -- periodic ---------------------------------------------------------------------------------


def test_cron_expressions() -> None:
    at = datetime.datetime
    utc = datetime.UTC
    every5 = Cron("*/5 * * * *")
    assert every5.matches(at(2024, 5, 1, 10, 15, tzinfo=utc))
    assert not every5.matches(at(2024, 5, 1, 10, 16, tzinfo=utc))
    weekdays = Cron("30 9 * * mon-fri")
    assert weekdays.matches(at(2024, 5, 3, 9, 30, tzinfo=utc))  # a Friday
    assert not weekdays.matches(at(2024, 5, 4, 9, 30, tzinfo=utc))  # Saturday
    sunday = Cron("0 0 * * 7")
    assert sunday.matches(at(2024, 5, 5, 0, 0, tzinfo=utc))
    either = Cron("0 12 1 * sun")  # both day fields set: either one matches
    assert either.matches(at(2024, 5, 1, 12, 0, tzinfo=utc))  # the 1st, a Wednesday
    assert either.matches(at(2024, 5, 5, 12, 0, tzinfo=utc))  # a Sunday
    assert not either.matches(at(2024, 5, 2, 12, 0, tzinfo=utc))
    assert Cron("@daily").matches(at(2024, 5, 2, 0, 0, tzinfo=utc))
    assert Cron("0 0-6/3,12 * jan,jul *").matches(at(2024, 7, 9, 3, 0, tzinfo=utc))
    for bad, why in [
        ("60 * * * *", "out of range"),
        ("* * * * mon-sun-x", "not a number"),
        ("5-1 * * * *", "backwards"),
        ("*/0 * * * *", "step"),
    ]:
        with pytest.raises(ValueError, match=why):
            Cron(bad)


def days_run(expression: str, year: int = 2024, month: int = 5) -> list[int]:
    """The days of the month on which ``expression`` runs at midnight (UTC)."""
    cron = Cron(expression)
    days = []
    for day in range(1, 32):
        try:
            when = datetime.datetime(year, month, day, tzinfo=datetime.UTC)
        except ValueError:
            break
        if cron.matches(when):
            days.append(day)
    return days


def test_cron_day_fields_combine_as_in_vixie_cron() -> None:
    # May 2024: the 1st is a Wednesday; Mondays are the 6th, 13th, 20th, 27th.
    mondays = [6, 13, 20, 27]
    odd = list(range(1, 32, 2))
    # A field starting with "*" is unrestricted for the rule: the other one
    # must match too (AND).
    assert days_run("0 0 */2 * mon") == [13, 27]  # odd days that are Mondays
    assert days_run("0 0 14 * */2") == [14]  # the 14th (a Tuesday), Sun/Tue/...
    assert days_run("0 0 13 * */2") == []  # the 13th is a Monday
    assert days_run("0 0 *,10 * tue") == [7, 14, 21, 28]
    assert days_run("0 0 * * mon") == mondays
    assert days_run("0 0 13 * *") == [13]
    # Both restricted (neither starts with "*"): either one (OR), even when a
    # field covers every day.
    assert days_run("0 0 1-31/2 * mon") == sorted(set(odd) | set(mondays))
    assert days_run("0 0 1,15 * fri") == [1, 3, 10, 15, 17, 24, 31]
    assert days_run("0 0 10,* * tue") == list(range(1, 32))
    # The shorthands, as Vixie cron reads them.
    assert days_run("@weekly") == [5, 12, 19, 26]
    assert days_run("@monthly") == [1]
    assert days_run("@daily") == list(range(1, 32))


def test_every_ticks_are_aligned() -> None:
    hourly = Every(3600)
    assert hourly.tick(7200 + 59) == 7200
    assert hourly.next_after(7200 + 59) == 10800


def test_in_process_runs_periodic_tasks_once_per_tick() -> None:
    app = make_app("in-process")
    ticks: list[int] = []

    @app.task(every=1)
    def beat() -> None:
        job = current_job()
        assert job is not None and job.tick is not None
        ticks.append(job.tick)

    with app.test_client():
        time.sleep(2.6)
    assert len(ticks) >= 2
    # Once per tick, in order (a tick missed by a stalled machine is not run late).
    assert ticks == sorted(set(ticks))


# -- kettle worker, for the backends that need none ---------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_worker_says_no_worker_is_needed(
    backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "noworker_app.py").write_text(
        "from kettle import Kettle\n"
        "app = Kettle(env_file=None)\n"
        "@app.task\n"
        "def t(): pass\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KETTLE_TASKS_BACKEND", backend)
    result = CliRunner().invoke(cli, ["worker", "noworker_app:app"])
    assert result.exit_code == 1
    assert "no worker is needed" in result.output
    sys.modules.pop("noworker_app", None)
