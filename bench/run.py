#!/usr/bin/env python3
"""Kettle's HTTP benchmark: Kettle, the peers and the raw callables, side by side.

One command (see bench/README.md)::

    python bench/run.py [--rounds 3] [--duration 5] [--connections 64]
                        [--only kettle,falcon] [--endpoints plaintext,json]
                        [--servers granian,uvicorn]
    python bench/run.py --suite db [--pool 16] ...

It installs wrk (Debian package) if missing, creates or reuses bench/.venv-peers with
Kettle (editable, from this repository) and the peers, then, round after round, starts
every target under the same server settings (one worker, pinned to CPU 0), checks each
endpoint's answer once, loads it with wrk pinned to CPU 1, and prints one markdown
table (also written to bench/results/<date>.md).

``--suite db`` runs TechEmpower's database tests (single query, multiple queries,
fortunes, updates) instead, on a throw-away PostgreSQL this script starts (with
tests/dbservers.py), loads with ../shared/bench/tfb-postgres.sql and stops at the end.

Only the standard library is used here; the apps run in the peers' virtualenv.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import html
import http.client
import json
import os
import platform
import re
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
VENV = BENCH / ".venv-peers"
VBIN = VENV / "bin"
RESULTS = BENCH / "results"

PEERS = ["flask", "django", "fastapi", "starlette", "litestar", "blacksheep", "falcon"]
SERVER_PKGS = ["granian", "uvicorn[standard]", "orjson"]
#: What the database suite's apps need besides Kettle's own ``postgresql`` extra.
DB_PKGS = [
    "flask-sqlalchemy",
    "psycopg[binary]",
    "asyncpg",
    "sqlalchemy[asyncio]",
    "jinja2",
]
#: Packages whose versions go into the report.
VERSIONED = [
    "kettle",
    *PEERS,
    "granian",
    "uvicorn",
    "uvloop",
    "httptools",
    "orjson",
    "pydantic",
    "msgspec",
    "werkzeug",
]
DB_VERSIONED = [
    "kettle",
    "django",
    "flask",
    "flask-sqlalchemy",
    "sqlalchemy",
    "psycopg",
    "psycopg-binary",
    "asyncpg",
    "jinja2",
    "granian",
    "uvloop",
    "orjson",
]

SERVER_CPU = "0"
CLIENT_CPU = "1"
HOST = "127.0.0.1"
CORS_ORIGIN = "https://example.com"

START_TIMEOUT = 30.0  # s for a server to open its port
STOP_TIMEOUT = 10.0  # s for a server to exit after SIGTERM
HTTP_TIMEOUT = 10.0  # s for one verification request
WARMUP = 1  # s of wrk before measuring a freshly started server


# -- endpoints ------------------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    name: str
    path: str
    body: bytes  # the expected answer
    media_type: str  # the expected answer's content type
    app: str = "app"  # which of the target's apps serves it: app, mw_app, typed_app
    method: str = "GET"
    data: bytes = b""  # the request body, sent as JSON
    #: The frameworks (Target.framework) that serve it; None: every target.
    frameworks: frozenset[str] | None = None
    #: For answers that vary (database rows): ``(path, check)`` pairs requested
    #: once each when the endpoint is verified, ``check(body)`` returning its
    #: problems (an empty list when the answer is right). When given, ``body`` is
    #: not compared.
    checks: tuple[tuple[str, Callable[[bytes], list[str]]], ...] = ()

    @property
    def middleware(self) -> bool:
        return self.app == "mw_app"

    @property
    def headers(self) -> dict[str, str]:
        """Request headers: a cross-origin browser request for the middleware one,
        the content type of a request body."""
        headers = {}
        if self.middleware:
            headers.update({"Origin": CORS_ORIGIN, "Accept-Encoding": "gzip"})
        if self.data:
            headers["Content-Type"] = "application/json"
        return headers

    @property
    def request_line(self) -> str:
        return f"{self.method} {self.path}"

    def lua(self) -> str:
        """A wrk script sending this method and body (the headers go with -H)."""

        def string(value: bytes) -> str:  # a Lua literal (\ddd escapes are decimal)
            out = []
            for b in value:
                if b in b'"\\':
                    out.append("\\" + chr(b))
                elif 0x20 <= b < 0x7F:
                    out.append(chr(b))
                else:
                    out.append(f"\\{b:03d}")
            return '"' + "".join(out) + '"'

        return (
            f"wrk.method = {string(self.method.encode())}\n"
            f"wrk.body = {string(self.data)}\n"
        )


PLAIN = b"Hello, World!"
ENDPOINTS = {
    e.name: e
    for e in [
        Endpoint("plaintext", "/plaintext", PLAIN, "text/plain"),
        Endpoint("json", "/json", b'{"message":"Hello, World!"}', "application/json"),
        Endpoint("path", "/items/42", b'{"id":42}', "application/json"),
        Endpoint(
            "query",
            "/query?page=2&size=10&q=tea",
            b'{"page":2,"size":10,"q":"tea"}',
            "application/json",
        ),
        Endpoint("mw", "/mw/plaintext", PLAIN, "text/plain", app="mw_app"),
        Endpoint(
            "typed",
            "/typed/42?q=tea&limit=5",
            b'{"id":42,"q":"tea","limit":5,"name":"kettle","total":12.5}',
            "application/json",
            app="typed_app",
            method="POST",
            data=b'{"name":"kettle","price":2.5,"tags":["a","b"]}',
            frameworks=frozenset({"kettle", "fastapi", "litestar"}),
        ),
    ]
}


# -- targets --------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    framework: str  # what --only matches: raw, kettle, starlette, ...
    label: str  # e.g. "kettle-asgi"
    interface: str  # asgi | wsgi
    server: str  # granian | uvicorn
    app: str  # module:attribute of the app without middleware
    mw_app: str  # module:attribute of the app with the middleware stack
    typed_app: str  # module:attribute of the app with the typed endpoint, if served
    server_args: tuple[str, ...] = ()  # added to the server's command line

    @property
    def name(self) -> str:
        return f"{self.label}/{self.server}"

    def serves(self, ep: Endpoint) -> bool:
        return ep.frameworks is None or self.framework in ep.frameworks

    def app_for(self, ep: Endpoint) -> str:
        """The module:attribute of the app that serves ``ep``."""
        return str(getattr(self, ep.app))

    @property
    def baseline_raw(self) -> str:
        return f"raw-{self.interface}/{self.server}"

    @property
    def baseline_kettle(self) -> str:
        return f"kettle-{self.interface}/{self.server}"


def _m(
    module: str, attr: str = "app", mw_attr: str = "mw_app", typed: str = "typed_app"
) -> tuple[str, str, str]:
    where = f"bench.apps.{module}:"
    return where + attr, where + mw_attr, where + typed


ASGI_APPS = [  # framework, label, (app, mw_app, typed_app)
    ("raw", "raw-asgi", _m("raw_asgi")),
    ("kettle", "kettle-asgi", _m("kettle_asgi")),
    ("starlette", "starlette", _m("starlette_app")),
    ("fastapi", "fastapi", _m("fastapi_app")),
    ("litestar", "litestar", _m("litestar_app")),
    ("blacksheep", "blacksheep", _m("blacksheep_app")),
    ("falcon", "falcon-asgi", _m("falcon_asgi")),
]
WSGI_APPS = [
    ("raw", "raw-wsgi", _m("raw_wsgi")),
    ("kettle", "kettle-wsgi", _m("kettle_wsgi", "wsgi", "mw_wsgi", "typed_wsgi")),
    ("falcon", "falcon-wsgi", _m("falcon_wsgi")),
    ("flask", "flask", _m("flask_app")),
    (  # no typed_app: Django does not serve the typed endpoint
        "django",
        "django",
        ("bench.apps.django_app:app", "bench.apps.django_mw:mw_app", ""),
    ),
]
FRAMEWORKS = ["raw", "kettle", *PEERS]


def all_targets(servers: list[str]) -> list[Target]:
    targets = []
    for server in servers:
        for framework, label, apps in ASGI_APPS:
            targets.append(Target(framework, label, "asgi", server, *apps))
        if server == "granian":  # uvicorn's WSGI mode is deprecated: WSGI on granian
            for framework, label, apps in WSGI_APPS:
                targets.append(Target(framework, label, "wsgi", server, *apps))
    return targets


# -- helpers --------------------------------------------------------------------------


class BenchError(RuntimeError):
    """Something the bench cannot go on without: printed, then exit 1."""


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def run(
    cmd: list[str], timeout: float, **kw: object
) -> subprocess.CompletedProcess[str]:
    """Run ``cmd`` to completion within ``timeout`` seconds, capturing its output."""
    try:
        return subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout, check=False, **kw
        )
    except subprocess.TimeoutExpired as exc:
        raise BenchError(f"timed out after {timeout:.0f} s: {shlex.join(cmd)}") from exc


def check(cmd: list[str], timeout: float, what: str) -> str:
    proc = run(cmd, timeout)
    if proc.returncode != 0:
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-30:]
        raise BenchError(f"{what} failed ({proc.returncode}):\n" + "\n".join(tail))
    return proc.stdout


def ensure_tools() -> None:
    """wrk from Debian (installed when missing), taskset from util-linux."""
    if shutil.which("wrk") is None:
        log("== installing wrk (apt-get)")
        apt = ["apt-get"] if os.geteuid() == 0 else ["sudo", "-n", "apt-get"]
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for cmd in ([*apt, "update"], [*apt, "install", "-y", "wrk"]):
            proc = run(cmd, 900, env=env)
            if proc.returncode != 0:
                raise BenchError(
                    f"cannot install wrk: {shlex.join(cmd)} exited {proc.returncode}:\n"
                    + proc.stderr.strip()[-2000:]
                )
        if shutil.which("wrk") is None:
            raise BenchError("apt-get installed no 'wrk' on PATH")
    if shutil.which("taskset") is None:
        raise BenchError("taskset (util-linux) is needed to pin server and client")
    if (os.cpu_count() or 1) < 2:
        raise BenchError("two CPUs are needed: the server on one, wrk on the other")


def ensure_venv(install: bool) -> None:
    """Create or reuse bench/.venv-peers; install Kettle (editable) and the peers."""
    if not (VBIN / "python").exists():
        log(f"== creating {VENV.relative_to(ROOT)}")
        check([sys.executable, "-m", "venv", str(VENV)], 300, "python -m venv")
        install = True
    if install:
        log("== installing Kettle (editable) and the peers into the peers' venv")
        check(
            [
                str(VBIN / "python"),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "-e",
                f"{ROOT}[fast,postgresql]",
                *PEERS,
                *SERVER_PKGS,
                *DB_PKGS,
            ],
            1800,
            "pip install",
        )


def versions(names: list[str]) -> dict[str, str]:
    code = (
        "import json, sys, importlib.metadata as m\n"
        "out = {}\n"
        "for name in sys.argv[1:]:\n"
        "    try: out[name] = m.version(name)\n"
        "    except m.PackageNotFoundError: out[name] = '-'\n"
        "print(json.dumps(out))\n"
    )
    out = check([str(VBIN / "python"), "-c", code, *names], 60, "version query")
    return json.loads(out)


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def server_command(target: Target, app: str, port: int) -> list[str]:
    """The same settings for every target: one worker, the server's defaults else."""
    # granian takes the interface by name; uvicorn serves ASGI 3 only
    interface = target.interface if target.server == "granian" else "asgi3"
    cmd = [
        str(VBIN / target.server),
        "--interface",
        interface,
        "--host",
        HOST,
        "--port",
        str(port),
        "--workers",
        "1",
        "--no-access-log",
        "--log-level",
        "warning",
        *target.server_args,
        app,
    ]
    return ["taskset", "-c", SERVER_CPU, *cmd]


