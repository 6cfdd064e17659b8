"""Writing middleware: an HTTPMiddleware and a plain ASGI middleware."""

import time

from kettle import Kettle
from kettle import PlainTextResponse
from kettle.middleware import HTTPMiddleware


class APIKeyMiddleware(HTTPMiddleware):
    """Refuse requests under ``prefix`` that lack the right ``X-API-Key``."""

    def __init__(self, app, *, key: str, prefix: str = "/api/"):
        super().__init__(app)
        self.key = key
        self.prefix = prefix

    def process_request(self, request):
        if request.path.startswith(self.prefix):
            if request.headers.get("x-api-key") != self.key:
                return PlainTextResponse("Invalid API key", 401)  # answer at once
        return None  # go on: routing, hooks, handler


class ServerTimingMiddleware(HTTPMiddleware):
    """Time each request, as seen from inside Kettle."""

    def process_request(self, request):
        request.state.t0 = time.perf_counter()

    def process_response(self, request, response):
        t0 = request.state.t0 if "t0" in request.state else time.perf_counter()
        elapsed_ms = (time.perf_counter() - t0) * 1000
        response.headers["server-timing"] = f"total;dur={elapsed_ms:.2f}"
        return response


class PoweredByMiddleware:
    """A plain ASGI middleware: wraps the whole app, sees raw ASGI messages."""

    def __init__(self, app, *, value: str = "Kettle"):
        self.app = app
        self.value = value.encode()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_header(message):
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *message["headers"],
                    (b"x-powered-by", self.value),
                ]
            await send(message)

        await self.app(scope, receive, send_with_header)


app = Kettle()
app.add_middleware(APIKeyMiddleware, key="s3cret")  # the inner HTTPMiddleware
app.add_middleware(ServerTimingMiddleware)  # added later: outer, sees requests first
app.add_middleware(PoweredByMiddleware, value="Kettle")  # ASGI: outside all of them


@app.get("/")
def index():
    return "public"


@app.get("/api/data")
def data():
    return {"secret": 42}
