"""The routes shared by the Falcon WSGI and ASGI apps (see falcon_wsgi/falcon_asgi)."""

import json
from functools import partial

import falcon.media

# Falcon's JSON handler with the stdlib encoder, compact like the other frameworks'.
JSON = falcon.media.JSONHandler(
    dumps=partial(json.dumps, ensure_ascii=False, separators=(",", ":"))
)
CORS_ORIGIN = "https://example.com"


def configure(app):
    app.resp_options.media_handlers[falcon.MEDIA_JSON] = JSON
    return app
