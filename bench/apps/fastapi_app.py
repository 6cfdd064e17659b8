"""FastAPI (ASGI): async endpoints, typed path and query parameters."""

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.middleware.trustedhost import TrustedHostMiddleware
from fastapi.responses import PlainTextResponse


def create_app(middleware: bool = False, typed: bool = False) -> FastAPI:
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

    if typed:  # after the 100 like the path endpoint; see typed_app below
        from .models import Item

        @app.post("/typed/{item_id}")
        async def typed(item_id: int, item: Item, q: str, limit: int = 10):
            return {
                "id": item_id,
                "q": q,
                "limit": limit,
                "name": item.name,
                "total": item.price * limit,
            }

    if middleware:  # the last added is the outermost
        app.add_middleware(GZipMiddleware, minimum_size=1000)
        app.add_middleware(CORSMiddleware, allow_origins=["https://example.com"])
        app.add_middleware(
            TrustedHostMiddleware, allowed_hosts=["127.0.0.1", "localhost"]
        )
    return app


app = create_app()
mw_app = create_app(middleware=True)


def __getattr__(name: str) -> FastAPI:
    """``typed_app`` (the routes above plus ``POST /typed/{item_id}``), built on
    first access, so that importing the module for ``app`` builds no third app."""
    if name == "typed_app":
        globals()[name] = create_app(typed=True)
        return globals()[name]  # type: ignore[no-any-return]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
