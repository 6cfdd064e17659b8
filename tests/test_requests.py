"""The request object and body reading, through both interfaces."""

from __future__ import annotations

import pytest

from kettle import Kettle
from kettle import Request
from kettle import UploadFile
from kettle import request


def test_request_attributes(app, make_client, interface):
    @app.get("/info/{x}")
    def info(x, req: Request):
        return {
            "method": req.method,
            "path": req.path,
            "url": str(req.url),
            "query": req.query.getlist("a"),
            "last": req.query["a"],
            "missing": req.query.get("zz", "default"),
            "ua": req.headers["User-Agent"],
            "multi": req.headers.getlist("x-multi"),
            "cookies": req.cookies,
            "client": req.client is not None,
            "params": req.path_params,
        }

    client = make_client(app)
    client.cookies.set("session", "abc")
    data = client.get(
        "/info/1?a=1&a=2",
        headers=[("x-multi", "one"), ("x-multi", "two"), ("user-agent", "tester/1.0")],
    ).json()
    assert data == {
        "method": "GET",
        "path": "/info/1",
        "url": "http://testserver/info/1?a=1&a=2",
        "query": ["1", "2"],
        "last": "2",
        "missing": "default",
        "ua": "tester/1.0",
        # NOTE: WSGI environs hold one value per header; servers join repeats.
        "multi": ["one", "two"] if interface == "asgi" else data["multi"],
        "cookies": {"session": "abc"},
        "client": True,
        "params": {"x": "1"},
    }
    assert data["multi"][-1].endswith("two")


def test_request_by_name_without_annotation(app, make_client):
    @app.get("/")
    def index(request):
        return request.method

    assert make_client(app).get("/").text == "GET"


def test_missing_query_key_is_400(app, make_client):
    @app.get("/")
    def index(req: Request):
        return req.query["needed"]

    response = make_client(app).get("/")
    assert response.status_code == 400
    assert "needed" in response.json()["detail"]


def test_state_is_per_request(app, make_client):
    @app.before_request
    def mark():
        request.state.counter = getattr(request.state, "counter", 0) + 1

    @app.get("/")
    def index():
        return {"counter": request.state.counter}

    client = make_client(app)
    assert client.get("/").json() == {"counter": 1}
    assert client.get("/").json() == {"counter": 1}


def test_body_and_json_async(app, make_client):
    @app.post("/raw")
    async def raw(req: Request):
        return await req.body()

    @app.post("/json")
    async def data(req: Request):
        return {"got": await req.json()}

    client = make_client(app)
    assert client.post("/raw", content=b"\x00\x01bytes").content == b"\x00\x01bytes"
    assert client.post("/json", json={"a": [1, 2]}).json() == {"got": {"a": [1, 2]}}


def test_body_and_json_sync(app, make_client):
    @app.post("/raw")
    def raw(req: Request):
        return req.get_body()

    @app.post("/json")
    def data():
        return {"got": request.get_json()}

    client = make_client(app)
    assert client.post("/raw", content=b"abc").content == b"abc"
    assert client.post("/json", json=[1, "x"]).json() == {"got": [1, "x"]}


def test_stream(app, make_client):
    @app.post("/count")
    async def count(req: Request):
        total = 0
        async for chunk in req.stream():
            total += len(chunk)
        return {"bytes": total}

    def chunks():
        for _ in range(10):
            yield b"x" * 10_000

    assert make_client(app).post("/count", content=chunks()).json() == {
        "bytes": 100_000
    }


