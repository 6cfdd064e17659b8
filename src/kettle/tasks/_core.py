"""Tasks, their results, and the app's task registry."""

from __future__ import annotations

import asyncio
import datetime
import functools
import inspect
import json
import logging
import math
import sys
import threading
import time
import traceback
import typing
import uuid
import weakref
from collections.abc import Callable
from collections.abc import Iterator
from contextvars import ContextVar
from itertools import starmap
from typing import TYPE_CHECKING
from typing import Any
from typing import Generic
from typing import Literal
from typing import ParamSpec
from typing import TypedDict
from typing import TypeVar
from typing import Unpack
from typing import overload

from ..context import _current_app_or_none
from ..exceptions import ImproperlyConfigured
from ..helpers import extension
from . import oncommit
from ._values import ResultNotJSON
from ._values import check_json
from ._values import json_safe
from .schedule import Cron
from .schedule import Every
from .schedule import Schedule

if TYPE_CHECKING:
    from ..app import Kettle
    from ..blueprints import Blueprint
    from .backends import Backend

__all__ = (
    "BlueprintTask",
    "Job",
    "Status",
    "Task",
    "TaskError",
    "TaskFailed",
    "TaskNotFound",
    "TaskResult",
    "TaskTimeout",
    "Tasks",
    "current_job",
    "get_tasks",
)

P = ParamSpec("P")
R = TypeVar("R")
F = TypeVar("F", bound=Callable[..., Any])

log = logging.getLogger("kettle.tasks")

#: A job's state: ``queued`` (waiting, or delayed), ``running``, ``retrying``
#: (failed, to run again after its backoff), ``succeeded``, ``failed`` (for good),
#: or ``unknown`` (nothing is stored under that id: never sent, dropped with a
#: rolled-back transaction, or expired).
Status = Literal["queued", "running", "retrying", "succeeded", "failed", "unknown"]
FINAL = ("succeeded", "failed")


class TaskError(Exception):
    """Base class of the errors of :mod:`kettle.tasks`."""


class TaskFailed(TaskError):
    """The job failed for good; raised by :meth:`TaskResult.result`.

    Attributes:
        job_id: The job's id.
        error_type: The name of the exception the task raised last.
        error: ``"Type: message"`` of that exception.
        traceback: Its formatted traceback (when stored).
    """

    def __init__(self, job_id: str, record: dict[str, Any]) -> None:
        self.job_id = job_id
        self.error_type: str = record.get("error_type") or "Exception"
        self.error: str = record.get("error") or "the task failed"
        self.traceback: str | None = record.get("traceback")
        attempts = record.get("attempts") or 1
        tries = "1 attempt" if attempts == 1 else f"{attempts} attempts"
        super().__init__(f"job {job_id} failed after {tries}: {self.error}")


class TaskTimeout(TaskError):
    """Raised inside a task that ran longer than its ``timeout``."""


class EnqueueError(TaskError):
    """The job could not be handed to the queue (Redis is down, say)."""


class TaskNotFound(TaskError, LookupError):
    """Nothing is stored under the job's id (its status is ``unknown``); raised
    by :meth:`TaskResult.result` at once rather than waiting for a job that may
    never come: it was not sent (its transaction has not committed yet, or
    rolled back), the id is wrong, or its record expired (``TASKS_RESULT_TTL``).
    """

    def __init__(self, job_id: str) -> None:
        self.job_id = job_id
        super().__init__(
            f"no job {job_id} is stored: it was not sent (enqueued in a "
            "transaction that has not committed yet, or rolled back), the id is "
            "wrong, or its record expired (TASKS_RESULT_TTL)"
        )


class Job:
    """What the task body can learn about the job running it
    (:func:`current_job`).

    Attributes:
        id: The job's id (what :meth:`Tasks.result` takes).
        task: The task's name.
        attempt: 1 on the first run, 2 on the first retry, ...
        tick: For a periodic run, the tick it is for (seconds since the epoch).
    """

    __slots__ = ("attempt", "id", "task", "tick")

    def __init__(self, id: str, task: str, attempt: int, tick: int | None) -> None:
        self.id = id
        self.task = task
        self.attempt = attempt
        self.tick = tick

    def __repr__(self) -> str:
        return f"<Job {self.id} {self.task} attempt={self.attempt}>"


_current_job: ContextVar[Job | None] = ContextVar("kettle.tasks.job", default=None)


def current_job() -> Job | None:
    """The job running in this context, or None outside a task run (and when
    the task is called directly)."""
    return _current_job.get()


def new_job(
    task: str,
    args: list[Any],
    kwargs: dict[str, Any],
    *,
    job_id: str | None = None,
    attempt: int = 1,
    tick: int | None = None,
) -> dict[str, Any]:
    """A job as the backends carry it: its ``id`` (new unless given), ``task``
    name, ``args``, ``kwargs``, ``attempt`` (1 for the first run) and ``tick``
    (a periodic run's, else None)."""
    return {
        "id": job_id or uuid.uuid4().hex,
        "task": task,
        "args": args,
        "kwargs": kwargs,
        "attempt": attempt,
        "tick": tick,
    }


