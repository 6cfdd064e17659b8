"""A Flask app, in Kettle: the Flask original of each line is in its comment.

Routes and converters, typed query parameters, the request, JSON, responses and
cookies, redirects, errors, hooks (Flask's ``g`` is ``request.state``), the
session and flashed messages.
"""

from kettle import Kettle
from kettle import abort
from kettle import flash
from kettle import get_flashed_messages
from kettle import redirect
from kettle import request
from kettle import session
from kettle import url_for

app = Kettle()  # Flask(__name__); SECRET_KEY from the settings or KETTLE_SECRET_KEY
USERS = {1: "ann", 2: "bob"}


@app.before_request  # @app.before_request
def remember_visitor():
    request.state.name = session.get("name", "stranger")  # g.name = ...


@app.after_request  # @app.after_request
def add_header(response):
    response.headers["X-Served-By"] = "kettle"
    return response


@app.get("/")  # @app.route("/") or @app.get("/")
def index():
    return {  # jsonify(...), or return the dict
        "hello": request.state.name,  # g.name
        "messages": get_flashed_messages(),  # get_flashed_messages()
        "me": url_for("show_user", user_id=1, _external=True),  # the same
    }


@app.get("/users/{user_id:int}")  # @app.get("/users/<int:user_id>")
def show_user(user_id: int):
    if user_id not in USERS:
        abort(404, "No such user.")  # abort(404, description="No such user.")
    return {"id": user_id, "name": USERS[user_id]}


@app.get("/search")
def search(q: str, page: int = 1):  # request.args["q"], .get("page", 1, type=int)
    tags = request.query.getlist("tag")  # request.args.getlist("tag")
    return {"q": q, "page": page, "tags": tags}


@app.post("/users")  # @app.post("/users")
def create_user():
    data = request.get_json()  # request.get_json()
    user_id = max(USERS) + 1
    USERS[user_id] = data["name"]
    return {"id": user_id}, 201, {"Location": url_for("show_user", user_id=user_id)}


@app.post("/login/{name}")
def log_in(name: str):
    session["name"] = name  # session["name"] = name
    flash(f"Welcome, {name}!")  # flash(...)
    return redirect("index")  # redirect(url_for("index"))


@app.get("/theme/{theme}")
def set_theme(theme: str):
    response = redirect("index")  # response = make_response(redirect(...))
    response.set_cookie("theme", theme, max_age=3600)  # the same
    return response


@app.errorhandler(404)  # @app.errorhandler(404)
def not_found(exc):
    return {"error": exc.detail}, 404  # e.description
