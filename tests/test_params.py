"""Typed handler parameters: every source, the 422 format, start-up errors,
dependencies (overrides, caching, cleanup) and response models, over ASGI and WSGI."""

# NOTE: no "from __future__ import annotations": the handlers use local classes.

import dataclasses
import enum
import uuid
from typing import Annotated
from typing import Literal

import pytest
from pydantic import BaseModel
from pydantic import Field
from typing_extensions import TypedDict  # pydantic needs it on Python < 3.12

from kettle import Body
from kettle import Cookie
from kettle import Depends
from kettle import File
from kettle import Form
from kettle import Header
from kettle import HTTPException
from kettle import Kettle
from kettle import Path
from kettle import Query
from kettle import Request
from kettle import UploadFile
from kettle import View
from kettle.exceptions import ImproperlyConfigured


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


class Item(BaseModel):
    name: str
    price: float
    tags: list[str] = []


@dataclasses.dataclass
class Point:
    x: int
    y: int


class Movie(TypedDict):
    title: str
    year: int


class UserIn(BaseModel):
    name: str
    password: str


class UserOut(BaseModel):
    name: str


def detail(r):
    assert r.status_code == 422, r.text
    return r.json()["detail"]


# -- query ---------------------------------------------------------------------------


def test_query_scalars_defaults_optional(app, make_client):
    @app.get("/q")
    def q(
        a: int,
        b: float = 1.5,
        c: bool = False,
        d: str | None = None,
        color: Color = Color.RED,
        mode: Literal["fast", "slow"] = "fast",
        when: uuid.UUID | None = None,
    ):
        return {
            "a": a,
            "b": b,
            "c": c,
            "d": d,
            "color": color.value,
            "mode": mode,
            "when": str(when) if when else None,
        }

    c = make_client(app)
    assert c.get("/q?a=3").json() == {
        "a": 3,
        "b": 1.5,
        "c": False,
        "d": None,
        "color": "red",
        "mode": "fast",
        "when": None,
    }
    u = uuid.uuid4()
    r = c.get(f"/q?a=-3&b=2.25&c=yes&d=x&color=green&mode=slow&when={u}")
    assert r.json() == {
        "a": -3,
        "b": 2.25,
        "c": True,
        "d": "x",
        "color": "green",
        "mode": "slow",
        "when": str(u),
    }
    errors = detail(c.get("/q?b=x&c=maybe&color=blue&mode=medium&when=nope"))
    assert [e["loc"] for e in errors] == [
        ["query", "a"],
        ["query", "b"],
        ["query", "c"],
        ["query", "color"],
        ["query", "mode"],
        ["query", "when"],
    ]
    assert [e["type"] for e in errors] == [
        "missing",
        "float_parsing",
        "bool_parsing",
        "enum",
        "literal_error",
        "uuid_parsing",
    ]
    assert errors[0] == {
        "loc": ["query", "a"],
        "msg": "Field required",
        "type": "missing",
        "input": None,
    }
    assert errors[3]["msg"] == "Input should be 'red' or 'green'"
    assert errors[4]["input"] == "medium"


def test_query_lists_repeated_keys(app, make_client):
    @app.get("/tags")
    def tags(tag: list[str], n: Annotated[list[int], Query()] = []):
        return {"tag": tag, "n": n}

    c = make_client(app)
    assert c.get("/tags?tag=a&tag=b&n=1&n=2").json() == {
        "tag": ["a", "b"],
        "n": [1, 2],
    }
    assert c.get("/tags?tag=a").json() == {"tag": ["a"], "n": []}
    errors = detail(c.get("/tags?n=1&n=x"))
    assert errors[0]["loc"] == ["query", "tag"]
    assert errors[1]["loc"] == ["query", "n", 1]
    assert errors[1]["type"] == "int_parsing"