def server_env(port: int, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(
            ("GRANIAN_", "UVICORN_", "WEB_CONCURRENCY", "PYTHON", "KETTLE_", "PG")
        )
        and k not in ("VIRTUAL_ENV", "DJANGO_SETTINGS_MODULE", "DATABASE_URL")
    }
    env.update(
        PYTHONPATH=str(ROOT),
        PYTHONDONTWRITEBYTECODE="1",
        BENCH_PORT=str(port),
        VIRTUAL_ENV=str(VENV),
        PATH=f"{VBIN}{os.pathsep}{env.get('PATH', '')}",
    )
    env.update(extra or {})
    return env


class Server:
    """One server process for one app, started pinned and stopped by its PID."""

    def __init__(
        self,
        target: Target,
        app: str,
        log_dir: Path,
        env: dict[str, str] | None = None,
    ) -> None:
        self.target = target
        self.app = app
        self.extra_env = env or {}
        self.port = free_port()
        self.cmd = server_command(target, app, self.port)
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", f"{target.name}-{app}")
        self.log_path = log_dir / f"{safe}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Server:
        self.log_file = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            self.cmd,
            cwd=ROOT,
            env=server_env(self.port, self.extra_env),
            stdin=subprocess.DEVNULL,
            stdout=self.log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopped as one
        )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self._fail(f"exited with {self.proc.returncode} while starting")
            with contextlib.suppress(OSError):
                socket.create_connection((HOST, self.port), timeout=0.5).close()
                return self
            time.sleep(0.1)
        self._fail(f"did not open port {self.port} within {START_TIMEOUT:.0f} s")
        raise AssertionError("unreachable")

    def _fail(self, why: str) -> None:
        self.stop()
        tail = self.log_path.read_text(errors="replace").strip().splitlines()[-25:]
        raise BenchError(
            f"{self.target.name} ({self.app}) {why}: {shlex.join(self.cmd)}\n"
            + "\n".join(tail)
        )

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """SIGTERM the server's PID and wait; SIGKILL its process group if need be."""
        proc = self.proc
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                log(f"   ! {self.target.name}: no exit after SIGTERM, killing")
                # The group this script started (start_new_session), while its
                # leader is not yet reaped: the server and its worker processes.
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(STOP_TIMEOUT)
        if getattr(self, "log_file", None) is not None:
            self.log_file.close()
            self.log_file = None  # type: ignore[assignment]


