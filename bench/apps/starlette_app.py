"""Starlette (ASGI): async endpoints, query parameters parsed by hand."""

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.responses import JSONResponse
from starlette.responses import PlainTextResponse
from starlette.routing import Route


async def other(request):
    return JSONResponse({"id": request.path_params["id"]})


async def item(request):
    return JSONResponse({"id": request.path_params["id"]})


async def plaintext(request):
    return PlainTextResponse("Hello, World!")


async def json(request):
    return JSONResponse({"message": "Hello, World!"})


async def query(request):
    params = request.query_params
    return JSONResponse(
        {"page": int(params["page"]), "size": int(params["size"]), "q": params["q"]}
    )


routes = [
    Route("/plaintext", plaintext),
    Route("/json", json),
    Route("/query", query),
    Route("/mw/plaintext", plaintext),
]
# 99 other parameterised routes, then the path endpoint
routes += [Route(f"/r{i}/{{id}}", other) for i in range(99)]
routes += [Route("/items/{id:int}", item)]

app = Starlette(routes=routes)
mw_app = Starlette(
    routes=routes,
    middleware=[  # the first is the outermost
        Middleware(TrustedHostMiddleware, allowed_hosts=["127.0.0.1", "localhost"]),
        Middleware(CORSMiddleware, allow_origins=["https://example.com"]),
        Middleware(GZipMiddleware, minimum_size=1000),
    ],
)
