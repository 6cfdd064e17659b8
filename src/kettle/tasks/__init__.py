"""Background tasks: ``@app.task`` functions sent to a queue with ``.enqueue()``,
run by a worker, retried with backoff, with a status and a result to read back.

Three backends (``TASKS_BACKEND``): ``"in-process"`` (the default: threads of the
web process, nothing to install), ``"immediate"`` (runs each job in the caller at
once, for tests) and ``"dramatiq"`` (Dramatiq on Redis, run by ``kettle worker``;
install ``kettle[tasks]``)::

    from kettle import Kettle

    app = Kettle()

    @app.task(retries=3)
    def send_welcome(user_id: int) -> None: ...

    @app.post("/signup")
    def signup():
        job = send_welcome.enqueue(42)       # sent when the request's commit is
        return {"job": job.id}               # done (dropped if it rolls back)

Dramatiq and redis-py are imported by the ``dramatiq`` backend only.
"""

from __future__ import annotations

from ._core import BlueprintTask
from ._core import EnqueueError
from ._core import Job
from ._core import Status
from ._core import Task
from ._core import TaskError
from ._core import TaskFailed
from ._core import TaskNotFound
from ._core import TaskOptions
from ._core import TaskResult
from ._core import Tasks
from ._core import TaskTimeout
from ._core import current_job
from ._core import get_tasks
from .schedule import Cron
from .schedule import Every

__all__ = (
    "BlueprintTask",
    "Cron",
    "EnqueueError",
    "Every",
    "Job",
    "Status",
    "Task",
    "TaskError",
    "TaskFailed",
    "TaskNotFound",
    "TaskOptions",
    "TaskResult",
    "TaskTimeout",
    "Tasks",
    "current_job",
    "get_tasks",
)