def _rss_kib(pid: int) -> int:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _descendants(pid: int) -> list[int]:
    found: list[int] = []
    todo = [pid]
    while todo:
        parent = todo.pop()
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{parent}/task").iterdir():
                children = (task / "children").read_text().split()
                found += [int(c) for c in children]
                todo += [int(c) for c in children]
    return found


def worker_rss_mib(server: Server) -> float:
    """Resident memory of the server's worker process, in MiB.

    granian serves from a child process (its parent only supervises), uvicorn with
    one worker from its main process: the largest process of the tree is the
    worker. Measured after the endpoint checks (every lazy import done) and before
    any load.
    """
    assert server.proc is not None
    pids = [server.proc.pid, *_descendants(server.proc.pid)]
    return max(_rss_kib(p) for p in pids) / 1024


# -- checking and loading -------------------------------------------------------------


def fetch(
    port: int, ep: Endpoint, path: str | None = None
) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection(HOST, port, timeout=HTTP_TIMEOUT)
    try:
        conn.request(
            ep.method, path or ep.path, body=ep.data or None, headers=ep.headers
        )
        resp = conn.getresponse()
        headers = {k.lower(): v for k, v in resp.getheaders()}
        return resp.status, headers, resp.read()
    finally:
        conn.close()


def _same_json(a: bytes, b: bytes) -> bool:
    try:
        return bool(json.loads(a) == json.loads(b))
    except ValueError:
        return False


def verify(target: Target, port: int, ep: Endpoint) -> list[str]:
    """Fail unless ``ep`` answers 200 with the expected body; return notes."""
    if ep.checks:
        return verify_checks(target, port, ep)
    try:
        status, headers, body = fetch(port, ep)
    except OSError as exc:
        raise BenchError(
            f"{target.name} {ep.request_line}: request failed: {exc}"
        ) from exc
    media = headers.get("content-type", "").split(";")[0].strip().lower()
    notes = []
    problems = []
    if status != 200:
        problems.append(f"status {status}")
    if body != ep.body:
        if ep.media_type == "application/json" and _same_json(body, ep.body):
            notes.append(f"{ep.name}: same JSON, other bytes: {body!r}")
        else:
            problems.append(f"body {body[:200]!r}, expected {ep.body!r}")
    if media != ep.media_type:
        problems.append(f"content-type {headers.get('content-type')!r}")
    if problems:
        raise BenchError(f"{target.name} {ep.request_line}: " + "; ".join(problems))
    if ep.middleware:
        acao = headers.get("access-control-allow-origin")
        vary = headers.get("vary")
        notes.append(
            f"{ep.name}: access-control-allow-origin={acao or '-'}, vary={vary or '-'}"
        )
    return notes


def verify_checks(target: Target, port: int, ep: Endpoint) -> list[str]:
    """Fail unless every request of ``ep.checks`` answers 200 with the endpoint's
    content type and a body its check accepts; return notes."""
    notes = []
    for path, check_body in ep.checks:
        try:
            status, headers, body = fetch(port, ep, path)
        except OSError as exc:
            raise BenchError(
                f"{target.name} GET {path}: request failed: {exc}"
            ) from exc
        problems = [] if status == 200 else [f"status {status}"]
        media = headers.get("content-type", "").split(";")[0].strip().lower()
        if media != ep.media_type:
            problems.append(f"content-type {headers.get('content-type')!r}")
        if status == 200:
            problems += check_body(body)
        if problems:
            raise BenchError(
                f"{target.name} GET {path}: "
                + "; ".join(problems)
                + f"; body: {body[:300]!r}"
            )
        if path == ep.path:
            notes.append(
                f"{ep.name}: {len(body):,} bytes, content-type"
                f" {headers.get('content-type')!r}"
            )
    return notes


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if m is None:
        raise ValueError(text)
    return float(m.group(1)) * _UNITS[m.group(2)]


@dataclass
class Sample:
    rps: float
    p99_ms: float
    errors: int  # socket errors + non-2xx/3xx answers
    #: How busy the server's and the client's CPUs were during the run, in %.
    cpu: tuple[float, float] | None = None


def _cpu_times() -> dict[str, list[int]]:
    """Per-CPU jiffies from /proc/stat: ``{"0": [user, nice, system, idle, ...]}``."""
    out = {}
    with contextlib.suppress(OSError):
        for line in Path("/proc/stat").read_text().splitlines():
            name, *values = line.split()
            if name.startswith("cpu") and name != "cpu":
                out[name[3:]] = [int(v) for v in values[:8]]
    return out


def _busy(before: dict[str, list[int]], after: dict[str, list[int]], cpu: str) -> float:
    """The % of time ``cpu`` was not idle (idle and iowait) between two readings."""
    if cpu not in before or cpu not in after:
        return float("nan")
    delta = [b - a for a, b in zip(before[cpu], after[cpu], strict=True)]
    total = sum(delta)
    return 100.0 * (total - delta[3] - delta[4]) / total if total else float("nan")


