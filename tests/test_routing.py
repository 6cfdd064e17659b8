"""Routing: paths, converters, methods, reversing, slashes, mounts."""

from __future__ import annotations

import uuid

import pytest

from kettle import Kettle
from kettle import url_for
from kettle.exceptions import ImproperlyConfigured
from kettle.routing import Converter
from kettle.routing import register_converter
from kettle.routing.router import Route
from kettle.routing.router import Router


def test_all_method_decorators(app, make_client):
    for method in ("get", "post", "put", "patch", "delete"):
        getattr(app, method)("/thing", name=f"thing_{method}")(
            lambda m=method: {"method": m}
        )
    client = make_client(app)
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        assert client.request(method, "/thing").json() == {"method": method.lower()}


def test_route_with_methods_list(app, make_client):
    @app.route("/items", methods=["GET", "POST"])
    def items(request):
        return request.method

    client = make_client(app)
    assert client.get("/items").text == "GET"
    assert client.post("/items").text == "POST"


@pytest.mark.parametrize(
    ("path", "url", "expected"),
    [
        ("/s/{v}", "/s/hello", "hello"),
        ("/s/{v:str}", "/s/a%20b", "a b"),
        ("/i/{v:int}", "/i/42", 42),
        ("/f/{v:float}", "/f/1.5", 1.5),
        (
            "/u/{v:uuid}",
            "/u/12345678-1234-5678-1234-567812345678",
            "12345678-1234-5678-1234-567812345678",
        ),
        ("/g/{v:slug}", "/g/my-post_1", "my-post_1"),
        ("/p/{v:path}", "/p/a/b/c.txt", "a/b/c.txt"),
    ],
)
def test_converters(app, make_client, path, url, expected):
    @app.get(path)
    def show(v):
        return {
            "v": str(v) if isinstance(v, uuid.UUID) else v,
            "type": type(v).__name__,
        }

    data = make_client(app).get(url).json()
    assert data["v"] == expected


@pytest.mark.parametrize(
    ("path", "url"),
    [
        ("/i/{v:int}", "/i/abc"),
        ("/i/{v:int}", "/i/-1"),
        ("/f/{v:float}", "/f/1.2.3"),
        ("/u/{v:uuid}", "/u/not-a-uuid"),
        ("/g/{v:slug}", "/g/sp%20ace"),
        ("/s/{v}", "/s/a/b"),
    ],
)
def test_wrong_converter_value_is_404(app, make_client, path, url):
    app.get(path)(lambda v: "matched")
    response = make_client(app).get(url)
    assert response.status_code == 404


def test_annotation_chooses_converter(app, make_client):
    @app.get("/users/{user_id}")
    def show(user_id: int):
        return {"id": user_id, "type": type(user_id).__name__}

    @app.get("/keys/{key}")
    def key(key: uuid.UUID):
        return {"version": key.version}

    client = make_client(app)
    assert client.get("/users/7").json() == {"id": 7, "type": "int"}
    assert client.get("/users/seven").status_code == 404
    assert client.get(f"/keys/{uuid.uuid4()}").json() == {"version": 4}


def test_custom_converter(app, make_client):
    class HexConverter(Converter):
        regex = "[0-9a-f]+"

        def to_python(self, value):
            return int(value, 16)

        def to_url(self, value):
            return format(value, "x")

    register_converter("hex", HexConverter)

    @app.get("/color/{c:hex}")
    def color(c):
        return {"c": c}

    client = make_client(app)
    assert client.get("/color/ff").json() == {"c": 255}
    assert client.get("/color/zz").status_code == 404
    assert app.url_for("color", c=4095) == "/color/fff"


def test_unknown_converter_fails_at_registration(app):
    with pytest.raises(ValueError, match="unknown path converter 'nope'"):
        app.get("/x/{a:nope}")(lambda a: a)


def test_static_segment_wins_over_parameter(app, make_client):
    @app.get("/users/{name}")
    def by_name(name):
        return "param"

    @app.get("/users/me")
    def me():
        return "static"

    client = make_client(app)
    assert client.get("/users/me").text == "static"
    assert client.get("/users/bob").text == "param"


