"""Caching: a computed value, whole pages, a template fragment, and
invalidation by tag when the data changes."""

from kettle import Kettle
from kettle.cache import ainvalidate_fragment
from kettle.cache import cache
from kettle.cache import cache_response
from kettle.templating import render

app = Kettle()  # CACHE_BACKEND = "memory" unless the settings say otherwise

POSTS = {1: "Hello", 2: "Tea"}  # stands in for a table
computed = {"stats": 0}


def count_words() -> dict[str, int]:
    computed["stats"] += 1  # an expensive query, in real life
    return {"posts": len(POSTS), "words": sum(len(t.split()) for t in POSTS.values())}


@app.get("/stats")
def stats():
    # Computed once a minute, by one request even when many miss together.
    return cache.get_or_set("stats", count_words, ttl=60, tags=["posts"])


@app.get("/posts")
@cache_response(ttl=300, vary=["Accept-Language"], tags=["posts"])
def list_posts():
    return {"posts": [{"id": i, "title": t} for i, t in sorted(POSTS.items())]}


@app.get("/posts/{post_id:int}")
@cache_response(
    ttl=300, tags=lambda request: [f"post:{request.path_params['post_id']}"]
)
async def show_post(post_id: int):
    return {"id": post_id, "title": POSTS[post_id]}


@app.get("/")
def home():
    return render("cache_home.html", posts=POSTS, lang="en")


@app.put("/posts/{post_id:int}")
async def rename_post(post_id: int, title: str):
    POSTS[post_id] = title
    # Every cached page, value and fragment built from the post goes stale.
    await cache.ainvalidate_tags("posts", f"post:{post_id}")
    await ainvalidate_fragment("post-list")
    return {"id": post_id, "title": title}