def wrk(
    port: int,
    ep: Endpoint,
    duration: int,
    connections: int,
    timeout: str | None = None,
) -> Sample:
    cmd = [
        "taskset",
        "-c",
        CLIENT_CPU,
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{duration}s",
        "--latency",
        *(["--timeout", timeout] if timeout else []),
    ]
    for k, v in ep.headers.items():
        cmd += ["-H", f"{k}: {v}"]
    with tempfile.TemporaryDirectory(prefix="kettle-bench-") as tmp:
        if ep.method != "GET" or ep.data:  # wrk sends a method and body by script
            script = Path(tmp) / f"{ep.name}.lua"
            script.write_text(ep.lua())
            cmd += ["-s", str(script)]
        cmd.append(f"http://{HOST}:{port}{ep.path}")
        cpu0 = _cpu_times()
        out = check(cmd, duration + 60, "wrk")
        cpu1 = _cpu_times()
    cpu = (_busy(cpu0, cpu1, SERVER_CPU), _busy(cpu0, cpu1, CLIENT_CPU))
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", out, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
    try:
        if rps is None or p99 is None:
            raise ValueError("no Requests/sec or 99% line")
        p99_ms = _ms(p99.group(1))
    except ValueError:
        raise BenchError(f"cannot read wrk's output:\n{out}") from None
    errors = 0
    sock = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    if sock:
        errors += sum(int(x) for x in sock.groups())
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        errors += int(non2xx.group(1))
    return Sample(float(rps.group(1)), p99_ms, errors, cpu)


# -- the run --------------------------------------------------------------------------


@dataclass
class Results:
    samples: dict[tuple[str, str], list[Sample]] = field(default_factory=dict)
    notes: dict[str, list[str]] = field(default_factory=dict)
    memory: dict[str, list[float]] = field(default_factory=dict)  # idle worker MiB

    def add(self, target: Target, ep: Endpoint, sample: Sample) -> None:
        self.samples.setdefault((target.name, ep.name), []).append(sample)

    def median_rps(self, target: str, ep: str) -> float | None:
        s = self.samples.get((target, ep))
        return statistics.median(x.rps for x in s) if s else None

    def median_p99(self, target: str, ep: str) -> float | None:
        s = self.samples.get((target, ep))
        return statistics.median(x.p99_ms for x in s) if s else None

    def errors(self, target: str, ep: str) -> int:
        return sum(x.errors for x in self.samples.get((target, ep), []))

    def median_cpu(self, target: str, ep: str) -> tuple[float, float] | None:
        s = [x.cpu for x in self.samples.get((target, ep), []) if x.cpu]
        if not s:
            return None
        return statistics.median(c[0] for c in s), statistics.median(c[1] for c in s)


def bench_target(
    target: Target,
    endpoints: list[Endpoint],
    args: argparse.Namespace,
    results: Results,
    verified: set[str],
    log_dir: Path,
) -> None:
    groups: dict[str, list[Endpoint]] = {}  # one server per app
    for ep in endpoints:
        if target.serves(ep):
            groups.setdefault(target.app_for(ep), []).append(ep)
    for app, eps in groups.items():
        with Server(target, app, log_dir, args.app_env) as server:
            for ep in eps:  # one request each: checks once, warms the path always
                if target.name not in verified:
                    notes = verify(target, server.port, ep)
                    results.notes.setdefault(target.name, []).extend(notes)
                else:
                    with contextlib.suppress(OSError):
                        fetch(server.port, ep)
            if app == target.app:
                rss = worker_rss_mib(server)
                results.memory.setdefault(target.name, []).append(rss)
            wrk(server.port, eps[0], WARMUP, args.connections, args.wrk_timeout)
            for ep in eps:
                sample = wrk(
                    server.port, ep, args.duration, args.connections, args.wrk_timeout
                )
                results.add(target, ep, sample)
                flag = f"  ({sample.errors} errors)" if sample.errors else ""
                log(
                    f"   {target.name:28} {ep.name:10} {sample.rps:>10.0f} req/s"
                    f"  p99 {sample.p99_ms:7.2f} ms{flag}"
                )
    verified.add(target.name)


def _fmt_rps(v: float | None) -> str:
    return "-" if v is None else f"{v:,.0f}"


def _fmt_ratio(v: float | None, ref: float | None) -> str:
    return "-" if v is None or not ref else f"{v / ref:.2f}"


NOT_SERVED = "—"  # a table cell for an endpoint the target does not serve


def _has_raw(ep: Endpoint) -> bool:
    """Whether the raw callables serve ``ep`` (else it has no ×raw column)."""
    return ep.frameworks is None or "raw" in ep.frameworks


@dataclass(frozen=True)
class Ref:
    """A ratio column: req/s divided by the reference target's on the endpoint."""

    title: str  # e.g. "×raw"
    reference: Callable[[Target], str]  # the reference's Target.name
    applies: Callable[[Endpoint], bool] = lambda ep: True


HTTP_REFS = (
    Ref("×raw", lambda t: t.baseline_raw, _has_raw),
    Ref("×kettle", lambda t: t.baseline_kettle),
)


def table(
    targets: list[Target],
    endpoints: list[Endpoint],
    results: Results,
    refs: tuple[Ref, ...] = HTTP_REFS,
) -> str:
    head = ["target", "idle MiB"]
    for ep in endpoints:
        head += [f"{ep.name} req/s", "p99 ms"]
        head += [r.title for r in refs if r.applies(ep)]
    lines = [
        "| " + " | ".join(head) + " |",
        "|" + "|".join([" --- "] + [" ---: "] * (len(head) - 1)) + "|",
    ]
    for t in targets:
        mem = results.memory.get(t.name)
        row = [f"`{t.name}`", f"{statistics.median(mem):.1f}" if mem else "-"]
        for ep in endpoints:
            applying = [r for r in refs if r.applies(ep)]
            if not t.serves(ep):
                row += [NOT_SERVED] * (2 + len(applying))
                continue
            rps = results.median_rps(t.name, ep.name)
            p99 = results.median_p99(t.name, ep.name)
            errs = results.errors(t.name, ep.name)
            row += [
                _fmt_rps(rps) + (f" ({errs} err)" if errs else ""),
                "-" if p99 is None else f"{p99:.2f}",
            ]
            for r in applying:
                row.append(_fmt_ratio(rps, results.median_rps(r.reference(t), ep.name)))
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def cpu_table(
    targets: list[Target], endpoints: list[Endpoint], results: Results
) -> str:
    """How busy the server's CPU and the other one were during the wrk runs."""
    head = ["target"] + [
        f"{ep.name} CPU {SERVER_CPU} / {CLIENT_CPU}" for ep in endpoints
    ]
    lines = [
        "| " + " | ".join(head) + " |",
        "|" + "|".join([" --- "] + [" ---: "] * (len(head) - 1)) + "|",
    ]
    for t in targets:
        row = [f"`{t.name}`"]
        for ep in endpoints:
            cpu = results.median_cpu(t.name, ep.name) if t.serves(ep) else None
            row.append("-" if cpu is None else f"{cpu[0]:.0f}% / {cpu[1]:.0f}%")
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def rounds_list(
    targets: list[Target], endpoints: list[Endpoint], results: Results
) -> str:
    lines = []
    for t in targets:
        cells = []
        for ep in endpoints:
            if not t.serves(ep):
                continue
            samples = results.samples.get((t.name, ep.name), [])
            cells.append(f"{ep.name} " + " / ".join(f"{x.rps:.0f}" for x in samples))
        lines.append(f"- `{t.name}`: " + "; ".join(cells))
    return "\n".join(lines)