def test_backtracking_between_parameter_routes(app, make_client):
    app.get("/a/{x:int}/b")(lambda x: f"int {x}")
    app.get("/a/{y}/c")(lambda y: f"str {y}")
    client = make_client(app)
    assert client.get("/a/5/b").text == "int 5"
    assert client.get("/a/5/c").text == "str 5"


def test_path_parameter_followed_by_segment(app, make_client):
    app.get("/files/{p:path}")(lambda p: f"file {p}")
    app.get("/files/{p:path}/edit", name="edit")(lambda p: f"edit {p}")
    client = make_client(app)
    assert client.get("/files/a/b").text == "file a/b"
    assert client.get("/files/a/b/edit").text == "edit a/b"


def test_mixed_segment(app, make_client):
    @app.get("/dl/{name}.{ext}")
    def download(name, ext):
        return {"name": name, "ext": ext}

    assert make_client(app).get("/dl/report.pdf").json() == {
        "name": "report",
        "ext": "pdf",
    }


def test_method_not_allowed_lists_allow(app, make_client):
    app.get("/only-get")(lambda: "x")
    response = make_client(app).post("/only-get")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD, OPTIONS"


def test_405_collects_methods_of_every_matching_route(app, make_client):
    app.get("/things/{id:int}")(lambda id: "int")
    app.post("/things/{name}", name="create")(lambda name: "str")
    client = make_client(app)
    assert client.post("/things/5").text == "str"
    response = client.delete("/things/5")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD, OPTIONS, POST"


def test_head_answered_for_get_without_body(app, make_client):
    app.get("/page")(lambda: "hello world")
    response = make_client(app).head("/page")
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-length"] == "11"


def test_options_answered_automatically(app, make_client):
    app.route("/res", methods=["GET", "PUT"])(lambda: "x")
    response = make_client(app).options("/res")
    assert response.status_code == 204
    assert response.headers["allow"] == "GET, HEAD, OPTIONS, PUT"


def test_explicit_options_handler_wins(app, make_client):
    app.route("/res", methods=["OPTIONS"])(lambda: ("custom", 200))
    assert make_client(app).options("/res").text == "custom"


def test_unknown_path_404(app, make_client):
    assert make_client(app).get("/nowhere").status_code == 404


def test_trailing_slash_redirects_308_to_canonical(app, make_client):
    app.get("/dir/")(lambda: "dir")
    app.get("/file")(lambda: "file")
    client = make_client(app, follow_redirects=False)
    response = client.get("/dir?x=1")
    assert response.status_code == 308
    assert response.headers["location"] == "/dir/?x=1"
    response = client.post("/file/")
    assert response.status_code == 308
    assert response.headers["location"] == "/file"


def test_trailing_slash_redirect_can_be_disabled(make_client):
    app = Kettle(env_file=None, redirect_slashes=False)
    app.get("/dir/")(lambda: "dir")
    assert make_client(app, follow_redirects=False).get("/dir").status_code == 404


def test_duplicate_route_rejected():
    app = Kettle(env_file=None)
    app.get("/x")(lambda: "a")
    with pytest.raises(ImproperlyConfigured, match="already routed"):
        app.get("/x", name="other")(lambda: "b")


def test_duplicate_name_rejected():
    app = Kettle(env_file=None)

    def a():
        return "a"

    app.get("/a", name="same")(a)
    with pytest.raises(ImproperlyConfigured, match="route name 'same' is already used"):
        app.get("/b", name="same")(lambda: "b")


def test_missing_path_parameter_in_signature_fails_at_registration(app):
    with pytest.raises(ImproperlyConfigured, match="does not take the path parameter"):
        app.get("/u/{user_id}")(lambda: "x")


def test_bad_paths_rejected(app):
    with pytest.raises(ImproperlyConfigured, match="must start with '/'"):
        app.get("nope")(lambda: "x")
    with pytest.raises(ImproperlyConfigured, match="appears twice"):
        app.get("/{a}/{a}")(lambda a: "x")
    with pytest.raises(ImproperlyConfigured, match="unbalanced"):
        app.get("/{a")(lambda: "x")


def test_registration_after_start_is_refused(app, make_client):
    app.get("/")(lambda: "x")
    make_client(app).get("/")
    with pytest.raises(ImproperlyConfigured, match="already started"):
        app.get("/late")(lambda: "late")