def test_query_constraints_and_alias(app, make_client):
    @app.get("/page")
    def page(
        page: Annotated[int, Query(ge=1, le=100)] = 1,
        q: str = Query("", max_length=5, pattern="^[a-z]*$"),
        order: str = Query("asc", alias="order-by"),
    ):
        return {"page": page, "q": q, "order": order}

    c = make_client(app)
    assert c.get("/page?page=100&q=abc&order-by=desc").json() == {
        "page": 100,
        "q": "abc",
        "order": "desc",
    }
    errors = detail(c.get("/page?page=0&q=ABCDEFG"))
    assert errors[0]["loc"] == ["query", "page"]
    assert errors[0]["type"] == "greater_than_equal"
    assert errors[0]["ctx"] == {"ge": 1}
    assert errors[0]["msg"] == "Input should be greater than or equal to 1"
    assert {e["type"] for e in errors[1:]} == {"string_too_long"}
    assert detail(c.get("/page?page=101"))[0]["type"] == "less_than_equal"
    assert detail(c.get("/page?q=A1"))[0]["type"] == "string_pattern_mismatch"


def test_non_finite_floats_refused(app, make_client):
    @app.get("/f")
    def f(x: Annotated[float, Query(gt=0)]):
        return {"x": x}

    c = make_client(app)
    assert c.get("/f?x=2.5").json() == {"x": 2.5}
    for bad in ("nan", "inf", "-inf"):
        assert detail(c.get(f"/f?x={bad}"))[0]["loc"] == ["query", "x"]


# -- path, header, cookie ----------------------------------------------------------------


def test_path_constraints_and_types(app, make_client):
    @app.get("/items/{item_id}/{color}")
    def item(item_id: Annotated[int, Path(ge=1)], color: Color):
        return {"id": item_id, "color": color.value}

    c = make_client(app)
    assert c.get("/items/5/red").json() == {"id": 5, "color": "red"}
    errors = detail(c.get("/items/0/blue"))
    assert [e["loc"] for e in errors] == [["path", "item_id"], ["path", "color"]]
    assert c.get("/items/x/red").status_code == 404  # the int converter: no route


def test_headers_and_cookies(app, make_client):
    @app.get("/h")
    def h(
        user_agent: str = Header(),
        x_count: Annotated[int, Header()] = 0,
        x_tag: Annotated[list[str], Header()] = [],
        strange_name: str | None = Header(None, convert_underscores=False),
        session_id: str = Cookie(),
        theme: Annotated[str, Cookie()] = "light",
    ):
        return {
            "ua": user_agent,
            "count": x_count,
            "tags": x_tag,
            "strange": strange_name,
            "session": session_id,
            "theme": theme,
        }

    c = make_client(app)
    r = c.get(
        "/h",
        headers={
            "User-Agent": "tester",
            "X-Count": "3",
            "x-tag": "a",
            "strange_name": "s",
            "cookie": "session_id=abc; theme=dark",
        },
    )
    assert r.json()["ua"] == "tester"
    assert r.json()["count"] == 3
    assert r.json()["session"] == "abc"
    assert r.json()["theme"] == "dark"
    assert r.json()["tags"] == ["a"]
    errors = detail(c.get("/h", headers={"X-Count": "many"}))
    locs = [e["loc"] for e in errors]
    assert ["header", "x-count"] in locs
    assert ["cookie", "session_id"] in locs


# -- bodies ----------------------------------------------------------------------------


def test_json_body_model_dataclass_typeddict(app, make_client):
    @app.post("/item/{item_id:int}")
    def item(item_id: int, item: Item, q: str | None = None):
        return {"id": item_id, "name": item.name, "tags": item.tags, "q": q}

    @app.post("/point")
    async def point(p: Point):
        return {"sum": p.x + p.y, "kind": type(p).__name__}

    @app.post("/movie")
    def movie(m: Movie):
        return {"title": m["title"], "year": m["year"]}

    c = make_client(app)
    r = c.post("/item/3?q=z", json={"name": "tea", "price": 2})
    assert r.json() == {"id": 3, "name": "tea", "tags": [], "q": "z"}
    assert c.post("/point", json={"x": 1, "y": "2"}).json() == {
        "sum": 3,
        "kind": "Point",
    }
    assert c.post("/movie", json={"title": "M", "year": 1931}).json() == {
        "title": "M",
        "year": 1931,
    }
    errors = detail(c.post("/item/3", json={"price": "cheap", "tags": [1]}))
    assert [e["loc"] for e in errors] == [
        ["body", "name"],
        ["body", "price"],
        ["body", "tags", 0],
    ]
    assert detail(c.post("/item/3"))[0] == {
        "loc": ["body"],
        "msg": "Field required",
        "type": "missing",
        "input": None,
    }
    bad = detail(
        c.post(
            "/item/3", content=b"{nope", headers={"content-type": "application/json"}
        )
    )
    assert bad[0]["type"] == "json_invalid"
    assert bad[0]["loc"][0] == "body"
    assert detail(c.post("/point", json=[1, 2]))[0]["loc"] == ["body"]
    r = c.post("/item/3", content=b"name=tea", headers={"content-type": "text/plain"})
    assert r.status_code == 415
    assert "application/json" in r.json()["detail"]


