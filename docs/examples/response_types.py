"""Return values, response classes, headers, cookies, redirects and abort."""

import dataclasses

from kettle import HTMLResponse
from kettle import JSONResponse
from kettle import Kettle
from kettle import PlainTextResponse
from kettle import RedirectResponse
from kettle import Response
from kettle import abort
from kettle import redirect

app = Kettle()


# -- return values ---------------------------------------------------------------------
@app.get("/text")
def text():
    return "<h1>Hello</h1>"  # str -> 200 text/html


@app.get("/data")
def data():
    return {"tea": "green"}  # dict or list -> 200 application/json


@app.get("/raw")
def raw():
    return b"\x89PNG"  # bytes -> 200 application/octet-stream


@app.delete("/items/{item_id:int}")
def delete_item(item_id: int):
    return None  # None -> 204 No Content


@app.post("/items")
def create_item():
    return {"id": 1}, 201  # (body, status)


@app.get("/tagged")
def tagged():
    return "ok", {"x-version": "1"}  # (body, headers)


@app.post("/teapots")
def teapot():
    return {"id": 2}, 201, {"location": "/teapots/2"}  # (body, status, headers)


@dataclasses.dataclass
class Tea:
    name: str
    steep_seconds: int


@app.get("/tea")
def tea():
    return Tea("sencha", 60)  # dataclasses (and pydantic models) -> JSON


# -- response classes ------------------------------------------------------------------
@app.get("/plain")
def plain():
    return PlainTextResponse("just text")


@app.get("/page")
def page():
    return HTMLResponse("<p>Not here</p>", status_code=404)


@app.get("/json")
def json_response():
    return JSONResponse([1, 2, 3], headers={"cache-control": "no-store"})


@app.get("/csv")
def csv():
    return Response("a,b\n1,2\n", media_type="text/csv")


@app.get("/headers")
def headers():
    response = PlainTextResponse("with headers")
    response.headers["x-frame-options"] = "DENY"
    response.headers.append("vary", "Accept")
    return response


# -- cookies ---------------------------------------------------------------------------
@app.post("/login")
def login():
    response = RedirectResponse("/", status_code=303)
    response.set_cookie("session", "abc123", max_age=3600)  # HttpOnly, SameSite=Lax
    response.set_cookie("theme", "dark", httponly=False)  # readable by JavaScript
    return response


@app.post("/logout")
def logout():
    response = PlainTextResponse("bye")
    response.delete_cookie("session")
    return response


# -- redirects and errors --------------------------------------------------------------
@app.get("/users/{user_id:int}")
def show_user(user_id: int):
    if user_id != 1:
        abort(404, f"No user {user_id}.")
    return {"id": 1}


@app.get("/me")
def me():
    return redirect("show_user", user_id=1)  # a route name -> 302 to /users/1


@app.get("/old-page")
def old_page():
    return redirect("/page", 301)  # a URL, as given


@app.get("/admin")
def admin():
    abort(403)  # the body says "Forbidden"