# -- the database suite --------------------------------------------------------------

#: TechEmpower's tables, loaded into a fresh database for every run.
TFB_SQL = ROOT.parent / "shared" / "bench" / "tfb-postgres.sql"
DB_NAME = "hello_world"
ADDITIONAL_FORTUNE = "Additional fortune added at request time."
SCRIPT_FORTUNE = (
    '<script>alert("This should not be displayed in a browser alert box.");</script>'
)
DB_FRAMEWORKS = ["raw", "kettle", "django", "flask"]
DB_ASGI_APPS = [  # framework, label, app
    ("raw", "raw-asyncpg", "bench.apps.tfb_raw_asgi:app"),
    ("kettle", "kettle-async", "bench.apps.tfb_kettle_async:app"),
    ("kettle", "kettle-sync-asgi", "bench.apps.tfb_kettle:app"),
]
DB_WSGI_APPS = [
    ("raw", "raw-psycopg", "bench.apps.tfb_raw_wsgi:app"),
    ("kettle", "kettle-sync", "bench.apps.tfb_kettle:wsgi"),
    ("django", "django", "bench.apps.tfb_django.wsgi:app"),
    ("flask", "flask", "bench.apps.tfb_flask:app"),
]
DB_REFS = (
    Ref(
        "×raw",
        lambda t: (
            f"raw-asyncpg/{t.server}"
            if t.interface == "asgi"
            else f"raw-psycopg/{t.server}"
        ),
    ),
    Ref("×django", lambda t: "django/granian"),
)


def db_targets(servers: list[str], pool: int) -> list[Target]:
    """ASGI targets on each server, WSGI ones on granian with ``pool`` blocking
    threads (granian's default, half its backpressure, would be 512 threads and as
    many database connections)."""
    targets = []
    for server in servers:
        for framework, label, app in DB_ASGI_APPS:
            targets.append(Target(framework, label, "asgi", server, app, "", ""))
        if server == "granian":
            threads = ("--blocking-threads", str(pool))
            for framework, label, app in DB_WSGI_APPS:
                targets.append(
                    Target(framework, label, "wsgi", server, app, "", "", threads)
                )
    return targets


def db_app_env(url: str, pool: int) -> dict[str, str]:
    """The database and pool settings every database app reads from its
    environment: each one's pool holds ``pool`` connections, no overflow."""
    return {
        "DATABASE_URL": url,  # Django, Flask and the raw apps
        "DB_POOL_SIZE": str(pool),  # Flask-SQLAlchemy and raw-asyncpg
        "KETTLE_DATABASE_URL": url,  # Kettle's settings from the environment
        "KETTLE_DATABASE_ENGINE_OPTIONS": json.dumps(
            {"pool_size": pool, "max_overflow": 0}
        ),
        "KETTLE_THREAD_POOL_SIZE": str(pool),  # def handlers under ASGI
    }


def _json_body(body: bytes) -> tuple[object, list[str]]:
    try:
        return json.loads(body), []
    except ValueError as exc:
        return None, [f"not JSON ({exc})"]


def _world_problems(value: object) -> list[str]:
    if not isinstance(value, dict) or set(value) != {"id", "randomNumber"}:
        return [f"{value!r} is not a world object with id and randomNumber"]
    ident, number = value["id"], value["randomNumber"]
    if type(ident) is not int or type(number) is not int:
        return [f"{value!r}: id and randomNumber must be integers"]
    if not 1 <= ident <= 10000 or not 1 <= number <= 10000:
        return [f"{value!r}: id and randomNumber must be in 1..10000"]
    return []


def check_world(body: bytes) -> list[str]:
    """``/db``: one world object."""
    value, problems = _json_body(body)
    return problems or _world_problems(value)


def check_worlds(count: int) -> Callable[[bytes], list[str]]:
    """``/queries`` and ``/updates``: a list of ``count`` world objects."""

    def check_body(body: bytes) -> list[str]:
        value, problems = _json_body(body)
        if problems:
            return problems
        if not isinstance(value, list) or len(value) != count:
            size = len(value) if isinstance(value, list) else type(value).__name__
            return [f"expected a list of {count} world objects, got {size}"]
        return [p for item in value for p in _world_problems(item)][:3]

    return check_body


def check_updated(count: int, database: BenchDatabase) -> Callable[[bytes], list[str]]:
    """``/updates``: ``count`` world objects whose numbers are now in the table."""
    shape = check_worlds(count)

    def check_body(body: bytes) -> list[str]:
        problems = shape(body)
        if problems:
            return problems
        answered = {w["id"]: w["randomNumber"] for w in json.loads(body)}
        stored = database.world_rows(list(answered))
        wrong = [i for i, n in answered.items() if stored.get(i) != n]
        if wrong:
            return [
                f"{len(wrong)} of {count} rows not written: id {wrong[0]} answered"
                f" {answered[wrong[0]]}, stored {stored.get(wrong[0])}"
            ]
        return []

    return check_body


_FORTUNE_ROW = re.compile(r"<tr><td>\s*(\d+)\s*</td><td>(.*?)</td></tr>", re.S)


