"""Background tasks: declare, enqueue, read the result by id (docs/tasks.md)."""

from datetime import timedelta

from kettle import Kettle
from kettle.tasks import current_job

app = Kettle()  # TASKS_BACKEND: "in-process" unless set


@app.task
def word_count(text: str) -> int:
    return len(text.split())


@app.task(retries=3, backoff=2.0, retry_on=ConnectionError, timeout=30)
async def fetch_avatar(user_id: int) -> dict:
    job = current_job()  # .id, .attempt (1, 2, ...), .tick for periodic runs
    return {"user": user_id, "attempt": job.attempt if job else None}


@app.task(cron="0 3 * * *")  # every day at 03:00 UTC
def nightly_cleanup() -> None: ...


@app.task(every=timedelta(minutes=5))
def refresh_feeds() -> None: ...


@app.post("/count")
def count(text: str) -> dict:
    job = word_count.enqueue(text)  # returns at once
    return {"job": job.id}


@app.post("/avatars/{user_id:int}")
async def avatar(user_id: int) -> dict:
    job = await fetch_avatar.aenqueue(user_id, delay=10)  # no sooner than 10 s
    return {"job": job.id}


@app.get("/jobs/{job_id}")
def job_status(job_id: str) -> dict:
    job = app.tasks.result(job_id)  # a handle, from any process of the app
    info = job.info()
    return {
        "status": job.status,  # queued, running, retrying, succeeded, failed
        "result": info.get("result"),
        "error": info.get("error"),
    }