@pytest.mark.parametrize("sync", [True, False])
def test_malformed_json_is_400(app, make_client, sync):
    if sync:
        app.post("/j")(lambda: request.get_json())
    else:

        async def handler(req: Request):
            return await req.json()

        app.post("/j")(handler)
    client = make_client(app)
    response = client.post(
        "/j", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert "Malformed JSON" in response.json()["detail"]
    response = client.post(
        "/j", content=b"", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400


def test_json_needs_json_content_type(app, make_client):
    app.post("/j")(lambda: request.get_json())
    response = make_client(app).post(
        "/j", content=b"{}", headers={"content-type": "text/plain"}
    )
    assert response.status_code == 415
    assert "application/json" in response.json()["detail"]


def test_body_limit_413(make_client):
    app = Kettle(env_file=None, MAX_BODY_SIZE=100)
    app.post("/raw")(lambda: len(request.get_body()))

    @app.post("/json")
    async def data(req: Request):
        return await req.json()

    client = make_client(app)
    assert client.post("/raw", content=b"x" * 100).text == "100"
    response = client.post("/raw", content=b"x" * 101)
    assert response.status_code == 413
    assert "limit of 100 bytes" in response.json()["detail"]

    def chunked():
        yield b"[" + b"1," * 100
        yield b"1]"

    response = client.post(
        "/json", content=chunked(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413


def test_default_body_limit_is_one_mib(app):
    app.setup()
    assert app.limits.max_body_size == 1024 * 1024


def test_urlencoded_form(app, make_client):
    @app.post("/form")
    async def form(req: Request):
        data = await req.form()
        return {"name": data["name"], "tags": data.getlist("tag")}

    response = make_client(app).post("/form", data={"name": "Ann", "tag": ["a", "b"]})
    assert response.json() == {"name": "Ann", "tags": ["a", "b"]}


def test_missing_form_field_is_400(app, make_client):
    @app.post("/form")
    def form():
        return request.get_form()["missing"]

    response = make_client(app).post("/form", data={"name": "x"})
    assert response.status_code == 400
    assert "missing" in response.json()["detail"]


def test_multipart_upload(app, make_client, tmp_path):
    @app.post("/upload")
    async def upload(req: Request):
        form = await req.form()
        file = form["file"]
        assert isinstance(file, UploadFile)
        content = await file.read()
        await file.seek(0)
        saved = await file.save(tmp_path / "saved.bin")
        return {
            "title": form["title"],
            "filename": file.filename,
            "type": file.content_type,
            "size": file.size,
            "saved": saved,
            "head": content[:5].decode(),
        }

    payload = b"hello" + b"\x00" * 2_000_000
    response = make_client(app).post(
        "/upload",
        data={"title": "T"},
        files={"file": ("doc.bin", payload, "application/x-thing")},
    )
    assert response.json() == {
        "title": "T",
        "filename": "doc.bin",
        "type": "application/x-thing",
        "size": len(payload),
        "saved": len(payload),
        "head": "hello",
    }
    assert (tmp_path / "saved.bin").read_bytes() == payload


def test_multipart_upload_sync_handler(app, make_client):
    @app.post("/upload")
    def upload():
        file = request.get_form()["file"]
        return {"size": file.size, "data": file.file.read().decode()}

    response = make_client(app).post(
        "/upload", files={"file": ("a.txt", b"abc", "text/plain")}
    )
    assert response.json() == {"size": 3, "data": "abc"}


def test_truncated_multipart_is_400(app, make_client):
    @app.post("/upload")
    async def upload(req: Request):
        await req.form()
        return "ok"

    body = b'--XyZ\r\nContent-Disposition: form-data; name="a"\r\n\r\nvalue without end'
    response = make_client(app).post(
        "/upload",
        content=body,
        headers={"content-type": "multipart/form-data; boundary=XyZ"},
    )
    assert response.status_code == 400
    assert "detail" in response.json()


def test_multipart_without_boundary_is_400(app, make_client):
    app.post("/upload")(lambda: request.get_form() and "ok")
    response = make_client(app).post(
        "/upload", content=b"x", headers={"content-type": "multipart/form-data"}
    )
    assert response.status_code == 400


def test_upload_limit_is_413(make_client):
    app = Kettle(env_file=None, MAX_UPLOAD_SIZE=10_000)
    app.post("/upload")(lambda: request.get_form() and "ok")
    response = make_client(app).post("/upload", files={"f": ("a", b"x" * 20_000)})
    assert response.status_code == 413


def test_bad_content_length_is_400(app, make_client):
    app.post("/raw")(lambda: request.get_body())
    client = make_client(app)
    response = client.post("/raw", content=b"abc", headers={"content-length": "abc"})
    assert response.status_code == 400


def test_request_proxy_outside_request():
    with pytest.raises(RuntimeError, match="outside of a request"):
        request.method
    assert not request


def test_request_proxy_in_async_and_sync(app, make_client):
    app.get("/sync")(lambda: request.path)

    @app.get("/async")
    async def handler():
        return request.path

    client = make_client(app)
    assert client.get("/sync").text == "/sync"
    assert client.get("/async").text == "/async"


def test_sync_body_read_with_async_hook_waits_on_the_server_loop(app):
    """A def handler on the async pipeline reads a body that arrives later."""
    import asyncio

    @app.before_request
    async def hook():
        return None

    @app.post("/")
    def index():
        return {"size": len(request.get_body())}

    async def scenario():
        queue: asyncio.Queue = asyncio.Queue()
        sent = []

        async def receive():
            return await queue.get()  # bound to this (the server's) loop

        async def send(message):
            sent.append(message)

        async def feed():
            await asyncio.sleep(0.05)
            await queue.put(
                {"type": "http.request", "body": b"x" * 10, "more_body": True}
            )
            await queue.put(
                {"type": "http.request", "body": b"y" * 5, "more_body": False}
            )

        scope = {
            "type": "http",
            "method": "POST",
            "path": "/",
            "query_string": b"",
            "headers": [],
            "scheme": "http",
        }
        feeder = asyncio.ensure_future(feed())
        await asyncio.wait_for(app(scope, receive, send), 5)
        await feeder
        return sent

    sent = asyncio.run(scenario())
    assert sent[0]["status"] == 200
    assert sent[1]["body"] == b'{"size":15}'


def test_a_request_without_a_body_has_an_empty_form(app, make_client):
    from kettle import Form

    @app.route("/page", methods=["GET", "POST"])
    def page(name: str = Form("nobody")):
        return {"name": name, "form": list(request.get_form().keys())}

    client = make_client(app)
    assert client.get("/page").json() == {"name": "nobody", "form": []}
    assert client.post("/page", data={"name": "ann"}).json()["name"] == "ann"
    empty = client.post("/page", content=b"")
    assert empty.json() == {"name": "nobody", "form": []}
    typeless = client.post("/page", content=b"name=ann")
    assert typeless.status_code == 415  # a body of no declared type
