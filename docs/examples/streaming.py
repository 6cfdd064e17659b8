"""Streaming responses, server-sent events and files."""

import asyncio
from pathlib import Path

from kettle import EventSourceResponse
from kettle import Kettle
from kettle import ServerSentEvent
from kettle import StreamingResponse
from kettle import request
from kettle.files import FileResponse

HERE = Path(__file__).parent
app = Kettle()


# -- streaming -------------------------------------------------------------------------
@app.get("/numbers")
def numbers(count: int = 5):
    def generate():  # a sync generator runs in the thread pool under ASGI
        for i in range(count):
            yield f"{i}\n"

    return StreamingResponse(generate(), media_type="text/plain")


@app.get("/shout")
def shout():
    def generate():
        for word in request.query.getlist("word"):  # still the current request
            yield word.upper() + "\n"

    return StreamingResponse(generate(), media_type="text/plain")


@app.get("/report.csv")
async def report():
    async def rows():  # an async generator runs on the event loop
        yield "id,name\n"
        for i in range(3):
            await asyncio.sleep(0)  # e.g. await a database cursor
            yield f"{i},item {i}\n"

    return StreamingResponse(
        rows(),
        media_type="text/csv",
        headers={"content-disposition": 'attachment; filename="report.csv"'},
    )


# -- server-sent events ----------------------------------------------------------------
@app.get("/countdown")
async def countdown(start: int = 3, delay: float = 1.0):
    async def events():
        for n in range(start, 0, -1):
            yield ServerSentEvent(data={"n": n}, event="tick", id=str(n))
            await asyncio.sleep(delay)
        yield "liftoff"  # a plain string is the data of an event

    return EventSourceResponse(events())


# -- files -----------------------------------------------------------------------------
@app.get("/download")
def download():
    return FileResponse(HERE / "static" / "hello.txt", filename="greeting.txt")


@app.get("/inline")
def inline():
    return FileResponse(HERE / "static" / "hello.txt")  # no filename: shown inline
