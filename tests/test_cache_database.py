"""The database cache on every database Kettle supports (SQLite, PostgreSQL,
MariaDB): values larger than MySQL's and MariaDB's 64 KB ``BLOB``, and tables
made with one by an older Kettle."""

from __future__ import annotations

import asyncio
import os

from kettle import Kettle
from kettle.cache import get_cache

SECRET = "cache-test-secret-" + "x" * 32
#: A cached page larger than a BLOB column (65,535 bytes) holds.
LARGE = 200 * 1024


def _app(url: str, **settings: object) -> Kettle:
    app = Kettle(
        env_file=None,
        SECRET_KEY=SECRET,
        CACHE_BACKEND="database",
        DATABASE_URL=url,
        **settings,
    )
    app.setup()
    return app


def _close(app: Kettle) -> None:
    get_cache(app).close()
    app.extensions["db"].dispose()


def test_values_of_200_kb_are_kept(database_url):
    """A 200 KB value (a cached page) is stored and read back whole, sync and
    async, on every database."""
    app = _app(database_url.url_sync)
    try:
        store = get_cache(app)
        page = os.urandom(LARGE)
        store.set("page", page)
        assert store.get("page") == page
        text = "é" * (LARGE // 2)  # a str, pickled: over 200 KB too
        store.set("text", text, tags=["pages"])
        assert store.get("text") == text

        async def main() -> None:
            await store.aset("apage", page)
            assert await store.aget("apage") == page

        asyncio.run(main())
    finally:
        _close(app)