def check_fortunes(body: bytes) -> list[str]:
    """``/fortunes``: TechEmpower's table, the added fortune, escaped, sorted."""
    try:
        page = body.decode("utf-8")
    except UnicodeDecodeError:
        return ["not UTF-8"]
    problems = []
    if not page.lstrip().lower().startswith("<!doctype html>"):
        problems.append("no <!DOCTYPE html>")
    if (
        "<title>Fortunes</title>" not in page
        or "<tr><th>id</th><th>message</th></tr>" not in page
    ):
        problems.append("no Fortunes title or header row")
    if "<script>" in page:
        problems.append("the <script> fortune is not escaped")
    if "&lt;script&gt;alert(" not in page:
        problems.append("no escaped &lt;script&gt; fortune")
    rows = [(int(i), html.unescape(m)) for i, m in _FORTUNE_ROW.findall(page)]
    messages = [m for _, m in rows]
    if len(rows) != 13:
        problems.append(f"{len(rows)} rows, expected 13 (12 + the added one)")
    if (0, ADDITIONAL_FORTUNE) not in rows:
        problems.append("no added fortune (id 0)")
    if SCRIPT_FORTUNE not in messages or "フレームワークのベンチマーク" not in messages:
        problems.append("the <script> or the Japanese fortune is missing or altered")
    if messages != sorted(messages):
        problems.append("rows not sorted by message")
    return problems


def db_endpoints(database: BenchDatabase) -> dict[str, Endpoint]:
    """TechEmpower's four database tests, with the checks run before loading each
    (the multiple-query ones also with a missing, a non-integer and out-of-range
    ``queries``: 1, 1, 1 and 500 rows)."""
    many = 20
    return {
        e.name: e
        for e in [
            Endpoint(
                "db", "/db", b"", "application/json", checks=(("/db", check_world),)
            ),
            Endpoint(
                "queries",
                f"/queries?queries={many}",
                b"",
                "application/json",
                checks=(
                    (f"/queries?queries={many}", check_worlds(many)),
                    ("/queries", check_worlds(1)),
                    ("/queries?queries=foo", check_worlds(1)),
                    ("/queries?queries=0", check_worlds(1)),
                    ("/queries?queries=501", check_worlds(500)),
                ),
            ),
            Endpoint(
                "fortunes",
                "/fortunes",
                b"",
                "text/html",
                checks=(("/fortunes", check_fortunes),),
            ),
            Endpoint(
                "updates",
                f"/updates?queries={many}",
                b"",
                "application/json",
                checks=(
                    (f"/updates?queries={many}", check_updated(many, database)),
                    ("/updates?queries=foo", check_updated(1, database)),
                ),
            ),
        ]
    }


DB_ENDPOINT_NAMES = ["db", "queries", "fortunes", "updates"]


class BenchDatabase:
    """A throw-away PostgreSQL (tests/dbservers.py) with TechEmpower's tables in
    the ``hello_world`` database, its processes pinned to one CPU; stopped by the
    PID it was started with."""

    def __init__(self, cpu: str | None) -> None:
        sys.path.insert(0, str(ROOT / "tests"))
        try:
            import dbservers
        finally:
            sys.path.pop(0)
        if not TFB_SQL.exists():
            raise BenchError(f"{TFB_SQL} (TechEmpower's tables) is missing")
        try:
            self.psql = str(dbservers.postgres_bindir() / "psql")
        except RuntimeError as exc:
            raise BenchError(str(exc)) from None
        self.base = Path(tempfile.mkdtemp(prefix="kettle-bench-db-"))
        self.base.chmod(0o711)  # PostgreSQL runs as the postgres OS user
        self.cpu = cpu
        self.server = None
        try:
            self.server = s = dbservers.start_postgres(self.base)
            self.url = f"postgresql://{s.user}:{s.password}@{s.host}:{s.port}/{DB_NAME}"
            self.version = run([self.psql, "--version"], 30).stdout.strip()
            self.pin()
            create = f"CREATE DATABASE {DB_NAME} OWNER {s.user}"
            self.psql_run("postgres", ["-c", create])
            self.psql_run(DB_NAME, ["-f", str(TFB_SQL)], user=s.user)
            self.psql_run(DB_NAME, ["-c", "VACUUM ANALYZE"], user=s.user)
        except BaseException as exc:  # a failed set-up, Ctrl-C: leave no server
            self.stop()
            if isinstance(exc, RuntimeError) and not isinstance(exc, BenchError):
                raise BenchError(f"cannot start PostgreSQL: {exc}") from None
            raise

    def pin(self) -> None:
        """Pin the server's processes to ``cpu`` (the backends it forks later
        inherit it)."""
        if self.cpu is None or self.server is None or self.server.pid is None:
            return
        for pid in [self.server.pid, *_descendants(self.server.pid)]:
            with contextlib.suppress(OSError):
                os.sched_setaffinity(pid, {int(self.cpu)})

    def _psql(self, database: str, args: list[str], user: str) -> list[str]:
        assert self.server is not None
        return [
            *[self.psql, "-X", "-q", "-v", "ON_ERROR_STOP=1"],
            *["-h", self.server.host, "-p", str(self.server.port)],
            *["-U", user, "-d", database, *args],
        ]

    def psql_run(self, database: str, args: list[str], user: str = "postgres") -> str:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        proc = run(self._psql(database, args, user), 300, env=env)
        if proc.returncode != 0:
            raise BenchError(
                f"psql {' '.join(args)[:80]} failed: {proc.stderr.strip()[-2000:]}"
            )
        return proc.stdout

    def world_rows(self, ids: list[int]) -> dict[int, int]:
        """``{id: randomnumber}`` of those rows, read now."""
        assert self.server is not None
        sql = (
            "SELECT id, randomnumber FROM world WHERE id IN ("
            + ",".join(str(int(i)) for i in ids)
            + ")"
        )
        out = self.psql_run(DB_NAME, ["-A", "-t", "-c", sql], user=self.server.user)
        rows = [line.split("|") for line in out.split()]
        return {int(i): int(n) for i, n in rows}

    def settings(self) -> str:
        return (
            f"{self.version}, one server started for the run (tests/dbservers.py:"
            " fsync, synchronous_commit and full_page_writes off, max_connections"
            " 200), over TCP on 127.0.0.1, its processes pinned to CPU"
            f" {self.cpu if self.cpu is not None else '(any)'}; the tables of"
            f" `{TFB_SQL.relative_to(ROOT.parent)}` (10,000 worlds, 12 fortunes)"
            " loaded into a fresh database, then VACUUM ANALYZE"
        )

    def stop(self) -> None:
        """Stop PostgreSQL (SIGINT to its PID, then SIGKILL) and remove its files."""
        if self.server is not None:
            self.server.stop()
            self.server = None
        shutil.rmtree(self.base, ignore_errors=True)


