"""Kettle through its ASGI interface: async handlers."""

from kettle import Kettle
from kettle import PlainTextResponse
from kettle.middleware import CORSMiddleware
from kettle.middleware import GZipMiddleware
from kettle.middleware import TrustedHostMiddleware


def create_app(middleware: bool = False, typed: bool = False) -> Kettle:
    app = Kettle()

    async def other(id: str):
        return {"id": id}

    @app.get("/plaintext")
    async def plaintext():
        return PlainTextResponse("Hello, World!")

    @app.get("/json")
    async def json():
        return {"message": "Hello, World!"}

    @app.get("/query")
    async def query(page: int, size: int, q: str):
        return {"page": page, "size": size, "q": q}

    @app.get("/mw/plaintext")
    async def mw_plaintext():
        return PlainTextResponse("Hello, World!")

    for i in range(99):  # 99 other parameterised routes, then the path endpoint
        app.get(f"/r{i}/{{id}}", name=f"r{i}")(other)

    @app.get("/items/{id:int}")
    async def item(id: int):
        return {"id": id}

    if typed:  # after the 100 like the path endpoint; see typed_app below
        from .models import Item

        @app.post("/typed/{item_id:int}")
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


def __getattr__(name: str) -> Kettle:
    """``typed_app`` (the routes above plus ``POST /typed/{item_id:int}``), built on
    first access: it imports pydantic, which ``app`` and ``mw_app`` must not carry
    in their idle memory."""
    if name == "typed_app":
        globals()[name] = create_app(typed=True)
        return globals()[name]  # type: ignore[no-any-return]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
