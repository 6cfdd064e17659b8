"""Reading a request: URL, query string, headers, cookies, the client."""

from kettle import Kettle
from kettle import Request
from kettle import request

app = Kettle()


@app.get("/inspect/{name}")
def inspect(request: Request, name: str):
    return {
        "method": request.method,
        "path": request.path,
        "root_path": request.root_path,
        "url": str(request.url),
        "base_url": request.base_url,
        "scheme": request.scheme,
        "host": request.host,
        "client": request.client.host if request.client else None,
        "path_params": request.path_params,
        "query_string": request.query_string.decode(),
        "user_agent": request.headers.get("user-agent"),
        "route": request.route.name if request.route else None,
    }


@app.get("/search")
def search(request: Request):
    query = request.query
    return {
        "q": query["q"],  # a missing key answers 400
        "sort": query.get("sort", "new"),  # with a default
        "tags": query.getlist("tag"),  # every value of a repeated key
        "all": query.multi_items(),
    }


@app.get("/headers")
def headers(request: Request):
    return {
        "accept": request.headers.get("accept"),  # case-insensitive
        "forwarded": request.headers.getlist("x-forwarded-for"),
        "has_auth": "authorization" in request.headers,
    }


@app.get("/theme")
def theme(request: Request):
    return {"theme": request.cookies.get("theme", "light")}


def current_user_agent() -> str:
    # A helper deep in the code base: no request parameter needed.
    return request.headers.get("user-agent", "unknown")


@app.get("/agent")
def agent():
    return {"agent": current_user_agent()}
