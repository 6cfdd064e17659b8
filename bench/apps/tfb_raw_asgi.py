"""The TechEmpower database tests as a raw ASGI callable on an asyncpg pool: no
framework, no ORM, prepared statements; the ceiling for the ASGI targets.

The database comes from ``DATABASE_URL``, the pool size from ``DB_POOL_SIZE``.
"""

import asyncio
import os
import random
from urllib.parse import parse_qs

import asyncpg
import orjson
from jinja2 import Environment
from jinja2 import FileSystemLoader

from .tfb_common import ADDITIONAL
from .tfb_common import count
from .tfb_common import random_ids

_fortunes = Environment(
    loader=FileSystemLoader(os.path.join(os.path.dirname(__file__), "templates")),
    autoescape=True,
).get_template("fortunes.html")
_WORLD = "SELECT id, randomnumber FROM world WHERE id = $1"
_pool: asyncpg.Pool | None = None
_lock = asyncio.Lock()


async def _get_pool() -> asyncpg.Pool:
    global _pool
    if _pool is None:
        async with _lock:
            if _pool is None:
                size = int(os.environ.get("DB_POOL_SIZE", "10"))
                _pool = await asyncpg.create_pool(
                    os.environ["DATABASE_URL"], min_size=size, max_size=size
                )
    return _pool


def _queries(scope) -> int:
    values = parse_qs(scope["query_string"].decode()).get("queries", ["1"])
    return count(values[0])


async def _answer(send, status, content_type, body):
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    path = scope["path"]
    pool = await _get_pool()
    async with pool.acquire() as conn:
        if path == "/db":
            row = await conn.fetchrow(_WORLD, random.randint(1, 10000))
            body = orjson.dumps({"id": row[0], "randomNumber": row[1]})
        elif path == "/queries":
            out = []
            for i in random_ids(_queries(scope)):
                row = await conn.fetchrow(_WORLD, i)
                out.append({"id": row[0], "randomNumber": row[1]})
            body = orjson.dumps(out)
        elif path == "/fortunes":
            rows = [
                dict(r) for r in await conn.fetch("SELECT id, message FROM fortune")
            ]
            rows.append({"id": 0, "message": ADDITIONAL})
            rows.sort(key=lambda r: r["message"])
            body = _fortunes.render(fortunes=rows).encode()
            return await _answer(send, 200, b"text/html; charset=utf-8", body)
        elif path == "/updates":
            out = []
            for i in random_ids(_queries(scope)):
                row = await conn.fetchrow(_WORLD, i)
                out.append({"id": row[0], "randomNumber": random.randint(1, 10000)})
            async with conn.transaction():
                await conn.executemany(
                    "UPDATE world SET randomnumber = $2 WHERE id = $1",
                    [(w["id"], w["randomNumber"]) for w in out],
                )
            body = orjson.dumps(out)
        else:
            return await _answer(send, 404, b"text/plain", b"Not Found")
    await _answer(send, 200, b"application/json", body)