def kettle_commit() -> str:
    """HEAD, and whether src/ has uncommitted changes (Kettle is installed editable)."""
    head = run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], 30)
    dirty = run(["git", "-C", str(ROOT), "status", "--porcelain", "--", "src"], 30)
    return (head.stdout.strip() or "?") + (
        " (src/ modified)" if dirty.stdout.strip() else ""
    )


def machine(vers: dict[str, str], commits: tuple[str, str]) -> str:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    py = run([str(VBIN / "python"), "--version"], 30).stdout.strip()
    uname = run(["uname", "-a"], 30).stdout.strip() or " ".join(platform.uname())
    wrk_v = run(["wrk", "-v"], 30)
    wrk_line = (wrk_v.stdout + wrk_v.stderr).strip().splitlines()[:1]
    lines = [
        f"- nproc: {os.cpu_count()}",
        f"- uname -a: `{uname}`",
        f"- CPU: {cpu}",
        f"- Python (servers): {py}",
        f"- wrk: {wrk_line[0] if wrk_line else '?'}",
        f"- Kettle commit: {commits[0]}"
        + (
            ""
            if commits[0] == commits[1]
            else f" at the start, {commits[1]} at the end: Kettle changed during the"
            " run (each server start imports the working tree)"
        ),
        "- packages: " + ", ".join(f"{k} {v}" for k, v in vers.items()),
    ]
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--suite",
        choices=["http", "db"],
        default="http",
        help="http: the framework endpoints (default); db: TechEmpower's database"
        " tests on PostgreSQL",
    )
    p.add_argument("--rounds", type=int, default=3, help="rounds (median taken)")
    p.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    p.add_argument("--connections", type=int, default=64, help="wrk connections")
    p.add_argument(
        "--only",
        default="",
        help="frameworks, comma-separated: "
        + ",".join(FRAMEWORKS)
        + " (raw and kettle are always run: they are the ratios' references);"
        " --suite db: "
        + ",".join(DB_FRAMEWORKS)
        + " (raw, kettle and django always run)",
    )
    p.add_argument(
        "--endpoints",
        default=None,
        help="endpoints, comma-separated: "
        + ",".join(ENDPOINTS)
        + "; --suite db: "
        + ",".join(DB_ENDPOINT_NAMES)
        + " (default: all of the suite's)",
    )
    p.add_argument(
        "--servers",
        default=None,
        help="granian,uvicorn (default: both; --suite db: granian)",
    )
    p.add_argument(
        "--pool",
        type=int,
        default=16,
        help="--suite db: granian's WSGI blocking threads and every app's database"
        " pool (connections); default 16",
    )
    p.add_argument(
        "--db-cpu",
        default=CLIENT_CPU,
        help=f"--suite db: the CPU PostgreSQL is pinned to (default {CLIENT_CPU},"
        " wrk's; 'any' not to pin it)",
    )
    p.add_argument(
        "--no-install",
        action="store_true",
        help="reuse bench/.venv-peers as it is (it is created if missing)",
    )
    p.add_argument("--output", type=Path, help="results file (default: dated)")
    args = p.parse_args(argv)
    if args.rounds < 1 or args.duration < 1 or args.connections < 1:
        p.error("--rounds, --duration and --connections must be >= 1")
    if args.pool < 1:
        p.error("--pool must be >= 1")

    def split(value: str, allowed: list[str], what: str) -> list[str]:
        items = [x.strip() for x in value.split(",") if x.strip()]
        bad = [x for x in items if x not in allowed]
        if bad:
            p.error(f"unknown {what}: {', '.join(bad)} (known: {', '.join(allowed)})")
        return items

    db = args.suite == "db"
    names = DB_ENDPOINT_NAMES if db else list(ENDPOINTS)
    args.only = split(args.only, DB_FRAMEWORKS if db else FRAMEWORKS, "framework")
    args.endpoints = split(args.endpoints or ",".join(names), names, "endpoint")
    servers = args.servers or ("granian" if db else "granian,uvicorn")
    args.servers = split(servers, ["granian", "uvicorn"], "server")
    if not args.endpoints or not args.servers:
        p.error("no endpoint or no server left to run")
    if db and "granian" not in args.servers:
        p.error("--suite db needs granian: it serves the WSGI targets, Django too")
    if args.db_cpu == "any":
        args.db_cpu = None
    elif args.db_cpu not in {str(c) for c in range(os.cpu_count() or 1)}:
        p.error(f"--db-cpu: no CPU {args.db_cpu!r}")
    args.app_env = {}  # set by the database suite: DATABASE_URL and the pools
    # TechEmpower's wrk runs wait 8 s for an answer (wrk's default: 2 s)
    args.wrk_timeout = "8s" if db else None
    return args


def output_path(args: argparse.Namespace) -> Path:
    if args.output:
        return Path(args.output)
    day = dt.date.today().isoformat()
    suffix = "-db" if args.suite == "db" else ""
    path = RESULTS / f"{day}{suffix}.md"
    n = 2
    while path.exists():
        path = RESULTS / f"{day}{suffix}-{n}.md"
        n += 1
    return path


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    command = shlex.join(["python", "bench/run.py", *(argv or sys.argv[1:])])
    ensure_tools()
    ensure_venv(install=not args.no_install)
    db = args.suite == "db"
    vers = versions(DB_VERSIONED if db else VERSIONED)
    log("== versions: " + ", ".join(f"{k} {v}" for k, v in vers.items()))
    database = None
    try:
        if db:
            log("== starting PostgreSQL and loading TechEmpower's tables")
            database = BenchDatabase(args.db_cpu)
            args.app_env = db_app_env(database.url, args.pool)
            suite_endpoints = db_endpoints(database)
            all_of_suite = db_targets(args.servers, args.pool)
            always = ("raw", "kettle", "django")
        else:
            suite_endpoints = ENDPOINTS
            all_of_suite = all_targets(args.servers)
            always = ("raw", "kettle")
        return measure(
            args, command, vers, database, suite_endpoints, all_of_suite, always
        )
    finally:
        if database is not None:
            log("== stopping PostgreSQL")
            database.stop()