def test_embedded_and_several_bodies(app, make_client):
    @app.post("/two")
    def two(item: Item, user: UserOut, importance: int = Body(1)):
        return {"item": item.name, "user": user.name, "importance": importance}

    @app.post("/one")
    def one(item: Annotated[Item, Body(embed=True)]):
        return {"item": item.name}

    c = make_client(app)
    r = c.post(
        "/two",
        json={
            "item": {"name": "a", "price": 1},
            "user": {"name": "u"},
            "importance": 5,
        },
    )
    assert r.json() == {"item": "a", "user": "u", "importance": 5}
    errors = detail(c.post("/two", json={"item": {"name": "a"}}))
    assert [e["loc"] for e in errors] == [["body", "item", "price"], ["body", "user"]]
    assert c.post("/one", json={"item": {"name": "x", "price": 0}}).json() == {
        "item": "x"
    }
    assert detail(c.post("/one", json={"name": "x", "price": 0}))[0]["loc"] == [
        "body",
        "item",
    ]


def test_form_fields_and_files(app, make_client):
    @app.post("/form")
    def form(
        name: str = Form(),
        age: Annotated[int, Form(ge=0)] = 0,
        topics: Annotated[list[str], Form()] = [],
    ):
        return {"name": name, "age": age, "topics": topics}

    @app.post("/upload")
    async def upload(
        doc: UploadFile,
        raw: bytes = File(),
        extra: list[UploadFile] = File([]),
        note: str = Form(""),
    ):
        data = await doc.read()
        return {
            "doc": doc.filename,
            "size": len(data),
            "raw": raw.decode(),
            "extra": [f.filename for f in extra],
            "note": note,
        }

    c = make_client(app)
    r = c.post("/form", data={"name": "Ann", "age": "31", "topics": ["a", "b"]})
    assert r.json() == {"name": "Ann", "age": 31, "topics": ["a", "b"]}
    errors = detail(c.post("/form", data={"age": "-1"}))
    assert [e["loc"] for e in errors] == [["body", "name"], ["body", "age"]]
    r = c.post(
        "/upload",
        files=[
            ("doc", ("a.txt", b"hello", "text/plain")),
            ("raw", ("b.bin", b"bytes!", "application/octet-stream")),
            ("extra", ("c.txt", b"1", "text/plain")),
            ("extra", ("d.txt", b"2", "text/plain")),
        ],
        data={"note": "hi"},
    )
    assert r.json() == {
        "doc": "a.txt",
        "size": 5,
        "raw": "bytes!",
        "extra": ["c.txt", "d.txt"],
        "note": "hi",
    }
    errors = detail(c.post("/upload", data={"doc": "not a file", "raw": "x"}))
    assert [e["type"] for e in errors] == ["file_type", "file_type"]
    r = c.post("/upload", json={"doc": 1})
    assert r.status_code == 415


# -- the request, views and websockets ------------------------------------------------------


def test_request_and_view_injection(app, make_client):
    class Things(View):
        def get(self, request: Request, limit: int = 2):
            return {"path": request.path, "limit": limit}

    app.add_route("/things", Things)

    c = make_client(app)
    assert c.get("/things?limit=7").json() == {"path": "/things", "limit": 7}
    assert detail(c.get("/things?limit=x"))[0]["loc"] == ["query", "limit"]


# -- dependencies ------------------------------------------------------------------------


