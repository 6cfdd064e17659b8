"""FastAPI (ASGI): async endpoints, typed path and query parameters."""

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.middleware.trustedhost import TrustedHostMiddleware
from fastapi.responses import PlainTextResponse


def create_app(middleware: bool = False) -> FastAPI:
    app = FastAPI()

    async def other(id: str):
        return {"id": id}

    @app.get("/plaintext", response_class=PlainTextResponse)
    async def plaintext():
        return "Hello, World!"

    @app.get("/json")
    async def json():
        return {"message": "Hello, World!"}

    @app.get("/query")
    async def query(page: int, size: int, q: str):
        return {"page": page, "size": size, "q": q}

    @app.get("/mw/plaintext", response_class=PlainTextResponse)
    async def mw_plaintext():
        return "Hello, World!"

    for i in range(99):  # 99 other parameterised routes, then the path endpoint
        app.get(f"/r{i}/{{id}}", name=f"r{i}")(other)

    @app.get("/items/{id}")
    async def item(id: int):
        return {"id": id}

    if middleware:  # the last added is the outermost
        app.add_middleware(GZipMiddleware, minimum_size=1000)
        app.add_middleware(CORSMiddleware, allow_origins=["https://example.com"])
        app.add_middleware(
            TrustedHostMiddleware, allowed_hosts=["127.0.0.1", "localhost"]
        )
    return app


app = create_app()
mw_app = create_app(middleware=True)
