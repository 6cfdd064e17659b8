"""Testing tasks with the immediate backend (docs/tasks.md, "Testing")."""

import pytest

from kettle import Kettle
from kettle.tasks import TaskFailed


def create_app(**settings):
    app = Kettle(env_file=None, **settings)

    @app.task(retries=2)
    def thumbnail(name: str) -> str:
        if not name.endswith(".png"):
            raise ValueError(f"{name} is not a PNG")
        return f"thumbs/{name}"

    @app.post("/upload/{name}")
    def upload(name: str) -> dict:
        return {"job": thumbnail.enqueue(name).id}

    return app


def test_upload_makes_a_thumbnail():
    app = create_app(TASKS_BACKEND="immediate")  # in the test settings, say
    with app.test_client() as client:
        job_id = client.post("/upload/cat.png").json()["job"]
    job = app.tasks.result(job_id)
    assert job.status == "succeeded"  # it ran before enqueue() returned
    assert job.result() == "thumbs/cat.png"


def test_a_failing_task_is_a_failed_result():
    app = create_app(TASKS_BACKEND="immediate")
    with app.test_client() as client:
        job_id = client.post("/upload/cat.gif").json()["job"]
    job = app.tasks.result(job_id)
    assert job.status == "failed"
    assert job.attempts == 3  # retried at once: no backoff waits in tests
    with pytest.raises(TaskFailed, match="not a PNG"):
        job.result()