def test_dependencies_sync_async_generator_cached(app, make_client):
    calls: list[str] = []

    def pagination(page: int = 1, size: Annotated[int, Query(le=50)] = 10):
        calls.append("pagination")
        return {"page": page, "size": size}

    async def token(authorization: str = Header()):
        calls.append("token")
        return authorization.removeprefix("Bearer ")

    def resource():
        calls.append("open")
        try:
            yield "resource"
        except ZeroDivisionError:
            calls.append("saw error")
            raise
        finally:
            calls.append("close")

    async def aresource(tok: Annotated[str, Depends(token)]):
        calls.append("aopen")
        yield f"a-{tok}"
        calls.append("aclose")

    def user(tok: Annotated[str, Depends(token)], res=Depends(resource)):
        return {"tok": tok, "res": res}

    @app.get("/deps")
    def deps(
        p: Annotated[dict, Depends(pagination)],
        u: dict = Depends(user),
        tok: str = Depends(token),
        a: str = Depends(aresource),
        boom: bool = False,
    ):
        calls.append("handler")
        if boom:
            1 / 0
        return {"p": p, "u": u, "tok": tok, "a": a}

    @app.errorhandler(ZeroDivisionError)
    def zero(exc):
        return {"error": "zero"}, 400

    c = make_client(app)
    r = c.get("/deps?page=2", headers={"authorization": "Bearer t0"})
    assert r.json() == {
        "p": {"page": 2, "size": 10},
        "u": {"tok": "t0", "res": "resource"},
        "tok": "t0",
        "a": "a-t0",
    }
    # token ran once (cached per request); cleanup ran after the handler, in
    # reverse order of opening.
    assert calls == [
        "pagination",
        "token",
        "open",
        "aopen",
        "handler",
        "aclose",
        "close",
    ]
    calls.clear()
    r = c.get("/deps?boom=1", headers={"authorization": "Bearer t0"})
    assert (r.status_code, r.json()) == (400, {"error": "zero"})
    assert "saw error" in calls and calls[-1] == "close"
    calls.clear()
    errors = detail(c.get("/deps?size=99"))
    assert [e["loc"] for e in errors] == [
        ["query", "size"],
        ["header", "authorization"],
    ]
    assert "handler" not in calls


def test_generator_dependencies_close_in_reverse_seeing_the_error(app, make_client):
    """One generator dependency alone, then two and three (async and sync, in an
    async handler and a def one): each closes after the handler, the last opened
    first, and each sees the handler's exception."""
    calls: list[str] = []

    def opener(name):
        async def agen():
            calls.append(f"open {name}")
            try:
                yield name
            except ZeroDivisionError:
                calls.append(f"{name} saw error")
                raise
            finally:
                calls.append(f"close {name}")

        def gen():
            calls.append(f"open {name}")
            try:
                yield name
            except ZeroDivisionError:
                calls.append(f"{name} saw error")
                raise
            finally:
                calls.append(f"close {name}")

        return agen if name.startswith("a") else gen

    first, second, third = opener("a1"), opener("s2"), opener("a3")

    @app.get("/one")
    async def one(x: str = Depends(first), boom: bool = False):
        calls.append("handler")
        if boom:
            1 / 0
        return {"v": x}

    @app.get("/three")
    async def three(
        x: str = Depends(first),
        y: str = Depends(second),
        z: str = Depends(third),
        boom: bool = False,
    ):
        calls.append("handler")
        if boom:
            1 / 0
        return {"v": x + y + z}

    @app.get("/sync-three")
    def sync_three(
        x: str = Depends(second),
        y: str = Depends(first),
        z: str = Depends(third),
        boom: bool = False,
    ):
        calls.append("handler")
        if boom:
            1 / 0
        return {"v": x + y + z}

    @app.errorhandler(ZeroDivisionError)
    def zero(exc):
        return {"error": "zero"}, 400

    c = make_client(app)
    assert c.get("/one").json() == {"v": "a1"}
    assert calls == ["open a1", "handler", "close a1"]
    calls.clear()
    assert c.get("/one?boom=1").status_code == 400
    assert calls == ["open a1", "handler", "a1 saw error", "close a1"]
    for path, names in (
        ("/three", ["a1", "s2", "a3"]),
        ("/sync-three", ["s2", "a1", "a3"]),
    ):
        calls.clear()
        assert c.get(path).json() == {"v": "".join(names)}
        opened = [f"open {n}" for n in names]
        assert calls == [*opened, "handler", *[f"close {n}" for n in reversed(names)]]
        calls.clear()
        assert c.get(path + "?boom=1").status_code == 400
        assert calls == [
            *opened,
            "handler",
            *[e for n in reversed(names) for e in (f"{n} saw error", f"close {n}")],
        ]


