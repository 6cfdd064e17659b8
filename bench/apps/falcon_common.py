"""The routes shared by the Falcon WSGI and ASGI apps (see falcon_wsgi/falcon_asgi)."""

import json
from functools import partial

import falcon
import falcon.media

# Falcon's JSON handler with the stdlib encoder, compact like the other frameworks'.
JSON = falcon.media.JSONHandler(
    dumps=partial(json.dumps, ensure_ascii=False, separators=(",", ":"))
)
CORS_ORIGIN = "https://example.com"


def create_app(app_class, middleware, plaintext, json, query, other, item):
    """A Falcon app of ``app_class`` with the bench's routes on these resources."""
    cors = [falcon.CORSMiddleware(allow_origins=CORS_ORIGIN)] if middleware else None
    app = app_class(middleware=cors)
    app.resp_options.media_handlers[falcon.MEDIA_JSON] = JSON
    app.add_route("/plaintext", plaintext)
    app.add_route("/json", json)
    app.add_route("/query", query)
    app.add_route("/mw/plaintext", plaintext)
    for i in range(99):  # 99 other parameterised routes, then the path endpoint
        app.add_route(f"/r{i}/{{id}}", other)
    app.add_route("/items/{id:int}", item)
    return app
