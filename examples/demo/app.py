"""The Kettle demo: one file showing most of the core.

Run it from this folder with ``kettle run`` (or ``./scripts/demo`` from the
repository root) and open http://127.0.0.1:8000/.

- an HTML home page, a theme and a visit counter kept in cookies
- a JSON API for notes (a blueprint with a class-based view): path and query
  parameters, 201/204 answers, 400/415/422 for bad input, 404 as JSON
- a form with a file upload that reports the file's size
- a WebSocket echo page and a server-sent-events clock
- error handlers by status code and by exception class
"""

from __future__ import annotations

import asyncio
import hashlib
import html
import threading
from datetime import UTC
from datetime import datetime
from typing import Any

from kettle import Blueprint
from kettle import EventSourceResponse
from kettle import HTMLResponse
from kettle import Kettle
from kettle import Request
from kettle import ServerSentEvent
from kettle import UploadFile
from kettle import View
from kettle import WebSocket
from kettle import abort
from kettle import redirect
from kettle import request
from kettle import url_for

app = Kettle()

THEMES = {"light": ("#fdfdfb", "#1d1d1b"), "dark": ("#1d1f21", "#e8e6e3")}


def page(title: str, body: str, status: int = 200) -> HTMLResponse:
    """Wrap ``body`` (trusted HTML) in the demo's layout."""
    background, color = THEMES.get(request.cookies.get("theme", ""), THEMES["light"])
    return HTMLResponse(
        f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)} · Kettle demo</title>
<style>
body {{ font: 16px/1.5 system-ui, sans-serif; max-width: 46rem; margin: 2rem auto;
       padding: 0 1rem; background: {background}; color: {color}; }}
