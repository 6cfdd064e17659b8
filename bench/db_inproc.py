"""In-process cost of the database suite's requests: no server, no HTTP sockets,
only the app, its ORM and its driver talking to a real PostgreSQL.

Two measures per target and test, as ``bench/inproc.py`` does for the HTTP suite:

- CPU microseconds per request of this process (``time.process_time``, median of
  five batches; PostgreSQL's own time is not in it), and
- CPU instructions per request, counted by ``valgrind --tool=callgrind`` as the
  difference between two runs with different request counts (start-up cancels
  out; the counts do not depend on what else the machine is doing).

Besides the apps of ``bench/run.py --suite db``, two layers of SQLAlchemy alone
show what is left when the framework is taken away (``db`` only, no HTTP):
``sqlalchemy-orm`` (``Session(engine).get(World, id)`` on a plain autocommit engine,
then close) and ``sqlalchemy-core`` (``engine.connect()`` and a Core ``select``).

Usage, from the repository root, with the peers' interpreter::

    bench/.venv-peers/bin/python bench/db_inproc.py                  # everything
    bench/.venv-peers/bin/python bench/db_inproc.py --only kettle-sync,django \\
        --endpoints db --no-callgrind

It starts its own PostgreSQL (``bench/run.py``'s, pinned to CPU 1) unless
``--url postgresql://...`` names a database holding TechEmpower's tables.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import random
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

#: target -> (interface, module:attribute); "layer" targets are built below.
TARGETS = {
    "kettle-sync": ("wsgi", "bench.apps.tfb_kettle:wsgi"),
    "kettle-async": ("asgi", "bench.apps.tfb_kettle_async:app"),
    "django": ("wsgi", "bench.apps.tfb_django.wsgi:app"),
    "flask": ("wsgi", "bench.apps.tfb_flask:app"),
    "raw-psycopg": ("wsgi", "bench.apps.tfb_raw_wsgi:app"),
    "raw-asyncpg": ("asgi", "bench.apps.tfb_raw_asgi:app"),
    "sqlalchemy-orm": ("layer", ""),
    "sqlalchemy-core": ("layer", ""),
}
ENDPOINTS = {  # name -> (path, query string)
    "db": ("/db", ""),
    "queries": ("/queries", "queries=20"),
    "fortunes": ("/fortunes", ""),
    "updates": ("/updates", "queries=20"),
}
Runner = Callable[[int], None]


def _status(
    status: str, headers: list[tuple[str, str]], exc_info: object = None
) -> None:
    if not status.startswith("200"):
        raise RuntimeError(f"answered {status}")


def wsgi_runner(app: Callable[..., object], path: str, query: str) -> Runner:
    base = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "HTTP_HOST": "127.0.0.1:8000",
    }

    def run(n: int) -> None:
        for _ in range(n):
            environ = dict(base)
            environ["wsgi.input"] = io.BytesIO(b"")
            body = app(environ, _status)
            b"".join(body)  # type: ignore[arg-type]
            close = getattr(body, "close", None)
            if close is not None:
                close()

    return run


def asgi_runner(app: Callable[..., object], path: str, query: str) -> Runner:
    import uvloop

    runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)  # one loop: one pool
    base = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1:8000")],
        "client": ("127.0.0.1", 1234),
        "server": ("127.0.0.1", 8000),
    }

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, object]) -> None:
        if message["type"] == "http.response.start" and message["status"] != 200:
            raise RuntimeError(f"answered {message['status']}")

    async def many(n: int) -> None:
        for _ in range(n):
            await app(dict(base), receive, send)  # type: ignore[operator]

    def run(n: int) -> None:
        runner.run(many(n))

    return run


def layer_runner(name: str, url: str) -> Runner:
    from bench.apps.tfb_kettle_models import World
    from sqlalchemy import bindparam
    from sqlalchemy import create_engine
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    engine = create_engine(
        url.replace("postgresql://", "postgresql+psycopg://", 1),
        isolation_level="AUTOCOMMIT",
    )
    table = World.__table__
    core = select(table.c.id, table.c.randomnumber).where(table.c.id == bindparam("id"))

    def orm(n: int) -> None:
        for _ in range(n):
            with Session(engine) as session:
                session.get(World, random.randint(1, 10000))

    def core_select(n: int) -> None:
        for _ in range(n):
            with engine.connect() as conn:
                conn.execute(core, {"id": random.randint(1, 10000)}).one()

    return orm if name == "sqlalchemy-orm" else core_select


def runner(name: str, endpoint: str, url: str) -> Runner:
    os.environ.update(
        DATABASE_URL=url,
        KETTLE_DATABASE_URL=url,
        DB_POOL_SIZE="2",
        DJANGO_SETTINGS_MODULE="bench.apps.tfb_django.settings",
    )
    interface, where = TARGETS[name]
    if interface == "layer":
        return layer_runner(name, url)
    module, _, attr = where.partition(":")
    app = getattr(__import__(module, fromlist=[attr]), attr)
    path, query = ENDPOINTS[endpoint]
    make = wsgi_runner if interface == "wsgi" else asgi_runner
    return make(app, path, query)


def serves(name: str, endpoint: str) -> bool:
    return TARGETS[name][0] != "layer" or endpoint == "db"


def cpu_us(run: Runner, count: int) -> float:
    """CPU microseconds of this process per request: median of five batches."""
    run(max(count // 10, 20))  # warm up: imports, pools, caches, prepared statements
    batch = max(count // 5, 1)
    times = []
    for _ in range(5):
        t0 = time.process_time()
        run(batch)
        times.append((time.process_time() - t0) / batch * 1e6)
    return statistics.median(times)


_COLLECTED = re.compile(r"Collected\s*:\s*(\d+)")


def _callgrind(name: str, endpoint: str, count: int, url: str) -> int:
    command = [
        "valgrind",
        "--tool=callgrind",
        "--callgrind-out-file=/dev/null",
        sys.executable,
        os.path.abspath(__file__),
        "--url",
        url,
        "--child",
        name,
        endpoint,
        str(count),
    ]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=1800, check=False
    )
    found = _COLLECTED.search(result.stderr)
    if result.returncode != 0 or found is None:
        raise RuntimeError(
            f"callgrind failed for {name} {endpoint}:\n{result.stderr[-2000:]}"
        )
    return int(found.group(1))


def instructions(name: str, endpoint: str, url: str, low: int, high: int) -> float:
    """Instructions per request: (I(high) - I(low)) / (high - low), both warmed up."""
    return (
        _callgrind(name, endpoint, high, url) - _callgrind(name, endpoint, low, url)
    ) / (high - low)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default=",".join(TARGETS))
    parser.add_argument("--endpoints", default=",".join(ENDPOINTS))
    parser.add_argument("--count", type=int, default=2000, help="requests timed")
    parser.add_argument("--no-callgrind", action="store_true")
    parser.add_argument("--url", help="a PostgreSQL database with the TFB tables")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:  # under callgrind: warm up, then make COUNT requests
        name, endpoint, count = args.child
        run = runner(name, endpoint, args.url)
        run(50)
        run(int(count))
        return
    names = [n for n in args.only.split(",") if n]
    endpoints = [e for e in args.endpoints.split(",") if e]
    for n in names:
        if n not in TARGETS:
            parser.error(f"unknown target {n!r} (known: {', '.join(TARGETS)})")
    for e in endpoints:
        if e not in ENDPOINTS:
            parser.error(f"unknown endpoint {e!r} (known: {', '.join(ENDPOINTS)})")
    database = None
    url = args.url
    if url is None:
        sys.path.insert(0, BENCH)
        import run as bench_run  # the suite's PostgreSQL: started, loaded, pinned

        print("starting PostgreSQL...", file=sys.stderr, flush=True)
        database = bench_run.BenchDatabase(bench_run.CLIENT_CPU)
        url = database.url
    try:
        head = ["target"]
        for e in endpoints:
            head += [f"{e} µs"] if args.no_callgrind else [f"{e} µs", f"{e} instr"]
        print("| " + " | ".join(head) + " |")
        print("|" + "|".join([" --- "] + [" ---: "] * (len(head) - 1)) + "|")
        for name in names:
            cells = [f"`{name}`"]
            for endpoint in endpoints:
                if not serves(name, endpoint):
                    cells += ["—"] * (1 if args.no_callgrind else 2)
                    continue
                # few requests for the 20-query tests: each is 20 round trips
                many = endpoint in ("queries", "updates")
                count = args.count // 10 if many else args.count
                code = (
                    "import sys; sys.argv[1:] = []; "
                    f"sys.path.insert(0, {BENCH!r}); import db_inproc as m; "
                    f"print(m.cpu_us(m.runner({name!r}, {endpoint!r}, {url!r}),"
                    f" {count}))"
                )
                out = subprocess.run(  # a fresh process per cell: no shared pools
                    [sys.executable, "-c", code],
                    capture_output=True,
                    text=True,
                    timeout=1800,
                    check=False,
                )
                if out.returncode != 0:
                    raise RuntimeError(f"{name} {endpoint}:\n{out.stderr[-2000:]}")
                cells.append(f"{float(out.stdout.strip()):,.0f}")
                if not args.no_callgrind:
                    low, high = (20, 100) if many else (100, 500)
                    instr = instructions(name, endpoint, url, low, high)
                    cells.append(f"{instr / 1000:,.0f}k")
            print("| " + " | ".join(cells) + " |", flush=True)
    finally:
        if database is not None:
            database.stop()


if __name__ == "__main__":
    main()