def test_url_for_in_request_and_outside(app, make_client):
    @app.get("/users/{user_id:int}")
    def show_user(user_id):
        return {"url": url_for("show_user", user_id=user_id, tab="posts")}

    @app.get("/abs")
    def absolute():
        return url_for("show_user", user_id=1, _external=True)

    client = make_client(app)
    assert client.get("/users/5").json() == {"url": "/users/5?tab=posts"}
    assert client.get("/abs").text == "http://testserver/users/1"
    assert app.url_for("show_user", user_id=9) == "/users/9"
    with app.app_context():
        assert url_for("show_user", user_id=2, _anchor="top") == "/users/2#top"
    with pytest.raises(RuntimeError, match="SERVER_NAME"):
        app.url_for("show_user", user_id=1, _external=True)
    app.config["SERVER_NAME"] = "example.com"
    assert app.url_for("show_user", user_id=1, _external=True, _scheme="https") == (
        "https://example.com/users/1"
    )


def test_url_for_errors(app):
    app.get("/u/{id:int}", name="user")(lambda id: "x")
    with pytest.raises(LookupError, match="no route named 'missing'"):
        app.url_for("missing")
    with pytest.raises(LookupError, match="needs the parameter"):
        app.url_for("user")
    with pytest.raises(ValueError):
        app.url_for("user", id="abc")
    with pytest.raises(RuntimeError, match="needs an app"):
        url_for("user", id=1)


def test_redirect_refuses_values_it_would_drop(app):
    from kettle import redirect

    app.get("/u/{id:int}", name="user")(lambda id: "x")
    with app.app_context():
        assert redirect("user", id=3).headers["location"] == "/u/3"
        assert redirect("/login?next=/").headers["location"] == "/login?next=/"
        with pytest.raises(LookupError, match="is a URL, not a route's name"):
            redirect("/login", id=1)
        with pytest.raises(LookupError, match="no route named 'usr'"):
            redirect("usr", id=1)


def test_url_for_quotes_values(app):
    app.get("/s/{name}", name="s")(lambda name: name)
    app.get("/p/{rest:path}", name="p")(lambda rest: rest)
    assert app.url_for("s", name="a b?") == "/s/a%20b%3F"
    assert app.url_for("p", rest="a/b c") == "/p/a/b%20c"
    assert app.url_for("s", name="x", tags=["a", "b"]) == "/s/x?tags=a&tags=b"


def test_router_lookup_cost_structure():
    """10,000 parameterised routes still match through the segment tree."""
    router = Router()
    for i in range(10_000):
        router.add(Route(f"/r{i}/{{id:int}}", f"e{i}", ["GET"], f"r{i}"))
    route, params = router.match("GET", "/r9999/5")
    assert route is not None and route.name == "r9999" and params == {"id": 5}
    assert router.match("GET", "/r10000/5") == (None, frozenset())


def test_mount_asgi_app(app, make_client):
    async def inner(scope, receive, send):
        body = f"{scope['root_path']}|{scope['path']}".encode()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})

    app.get("/sub/own")(lambda: "own route")
    app.mount("/sub", inner)
    client = make_client(app)
    assert client.get("/sub/x/y").text == "/sub|/sub/x/y"
    assert client.get("/sub/own").text == "own route"
    assert client.get("/subway").status_code == 404


def test_mount_a_starlette_app(app, make_client):
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route as SRoute

    async def hello(request):
        return PlainTextResponse("starlette " + request.url.path)

    app.mount("/st", Starlette(routes=[SRoute("/hi", hello)]))
    assert make_client(app).get("/st/hi").text == "starlette /st/hi"


def test_mount_a_wsgi_app_wrapped_for_asgi(app, make_client):
    from a2wsgi import WSGIMiddleware

    def wsgi_app(environ, start_response):
        start_response("200 OK", [("content-type", "text/plain")])
        return [f"wsgi {environ['SCRIPT_NAME']} {environ['PATH_INFO']}".encode()]

    app.mount("/legacy", WSGIMiddleware(wsgi_app))
    assert make_client(app).get("/legacy/page").text == "wsgi /legacy /page"
