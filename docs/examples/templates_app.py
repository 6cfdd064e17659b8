"""Templates and static files: render(), template=, a partial, static()."""

from kettle import Kettle
from kettle import request
from kettle.templating import render
from kettle.templating import render_block

app = Kettle()
POSTS = ["Green tea", "Black tea", "<script>alert('oolong')</script>"]


@app.context_processor
def site():
    return {"site_name": "Teapot"}  # in every template's context


@app.get("/posts")
def posts(q: str = ""):
    found = [p for p in POSTS if q.lower() in p.lower()]
    if request.headers.get("hx-request"):  # htmx asks for the list only
        return render_block("blog/posts.html", "list", posts=found)
    return render("blog/posts.html", posts=found, q=q)


@app.get("/posts/{number:int}", template="blog/post.html")
def post(number: int):
    return {"title": POSTS[number]}  # the context; Kettle renders the template
