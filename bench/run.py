#!/usr/bin/env python3
"""Kettle's HTTP benchmark: Kettle, the peers and the raw callables, side by side.

One command (see bench/README.md)::

    python bench/run.py [--rounds 3] [--duration 5] [--connections 64]
                        [--only kettle,falcon] [--endpoints plaintext,json]
                        [--servers granian,uvicorn]

It installs wrk (Debian package) if missing, creates or reuses bench/.venv-peers with
Kettle (editable, from this repository) and the peers, then, round after round, starts
every target under the same server settings (one worker, pinned to CPU 0), checks each
endpoint's answer once, loads it with wrk pinned to CPU 1, and prints one markdown
table (also written to bench/results/<date>.md).

Only the standard library is used here; the apps run in the peers' virtualenv.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
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
                f"{ROOT}[fast]",
                *PEERS,
                *SERVER_PKGS,
            ],
            1800,
            "pip install",
        )


def versions() -> dict[str, str]:
    code = (
        "import json, sys, importlib.metadata as m\n"
        "out = {}\n"
        "for name in sys.argv[1:]:\n"
        "    try: out[name] = m.version(name)\n"
        "    except m.PackageNotFoundError: out[name] = '-'\n"
        "print(json.dumps(out))\n"
    )
    out = check([str(VBIN / "python"), "-c", code, *VERSIONED], 60, "version query")
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
        app,
    ]
    return ["taskset", "-c", SERVER_CPU, *cmd]


def server_env(port: int) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GRANIAN_", "UVICORN_", "WEB_CONCURRENCY", "PYTHON"))
        and k not in ("VIRTUAL_ENV", "DJANGO_SETTINGS_MODULE")
    }
    env.update(
        PYTHONPATH=str(ROOT),
        PYTHONDONTWRITEBYTECODE="1",
        BENCH_PORT=str(port),
        VIRTUAL_ENV=str(VENV),
        PATH=f"{VBIN}{os.pathsep}{env.get('PATH', '')}",
    )
    return env


class Server:
    """One server process for one app, started pinned and stopped by its PID."""

    def __init__(self, target: Target, app: str, log_dir: Path) -> None:
        self.target = target
        self.app = app
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
            env=server_env(self.port),
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


def fetch(port: int, ep: Endpoint) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection(HOST, port, timeout=HTTP_TIMEOUT)
    try:
        conn.request(ep.method, ep.path, body=ep.data or None, headers=ep.headers)
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


def wrk(port: int, ep: Endpoint, duration: int, connections: int) -> Sample:
    cmd = [
        "taskset",
        "-c",
        CLIENT_CPU,
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{duration}s",
        "--latency",
    ]
    for k, v in ep.headers.items():
        cmd += ["-H", f"{k}: {v}"]
    with tempfile.TemporaryDirectory(prefix="kettle-bench-") as tmp:
        if ep.method != "GET" or ep.data:  # wrk sends a method and body by script
            script = Path(tmp) / f"{ep.name}.lua"
            script.write_text(ep.lua())
            cmd += ["-s", str(script)]
        cmd.append(f"http://{HOST}:{port}{ep.path}")
        out = check(cmd, duration + 60, "wrk")
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
    return Sample(float(rps.group(1)), p99_ms, errors)


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
        with Server(target, app, log_dir) as server:
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
            wrk(server.port, eps[0], WARMUP, args.connections)
            for ep in eps:
                sample = wrk(server.port, ep, args.duration, args.connections)
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


def table(targets: list[Target], endpoints: list[Endpoint], results: Results) -> str:
    head = ["target", "idle MiB"]
    for ep in endpoints:
        head += [f"{ep.name} req/s", "p99 ms", *(["×raw"] * _has_raw(ep)), "×kettle"]
    lines = [
        "| " + " | ".join(head) + " |",
        "|" + "|".join([" --- "] + [" ---: "] * (len(head) - 1)) + "|",
    ]
    for t in targets:
        mem = results.memory.get(t.name)
        row = [f"`{t.name}`", f"{statistics.median(mem):.1f}" if mem else "-"]
        for ep in endpoints:
            if not t.serves(ep):
                row += [NOT_SERVED] * (3 + _has_raw(ep))
                continue
            rps = results.median_rps(t.name, ep.name)
            p99 = results.median_p99(t.name, ep.name)
            errs = results.errors(t.name, ep.name)
            row += [
                _fmt_rps(rps) + (f" ({errs} err)" if errs else ""),
                "-" if p99 is None else f"{p99:.2f}",
            ]
            if _has_raw(ep):
                row.append(_fmt_ratio(rps, results.median_rps(t.baseline_raw, ep.name)))
            row.append(_fmt_ratio(rps, results.median_rps(t.baseline_kettle, ep.name)))
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
    p.add_argument("--rounds", type=int, default=3, help="rounds (median taken)")
    p.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    p.add_argument("--connections", type=int, default=64, help="wrk connections")
    p.add_argument(
        "--only",
        default="",
        help="frameworks, comma-separated: "
        + ",".join(FRAMEWORKS)
        + " (raw and kettle are always run: they are the ratios' references)",
    )
    p.add_argument(
        "--endpoints",
        default=",".join(ENDPOINTS),
        help="endpoints, comma-separated: " + ",".join(ENDPOINTS),
    )
    p.add_argument("--servers", default="granian,uvicorn", help="granian,uvicorn")
    p.add_argument(
        "--no-install",
        action="store_true",
        help="reuse bench/.venv-peers as it is (it is created if missing)",
    )
    p.add_argument("--output", type=Path, help="results file (default: dated)")
    args = p.parse_args(argv)
    if args.rounds < 1 or args.duration < 1 or args.connections < 1:
        p.error("--rounds, --duration and --connections must be >= 1")

    def split(value: str, allowed: list[str], what: str) -> list[str]:
        items = [x.strip() for x in value.split(",") if x.strip()]
        bad = [x for x in items if x not in allowed]
        if bad:
            p.error(f"unknown {what}: {', '.join(bad)} (known: {', '.join(allowed)})")
        return items

    args.only = split(args.only, FRAMEWORKS, "framework")
    args.endpoints = split(args.endpoints, list(ENDPOINTS), "endpoint")
    args.servers = split(args.servers, ["granian", "uvicorn"], "server")
    if not args.endpoints or not args.servers:
        p.error("no endpoint or no server left to run")
    return args


def output_path(args: argparse.Namespace) -> Path:
    if args.output:
        return Path(args.output)
    day = dt.date.today().isoformat()
    path = RESULTS / f"{day}.md"
    n = 2
    while path.exists():
        path = RESULTS / f"{day}-{n}.md"
        n += 1
    return path


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    command = shlex.join(["python", "bench/run.py", *(argv or sys.argv[1:])])
    ensure_tools()
    ensure_venv(install=not args.no_install)
    vers = versions()
    log("== versions: " + ", ".join(f"{k} {v}" for k, v in vers.items()))

    endpoints = [ENDPOINTS[name] for name in args.endpoints]
    targets = []
    for t in all_targets(args.servers):
        if args.only and t.framework not in ("raw", "kettle", *args.only):
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

    text = table(targets, endpoints, results)
    print(text)
    notes = [f"- `{t}`: " + "; ".join(ns) for t, ns in results.notes.items() if ns]
    settings = (
        f"Settings: {args.rounds} rounds (interleaved), wrk -t1"
        f" -c{args.connections} -d{args.duration}s on CPU {CLIENT_CPU},"
        f" one server worker on CPU {SERVER_CPU}; median req/s and median p99"
        " over the rounds; ×raw and ×kettle are req/s ratios to the raw"
        " callable and to Kettle on the same interface and server"
        f" ({NOT_SERVED}: the target does not serve that endpoint); idle MiB is the"
        " resident memory of the worker process after the endpoint checks, before"
        " any load (median over the rounds)."
        f" Measuring took {elapsed / 60:.1f} min; {loads}."
    )
    report = "\n\n".join(
        [
            f"# Kettle HTTP benchmark, {dt.datetime.now().strftime('%Y-%m-%d %H:%M')}",
            f"Command: `{command}`",
            settings,
            "## Machine\n\n" + machine(vers, (commit0, kettle_commit())),
            "## Results\n\n" + text,
            "## Checks\n\nEvery endpoint answered 200 with the expected body and"
            " content type before it was measured. Per target:\n\n"
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
