"""Falcon through ASGI: async responders, query parameters through Falcon's getters.

Falcon has CORS built in; it has no GZip or trusted-host middleware.
"""

import falcon
import falcon.asgi
from bench.apps import falcon_common as common


class Other:
    async def on_get(self, req, resp, id):
        resp.media = {"id": id}


class Item:
    async def on_get(self, req, resp, id):
        resp.media = {"id": id}


class Plaintext:
    async def on_get(self, req, resp):
        resp.content_type = falcon.MEDIA_TEXT
        resp.text = "Hello, World!"


class Json:
    async def on_get(self, req, resp):
        resp.media = {"message": "Hello, World!"}


class Query:
    async def on_get(self, req, resp):
        resp.media = {
            "page": req.get_param_as_int("page", required=True),
            "size": req.get_param_as_int("size", required=True),
            "q": req.get_param("q", required=True),
        }


def create_app(middleware: bool = False) -> falcon.asgi.App:
    return common.create_app(
        falcon.asgi.App, middleware, Plaintext(), Json(), Query(), Other(), Item()
    )


app = create_app()
mw_app = create_app(middleware=True)