def test_use_cache_false_and_class_dependency(app, make_client):
    count = {"n": 0}

    def counter():
        count["n"] += 1
        return count["n"]

    class Settings:
        def __init__(self, debug: bool = False):
            self.debug = debug

    @app.get("/c")
    def c_(
        a: int = Depends(counter),
        b: int = Depends(counter, use_cache=False),
        s: Settings = Depends(),
    ):
        return {"a": a, "b": b, "debug": s.debug}

    c = make_client(app)
    assert c.get("/c?debug=true").json() == {"a": 1, "b": 2, "debug": True}


def test_dependency_overrides_take_effect_at_once(app, make_client):
    def real_db():
        yield "real"

    async def fake_db():
        return "fake"

    @app.get("/db")
    def db_view(db: str = Depends(real_db)):
        return {"db": db}

    c = make_client(app)
    assert c.get("/db").json() == {"db": "real"}
    app.dependency_overrides[real_db] = fake_db
    assert c.get("/db").json() == {"db": "fake"}
    app.dependency_overrides[real_db] = lambda: "lambda"
    assert c.get("/db").json() == {"db": "lambda"}
    app.dependency_overrides.clear()
    assert c.get("/db").json() == {"db": "real"}


def test_dependency_raising_http_exception(app, make_client):
    def admin_only(x_role: str = Header("")):
        if x_role != "admin":
            raise HTTPException(403, "admins only")

    @app.get("/admin")
    def admin(_: None = Depends(admin_only)):
        return "ok"

    c = make_client(app)
    assert c.get("/admin").status_code == 403
    assert c.get("/admin", headers={"x-role": "admin"}).text == "ok"


def test_a_provider_takes_path_parameters(app, make_client):
    """A provider reads the route's path parameters (the handler need not
    take them), from the path and never from the query string."""
    shelves = {3: "tea", 4: "cups"}

    def current_shelf(shelf_id: int) -> str:
        if shelf_id not in shelves:
            raise HTTPException(404, "no such shelf")
        return shelves[shelf_id]

    def checked(shelf_id: int = Path(ge=1)) -> int:
        return shelf_id

    @app.get("/shelves/{shelf_id:int}")
    def shelf(name: Annotated[str, Depends(current_shelf)]):
        return {"shelf": name}

    @app.get("/both/{shelf_id:int}")
    def both(shelf_id: int, name: Annotated[str, Depends(current_shelf)]):
        return {"id": shelf_id, "shelf": name}

    @app.get("/checked/{shelf_id:int}")
    def by_marker(shelf_id: Annotated[int, Depends(checked)]):
        return {"id": shelf_id}

    def unrelated() -> int:
        return 1

    with pytest.raises(ImproperlyConfigured, match="does not take the path"):

        @app.get("/nobody/{shelf_id:int}")
        def nobody(value: Annotated[int, Depends(unrelated)]):
            return value

    c = make_client(app)
    assert c.get("/shelves/3").json() == {"shelf": "tea"}
    assert c.get("/shelves/9").status_code == 404
    assert c.get("/both/4?shelf_id=3").json() == {"id": 4, "shelf": "cups"}
    assert c.get("/checked/2").json() == {"id": 2}
    assert c.get("/checked/0").status_code == 422


def test_injectables(app, make_client):
    class Session:
        pass

    def provide():
        s = Session()
        s.opened = True
        yield s

    app.injectables[Session] = provide

    @app.get("/s")
    def s_(db: Session):
        return {"opened": db.opened, "type": type(db).__name__}

    assert make_client(app).get("/s").json() == {"opened": True, "type": "Session"}


# -- response models -----------------------------------------------------------------------