def measure(
    args: argparse.Namespace,
    command: str,
    vers: dict[str, str],
    database: BenchDatabase | None,
    suite_endpoints: dict[str, Endpoint],
    all_of_suite: list[Target],
    always: tuple[str, ...],
) -> int:
    """The rounds, then the report."""
    endpoints = [suite_endpoints[name] for name in args.endpoints]
    targets = []
    for t in all_of_suite:
        if args.only and t.framework not in (*always, *args.only):
            continue
        if not any(t.serves(e) for e in endpoints):
            log(f"== {t.name} serves none of {', '.join(args.endpoints)}: skipped")
            continue
        targets.append(t)
    pairs = sum(t.serves(e) for t in targets for e in endpoints)
    starts = sum(len({t.app_for(e) for e in endpoints if t.serves(e)}) for t in targets)
    estimate = args.rounds * (pairs * (args.duration + 0.2) + starts * (WARMUP + 0.5))
    log(
        f"== {len(targets)} targets, {pairs} target-endpoint pairs x {args.rounds}"
        f" rounds, about {estimate / 60:.0f} min; load now: {os.getloadavg()[0]:.2f}"
    )

    log_dir = BENCH / "results" / ".logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    results = Results()
    load0 = os.getloadavg()[0]
    commit0 = kettle_commit()
    verified: set[str] = set()
    began = time.monotonic()
    for n in range(1, args.rounds + 1):
        log(f"== round {n}/{args.rounds} (load {os.getloadavg()[0]:.2f})")
        for target in targets:
            bench_target(target, endpoints, args, results, verified, log_dir)
    elapsed = time.monotonic() - began
    load1 = os.getloadavg()[0]
    loads = f"load average at the start {load0:.2f}, at the end {load1:.2f}"

    refs = DB_REFS if database is not None else HTTP_REFS
    text = table(targets, endpoints, results, refs)
    print(text)
    notes = [f"- `{t}`: " + "; ".join(ns) for t, ns in results.notes.items() if ns]
    machine_text = machine(vers, (commit0, kettle_commit()))
    if database is None:
        title = "Kettle HTTP benchmark"
        settings = (
            f"Settings: {args.rounds} rounds (interleaved), wrk -t1"
            f" -c{args.connections} -d{args.duration}s on CPU {CLIENT_CPU},"
            f" one server worker on CPU {SERVER_CPU}; median req/s and median p99"
            " over the rounds; ×raw and ×kettle are req/s ratios to the raw"
            " callable and to Kettle on the same interface and server"
            f" ({NOT_SERVED}: the target does not serve that endpoint); idle MiB is"
            " the resident memory of the worker process after the endpoint checks,"
            " before any load (median over the rounds)."
            f" Measuring took {elapsed / 60:.1f} min; {loads}."
        )
        checks = (
            "Every endpoint answered 200 with the expected body and"
            " content type before it was measured."
        )
        extra: list[str] = []
    else:
        title = "Kettle database benchmark (TechEmpower tests, PostgreSQL)"
        settings = db_settings(args, elapsed, loads)
        machine_text += f"\n- PostgreSQL: {database.settings()}"
        checks = (
            "Before each target's first measurement every endpoint answered 200"
            " with its content type and a body that passed its check: `db` one"
            " world object (`id` and `randomNumber` integers in 1..10000);"
            " `queries` 20 of them, and 1, 1, 1 and 500 for `queries` missing,"
            " `foo`, `0` and `501`; `fortunes` the 12 rows plus the added one"
            " (id 0), sorted by message, the `<script>` fortune escaped and the"
            " Japanese one intact; `updates` 20 (and 1 for `foo`) world objects"
            " whose numbers were then read back from the table."
        )
        extra = [
            f"## CPU\n\nHow busy CPU {SERVER_CPU} (the server) and CPU {CLIENT_CPU}"
            " (wrk and PostgreSQL) were during the measured runs, median over the"
            " rounds, from /proc/stat (a server CPU well under 100% means the"
            " server waited: on the database, its pool or its threads):\n\n"
            + cpu_table(targets, endpoints, results)
        ]
    report = "\n\n".join(
        [
            f"# {title}, {dt.datetime.now().strftime('%Y-%m-%d %H:%M')}",
            f"Command: `{command}`",
            settings,
            "## Machine\n\n" + machine_text,
            "## Results\n\n" + text,
            *extra,
            f"## Checks\n\n{checks} Per target:\n\n"
            + ("\n".join(notes) if notes else "- nothing to note"),
            "## Every round\n\nreq/s of each round, in order, to judge the spread:"
            "\n\n" + rounds_list(targets, endpoints, results),
        ]
    )
    out = output_path(args)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report + "\n")
    log(f"== written to {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")
    return 0


def db_settings(args: argparse.Namespace, elapsed: float, loads: str) -> str:
    pool = args.pool
    return (
        f"Settings: {args.rounds} rounds (interleaved), wrk -t1"
        f" -c{args.connections} -d{args.duration}s on CPU {CLIENT_CPU}, one"
        f" granian worker on CPU {SERVER_CPU}, PostgreSQL on CPU"
        f" {args.db_cpu if args.db_cpu is not None else '(any)'}; median req/s and"
        " median p99 over the rounds (wrk `--timeout 8s`, TechEmpower's: a"
        " slower answer counts as an error); ×raw is the req/s ratio to the raw app on"
        " the same interface (raw-asyncpg for ASGI, raw-psycopg for WSGI), ×django"
        " to Django's; idle MiB is the worker's resident memory after the"
        " endpoint checks, before any load. `queries` and `updates` ask for 20"
        " rows, distinct random ids in ascending order (so concurrent updates"
        " lock rows in the same order).\n\n"
        f"Concurrency, the same for every target: WSGI targets run granian with"
        f" `--blocking-threads {pool}` (its default, half its backpressure, would"
        f" be 512 threads); every database pool holds {pool} connections, no"
        f' overflow: Kettle `DATABASE_ENGINE_OPTIONS={{"pool_size": {pool},'
        f' "max_overflow": 0}}` (the sync engine on psycopg 3, the async one on'
        f" asyncpg), Flask-SQLAlchemy `SQLALCHEMY_ENGINE_OPTIONS` the same,"
        f" raw-asyncpg `create_pool(min_size={pool}, max_size={pool})`; Django"
        f" (`CONN_MAX_AGE=30`, as TechEmpower's entry) and raw-psycopg keep one"
        f" connection per thread, so at most {pool}; Kettle's `def` handlers under"
        f" ASGI run on `THREAD_POOL_SIZE={pool}` threads. ASGI servers run every"
        " request at once; requests wait for a pooled connection."
        f" Measuring took {elapsed / 60:.1f} min; {loads}."
    )


def _terminated(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds: the running server is stopped on the way


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _terminated)
    try:
        sys.exit(main())
    except BenchError as exc:
        log(f"bench: error: {exc}")
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
