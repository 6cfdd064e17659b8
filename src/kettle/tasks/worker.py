"""``kettle worker``: Dramatiq workers for an app's tasks, and its periodic
scheduler, embedded in this process (no ``dramatiq`` command involved).

One process runs a Dramatiq :class:`~dramatiq.Worker` with ``threads`` worker
threads. ``--processes N`` starts N such processes and passes signals on. SIGTERM
or SIGINT stops taking jobs, lets the running ones finish (up to
``TASKS_SHUTDOWN_TIMEOUT`` seconds), and hands prefetched ones back to Redis.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import threading
from typing import TYPE_CHECKING
from typing import Any

from ..exceptions import ImproperlyConfigured
from ._core import get_tasks

if TYPE_CHECKING:
    from ..app import Kettle

__all__ = ("NoWorkerNeeded", "run_worker")

log = logging.getLogger("kettle.tasks")


class NoWorkerNeeded(ImproperlyConfigured):
    """The app's backend runs its tasks without a worker."""


def _check(app: Kettle) -> Any:
    tasks = get_tasks(app)
    name = tasks.backend_name
    if name != "dramatiq":
        raise NoWorkerNeeded(
            f"TASKS_BACKEND is {name!r}: "
            + (
                "jobs run in the web process, so no worker is needed"
                if name == "in-process"
                else "jobs run in the caller, so no worker is needed"
            )
            + ". Set TASKS_BACKEND = 'dramatiq' (and TASKS_REDIS_URL) to run them "
            "in `kettle worker` processes."
        )
    return tasks


def _logging() -> None:
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.INFO,
            format="[%(asctime)s] [PID %(process)d] [%(threadName)s] "
            "[%(name)s] [%(levelname)s] %(message)s",
        )


def run_worker(
    app: Kettle,
    import_string: str,
    *,
    processes: int = 1,
    threads: int = 8,
    queues: list[str] | None = None,
) -> int:
    """Run the worker until SIGTERM/SIGINT; return the exit code.

    Raises:
        NoWorkerNeeded: The backend is not ``dramatiq``.
        ImproperlyConfigured: A setting is missing or wrong.
    """
    from .backends import shutdown_timeout

    tasks = _check(app)
    tasks.backend  # noqa: B018 - wrong settings fail here, before any fork
    shutdown_timeout(app.config)
    if processes > 1:
        return _run_processes(import_string, processes, threads, queues)
    return _run_one(app, threads, queues)


def _run_processes(
    import_string: str, processes: int, threads: int, queues: list[str] | None
) -> int:
    command = [
        sys.executable,
        "-m",
        "kettle",
        "worker",
        import_string,
        "--processes",
        "1",
        "--threads",
        str(threads),
    ]
    if queues:
        command += ["--queues", ",".join(queues)]
    # The command is this interpreter and kettle's own arguments.
    children = [subprocess.Popen(command) for _ in range(processes)]  # noqa: S603

    def forward(signum: int, frame: Any) -> None:
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    codes = [child.wait() for child in children]
    return max((abs(c) for c in codes), default=0)


def _run_one(app: Kettle, threads: int, queues: list[str] | None) -> int:
    from dramatiq import Worker

    from .backends import shutdown_timeout

    _logging()
    tasks = get_tasks(app)
    backend = tasks.backend
    stop_timeout = shutdown_timeout(app.config)
    broker = backend.broker  # type: ignore[attr-defined]
    known = {t.queue for t in tasks.registry.values()}
    if queues:
        unknown = sorted(set(queues) - known)
        if unknown:
            log.warning(
                "no task of this app uses the queue(s) %s (queues: %s)",
                ", ".join(unknown),
                ", ".join(sorted(known)) or "none",
            )
    stop = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    loop = asyncio.new_event_loop()
    _run_hooks(loop, app, "startup")
    worker = Worker(
        broker, queues=set(queues) if queues else None, worker_threads=threads
    )
    worker.start()
    periodic = tasks.periodic()
    if periodic:
        backend.start_scheduler()
    log.info(
        "kettle worker: pid %d, %d threads, queues: %s, %d tasks (%d periodic)",
        os.getpid(),
        threads,
        ", ".join(sorted(queues or known)) or "none",
        len(tasks.registry),
        len(periodic),
    )
    try:
        while not stop.wait(1.0):
            pass
    finally:
        log.info("kettle worker: stopping; finishing the running jobs")
        from .backends import Backend

        Backend.shutdown(backend)  # the scheduler only: nothing new is sent
        worker.stop(timeout=int(stop_timeout * 1000))
        backend.shutdown()  # then the loop the async jobs ran on
        broker.close()
        _run_hooks(loop, app, "shutdown")
        loop.close()
        log.info("kettle worker: stopped")
    return 0


def _run_hooks(loop: asyncio.AbstractEventLoop, app: Kettle, which: str) -> None:
    """The app's start-up or shutdown hooks, on the worker's own event loop, so
    that what they set up (connections, caches) is there for tasks too."""
    with app.app_context():
        if which == "startup":
            loop.run_until_complete(app.startup())
            return
        try:
            loop.run_until_complete(app.shutdown())
        except Exception:
            log.exception("kettle worker: a shutdown hook failed")
