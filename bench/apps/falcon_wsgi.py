"""Falcon through WSGI: sync responders, query parameters through Falcon's getters.

Falcon has CORS built in; it has no GZip or trusted-host middleware.
"""

import falcon
from bench.apps import falcon_common as common


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
    return common.create_app(
        falcon.App, middleware, Plaintext(), Json(), Query(), Other(), Item()
    )


app = create_app()
mw_app = create_app(middleware=True)