a {{ color: #2a7ab0; }} code, pre {{ background: rgba(127,127,127,.15); padding: 0 .2em; }}
nav a {{ margin-right: 1em; }} #log {{ min-height: 6em; white-space: pre-wrap; }}
</style></head>
<body><nav><a href="{url_for("home")}">Home</a>
<a href="{url_for("upload_form")}">Upload</a>
<a href="{url_for("echo_page")}">WebSocket</a>
<a href="{url_for("clock_page")}">Clock</a>
<a href="{url_for("api.list_notes")}">API</a></nav>
<h1>{html.escape(title)}</h1>
{body}
</body></html>
""",
        status_code=status,
    )


# -- the home page, and cookies --------------------------------------------------------


@app.get("/")
def home():
    try:
        visits = int(request.cookies.get("visits", "0")) + 1
    except ValueError:
        visits = 1
    links = [
        (url_for("api.list_notes"), "JSON API: list notes", "GET /api/notes?q=&limit="),
        (url_for("api.note", note_id=1), "JSON API: one note", "a class-based view"),
        (
            url_for("api.divide", a=1, b=0),
            "An error handler",
            "ZeroDivisionError → 400",
        ),
        (url_for("upload_form"), "Upload a file", "a form POST with a file"),
        (url_for("echo_page"), "WebSocket echo", "a few lines of JavaScript"),
        (url_for("clock_page"), "Server-sent events", "a clock that ticks"),
        (url_for("set_theme", name="dark"), "Dark theme", "a cookie, then a redirect"),
        (url_for("set_theme", name="light"), "Light theme", "the same, back"),
        ("/no/such/page", "A missing page", "the custom 404 handler"),
    ]
    items = "\n".join(
        f'<li><a href="{html.escape(href)}">{html.escape(text)}</a>'
        f" — {html.escape(note)}</li>"
        for href, text, note in links
    )
    body = (
        f"<p>You have visited this page {visits} time{'s' if visits != 1 else ''} "
        "(counted in a cookie).</p>\n"
        f"<ul>\n{items}\n</ul>\n"
        '<p>Try the API with curl: <code>curl -X POST -H "content-type: '
        'application/json" -d \'{"text": "buy tea"}\' '
        "http://127.0.0.1:8000/api/notes</code></p>"
    )
    response = page("Welcome", body)
    response.set_cookie("visits", str(visits), max_age=365 * 24 * 3600)
    return response


@app.get("/theme/{name}")
def set_theme(name: str):
    if name not in THEMES:
        abort(404, f"There is no {name!r} theme.")
    response = redirect("home", 303)
    response.set_cookie("theme", name, max_age=365 * 24 * 3600)
    return response


# -- the notes API: a blueprint with a class-based view --------------------------------


class NoteStore:
    """Notes kept in memory; sync handlers run in threads, hence the lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._notes: dict[int, dict[str, Any]] = {}
        self._next_id = 1

    def add(self, text: str, tags: list[str]) -> dict[str, Any]:
        with self._lock:
            note = {
                "id": self._next_id,
                "text": text,
                "tags": tags,
                "created": datetime.now(UTC).isoformat(timespec="seconds"),
            }
            self._notes[self._next_id] = note
            self._next_id += 1
            return note

    def get(self, note_id: int) -> dict[str, Any] | None:
        with self._lock:
            return self._notes.get(note_id)

    def update(self, note_id: int, text: str) -> dict[str, Any] | None:
        with self._lock:
            note = self._notes.get(note_id)
            if note is not None:
                note["text"] = text
            return note

    def delete(self, note_id: int) -> bool:
        with self._lock:
            return self._notes.pop(note_id, None) is not None

    def search(self, q: str, tag: str | None, limit: int) -> list[dict[str, Any]]:
        with self._lock:
            notes = list(self._notes.values())
        found = [
            n
            for n in notes
            if q.lower() in n["text"].lower() and (tag is None or tag in n["tags"])
        ]
        return found[:limit]


notes = NoteStore()
notes.add("Welcome to the Kettle demo.", ["hello"])
api = Blueprint("api", url_prefix="/api")


def validate_note(data: Any, partial: bool = False) -> tuple[str, list[str]]:
    """Check a note's JSON; abort with a 422 listing every problem."""
    errors: list[dict[str, Any]] = []
    if not isinstance(data, dict):
        abort(
            422,
            [
                {
                    "loc": ["body"],
                    "msg": "Input should be an object",
                    "type": "dict_type",
                }
            ],
        )
    text = data.get("text")
    if text is None:
        errors.append(
            {"loc": ["body", "text"], "msg": "Field required", "type": "missing"}
        )
    elif not isinstance(text, str):
        errors.append(
            {
                "loc": ["body", "text"],
                "msg": "Input should be a valid string",
                "type": "string_type",
            }
        )
    elif not 1 <= len(text.strip()) <= 500:
        errors.append(
            {
                "loc": ["body", "text"],
                "msg": "Text should have 1 to 500 characters",
                "type": "string_length",
            }
        )
    tags = data.get("tags", [])
    if not partial and not (
        isinstance(tags, list) and all(isinstance(t, str) for t in tags)
    ):
        errors.append(
            {
                "loc": ["body", "tags"],
                "msg": "Input should be a list of strings",
                "type": "list_type",
            }
        )
    if errors:
        abort(422, errors)
    return str(text).strip(), list(tags) if isinstance(tags, list) else []


@api.get("/notes")
def list_notes(q: str = "", tag: str | None = None, limit: int = 20):
    if not 1 <= limit <= 100:
        abort(
            422,
            [
                {
                    "loc": ["query", "limit"],
                    "msg": "Input should be between 1 and 100",
                    "type": "range",
                    "input": limit,
                }
            ],
        )
    found = notes.search(q, tag, limit)
    return {"count": len(found), "notes": found}


@api.post("/notes")
async def create_note(request: Request):
    data = await request.json()  # 415 if not JSON, 400 if malformed
    text, tags = validate_note(data)
    note = notes.add(text, tags)
    return note, 201, {"location": url_for(".note", note_id=note["id"])}


class NoteView(View):
    """``/api/notes/{note_id}``: one note. Methods it lacks get 405."""

    def get(self, note_id: int):
        note = notes.get(note_id)
        if note is None:
            abort(404, f"Note {note_id} does not exist.")
        return note

    async def patch(self, note_id: int, request: Request):
        text, _ = validate_note(await request.json(), partial=True)
        note = notes.update(note_id, text)
        if note is None:
            abort(404, f"Note {note_id} does not exist.")
        return note

    def delete(self, note_id: int):
        if not notes.delete(note_id):
            abort(404, f"Note {note_id} does not exist.")
        return None  # 204 No Content


api.add_route("/notes/{note_id:int}", NoteView, name="note")


@api.get("/divide")
def divide(a: float, b: float):
    return {"result": a / b}  # b=0 -> ZeroDivisionError -> the handler below


@api.errorhandler(404)
def api_not_found(exc):
    return {"detail": exc.detail}, 404  # JSON, even for browsers


app.register_blueprint(api)


# -- a form with a file upload ---------------------------------------------------------


@app.get("/upload")
def upload_form():
    return page(
        "Upload a file",
        f"""<form method="post" action="{url_for("upload")}" enctype="multipart/form-data">
<p><label>Description <input name="description" maxlength="200"></label></p>
<p><input type="file" name="file" required></p>
<p><button>Upload</button></p>
</form>
<p>Files up to {app.config["MAX_UPLOAD_SIZE"] // (1024 * 1024)} MiB are accepted.</p>""",
    )


@app.post("/upload")
async def upload(request: Request):
    form = await request.form()
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return page("Upload a file", "<p>Please choose a file.</p>", status=400)
    digest = hashlib.sha256()
    while chunk := await upload.read(64 * 1024):
        digest.update(chunk)
    description = str(form.get("description") or "")
    return page(
        "Upload received",
        f"""<dl>
<dt>File</dt><dd>{html.escape(upload.filename)}</dd>
<dt>Type</dt><dd>{html.escape(upload.content_type)}</dd>
<dt>Size</dt><dd id="size">{upload.size} bytes</dd>
<dt>SHA-256</dt><dd><code>{digest.hexdigest()}</code></dd>
<dt>Description</dt><dd>{html.escape(description) or "<em>none</em>"}</dd>
</dl>
<p><a href="{url_for("upload_form")}">Upload another</a></p>""",
    )


# -- WebSocket echo --------------------------------------------------------------------


@app.get("/echo")
def echo_page():
    return page(
        "WebSocket echo",
        f"""<form id="form"><input id="msg" autocomplete="off" placeholder="Say something">
<button>Send</button></form>
<pre id="log"></pre>
<script>
const log = (line) => document.getElementById("log").append(line + "\\n");
const scheme = location.protocol === "https:" ? "wss://" : "ws://";
const ws = new WebSocket(scheme + location.host + "{url_for("echo")}");
ws.onopen = () => log("connected");
ws.onmessage = (event) => log("← " + event.data);
ws.onclose = (event) => log("closed (" + event.code + ")");
document.getElementById("form").onsubmit = (event) => {{
  event.preventDefault();
  const input = document.getElementById("msg");
  ws.send(input.value); log("→ " + input.value); input.value = "";
}};
</script>""",
    )


@app.websocket("/ws/echo")
async def echo(ws: WebSocket):
    await ws.accept()
    await ws.send_text("Hello! I repeat what you say.")
    async for message in ws:
        await ws.send_text(message if isinstance(message, str) else message.hex())


# -- server-sent events ----------------------------------------------------------------


@app.get("/clock")
def clock_page():
    return page(
        "Server-sent events",
        f"""<p>The server sends the time every second: <strong id="now">…</strong></p>
<script>
const source = new EventSource("{url_for("clock_events")}");
source.addEventListener("tick", (event) => {{
  document.getElementById("now").textContent = JSON.parse(event.data).time;
}});
</script>""",
    )


@app.get("/clock/events")
async def clock_events(ticks: int = 0, interval: float = 1.0):
    """Tick ``ticks`` times (0: until the client leaves), every ``interval`` s."""
    if ticks < 0 or not 0 <= interval <= 60:
        abort(422, "ticks must be >= 0 and interval from 0 to 60 seconds")

    async def events():
        count = 0
        while ticks == 0 or count < ticks:
            count += 1
            now = datetime.now(UTC).isoformat(timespec="seconds")
            yield ServerSentEvent(data={"time": now}, event="tick", id=str(count))
            if ticks == 0 or count < ticks:
                await asyncio.sleep(interval)

    return EventSourceResponse(events())


# -- error handlers --------------------------------------------------------------------


@app.errorhandler(ZeroDivisionError)
def division_by_zero(exc):
    return {"detail": "Division by zero: b must not be 0."}, 400


@app.errorhandler(404)
def not_found(exc):
    if "text/html" not in request.headers.get("accept", ""):
        return {"detail": exc.detail}, 404
    return page(
        "Not found",
        f"<p>{html.escape(str(exc.detail))}</p>"
        f'<p><a href="{url_for("home")}">Back to the home page</a></p>',
        status=404,
    )


@app.errorhandler(500)
def server_error(exc):
    # A 500 handler receives the unhandled exception itself (Kettle has logged it).
    return page("Something went wrong", "<p>The error was logged.</p>", status=500)
