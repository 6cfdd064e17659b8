"""Request hooks and the app's life: start-up, shutdown and lifespan."""

import contextlib
import time

from kettle import Kettle
from kettle import request


class FakeDatabase:
    """Stands in for a connection pool."""

    def __init__(self):
        self.open = False

    async def connect(self):
        self.open = True

    async def disconnect(self):
        self.open = False


@contextlib.asynccontextmanager
async def lifespan(app):
    db = FakeDatabase()
    await db.connect()  # before yield: start-up
    yield {"db": db}  # a dict yielded here is merged into app.state
    await db.disconnect()  # after yield: shutdown


app = Kettle(lifespan=lifespan)
EVENTS: list[str] = []


@app.on_startup
def warm_cache():
    EVENTS.append("startup")


@app.on_shutdown
async def flush_logs():
    EVENTS.append("shutdown")


# -- request hooks ----------------------------------------------------------------------
@app.before_request
def start_timer():
    request.state.started = time.perf_counter()


@app.before_request
def maintenance_mode():
    if request.headers.get("x-maintenance") == "on":
        return {"detail": "Down for maintenance"}, 503  # the handler is skipped


@app.after_request
def add_timing(response):
    elapsed = time.perf_counter() - request.state.started
    response.headers["server-timing"] = f"app;dur={elapsed * 1000:.2f}"
    return response


@app.teardown_request
def log_failure(exc):
    if exc is not None:
        EVENTS.append(f"failed: {exc!r}")


@app.get("/db")
def db_status():
    return {"db_open": app.state["db"].open}


@app.get("/crash")
def crash():
    raise RuntimeError("boom")