def test_response_model_filters_and_validates(app, make_client, caplog):
    @app.post("/users", status_code=201)
    def create(user: UserIn) -> UserOut:
        return user  # the password must not leak

    @app.get("/users")
    def users() -> list[UserOut]:
        return [{"name": "a", "password": "x"}, UserIn(name="b", password="y")]

    @app.get("/broken")
    def broken() -> UserOut:
        return {"nom": "a"}

    @app.get("/explicit", response_model=UserOut)
    def explicit():
        return {"name": "e", "password": "p"}, 202

    @app.get("/off", response_model=None)
    def off() -> UserOut:
        return {"name": "e", "password": "p"}

    c = make_client(app)
    r = c.post("/users", json={"name": "n", "password": "secret"})
    assert (r.status_code, r.json()) == (201, {"name": "n"})
    assert c.get("/users").json() == [{"name": "a"}, {"name": "b"}]
    r = c.get("/explicit")
    assert (r.status_code, r.json()) == (202, {"name": "e"})
    assert c.get("/off").json() == {"name": "e", "password": "p"}
    c.raise_server_exceptions = False
    r = c.get("/broken")
    assert r.status_code == 500
    assert "nom" not in r.text


def test_status_code_option(app, make_client):
    @app.delete("/x", status_code=204)
    def remove():
        return {"gone": True}

    r = make_client(app).delete("/x")
    assert (r.status_code, r.content) == (204, b"")


# -- start-up errors -------------------------------------------------------------------------


def test_start_up_errors_name_handler_and_parameter():
    app = Kettle(env_file=None)

    class Unknown:
        pass

    def bad(thing: Unknown):
        return ""

    with pytest.raises(ImproperlyConfigured, match=r"handler .*bad.*'thing'"):
        app.get("/bad")(bad)

    def both(item: Item, name: str = Form()):
        return ""

    with pytest.raises(ImproperlyConfigured, match="cannot both be read"):
        app.post("/both")(both)

    def query_model(item: Annotated[Item, Query()]):
        return ""

    with pytest.raises(ImproperlyConfigured, match="query parameter 'item'"):
        app.get("/qm")(query_model)

    def twice(x: Annotated[int, Query()] = Query(1)):
        return ""

    with pytest.raises(ImproperlyConfigured, match="both in Annotated and as its"):
        app.get("/twice")(twice)

    def stray(x: int = Path()):
        return ""

    with pytest.raises(ImproperlyConfigured, match="marked Path"):
        app.get("/stray")(stray)

    def a(x=None):
        return x

    def cyc1(v=Depends(lambda: None)):
        return v

    def dep_bad(x: Unknown):
        return x

    def uses_bad(v=Depends(dep_bad)):
        return v

    with pytest.raises(ImproperlyConfigured, match=r"dep_bad.*'x'"):
        app.get("/ub")(uses_bad)

    with pytest.raises(ValueError, match="status_code"):
        app.get("/s", status_code=99)(a)


def test_dependency_cycle_is_refused():
    app = Kettle(env_file=None)

    def first(v=None):
        return v

    def second(v=Depends(first)):
        return v

    # Make first depend on second after the fact, closing the loop.
    first.__defaults__ = (Depends(second),)
    with pytest.raises(ImproperlyConfigured, match="dependency cycle"):
        app.get("/c")(second)


def test_websocket_parameters_and_dependencies(app):
    from kettle import WebSocket

    closed: list[str] = []

    async def room(name: str = Query("lobby")):
        yield name.upper()
        closed.append(name)

    @app.websocket("/ws")
    async def ws(socket: WebSocket, token: str, room_name: str = Depends(room)):
        await socket.accept()
        await socket.send_json({"token": token, "room": room_name})

    with app.test_client() as c:  # WebSockets: ASGI only
        with c.websocket_connect("/ws?token=t&name=tea") as s:
            assert s.receive_json() == {"token": "t", "room": "TEA"}
    assert closed == ["tea"]


def test_huge_integers_are_a_422_not_a_500(app, make_client):
    class M(BaseModel):
        n: int = Field(le=10)

    @app.post("/m")
    def m(body: M):
        return {}

    @app.get("/big")
    def big():
        return {"n": 2**70}

    c = make_client(app)
    errors = detail(c.post("/m", json={"n": 2**64}))
    assert errors[0]["input"] == 2**64
    assert c.get("/big").json() == {"n": 2**70}
