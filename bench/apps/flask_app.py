"""Flask (WSGI): sync views, query parameters through ``request.args.get(type=int)``.

Flask has no CORS or GZip middleware of its own (those are third-party extensions);
its own host check, the TRUSTED_HOSTS setting, is what the middleware app turns on.
"""

from flask import Flask
from flask import Response
from flask import request


def create_app(middleware: bool = False) -> Flask:
    app = Flask(__name__)
    app.json.sort_keys = False  # keep the handler's key order, as the others do
    if middleware:
        app.config["TRUSTED_HOSTS"] = ["127.0.0.1", "localhost"]

    def other(id):
        return {"id": id}

    @app.get("/plaintext")
    def plaintext():
        return Response("Hello, World!", mimetype="text/plain")

    @app.get("/json")
    def json():
        return {"message": "Hello, World!"}

    @app.get("/query")
    def query():
        args = request.args
        return {
            "page": args.get("page", type=int),
            "size": args.get("size", type=int),
            "q": args.get("q"),
        }

    @app.get("/mw/plaintext")
    def mw_plaintext():
        return Response("Hello, World!", mimetype="text/plain")

    for i in range(99):  # 99 other parameterised routes, then the path endpoint
        app.add_url_rule(f"/r{i}/<id>", f"r{i}", other)

    @app.get("/items/<int:id>")
    def item(id):
        return {"id": id}

    return app


app = create_app()
mw_app = create_app(middleware=True)