def mark_failed(
    store: Any,
    job_id: str,
    task: str,
    error_type: str,
    error: str,
    *,
    record: dict[str, Any] | None = None,
    **fields: Any,
) -> None:
    """Record a job as failed for good: ``error`` is stored as ``"error_type:
    error"``, ``finished_at`` as now, and ``fields`` (``attempts``,
    ``traceback``...) as given. ``record`` is the job's record when the caller
    has it in hand (else it is read, or started afresh)."""
    if record is None:
        record = store.get(job_id) or {"id": job_id}
    record.update(
        task=task,
        status="failed",
        error=f"{error_type}: {error}",
        error_type=error_type,
        finished_at=time.time(),
        **fields,
    )
    store.put(job_id, record)


def _seconds(value: float | datetime.timedelta | None, what: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, datetime.timedelta):
        value = value.total_seconds()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{what} must be seconds or a timedelta, not {value!r}")
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{what} must be a finite number, not negative (got {value})")
    return float(value)


def _session_params(func: Callable[..., Any]) -> dict[str, bool]:
    """``{parameter: is_async}`` of the parameters annotated with a SQLAlchemy
    ``Session`` or ``AsyncSession``: a task run gets a fresh session there."""
    if "sqlalchemy" not in sys.modules:
        return {}
    from sqlalchemy.ext.asyncio import AsyncSession
    from sqlalchemy.orm import Session

    try:
        hints = typing.get_type_hints(func)
    except Exception:  # names it cannot resolve: nothing to inject
        return {}
    found: dict[str, bool] = {}
    for name, hint in hints.items():
        if isinstance(hint, type):
            if issubclass(hint, AsyncSession):
                found[name] = True
            elif issubclass(hint, Session):
                found[name] = False
    return found


def _checked_retries(task_name: str, retries: Any) -> int:
    if isinstance(retries, bool) or not isinstance(retries, int):
        raise TypeError(f"task {task_name}: retries must be a count")
    if retries < 0:
        raise ValueError(f"task {task_name}: retries must not be negative")
    return retries


#: The options of ``@task`` (:meth:`Tasks.task`) and their defaults.
class TaskOptions(TypedDict, total=False):
    """The options of ``@app.task(...)`` and ``@bp.task(...)``, described at
    :meth:`Tasks.task`."""

    name: str | None
    retries: int | None
    backoff: float | Callable[[int], float] | None
    backoff_max: float | None
    retry_on: type[BaseException] | tuple[type[BaseException], ...]
    queue: str
    timeout: float | datetime.timedelta | None
    every: float | datetime.timedelta | None
    cron: str | None


#: The options' defaults (``retries``, ``backoff``, ``backoff_max``: None, for
#: the settings to fill in).
_OPTIONS: dict[str, Any] = {
    "name": None,
    "retries": None,
    "backoff": None,
    "backoff_max": None,
    "retry_on": Exception,
    "queue": "default",
    "timeout": None,
    "every": None,
    "cron": None,
}


def _checked_options(fn: Callable[..., Any], given: dict[str, Any]) -> dict[str, Any]:
    """The options of ``@task`` (those of :meth:`Tasks.task`) checked, as
    :class:`Task` takes them; ``retries``, ``backoff`` and ``backoff_max`` stay
    None where not given (the settings fill them in).

    Raises:
        ValueError, TypeError: An option is wrong, or a periodic task takes
            arguments.
    """
    if not callable(fn):
        raise TypeError(f"@task needs a function, not {fn!r}")
    unknown = sorted(set(given) - set(_OPTIONS))
    if unknown:
        raise TypeError(f"@task got unknown option(s): {', '.join(unknown)}")
    options = {**_OPTIONS, **given}
    task_name = options["name"] or f"{fn.__module__}.{fn.__qualname__}"
    every, cron = options["every"], options["cron"]
    schedule: Schedule | None = None
    if every is not None and cron is not None:
        raise TypeError(f"task {task_name}: give every= or cron=, not both")
    if every is not None:
        seconds = _seconds(every, "every")
        assert seconds is not None
        schedule = Every(int(seconds))
    elif cron is not None:
        schedule = Cron(cron)
    retries = options["retries"]
    if retries is not None:
        _checked_retries(task_name, retries)
    retry_on = options["retry_on"]
    if schedule is not None:
        injected = _session_params(fn)
        needed = [
            p
            for p in inspect.signature(fn).parameters.values()
            if p.default is inspect.Parameter.empty
            and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
            and p.name not in injected
        ]
        if needed:
            raise TypeError(
                f"periodic task {task_name} must take no arguments (it is "
                f"called with none), but needs {needed[0].name!r}"
            )
    return {
        "name": task_name,
        "retries": retries,
        "backoff": options["backoff"],
        "backoff_max": options["backoff_max"],
        "retry_on": retry_on if isinstance(retry_on, tuple) else (retry_on,),
        "queue": options["queue"],
        "timeout": _seconds(options["timeout"], "timeout"),
        "schedule": schedule,
    }


