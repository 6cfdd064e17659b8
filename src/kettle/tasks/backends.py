"""The backends that run jobs: ``immediate`` (in the caller, for tests),
``in-process`` (threads of the web process) and ``dramatiq`` (Dramatiq's Redis
broker and ``kettle worker`` processes), and where each keeps job records."""

from __future__ import annotations

import atexit
import heapq
import itertools
import json
import logging
import math
import threading
import time
from typing import TYPE_CHECKING
from typing import Any

from ..exceptions import ImproperlyConfigured
from ._core import FINAL
from ._core import EnqueueError
from ._core import TaskError
from ._core import mark_failed
from ._core import new_job

if TYPE_CHECKING:
    from ._core import Task
    from ._core import Tasks

__all__ = (
    "Backend",
    "DramatiqBackend",
    "ImmediateBackend",
    "InProcessBackend",
    "MemoryStore",
    "RedisStore",
    "make_backend",
)

log = logging.getLogger("kettle.tasks")

#: Dramatiq refuses delays of 7 days or more.
MAX_DELAY = 7 * 24 * 3600 - 1


# -- job records ----------------------------------------------------------------------


class MemoryStore:
    """Job records in this process's memory, kept ``ttl`` seconds after the job
    finished."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._records: dict[str, dict[str, Any]] = {}
        self._changed = threading.Condition()
        self._puts = 0

    def put(self, job_id: str, record: dict[str, Any]) -> None:
        with self._changed:
            self._records[job_id] = dict(record)
            self._puts += 1
            if self._puts % 256 == 0:
                self._prune()
            self._changed.notify_all()

    def _prune(self) -> None:
        limit = time.time() - self.ttl
        for key in [
            k
            for k, r in self._records.items()
            if r.get("status") in FINAL and (r.get("finished_at") or 0) < limit
        ]:
            del self._records[key]

    def get(self, job_id: str) -> dict[str, Any] | None:
        record = self._records.get(job_id)
        return dict(record) if record is not None else None

    def wait(self, job_id: str, timeout: float) -> dict[str, Any] | None:
        """The record, once the job is done or ``timeout`` seconds passed."""

        def done() -> bool:
            record = self._records.get(job_id)
            return record is not None and record.get("status") in FINAL

        with self._changed:
            self._changed.wait_for(done, timeout)
        return self.get(job_id)


class RedisStore:
    """Job records in Redis (``kettle:tasks:job:<id>``, JSON), expiring ``ttl``
    seconds after their last change."""

    prefix = "kettle:tasks:job:"

    def __init__(self, client: Any, url: str, ttl: float) -> None:
        self.client = client
        self.url = url
        self.ttl = max(1, int(ttl))
        import redis

        self._errors = (redis.RedisError, OSError)

    def _failed(self, what: str, exc: BaseException) -> TaskError:
        return EnqueueError(
            f"could not {what} Redis at {self.url} (TASKS_REDIS_URL): {exc}"
        )

    def put(self, job_id: str, record: dict[str, Any]) -> None:
        try:
            self.client.set(self.prefix + job_id, json.dumps(record), ex=self.ttl)
        except self._errors as exc:
            raise self._failed("write a job record to", exc) from exc

    def get(self, job_id: str) -> dict[str, Any] | None:
        try:
            raw = self.client.get(self.prefix + job_id)
        except self._errors as exc:
            raise self._failed("read a job record from", exc) from exc
        return json.loads(raw) if raw is not None else None

    def wait(self, job_id: str, timeout: float) -> dict[str, Any] | None:
        record = self.get(job_id)
        if record is None or record.get("status") not in FINAL:
            time.sleep(timeout)
            record = self.get(job_id)
        return record

    def claim(self, key: str, ttl: int) -> bool:
        """Set ``key`` unless it exists (``SET NX``): True for the one caller that
        set it."""
        try:
            return bool(self.client.set(key, "1", nx=True, ex=ttl))
        except self._errors as exc:
            log.warning(
                "periodic tasks: could not reach Redis at %s: %s", self.url, exc
            )
            return False


# -- backends -------------------------------------------------------------------------


class Backend:
    """What runs jobs. Subclasses set :attr:`name`, :attr:`store` and
    :meth:`dispatch`."""

    #: The ``TASKS_BACKEND`` name.
    name = ""
    #: Whether sending does network I/O (async code sends from a thread).
    blocking = False
    store: Any

    def __init__(self, tasks: Tasks) -> None:
        self.tasks = tasks
        self._scheduler: Scheduler | None = None

    def declare(self, task: Task[Any, Any]) -> None:
        """Learn of a task (called for each, before it is sent)."""

    def send(
        self, task: Task[Any, Any], job: dict[str, Any], delay: float | None
    ) -> None:
        """Record the job as queued, then hand it on to run after ``delay``."""
        now = time.time()
        if delay is not None and delay > MAX_DELAY:
            raise ValueError(
                f"task {task.name}: a delay of {delay:.0f}s is too long; the longest "
                f"is 7 days ({MAX_DELAY}s): store far-off work in a table and use a "
                "periodic task to send it when it is due"
            )
        record = {
            "id": job["id"],
            "task": task.name,
            "status": "queued",
            "attempts": 0,
            "enqueued_at": now,
            "eta": now + (delay or 0.0),
        }
        self.store.put(job["id"], record)
        self.dispatch(task, job, delay or 0.0)

    def dispatch(self, task: Task[Any, Any], job: dict[str, Any], delay: float) -> None:
        raise NotImplementedError

    def start_scheduler(self) -> None:
        """Start sending the periodic tasks on their schedules (once)."""
        if self._scheduler is None:
            self._scheduler = Scheduler(self)
            self._scheduler.start()

    def claim(self, task: Task[Any, Any], tick: int) -> bool:
        """Whether this process sends ``task`` for ``tick``."""
        return True

    def shutdown(self) -> None:
        """Stop the scheduler; subclasses finish or hand back their work."""
        if self._scheduler is not None:
            self._scheduler.stop()
            self._scheduler = None


class Scheduler(threading.Thread):
    """Sends each periodic task once per tick of its schedule, from the first
    tick that starts after the scheduler did (no catching up on ticks missed
    while nothing ran)."""

    def __init__(self, backend: Backend) -> None:
        super().__init__(name="kettle-tasks-scheduler", daemon=True)
        self.backend = backend
        self._halt = threading.Event()
        self._started_at = time.time()
        self._last: dict[str, int] = {}

    def stop(self) -> None:
        self._halt.set()
        if self.is_alive() and threading.current_thread() is not self:
            self.join(5)

    def run(self) -> None:
        tasks = self.backend.tasks
        while not self._halt.is_set():
            now = time.time()
            wake = now + 1.0
            for task in tasks.periodic():
                schedule = task.schedule
                assert schedule is not None
                tick = schedule.tick(now)
                wake = min(wake, schedule.next_after(now))
                if (
                    tick is None
                    or tick < int(self._started_at)
                    or self._last.get(task.name) == tick
                ):
                    continue
                self._last[task.name] = tick
                try:
                    if not self.backend.claim(task, tick):
                        continue
                    self.backend.send(task, new_job(task.name, [], {}, tick=tick), None)
                except Exception:
                    log.exception("periodic task %s: could not send it", task.name)
            self._halt.wait(max(0.01, min(wake, time.time() + 1.0) - time.time()))


class ImmediateBackend(Backend):
    """Runs each job at once, in the caller, before ``enqueue()`` returns (for
    tests): results are there at once, a failure is a failed result (and an error
    logged), retries run at once (their backoff is not waited), ``delay`` is
    ignored, and periodic tasks do not run by themselves."""

    name = "immediate"
    blocking = True

    def __init__(self, tasks: Tasks, ttl: float) -> None:
        super().__init__(tasks)
        self.store = MemoryStore(ttl)

    def dispatch(self, task: Task[Any, Any], job: dict[str, Any], delay: float) -> None:
        again: list[dict[str, Any]] = [job]
        while again:
            failed = self.tasks.execute(again.pop(), lambda j, d: again.append(j))
            if failed is not None:
                log.error("job %s (%s) failed", job["id"], task.name, exc_info=failed)

    def start_scheduler(self) -> None:
        """Periodic tasks do not run by themselves here: call them in tests."""


class InProcessBackend(Backend):
    """Runs jobs in ``threads`` threads of this process (async tasks on one
    event loop thread), honouring delays and backoff, with records in memory.

    At shutdown, jobs that are due or running are finished, for up to
    ``shutdown_timeout`` seconds (``TASKS_SHUTDOWN_TIMEOUT``); delayed jobs (and
    retries) not yet due are dropped. Past the time limit, the jobs not started
    are dropped and the running ones abandoned (their threads are daemons: they
    do not hold up the process's exit). All of them are logged and recorded as
    failed.
    """

    name = "in-process"

    def __init__(
        self, tasks: Tasks, threads: int, ttl: float, shutdown_timeout: float = 600.0
    ) -> None:
        super().__init__(tasks)
        self.threads = threads
        self.shutdown_timeout = shutdown_timeout
        self.store = MemoryStore(ttl)
        # (when due, by time.monotonic(); sequence; job), guarded by _cond
        self._heap: list[tuple[float, int, dict[str, Any]]] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._workers: list[threading.Thread] = []
        self._running: dict[int, dict[str, Any]] = {}  # thread id -> its job
        # Workers of an older generation (left running at a shutdown) stop
        # taking jobs.
        self._generation = 0
        self._closing = False
        self._at_exit = False

    def dispatch(self, task: Task[Any, Any], job: dict[str, Any], delay: float) -> None:
        self._push(job, delay)

    def _push(self, job: dict[str, Any], delay: float) -> None:
        with self._cond:
            if self._closing:
                self._drop(job, "the process was shutting down when it was sent")
                return
            if not self._workers:
                self._generation += 1
                self._workers = [
                    threading.Thread(
                        target=self._work,
                        args=(self._generation,),
                        name=f"kettle-task-{i}",
                        daemon=True,
                    )
                    for i in range(self.threads)
                ]
                for worker in self._workers:
                    worker.start()
                if not self._at_exit:
                    # A program that exits without the app's shutdown hooks
                    # (a script) still finishes its due jobs, within the limit.
                    atexit.register(self.shutdown)
                    self._at_exit = True
            heapq.heappush(self._heap, (time.monotonic() + delay, next(self._seq), job))
            self._cond.notify()

    def _work(self, generation: int) -> None:
        me = threading.get_ident()
        while True:
            with self._cond:
                while True:
                    if self._generation != generation:
                        return
                    now = time.monotonic()
                    if self._heap and self._heap[0][0] <= now:
                        break
                    if self._closing:
                        return  # what is left is not due: shutdown drops it
                    self._cond.wait(self._heap[0][0] - now if self._heap else None)
                job = heapq.heappop(self._heap)[2]
                self._running[me] = job
            try:
                self._run(job)
            finally:
                with self._cond:
                    self._running.pop(me, None)

    def _run(self, job: dict[str, Any]) -> None:
        try:
            failed = self.tasks.execute(job, self._push)
        except Exception:  # the store failed: nothing else can record it
            log.exception("job %s (%s) could not run", job["id"], job["task"])
            return
        if failed is not None:
            log.error("job %s (%s) failed", job["id"], job["task"], exc_info=failed)

    def _drop(self, job: dict[str, Any], why: str, kind: str = "Dropped") -> None:
        log.warning("job %s (%s) %s: %s", job["id"], job["task"], kind.lower(), why)
        mark_failed(
            self.store, job["id"], job["task"], kind, f"{why} (in-process backend)"
        )

    def shutdown(self) -> None:
        """Finish the due and running jobs, for up to :attr:`shutdown_timeout`
        seconds; drop (and record) the delayed ones, and past the time limit
        the ones not started; abandon (and record) the ones still running."""
        super().shutdown()
        with self._cond:
            self._closing = True
            now = time.monotonic()
            later = [entry for entry in self._heap if entry[0] > now]
            self._heap = [entry for entry in self._heap if entry[0] <= now]
            heapq.heapify(self._heap)
            workers = self._workers
            self._cond.notify_all()
        for _, _, job in sorted(later):
            self._drop(job, "its time had not come when the process stopped")
        limit = time.monotonic() + self.shutdown_timeout
        for worker in workers:
            worker.join(max(0.0, limit - time.monotonic()))
        with self._cond:
            left = [job for _, _, job in sorted(self._heap)]
            running = list(self._running.values())
            self._heap = []
            self._running = {}
            self._workers = []
            self._generation += 1  # the workers still running stop after their job
            self._closing = False
            at_exit, self._at_exit = self._at_exit, False
        if at_exit:
            atexit.unregister(self.shutdown)
        seconds = f"{self.shutdown_timeout:g}s"
        for job in left:
            self._drop(
                job,
                f"not started when the shutdown time limit ({seconds}, "
                "TASKS_SHUTDOWN_TIMEOUT) ran out",
            )
        for job in running:
            self._drop(
                job,
                f"still running when the shutdown time limit ({seconds}, "
                "TASKS_SHUTDOWN_TIMEOUT) ran out",
                "Abandoned",
            )
        self.tasks.runner().close()


class DramatiqBackend(Backend):
    """Sends jobs to Dramatiq's Redis broker, one Dramatiq actor per task; the
    ``kettle worker`` processes run them. Records live in Redis for ``ttl``
    seconds; periodic ticks are claimed with ``SET NX``."""

    name = "dramatiq"
    blocking = True

    def __init__(self, tasks: Tasks, url: str, ttl: float) -> None:
        super().__init__(tasks)
        try:
            import dramatiq  # noqa: F401
            import redis
            from dramatiq.brokers.redis import RedisBroker
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise ImproperlyConfigured(
                "TASKS_BACKEND = 'dramatiq' needs Dramatiq and redis-py: "
                "pip install 'kettle[tasks]'"
            ) from exc
        self.url = url
        client = redis.Redis.from_url(
            url, socket_connect_timeout=5, socket_timeout=30, health_check_interval=30
        )
        self.store = RedisStore(client, url, ttl)
        self.broker = RedisBroker(  # type: ignore[no-untyped-call]
            url=url, middleware=[_middleware(self)]
        )
        self._actors: dict[str, Any] = {}

    def declare(self, task: Task[Any, Any]) -> None:
        import dramatiq

        if task.name in self._actors:
            return
        execute = self.tasks.execute
        requeue = self._requeue

        def run(
            job_id: str,
            attempt: int,
            args: list[Any],
            kwargs: dict[str, Any],
            tick: int | None = None,
        ) -> None:
            job = new_job(
                task.name, args, kwargs, job_id=job_id, attempt=attempt, tick=tick
            )
            failed = execute(job, requeue)
            if failed is not None:
                raise failed  # Dramatiq logs it and dead-letters the message

        run.__module__ = getattr(task.func, "__module__", None) or __name__
        run.__qualname__ = run.__name__ = task.name
        self._actors[task.name] = dramatiq.Actor(
            run,
            broker=self.broker,
            actor_name=task.name,
            queue_name=task.queue,
            priority=0,
            options={},
        )

    def _message(self, job: dict[str, Any], queue: str) -> Any:
        from dramatiq import Message

        return Message(
            queue_name=queue,
            actor_name=job["task"],
            args=(
                job["id"],
                job.get("attempt", 1),
                job["args"],
                job["kwargs"],
                job.get("tick"),
            ),
            kwargs={},
            options={},
            message_id=job["id"],
        )

    def _enqueue(self, job: dict[str, Any], queue: str, delay: float) -> None:
        import redis

        ms = int(delay * 1000) if delay > 0 else None
        try:
            self.broker.enqueue(self._message(job, queue), delay=ms)
        except (redis.RedisError, OSError) as exc:
            raise EnqueueError(
                f"could not send job {job['id']} ({job['task']}) to Redis at "
                f"{self.url} (TASKS_REDIS_URL): {exc}"
            ) from exc

    def dispatch(self, task: Task[Any, Any], job: dict[str, Any], delay: float) -> None:
        self._enqueue(job, task.queue, delay)

    def _requeue(self, job: dict[str, Any], delay: float) -> None:
        task = self.tasks.registry[job["task"]]
        self._enqueue(job, task.queue, delay)

    def claim(self, task: Task[Any, Any], tick: int) -> bool:
        schedule = task.schedule
        span = getattr(schedule, "seconds", 60)
        key = f"kettle:tasks:tick:{task.name}:{tick}"
        return bool(self.store.claim(key, max(120, 2 * int(span))))

    def shutdown(self) -> None:
        super().shutdown()
        self.tasks.runner().close()


def _middleware(backend: DramatiqBackend) -> Any:
    """A Dramatiq middleware that dead-letters failed messages (Kettle does its
    own retries, so none of Dramatiq's) and records jobs of unknown tasks as
    failed."""
    from dramatiq import Middleware
    from dramatiq.errors import ActorNotFound

    class KettleMiddleware(Middleware):
        def after_process_message(
            self,
            broker: Any,
            message: Any,
            *,
            result: Any = None,
            exception: BaseException | None = None,
        ) -> None:
            if exception is not None:
                message.fail()  # to the dead-letter queue, not acked as done

        def after_nack(self, broker: Any, message: Any) -> None:
            # Dramatiq dead-letters a message for an actor it does not know.
            if isinstance(getattr(message, "_exception", None), ActorNotFound):
                _unknown_task(backend, message)

    return KettleMiddleware()


def _unknown_task(backend: DramatiqBackend, message: Any) -> None:
    job_id = str(message.args[0]) if message.args else message.message_id
    log.error(
        "job %s: no task named %r in this app (is the worker running the same code "
        "as the process that sent it?)",
        job_id,
        message.actor_name,
    )
    mark_failed(
        backend.store,
        job_id,
        message.actor_name,
        "LookupError",
        f"no task named {message.actor_name!r} in the worker",
    )


def shutdown_timeout(cfg: Any) -> float:
    """``TASKS_SHUTDOWN_TIMEOUT``: the seconds a stopping process waits for its
    running jobs (600 when None).

    Raises:
        ImproperlyConfigured: It is not a number of seconds >= 0.
    """
    value = cfg.get("TASKS_SHUTDOWN_TIMEOUT")
    if value is None:
        return 600.0
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = math.nan
    if isinstance(value, bool) or not math.isfinite(seconds) or seconds < 0:
        raise ImproperlyConfigured(
            f"setting TASKS_SHUTDOWN_TIMEOUT must be a number of seconds >= 0, "
            f"not {value!r}"
        )
    return seconds


def make_backend(tasks: Tasks, name: str) -> Backend:
    """The backend ``name`` (``TASKS_BACKEND``), made from the app's settings.

    Raises:
        ImproperlyConfigured: A setting is missing or wrong, naming it.
    """
    cfg = tasks.app.config
    ttl = float(cfg.get("TASKS_RESULT_TTL") or 24 * 3600)
    if name == "immediate":
        return ImmediateBackend(tasks, ttl)
    if name == "in-process":
        threads = cfg.get_int("TASKS_THREADS")
        if threads < 1:
            raise ImproperlyConfigured(
                f"TASKS_THREADS must be at least 1 (got {threads})"
            )
        return InProcessBackend(tasks, threads, ttl, shutdown_timeout(cfg))
    url = cfg.get("TASKS_REDIS_URL") or cfg.get("REDIS_URL")
    if not url:
        raise ImproperlyConfigured(
            "TASKS_BACKEND = 'dramatiq' needs TASKS_REDIS_URL (or REDIS_URL), such "
            "as 'redis://127.0.0.1:6379/0'"
        )
    return DramatiqBackend(tasks, str(url), ttl)
