"""Litestar (ASGI): async handlers, typed path and query parameters, a pydantic body.

Its allowed-hosts check compares the whole Host header, port included, so the port the
bench serves on (BENCH_PORT, set by bench/run.py) is listed too.
"""

import os

from litestar import Litestar
from litestar import MediaType
from litestar import get
from litestar import post
from litestar.config.allowed_hosts import AllowedHostsConfig
from litestar.config.compression import CompressionConfig
from litestar.config.cors import CORSConfig

PORT = os.environ.get("BENCH_PORT", "8000")
HOSTS = ["127.0.0.1", "localhost", f"127.0.0.1:{PORT}", f"localhost:{PORT}"]


async def other(id: str) -> dict[str, str]:
    return {"id": id}


@get("/items/{id:int}")
async def item(id: int) -> dict[str, int]:
    return {"id": id}


@get("/plaintext", media_type=MediaType.TEXT)
async def plaintext() -> str:
    return "Hello, World!"


@get("/json")
async def json() -> dict[str, str]:
    return {"message": "Hello, World!"}


@get("/query")
async def query(page: int, size: int, q: str) -> dict[str, int | str]:
    return {"page": page, "size": size, "q": q}


@get("/mw/plaintext", media_type=MediaType.TEXT)
async def mw_plaintext() -> str:
    return "Hello, World!"


handlers = [plaintext, json, query, mw_plaintext]
# 99 other parameterised routes, then the path endpoint
handlers += [get(f"/r{i}/{{id:str}}", name=f"r{i}")(other) for i in range(99)]
handlers += [item]

app = Litestar(route_handlers=handlers)
mw_app = Litestar(
    route_handlers=handlers,
    allowed_hosts=AllowedHostsConfig(allowed_hosts=HOSTS),
    cors_config=CORSConfig(allow_origins=["https://example.com"]),
    compression_config=CompressionConfig(backend="gzip", minimum_size=1000),
)


def __getattr__(name: str) -> Litestar:
    """``typed_app`` (the routes above plus ``POST /typed/{item_id:int}``), built on
    first access, so that importing the module for ``app`` builds no third app."""
    if name != "typed_app":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from .models import Item

    # 200 like the other frameworks, not Litestar's default 201 for POST
    @post("/typed/{item_id:int}", status_code=200)
    async def typed(
        item_id: int, data: Item, q: str, limit: int = 10
    ) -> dict[str, int | float | str]:
        return {
            "id": item_id,
            "q": q,
            "limit": limit,
            "name": data.name,
            "total": data.price * limit,
        }

    globals()[name] = Litestar(route_handlers=[*handlers, typed])  # after the 100
    return globals()[name]  # type: ignore[no-any-return]