class Task(Generic[P, R]):
    """A function that can run in the background. Made by :meth:`Tasks.task`
    (``@app.task``); calling it calls the function.

    Attributes:
        name: The name the queue knows it by (``module.function`` by default).
        func: The function.
        retries: How many times a failed run is tried again.
        queue: The queue it is sent to.
        timeout: Seconds a run may take (None: no limit).
        schedule: When it runs by itself (periodic tasks), or None.
    """

    def __init__(
        self,
        tasks: Tasks,
        func: Callable[P, R],
        *,
        name: str,
        retries: int,
        backoff: float | Callable[[int], float],
        backoff_max: float,
        retry_on: tuple[type[BaseException], ...],
        queue: str,
        timeout: float | None,
        schedule: Schedule | None,
    ) -> None:
        self.tasks = tasks
        self.func = func
        self.name = name
        self.retries = retries
        self.backoff = backoff
        self.backoff_max = backoff_max
        self.retry_on = retry_on
        self.queue = queue
        self.timeout = timeout
        self.schedule = schedule
        self.is_async = inspect.iscoroutinefunction(func)
        self._signature = inspect.signature(func)
        self._injected: dict[str, bool] | None = None
        #: The signature callers bind to (without the injected parameters).
        self._caller_signature: inspect.Signature | None = None
        functools.update_wrapper(self, func)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        """Call the function directly, here and now."""
        return self.func(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<Task {self.name}>"

    # -- sending -----------------------------------------------------------------------

    def _injected_params(self) -> dict[str, bool]:
        if self._injected is None:
            self._injected = _session_params(self.func)
        return self._injected

    def _check(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        check_json(self.name, args, kwargs)
        signature = self._caller_signature
        if signature is None:
            injected = self._injected_params()
            signature = self._caller_signature = self._signature.replace(
                parameters=[
                    p
                    for n, p in self._signature.parameters.items()
                    if n not in injected
                ]
            )
        try:
            signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise TypeError(f"task {self.name}: {exc}") from None

    def enqueue(
        self,
        *args: Any,
        delay: float | datetime.timedelta | None = None,
        on_commit: bool = True,
        **kwargs: Any,
    ) -> TaskResult:
        """Send a job running ``func(*args, **kwargs)`` to the queue.

        Args:
            delay: Run it no sooner than this many seconds (or this timedelta)
                from now.
            on_commit: While a database session of this context has a
                transaction open, send the job only when it commits (and drop it
                if it rolls back). False sends it at once.

        Returns:
            A handle on the job's status and result.

        Raises:
            TypeError: An argument is not JSON-serialisable, or the arguments
                do not fit the function's signature.
            EnqueueError: The queue could not be reached.
        """
        return self.tasks.send(self, args, kwargs, _seconds(delay, "delay"), on_commit)

    def enqueue_in(
        self, delay: float | datetime.timedelta, /, *args: Any, **kwargs: Any
    ) -> TaskResult:
        """Send a job to run ``delay`` (seconds or a timedelta) from now."""
        return self.tasks.send(self, args, kwargs, _seconds(delay, "delay"), True)

    def enqueue_at(
        self, when: datetime.datetime, /, *args: Any, **kwargs: Any
    ) -> TaskResult:
        """Send a job to run at ``when`` (a naive datetime is local time)."""
        seconds = max(0.0, when.timestamp() - time.time())
        return self.tasks.send(self, args, kwargs, seconds, True)

    def enqueue_with(
        self,
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
        *,
        delay: float | datetime.timedelta | None = None,
        on_commit: bool = True,
    ) -> TaskResult:
        """:meth:`enqueue` with the arguments apart from the options (for a
        function that has a parameter named ``delay`` or ``on_commit``)."""
        return self.tasks.send(
            self, tuple(args), dict(kwargs or {}), _seconds(delay, "delay"), on_commit
        )

    async def aenqueue(
        self,
        *args: Any,
        delay: float | datetime.timedelta | None = None,
        on_commit: bool = True,
        **kwargs: Any,
    ) -> TaskResult:
        """:meth:`enqueue` for async code: the queue's network I/O runs in a
        thread."""
        seconds = _seconds(delay, "delay")
        return await self.tasks.asend(self, args, kwargs, seconds, on_commit)

    def get_result(self, job_id: str) -> TaskResult:
        """The handle of a job of this task, by its id."""
        return TaskResult(self.tasks, job_id, self.name)

    # -- running -----------------------------------------------------------------------

    def backoff_for(self, retry: int) -> float:
        """Seconds to wait before retry number ``retry`` (1, 2, ...):
        ``backoff * 2 ** (retry - 1)``, at most ``backoff_max``."""
        if callable(self.backoff):
            return max(0.0, float(self.backoff(retry)))
        return float(min(self.backoff * 2 ** (retry - 1), self.backoff_max))

    def run(self, args: list[Any] | tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """Run the function as a job does: with the app context, a fresh database
        session for parameters annotated ``Session``/``AsyncSession`` (committed
        when it returns, rolled back when it raises) and the ``timeout``."""
        app = self.tasks.app
        with app.app_context():
            if self.is_async:
                return self.tasks.runner().run(self._arun(args, kwargs), self.timeout)
            injected = self._injected_params()
            if not injected:
                return _with_timeout(self.func, args, kwargs, self.timeout)
            with self._sessions(injected) as sessions:
                return _with_timeout(
                    self.func, args, {**kwargs, **sessions}, self.timeout
                )

    async def _arun(self, args: Any, kwargs: dict[str, Any]) -> Any:
        injected = self._injected_params()
        if not injected:
            return await self.func(*args, **kwargs)  # type: ignore[misc]
        from ..db import get_database

        db = get_database(self.tasks.app)
        opened: dict[str, Any] = {}
        for name, is_async in injected.items():
            opened[name] = db.async_session() if is_async else db.session()
        try:
            rv = await self.func(*args, **kwargs, **opened)  # type: ignore[misc]
            for session in opened.values():
                done = session.commit()
                if inspect.isawaitable(done):
                    await done
            return rv
        finally:
            for session in opened.values():
                done = session.close()
                if inspect.isawaitable(done):
                    await done

    @typing.no_type_check
    def _sessions(self, injected: dict[str, bool]) -> Any:
        import contextlib

        from ..db import get_database

        @contextlib.contextmanager
        def opened() -> Iterator[dict[str, Any]]:
            db = get_database(self.tasks.app)
            made: dict[str, Any] = {}
            for name, is_async in injected.items():
                if is_async:
                    raise TypeError(
                        f"task {self.name}: parameter {name!r} is an AsyncSession "
                        "in a def task; annotate it Session, or make the task "
                        "async def"
                    )
                made[name] = db.session()
            try:
                yield made
                for session in made.values():
                    session.commit()
            finally:
                for session in made.values():
                    session.close()

        return opened()


class BlueprintTask(Generic[P, R]):
    """A task declared on a blueprint with ``@bp.task``: each app the blueprint
    is registered on gets it as a :class:`Task`, under the name ``@app.task``
    would give the function (``module.function`` by default).

    Calling it calls the function. :meth:`enqueue` and its kin send the job
    through the app of the context (:data:`~kettle.current_app`: in a request,
    or ``with app.app_context():``), else through the one app the blueprint is
    registered on.

    Attributes:
        name: The name the queue knows it by.
        func: The function.
    """

    def __init__(
        self, blueprint: Blueprint, func: Callable[P, R], options: dict[str, Any]
    ) -> None:
        self.blueprint = blueprint
        self.func = func
        self._options = _checked_options(func, options)  # wrong ones fail here
        self.name: str = self._options["name"]
        self._apps: weakref.WeakSet[Tasks] = weakref.WeakSet()
        functools.update_wrapper(self, func)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        """Call the function directly, here and now."""
        return self.func(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<BlueprintTask {self.name} of {self.blueprint.name!r}>"

    def register(self, tasks: Tasks) -> Task[P, R]:
        """Add it to ``tasks`` (an app's) unless it is there already.

        Raises:
            ImproperlyConfigured: Another task of the app has its name.
        """
        made = tasks._registry.get(self.name)
        if made is not None and made.func is self.func:
            return made
        with tasks._adopting:
            made = tasks._registry.get(self.name)
            if made is None or made.func is not self.func:
                made = tasks._add(self.func, self._options)
            self._apps.add(tasks)
        return made

    def for_app(self, app: Kettle) -> Task[P, R]:
        """The :class:`Task` it is on ``app``.

        Raises:
            LookupError: The blueprint is not registered on ``app``.
        """
        if app.blueprints.get(self.blueprint.name) is not self.blueprint:
            raise LookupError(
                f"task {self.name}: its blueprint {self.blueprint.name!r} is not "
                f"registered on {app!r}"
            )
        return self.register(get_tasks(app))

    def _task(self) -> Task[P, R]:
        app = _current_app_or_none()
        if (
            app is not None
            and app.blueprints.get(self.blueprint.name) is self.blueprint
        ):
            return self.register(get_tasks(app))
        apps = list(self._apps)
        if len(apps) == 1:
            return self.register(apps[0])
        where = "several apps" if apps else "no app yet"
        raise RuntimeError(
            f"task {self.name} of blueprint {self.blueprint.name!r} is registered "
            f"on {where}: send it in the context of the app it is for (a request, "
            "or `with app.app_context():`), or use .for_app(app)"
        )

    def enqueue(
        self,
        *args: Any,
        delay: float | datetime.timedelta | None = None,
        on_commit: bool = True,
        **kwargs: Any,
    ) -> TaskResult:
        """:meth:`Task.enqueue` on the app's task."""
        return self._task().enqueue(*args, delay=delay, on_commit=on_commit, **kwargs)

    def enqueue_in(
        self, delay: float | datetime.timedelta, /, *args: Any, **kwargs: Any
    ) -> TaskResult:
        """:meth:`Task.enqueue_in` on the app's task."""
        return self._task().enqueue_in(delay, *args, **kwargs)

    def enqueue_at(
        self, when: datetime.datetime, /, *args: Any, **kwargs: Any
    ) -> TaskResult:
        """:meth:`Task.enqueue_at` on the app's task."""
        return self._task().enqueue_at(when, *args, **kwargs)

    def enqueue_with(
        self,
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
        *,
        delay: float | datetime.timedelta | None = None,
        on_commit: bool = True,
    ) -> TaskResult:
        """:meth:`Task.enqueue_with` on the app's task."""
        return self._task().enqueue_with(args, kwargs, delay=delay, on_commit=on_commit)

    async def aenqueue(
        self,
        *args: Any,
        delay: float | datetime.timedelta | None = None,
        on_commit: bool = True,
        **kwargs: Any,
    ) -> TaskResult:
        """:meth:`Task.aenqueue` on the app's task."""
        return await self._task().aenqueue(
            *args, delay=delay, on_commit=on_commit, **kwargs
        )

    def get_result(self, job_id: str) -> TaskResult:
        """The handle of a job of this task, by its id."""
        return self._task().get_result(job_id)


_async_exc: tuple[Callable[[int, Any], int], Any] | None = None


def _async_exc_api() -> tuple[Callable[[int, Any], int], Any]:
    """``PyThreadState_SetAsyncExc(thread_id, exc)`` (called with the GIL held)
    and the NULL that, passed as ``exc``, takes back a pending exception. Made
    once."""
    global _async_exc
    if _async_exc is None:
        import ctypes

        prototype = ctypes.PYFUNCTYPE(ctypes.c_int, ctypes.c_ulong, ctypes.py_object)
        setter = prototype(("PyThreadState_SetAsyncExc", ctypes.pythonapi))
        _async_exc = (setter, ctypes.py_object())
    return _async_exc


class _Deadline:
    """Raises :class:`TaskTimeout` in the thread that made it, ``timeout``
    seconds on, while the run is between :meth:`arm` and :meth:`finish`.

    The timer and the runner decide under one lock. The timer raises only in an
    armed, unfinished run; one that expired before :meth:`arm` (a loaded
    machine, a tiny timeout) makes :meth:`arm` raise instead, so the exception
    never lands in the timer's own start-up code. :meth:`finish` marks the run
    finished and, if the timer fired but the thread has not met the exception
    yet, takes it back: no TaskTimeout reaches the thread after it.
    """

    __slots__ = ("_state", "_timer")

    def __init__(self, timeout: float) -> None:
        # NOTE: the timer holds the state, not this object: no reference cycle,
        # whose collection (running weakref callbacks, such as threading's)
        # could happen in a later run's thread and meet its TaskTimeout there.
        self._state = state = _DeadlineState()
        self._timer = threading.Timer(timeout, _expire, (state,))
        self._timer.daemon = True
        self._timer.start()

    def arm(self) -> None:
        """From now on the timer raises in this thread (called in it).

        Raises:
            TaskTimeout: The time ran out already.
        """
        state = self._state
        with state.lock:
            if state.expired:
                raise TaskTimeout
            state.armed = True

    def finish(self) -> None:
        """Mark the run finished (called in the runner's thread)."""
        state = self._state
        with state.lock:
            state.finished = True
            if state.armed and state.expired:
                # Take back the exception if the thread has not met it yet (a
                # no-op if it has).
                state.set_async_exc(state.thread_id, state.null)
        self._timer.cancel()


class _DeadlineState:
    __slots__ = (
        "armed",
        "expired",
        "finished",
        "lock",
        "null",
        "set_async_exc",
        "thread_id",
    )

    def __init__(self) -> None:
        self.set_async_exc, self.null = _async_exc_api()
        self.lock = threading.Lock()
        self.thread_id = threading.get_ident()
        self.armed = self.expired = self.finished = False


def _expire(state: _DeadlineState) -> None:
    """The timer's end: raise in the run's thread if it is armed and running."""
    with state.lock:
        if state.finished:
            return
        state.expired = True
        if state.armed:
            state.set_async_exc(state.thread_id, TaskTimeout)


def _with_timeout(
    func: Callable[..., Any], args: Any, kwargs: dict[str, Any], timeout: float | None
) -> Any:
    """``func(*args, **kwargs)``; past ``timeout`` seconds, :class:`TaskTimeout`
    is raised in it (when it next runs Python code: a C call blocking the thread
    finishes first). A function that returned is never failed by its timeout,
    even one that returned as the timer fired, and no TaskTimeout reaches the
    thread outside this call."""
    if timeout is None:
        return func(*args, **kwargs)
    deadline = _Deadline(timeout)
    returned: list[Any] = []
    try:
        try:
            deadline.arm()
            # NOTE: called from C (extend, starmap, partial), so the value is in
            # `returned` before the thread next checks for a pending exception:
            # a TaskTimeout met there, just after the return, does not lose it.
            returned.extend(starmap(functools.partial(func, **kwargs), (tuple(args),)))
        finally:
            deadline.finish()
    except TaskTimeout:
        if not returned:
            raise TaskTimeout(
                f"the task ran longer than its timeout of {timeout}s"
            ) from None
    return returned[0]


class _AsyncRunner:
    """Runs async tasks on an event loop in a thread of its own (one per
    process, so that async database engines made for it are reused), started on
    first use."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def _get(self) -> asyncio.AbstractEventLoop:
        loop = self._loop
        if loop is None:
            with self._lock:
                loop = self._loop
                if loop is None:
                    loop = asyncio.new_event_loop()
                    self._thread = threading.Thread(
                        target=self._serve,
                        args=(loop,),
                        name="kettle-tasks-loop",
                        daemon=True,
                    )
                    self._thread.start()
                    self._loop = loop
        return loop

    @staticmethod
    def _serve(loop: asyncio.AbstractEventLoop) -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def run(self, coro: Any, timeout: float | None) -> Any:
        if timeout is not None:
            coro = _timed(coro, timeout)
        future = asyncio.run_coroutine_threadsafe(coro, self._get())
        try:
            return future.result()
        except BaseException:
            future.cancel()
            raise

    def close(self) -> None:
        """Stop the loop (a later async task starts a new one)."""
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is not None and thread is not None:
            loop.call_soon_threadsafe(loop.stop)
            if thread is not threading.current_thread():
                thread.join(5)


async def _timed(coro: Any, timeout: float) -> Any:
    try:
        return await asyncio.wait_for(coro, timeout)
    except TimeoutError:
        raise TaskTimeout(
            f"the task ran longer than its timeout of {timeout}s"
        ) from None


class TaskResult:
    """A handle on one job: its status, and its result once it has one.

    Get one from :meth:`Task.enqueue`, or by id from :meth:`Tasks.result` /
    :meth:`Task.get_result` (in another request or process).
    """

    def __init__(self, tasks: Tasks, id: str, task: str | None = None) -> None:
        self.tasks = tasks
        #: The job's id.
        self.id = id
        self._task = task

    def __repr__(self) -> str:
        return f"<TaskResult {self.id} {self._task or ''}>".replace(" >", ">")

    def info(self) -> dict[str, Any]:
        """Everything stored about the job: ``status``, ``task``, ``attempts``,
        ``result``, ``error``, ``error_type``, ``traceback``, ``enqueued_at``,
        ``started_at``, ``finished_at``, ``eta`` (times in seconds since the epoch).
        An empty dict when nothing is stored."""
        return self.tasks.store().get(self.id) or {}

    @property
    def status(self) -> Status:
        """The job's :data:`Status`, read now."""
        record = self.tasks.store().get(self.id)
        status: Status = record["status"] if record else "unknown"
        return status

    @property
    def task(self) -> str | None:
        """The task's name."""
        return self._task or self.info().get("task")

    @property
    def error(self) -> str | None:
        """``"Type: message"`` of the exception of the last failed run, or None."""
        return self.info().get("error")

    @property
    def attempts(self) -> int:
        """How many runs started so far."""
        return int(self.info().get("attempts") or 0)

    def ready(self) -> bool:
        """Whether the job is done (succeeded or failed for good)."""
        return self.status in FINAL

    def _final(self, record: dict[str, Any] | None) -> Any:
        assert record is not None
        if record["status"] == "failed":
            raise TaskFailed(self.id, record)
        return record.get("result")

    def result(self, timeout: float | None = None) -> Any:
        """Wait for the job to finish and return its result.

        As Celery's ``AsyncResult.get()``, it waits as long as the job takes
        unless given a ``timeout``; pass one where a caller cannot wait
        forever (a request handler, with a worker that may be down). A job of
        which nothing is stored is not waited for.

        Args:
            timeout: Seconds to wait at most (None: as long as the job is
                queued, running or retrying).

        Raises:
            TaskFailed: The job failed for good.
            TaskNotFound: Nothing is stored under the job's id (status
                ``unknown``): not sent (its transaction has not committed, or
                rolled back), a wrong id, or an expired record.
            TimeoutError: It did not finish in time.
        """
        store = self.tasks.store()
        deadline = None if timeout is None else time.monotonic() + timeout
        pause = 0.005
        record = store.get(self.id)
        while True:
            left = self._check(record, deadline, timeout)
            if left is None:
                return self._final(record)
            record = store.wait(self.id, min(pause, left))
            pause = min(pause * 2, 0.2)

    async def aresult(self, timeout: float | None = None) -> Any:
        """:meth:`result` for async code (polls without blocking the loop)."""
        from ..concurrency import run_in_threadpool

        store = self.tasks.store()
        deadline = None if timeout is None else time.monotonic() + timeout
        pause = 0.005
        while True:
            record = await run_in_threadpool(store.get, self.id)
            left = self._check(record, deadline, timeout)
            if left is None:
                return self._final(record)
            await asyncio.sleep(min(pause, left))
            pause = min(pause * 2, 0.2)

    def _check(
        self,
        record: dict[str, Any] | None,
        deadline: float | None,
        timeout: float | None,
    ) -> float | None:
        """None when ``record`` is final, else the seconds left to wait.

        Raises:
            TaskNotFound: No record.
            TimeoutError: The deadline passed.
        """
        if record is None:
            raise TaskNotFound(self.id)
        if record["status"] in FINAL:
            return None
        if deadline is None:
            return math.inf
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(
                f"job {self.id} did not finish within {timeout}s "
                f"(status: {record['status']})"
            )
        return left


_BACKENDS = ("immediate", "in-process", "dramatiq")


class Tasks:
    """An app's tasks and the backend that runs them (``app.tasks``).

    Settings: ``TASKS_BACKEND`` (``"immediate"``, ``"in-process"``,
    ``"dramatiq"``), ``TASKS_REDIS_URL`` (default ``REDIS_URL``),
    ``TASKS_RETRIES``, ``TASKS_BACKOFF``, ``TASKS_BACKOFF_MAX``,
    ``TASKS_RESULT_TTL``, ``TASKS_THREADS``, ``TASKS_SHUTDOWN_TIMEOUT``.
    """

    def __init__(self, app: Kettle) -> None:
        if "tasks" in app.extensions:
            raise ImproperlyConfigured("this app already has its Tasks")
        self.app = app
        self._registry: dict[str, Task[Any, Any]] = {}
        self._adopted = 0  # how many of the app's blueprints were looked at
        self._adopting = threading.RLock()
        self._backend: Backend | None = None
        self._lock = threading.Lock()
        self._runner = _AsyncRunner()
        app.extensions["tasks"] = self
        app.on_startup(self._startup)
        app.on_shutdown(self._shutdown)

    def __repr__(self) -> str:
        return f"<Tasks {len(self._registry)} tasks>"

    # -- declaring ---------------------------------------------------------------------

    @overload
    def task(self, func: Callable[P, R], /) -> Task[P, R]: ...

    @overload
    def task(
        self, func: None = None, /, **options: Unpack[TaskOptions]
    ) -> Callable[[Callable[P, R]], Task[P, R]]: ...

    def task(
        self,
        func: Callable[..., Any] | None = None,
        /,
        **options: Unpack[TaskOptions],
    ) -> Any:
        """Make a function (``def`` or ``async def``) a task: ``@app.task`` or
        ``@app.task(retries=3, ...)``.

        Args:
            name: The task's name in the queue (default ``module.function``).
            retries: Runs tried again after a failure (default ``TASKS_RETRIES``,
                0).
            backoff: Seconds before the first retry, doubled for each next one
                (default ``TASKS_BACKOFF``, 1); or a function of the retry number
                (1, 2, ...) returning seconds.
            backoff_max: The longest wait between retries (default
                ``TASKS_BACKOFF_MAX``, one hour).
            retry_on: The exceptions that are retried; others fail at once.
            queue: The queue's name (``kettle worker --queues`` picks queues).
            timeout: Seconds (or a timedelta) a run may take; past it the run
                fails with :class:`TaskTimeout` (and may be retried).
            every: Run it every so many seconds (or timedelta), on multiples of
                the interval since the epoch (UTC).
            cron: Run it when this five-field cron expression matches (UTC).

        Raises:
            ImproperlyConfigured: Another task has the name.
            ValueError, TypeError: An option is wrong, or a periodic task takes
                arguments.
        """

        def decorate(fn: Callable[..., Any]) -> Task[Any, Any]:
            return self._add(fn, _checked_options(fn, dict(options)))

        if func is not None:
            return decorate(func)
        return decorate

    def _add(self, fn: Callable[..., Any], options: dict[str, Any]) -> Task[Any, Any]:
        """Make the task of ``fn`` with :func:`_checked_options`, the settings
        filling in the defaults, and register it."""
        cfg = self.app.config
        task_name = options["name"]
        if task_name in self._registry:
            raise ImproperlyConfigured(
                f"a task named {task_name!r} is already registered: give one "
                "of them another name (@app.task(name=...))"
            )
        retries = options["retries"]
        if retries is None:
            retries = _checked_retries(task_name, cfg.get_int("TASKS_RETRIES"))
        backoff = options["backoff"]
        backoff_max = options["backoff_max"]
        made: Task[Any, Any] = Task(
            self,
            fn,
            **{
                **options,
                "retries": retries,
                "backoff": (
                    float(cfg.get("TASKS_BACKOFF", 1.0)) if backoff is None else backoff
                ),
                "backoff_max": float(
                    cfg.get("TASKS_BACKOFF_MAX", 3600)
                    if backoff_max is None
                    else backoff_max
                ),
            },
        )
        self._registry[task_name] = made
        oncommit.install()  # before any transaction that may send it begins
        if self._backend is not None:
            self._backend.declare(made)
        return made

    @property
    def registry(self) -> dict[str, Task[Any, Any]]:
        """The tasks, by name (the app's, and its blueprints' ``@bp.task``)."""
        if len(self.app.blueprints) != self._adopted:
            self._adopt_blueprints()
        return self._registry

    def _adopt_blueprints(self) -> None:
        """Register the tasks of the app's blueprints (once each; also done
        when a blueprint is registered)."""
        with self._adopting:
            blueprints = list(self.app.blueprints.values())
            for blueprint in blueprints:
                for deferred in getattr(blueprint, "deferred_tasks", ()):
                    deferred.register(self)
            self._adopted = len(blueprints)

    def periodic(self) -> list[Task[Any, Any]]:
        """The tasks that run on a schedule."""
        return [t for t in self.registry.values() if t.schedule is not None]

    def result(self, job_id: str) -> TaskResult:
        """The handle of the job ``job_id`` (made by any process of the app)."""
        return TaskResult(self, job_id)

    # -- the backend -------------------------------------------------------------------

    @property
    def backend_name(self) -> str:
        """``TASKS_BACKEND``, checked.

        Raises:
            ImproperlyConfigured: It names no backend Kettle has.
        """
        name = self.app.config.get("TASKS_BACKEND") or "in-process"
        if name not in _BACKENDS:
            raise ImproperlyConfigured(
                f"TASKS_BACKEND {name!r} is not one Kettle knows: use "
                + ", ".join(repr(b) for b in _BACKENDS)
            )
        return str(name)

    @property
    def backend(self) -> Backend:
        """The backend, made from the settings on first use.

        Raises:
            ImproperlyConfigured: A setting is wrong or missing.
        """
        backend = self._backend
        if backend is None:
            with self._lock:
                backend = self._backend
                if backend is None:
                    from .backends import make_backend

                    backend = make_backend(self, self.backend_name)
                    for task in self.registry.values():
                        backend.declare(task)
                    self._backend = backend
        return backend

    def store(self) -> Any:
        """Where job records are kept (the backend's result store)."""
        return self.backend.store

    def runner(self) -> _AsyncRunner:
        """What runs the async tasks: an event loop in a thread of its own."""
        return self._runner

    async def _startup(self) -> None:
        backend = self.backend  # wrong settings fail here, at start-up
        oncommit.install()
        if self.periodic() and backend.name == "in-process":
            backend.start_scheduler()  # with Dramatiq, `kettle worker` runs them

    async def _shutdown(self) -> None:
        from ..concurrency import run_in_threadpool

        backend = self._backend
        if backend is not None:
            await run_in_threadpool(backend.shutdown)

    # -- sending -----------------------------------------------------------------------

    def send(
        self,
        task: Task[Any, Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        delay: float | None,
        on_commit: bool,
    ) -> TaskResult:
        """Check the arguments, then send the job now or when the context's
        open transaction commits."""
        task._check(args, kwargs)
        backend = self.backend
        job = new_job(
            task.name,
            # as the queue hands them over: what a test with the immediate or
            # in-process backend sees is what the workers see (lists, not tuples)
            json.loads(json.dumps(list(args))),
            json.loads(json.dumps(kwargs)),
        )
        handle = TaskResult(self, job["id"], task.name)
        if on_commit and oncommit.defer(lambda: backend.send(task, job, delay)):
            return handle
        backend.send(task, job, delay)
        return handle

    async def asend(
        self,
        task: Task[Any, Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        delay: float | None,
        on_commit: bool,
    ) -> TaskResult:
        """:meth:`send` for async code."""
        backend = self.backend
        if not backend.blocking:
            return self.send(task, args, kwargs, delay, on_commit)
        task._check(args, kwargs)
        from ..concurrency import run_in_threadpool

        # Whether a transaction is open is known in this context only (the
        # thread runs in a copy of it, where the job could not wait for it).
        if on_commit and oncommit.open_session() is not None:
            return self.send(task, args, kwargs, delay, on_commit)
        return await run_in_threadpool(self.send, task, args, kwargs, delay, False)

    # -- running -----------------------------------------------------------------------

    def execute(
        self,
        job: dict[str, Any],
        requeue: Callable[[dict[str, Any], float], None],
    ) -> BaseException | None:
        """Run one job and record what happened: the result, a retry (handed to
        ``requeue(job, delay)``), or the failure.

        Returns:
            The exception of a job that failed for good (so that a queue can
            count it as failed), else None.
        """
        store = self.store()
        job_id = job["id"]
        attempt = int(job.get("attempt") or 1)
        task = self.registry.get(job["task"])
        record = store.get(job_id) or {
            "id": job_id,
            "task": job["task"],
            "enqueued_at": time.time(),
        }
        if task is None:
            error = LookupError(
                f"no task named {job['task']!r} in this app (is the worker running "
                "the same code as the web process?)"
            )
            log.error("job %s: %s", job_id, error)
            mark_failed(
                store,
                job_id,
                job["task"],
                "LookupError",
                str(error),
                record=record,
                attempts=attempt,
            )
            return error
        record.update(status="running", attempts=attempt, started_at=time.time())
        store.put(job_id, record)
        token = _current_job.set(Job(job_id, task.name, attempt, job.get("tick")))
        try:
            value = json_safe(task.run(job.get("args") or (), job.get("kwargs") or {}))
        except Exception as exc:
            return self._failed(task, job, record, exc, requeue)
        finally:
            _current_job.reset(token)
        record.update(
            status="succeeded",
            result=value,
            error=None,
            error_type=None,
            traceback=None,
            finished_at=time.time(),
        )
        store.put(job_id, record)
        return None

    def _failed(
        self,
        task: Task[Any, Any],
        job: dict[str, Any],
        record: dict[str, Any],
        exc: Exception,
        requeue: Callable[[dict[str, Any], float], None],
    ) -> BaseException | None:
        attempt = int(job.get("attempt") or 1)
        error_type = type(exc).__name__
        formatted = "".join(traceback.format_exception(exc))
        retry = (
            attempt <= task.retries
            and isinstance(exc, task.retry_on)
            and not isinstance(exc, ResultNotJSON)
        )
        if retry:
            delay = task.backoff_for(attempt)
            record.update(
                status="retrying",
                eta=time.time() + delay,
                error=f"{error_type}: {exc}",
                error_type=error_type,
                traceback=formatted,
            )
            self.store().put(job["id"], record)
            log.warning(
                "job %s (%s) failed on attempt %d (%s: %s); retrying in %.3gs",
                job["id"],
                task.name,
                attempt,
                type(exc).__name__,
                exc,
                delay,
            )
            requeue({**job, "attempt": attempt + 1}, delay)
            return None
        mark_failed(
            self.store(),
            job["id"],
            task.name,
            error_type,
            str(exc),
            record=record,
            traceback=formatted,
        )
        return exc


def get_tasks(app: Kettle | None = None) -> Tasks:
    """The app's :class:`Tasks` (``app.tasks``), made on first use.

    Args:
        app: The app (default: :data:`kettle.current_app`).
    """
    if app is None:
        from ..context import current_app

        app = current_app._get_current_object()  # type: ignore[attr-defined]
    assert app is not None
    return extension(app, "tasks", Tasks)
