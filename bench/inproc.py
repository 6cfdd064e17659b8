"""In-process framework overhead: the app called through ASGI or WSGI, no server.

Two measures per target and endpoint:

- microseconds per request (median of several timed batches), and
- CPU instructions per request, counted by ``valgrind --tool=callgrind`` as the
  difference between two runs of the same script with different request counts,
  so start-up and imports cancel out. Instruction counts do not depend on what else
  the machine is doing.

Usage (from the repository root, with the interpreter that has the frameworks)::

    python bench/inproc.py                       # every target that imports
    python bench/inproc.py --only kettle_asgi,raw_asgi --endpoints json
    python bench/inproc.py --no-callgrind        # timings only
    python bench/inproc.py --only fastapi_app,litestar_app --endpoints typed

A target is a module of ``bench/apps`` exposing an ASGI ``app`` or a WSGI ``wsgi``
(``mw_`` and ``typed_`` variants for the middleware and typed endpoints). The typed
endpoint (``POST`` with a JSON body) is served by Kettle, FastAPI and Litestar only;
its answer is checked against the expected JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import io
import json
import os
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any
from typing import NamedTuple

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

# target name -> interface; the module is bench.apps.<name>
TARGETS: dict[str, str] = {
    "raw_asgi": "asgi",
    "raw_wsgi": "wsgi",
    "kettle_asgi": "asgi",
    "kettle_wsgi": "wsgi",
    "falcon_asgi": "asgi",
    "falcon_wsgi": "wsgi",
    "blacksheep_app": "asgi",
    "starlette_app": "asgi",
    "litestar_app": "asgi",
    "fastapi_app": "asgi",
    "flask_app": "wsgi",
    "django_app": "wsgi",
}


class Endpoint(NamedTuple):
    path: str
    query: str = ""
    variant: str = ""  # the app attribute's prefix: "" (app), "mw_", "typed_"
    method: str = "GET"
    body: bytes = b""  # the request body, sent as JSON
    targets: frozenset[str] | None = None  # the targets that serve it; None: all
    expect: Any = None  # the answer's parsed JSON, when checked

    def serves(self, name: str) -> bool:
        return self.targets is None or name in self.targets


ENDPOINTS: dict[str, Endpoint] = {
    "plaintext": Endpoint("/plaintext"),
    "json": Endpoint("/json"),
    "param": Endpoint("/items/42"),
    "query": Endpoint("/query", "page=2&size=10&q=tea"),
    "middleware": Endpoint("/mw/plaintext", variant="mw_"),
    "typed": Endpoint(
        "/typed/42",
        "q=tea&limit=5",
        variant="typed_",
        method="POST",
        body=b'{"name":"kettle","price":2.5,"tags":["a","b"]}',
        targets=frozenset(
            {"kettle_asgi", "kettle_wsgi", "fastapi_app", "litestar_app"}
        ),
        expect={"id": 42, "q": "tea", "limit": 5, "name": "kettle", "total": 12.5},
    ),
}

HEADERS = [
    (b"host", b"127.0.0.1:8000"),
    (b"user-agent", b"wrk"),
    (b"accept", b"*/*"),
    (b"origin", b"https://example.com"),
    (b"accept-encoding", b"gzip"),
]


def load(name: str, prefix: str = "") -> Callable[..., Any]:
    """Import ``bench.apps.<name>`` and return its ASGI or WSGI callable.

    With ``prefix`` ``"mw_"``, the module's ``mw_*`` variant (the app behind the
    middleware stack; Django's lives in ``bench.apps.django_mw``); with
    ``"typed_"``, the app that also serves the typed endpoint.
    """
    if prefix == "mw_" and name == "django_app":
        name = "django_mw"
    module = importlib.import_module(f"bench.apps.{name}")
    if TARGETS.get(name, "wsgi") == "wsgi":
        found = getattr(module, prefix + "wsgi", None) or getattr(
            module, prefix + "app"
        )
    else:
        found = getattr(module, prefix + "app")
    return found  # type: ignore[no-any-return]


# -- drivers -------------------------------------------------------------------------


def _body_headers(ep: Endpoint) -> list[tuple[bytes, bytes]]:
    if not ep.body:
        return []
    return [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(ep.body)).encode()),
    ]


def _check(ep: Endpoint, status: str, body: bytes) -> None:
    """Stop unless the last answer was a 200 (with the expected JSON, if any)."""
    if not status.startswith("200"):
        raise SystemExit(f"{ep.method} {ep.path}: status {status}")
    if ep.expect is not None:
        try:
            found = json.loads(body)
        except ValueError:
            found = body
        if found != ep.expect:
            raise SystemExit(f"{ep.method} {ep.path}: answered {body[:200]!r}")


def asgi_runner(app: Any, ep: Endpoint) -> Callable[[int], None]:
    """A function that makes ``n`` in-process ASGI requests."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": ep.method,
        "scheme": "http",
        "path": ep.path,
        "raw_path": ep.path.encode(),
        "root_path": "",
        "query_string": ep.query.encode(),
        "headers": HEADERS + _body_headers(ep),
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 50000),
        "extensions": {},
        "state": {},
    }
    request_message = {"type": "http.request", "body": ep.body, "more_body": False}
    status: list[int] = []
    body: list[bytes] = []  # the last answer's

    async def receive() -> dict[str, Any]:
        return request_message

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])
            body.clear()
        elif message["type"] == "http.response.body":
            body.append(message.get("body", b""))

    async def batch(n: int) -> None:
        for _ in range(n):
            await app(dict(scope), receive, send)

    loop = asyncio.new_event_loop()

    async def lifespan() -> None:
        messages = [{"type": "lifespan.startup"}]

        async def lreceive() -> dict[str, Any]:
            if messages:
                return messages.pop()
            await asyncio.sleep(3600)
            return {}

        async def lsend(message: dict[str, Any]) -> None:
            pass

        task = loop.create_task(
            app(
                {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}},
                lreceive,
                lsend,
            )
        )
        await asyncio.sleep(0.05)
        task.cancel()

    try:
        loop.run_until_complete(lifespan())
    except BaseException:
        pass

    def run(n: int) -> None:
        status.clear()
        loop.run_until_complete(batch(n))
        if status:
            _check(ep, str(status[-1]), b"".join(body))

    return run


