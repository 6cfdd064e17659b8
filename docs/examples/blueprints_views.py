"""Blueprints group routes under a prefix; View classes dispatch on the method."""

from kettle import Blueprint
from kettle import Kettle
from kettle import View
from kettle import abort
from kettle import request
from kettle import url_for

# -- a blueprint (in a real project: blog.py) ------------------------------------------
blog = Blueprint("blog", url_prefix="/blog")
POSTS = {"hello": "Hello, world", "tea": "All about tea"}


@blog.before_request
def count_blog_visit():  # runs for this blueprint's routes only
    request.state.section = "blog"


@blog.get("/")
def index():
    return {
        "posts": [url_for(".show", slug=slug) for slug in POSTS],  # ".show": this bp
        "home": url_for("home"),  # an app route
        "section": request.state.section,
    }


@blog.get("/{slug:slug}")
def show(slug: str):
    if slug not in POSTS:
        abort(404)
    return {"slug": slug, "title": POSTS[slug]}


@blog.errorhandler(404)
def post_not_found(exc):  # handles 404s raised in blog routes
    return {"detail": "No such post.", "index": url_for(".index")}, 404


# -- class-based views -----------------------------------------------------------------
TODOS: dict[int, str] = {1: "buy tea"}


class TodoList(View):
    def get(self):
        return [{"id": k, "title": v} for k, v in TODOS.items()]

    async def post(self):
        data = await request.json()
        todo_id = max(TODOS, default=0) + 1
        TODOS[todo_id] = data["title"]
        return {"id": todo_id, "title": data["title"]}, 201


class TodoDetail(View):
    def get(self, todo_id: int):
        if todo_id not in TODOS:
            abort(404)
        return {"id": todo_id, "title": TODOS[todo_id]}

    def delete(self, todo_id: int):
        TODOS.pop(todo_id, None)
        return None


api = Blueprint("api")
api.add_route("/todos", TodoList)
api.add_route("/todos/{todo_id:int}", TodoDetail, name="todo")

# -- the app ---------------------------------------------------------------------------
app = Kettle()


@app.get("/")
def home():
    return {"blog": url_for("blog.index"), "todo": url_for("api.todo", todo_id=1)}


app.register_blueprint(blog)
app.register_blueprint(api, url_prefix="/api/v1")
