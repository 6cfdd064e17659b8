"""Routes, path parameters, converters and url_for."""

import enum
import uuid

from kettle import Kettle
from kettle import url_for
from kettle.routing import Converter
from kettle.routing import register_converter

app = Kettle()


# -- decorators ------------------------------------------------------------------------
@app.get("/")
def index():
    return "index"


@app.post("/articles")
def create_article():
    return "created", 201


@app.route("/contact", methods=["GET", "POST"])
def contact():
    return "contact form"


@app.get("/about/", name="about_page")
def about():
    return "about"


# -- path parameters -------------------------------------------------------------------
@app.get("/users/{user_id:int}")
def show_user(user_id: int):
    return {"user_id": user_id}


@app.get("/orders/{order_id}")  # no converter: the annotation picks int
def show_order(order_id: int):
    return {"order_id": order_id}


@app.get("/tokens/{token}")  # uuid.UUID picks the uuid converter
def show_token(token: uuid.UUID):
    return {"version": token.version}


@app.get("/tags/{tag:slug}")
def show_tag(tag):
    return {"tag": tag}


@app.get("/prices/{amount:float}")
def show_price(amount):
    return {"amount": amount}


@app.get("/docs/{page:path}")
def show_doc(page):
    return {"page": page}


@app.get("/downloads/{name}.{ext}")
def download(name, ext):
    return {"name": name, "ext": ext}


# -- a custom converter ----------------------------------------------------------------
class ColorConverter(Converter):
    """Six hex digits, as an (r, g, b) tuple."""

    regex = "[0-9a-fA-F]{6}"

    def to_python(self, value):
        return tuple(int(value[i : i + 2], 16) for i in (0, 2, 4))

    def to_url(self, value):
        return "{:02x}{:02x}{:02x}".format(*value)


register_converter("color", ColorConverter)


@app.get("/colors/{rgb:color}")
def show_color(rgb):
    return {"rgb": list(rgb)}


# -- query parameters ------------------------------------------------------------------
class Order(enum.Enum):
    NEW = "new"
    OLD = "old"


@app.get("/search")
def search(q: str, page: int = 1, exact: bool = False, sort: Order = Order.NEW):
    return {"q": q, "page": page, "exact": exact, "sort": sort.value}


# -- building URLs ---------------------------------------------------------------------


@app.get("/links")
def links():
    return {
        "user": url_for("show_user", user_id=7),
        "search": url_for("search", q="green tea", page=2),
        "tags": url_for("search", tag=["a", "b"]),
        "color": url_for("show_color", rgb=(255, 128, 0)),
        "doc": url_for("show_doc", page="guide/intro.html"),
        "about": url_for("about_page", _anchor="team"),
        "external": url_for("show_user", user_id=7, _external=True),
    }