def wsgi_runner(app: Any, ep: Endpoint) -> Callable[[int], None]:
    """A function that makes ``n`` in-process WSGI requests."""
    base = {
        "REQUEST_METHOD": ep.method,
        "SCRIPT_NAME": "",
        "PATH_INFO": ep.path,
        "QUERY_STRING": ep.query,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    for name, value in HEADERS:
        base["HTTP_" + name.decode().upper().replace("-", "_")] = value.decode()
    if ep.body:
        base["CONTENT_TYPE"] = "application/json"
        base["CONTENT_LENGTH"] = str(len(ep.body))
    status: list[str] = []
    last: list[bytes] = []  # the last answer's body

    def start_response(line: str, headers: Any, exc_info: Any = None) -> None:
        status.append(line)

    def run(n: int) -> None:
        status.clear()
        for _ in range(n):
            environ = dict(base)
            environ["wsgi.input"] = io.BytesIO(ep.body)
            body = app(environ, start_response)
            try:
                last[:] = body
            finally:
                close = getattr(body, "close", None)
                if close is not None:
                    close()
        if status:
            _check(ep, status[-1], b"".join(last))

    return run


def runner(name: str, endpoint: str) -> Callable[[int], None]:
    """The request driver for one target and endpoint."""
    ep = ENDPOINTS[endpoint]
    app = load(name, ep.variant)
    make = asgi_runner if TARGETS[name] == "asgi" else wsgi_runner
    return make(app, ep)


# -- measures ------------------------------------------------------------------------


def time_per_request(
    run: Callable[[int], None], batch: int = 2000, repeats: int = 7
) -> float:
    """Median microseconds per request over ``repeats`` batches (after a warm-up)."""
    run(500)
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        run(batch)
        samples.append((time.perf_counter() - start) / batch * 1e6)
    return statistics.median(samples)


_COLLECTED = re.compile(r"Collected\s*:\s*(\d+)")


def _callgrind(name: str, endpoint: str, count: int) -> int:
    command = [
        "valgrind",
        "--tool=callgrind",
        "--callgrind-out-file=/dev/null",
        sys.executable,
        os.path.abspath(__file__),
        "--child",
        name,
        endpoint,
        str(count),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=900)
    found = _COLLECTED.search(result.stderr)
    if result.returncode != 0 or found is None:
        raise RuntimeError(
            f"callgrind failed for {name} {endpoint}:\n{result.stderr[-2000:]}"
        )
    return int(found.group(1))


def instructions_per_request(
    name: str, endpoint: str, low: int = 200, high: int = 1200
) -> float:
    """Instructions per request: (I(high) - I(low)) / (high - low), both warmed up."""
    return (_callgrind(name, endpoint, high) - _callgrind(name, endpoint, low)) / (
        high - low
    )


def child(name: str, endpoint: str, count: int) -> None:
    """Run under callgrind: warm up, then make ``count`` requests."""
    run = runner(name, endpoint)
    run(100)
    run(count)


def available(names: list[str]) -> list[str]:
    """The targets whose frameworks import in this interpreter."""
    found = []
    for name in names:
        try:
            load(name)
        except ImportError as exc:
            print(f"skip {name}: {exc}", file=sys.stderr)
            continue
        found.append(name)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", help="comma-separated targets")
    parser.add_argument("--endpoints", help="comma-separated endpoints")
    parser.add_argument("--no-callgrind", action="store_true")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1], int(args.child[2]))
        return
    names = available(args.only.split(",") if args.only else list(TARGETS))
    endpoints = args.endpoints.split(",") if args.endpoints else list(ENDPOINTS)
    header = (
        "| target | "
        + " | ".join(
            f"{e} µs" + ("" if args.no_callgrind else f" | {e} instr")
            for e in endpoints
        )
        + " |"
    )
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for name in names:
        cells = []
        for endpoint in endpoints:
            if not ENDPOINTS[endpoint].serves(name):  # not served by this target
                cells += ["—"] * (1 if args.no_callgrind else 2)
                continue
            try:
                micro = time_per_request(runner(name, endpoint))
                cells.append(f"{micro:.1f}")
                if not args.no_callgrind:
                    cells.append(f"{instructions_per_request(name, endpoint):,.0f}")
            except (SystemExit, Exception) as exc:
                cells.append(f"error: {exc}"[:40])
                if not args.no_callgrind:
                    cells.append("")
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
