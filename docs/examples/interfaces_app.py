"""One app, two interfaces: `app` is ASGI, `app.wsgi` is WSGI."""

import asyncio
import threading

from kettle import Kettle
from kettle import Request

app = Kettle()


@app.get("/sync")
def sync_handler():
    # ASGI: runs in Kettle's thread pool. WSGI: runs on the server's thread.
    return {"thread": threading.current_thread().name}


@app.get("/async")
async def async_handler():
    # ASGI: runs on the server's event loop. WSGI: on the worker thread's own loop.
    await asyncio.sleep(0)
    return {"thread": threading.current_thread().name}


@app.post("/sync/upload")
def sync_upload(request: Request):
    form = request.get_form()  # sync reading works under both interfaces
    return {"fields": sorted(form)}


wsgi = app.wsgi  # point a WSGI server at "interfaces_app:wsgi"
