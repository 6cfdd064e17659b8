"""Testing with a cache: a memory cache with a clock the test moves."""

from kettle import Kettle
from kettle.cache import MemoryCache
from kettle.cache import cache
from kettle.cache import set_cache

app = Kettle()


@app.get("/greeting")
def greeting():
    return {"greeting": cache.get_or_set("greeting", lambda: "hello", ttl=60)}


def test_greeting_expires() -> None:
    now = [0.0]
    store = set_cache(app, MemoryCache(clock=lambda: now[0]))
    with app.test_client() as client:
        assert client.get("/greeting").json() == {"greeting": "hello"}
        assert store.get("greeting") == "hello"
        now[0] += 61  # a minute later
        assert store.get("greeting") is None
