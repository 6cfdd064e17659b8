"""The built-in middleware, configured for an app behind a reverse proxy."""

from kettle import Kettle
from kettle import Request
from kettle.middleware import CORSMiddleware
from kettle.middleware import GZipMiddleware
from kettle.middleware import ProxyHeadersMiddleware
from kettle.middleware import RequestIDMiddleware
from kettle.middleware import TrustedHostMiddleware

app = Kettle(allowed_hosts=[".example.com"])  # the app's own Host check

# The last one added runs first on the request (and last on the response).
app.add_middleware(GZipMiddleware, minimum_size=500)
app.add_middleware(
    CORSMiddleware,
    allow_origins=["https://app.example.com"],
    allow_methods=["GET", "POST", "DELETE"],
    allow_headers=["authorization"],
    allow_credentials=True,
)
app.add_middleware(RequestIDMiddleware)
app.add_middleware(
    TrustedHostMiddleware, allowed_hosts=["example.com", "*.example.com"]
)
app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=["10.0.0.0/8"])


@app.get("/")
def index(request: Request):
    return {
        "client": request.client.host if request.client else None,
        "scheme": request.scheme,
        "host": request.host,
        "request_id": request.state.request_id,
    }


@app.get("/big")
def big():
    return "tea " * 1000
