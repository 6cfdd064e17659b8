"""A Flask project's layout, in Kettle: an app factory, settings classes, a
blueprint with its templates, a class-based view, a template filter."""

from kettle import Blueprint
from kettle import Kettle
from kettle import View
from kettle.templating import get_templates
from kettle.templating import render


class Settings:  # class Config: app.config.from_object(Config)
    SECRET_KEY = "change-me"  # in production: KETTLE_SECRET_KEY
    SHOP_NAME = "Kettle Tea Shop"  # your own settings live here too


class Testing(Settings):
    TESTING = True


# blog.py: bp = Blueprint("blog", __name__, url_prefix="/blog")
blog = Blueprint("blog", url_prefix="/blog")
POSTS = {1: "Green tea", 2: "Black tea"}


@blog.get("/")  # @bp.route("/")
def index():
    # render_template("guides/posts.html", posts=POSTS)
    return render("guides/posts.html", posts=POSTS)


class PostAPI(View):  # class PostAPI(MethodView)
    def get(self, post_id: int):
        return {"id": post_id, "title": POSTS[post_id]}

    def delete(self, post_id: int):
        POSTS.pop(post_id, None)
        return None  # 204 No Content (Flask: return "", 204)


# bp.add_url_rule("/api/<int:post_id>", view_func=PostAPI.as_view("post_api"))
blog.add_route("/api/{post_id:int}", PostAPI, name="post_api")


def create_app(settings: object = Settings, **overrides: object) -> Kettle:
    app = Kettle(settings=settings, **overrides)  # Flask(__name__) + from_object

    @app.context_processor  # @app.context_processor
    def shop():
        return {"shop_name": app.config["SHOP_NAME"]}

    # @app.template_filter("shout"), or app.jinja_env.filters["shout"] = ...
    get_templates(app).env.filters["shout"] = lambda text: f"{text.upper()}!"

    app.register_blueprint(blog)  # app.register_blueprint(bp)
    return app
