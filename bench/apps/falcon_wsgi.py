"""Falcon through WSGI: sync responders, query parameters through Falcon's getters.

Falcon has CORS built in; it has no GZip or trusted-host middleware.
"""

import falcon
from bench.apps.falcon_common import CORS_ORIGIN
from bench.apps.falcon_common import configure


class Other:
    def on_get(self, req, resp, id):
        resp.media = {"id": id}


class Item:
    def on_get(self, req, resp, id):
        resp.media = {"id": id}


class Plaintext:
    def on_get(self, req, resp):
        resp.content_type = falcon.MEDIA_TEXT
        resp.text = "Hello, World!"


class Json:
    def on_get(self, req, resp):
        resp.media = {"message": "Hello, World!"}


class Query:
    def on_get(self, req, resp):
        resp.media = {
            "page": req.get_param_as_int("page", required=True),
            "size": req.get_param_as_int("size", required=True),
            "q": req.get_param("q", required=True),
        }


def create_app(middleware: bool = False) -> falcon.App:
    app = configure(
        falcon.App(
            middleware=[falcon.CORSMiddleware(allow_origins=CORS_ORIGIN)]
            if middleware
            else None
        )
    )
    app.add_route("/plaintext", Plaintext())
    app.add_route("/json", Json())
    app.add_route("/query", Query())
    app.add_route("/mw/plaintext", Plaintext())
    other = Other()
    for i in range(99):  # 99 other parameterised routes, then the path endpoint
        app.add_route(f"/r{i}/{{id}}", other)
    app.add_route("/items/{id:int}", Item())
    return app


app = create_app()
mw_app = create_app(middleware=True)
