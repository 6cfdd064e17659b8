"""BlackSheep (ASGI): async handlers, typed path and query parameters.

Its TrustedHostsMiddleware compares the whole Host header, port included, so the
port the bench serves on (BENCH_PORT, set by bench/run.py) is listed too.
"""

import os

from blacksheep import Application
from blacksheep import json as json_response
from blacksheep import text
from blacksheep.server.compression import GzipMiddleware
from blacksheep.server.remotes.hosts import TrustedHostsMiddleware
from blacksheep.server.routing import Router

PORT = os.environ.get("BENCH_PORT", "8000")
HOSTS = ["127.0.0.1", "localhost", f"127.0.0.1:{PORT}", f"localhost:{PORT}"]


def create_app(middleware: bool = False) -> Application:
    app = Application(router=Router())  # two apps in one module: a router each
    get = app.router.get

    async def other(id: str):
        return json_response({"id": id})

    @get("/plaintext")
    async def plaintext():
        return text("Hello, World!")

    @get("/json")
    async def json():
        return json_response({"message": "Hello, World!"})

    @get("/query")
    async def query(page: int, size: int, q: str):
        return json_response({"page": page, "size": size, "q": q})

    @get("/mw/plaintext")
    async def mw_plaintext():
        return text("Hello, World!")

    for i in range(99):  # 99 other parameterised routes, then the path endpoint
        get(f"/r{i}/{{id}}")(other)

    @get("/items/{int:id}")
    async def item(id: int):
        return json_response({"id": id})

    if middleware:  # the first is the outermost
        app.middlewares.append(TrustedHostsMiddleware(allowed_hosts=HOSTS))
        app.use_cors(allow_origins=["https://example.com"], allow_methods=["GET"])
        app.middlewares.append(GzipMiddleware(min_size=1000))
    return app


app = create_app()
mw_app = create_app(middleware=True)
