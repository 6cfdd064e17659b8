"""Operations under a real ``kettle serve`` subprocess: graceful shutdown on
SIGTERM, metrics summed over two workers, and the access log on stderr."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from served import free_port

SLOW_APP = """
import asyncio
import logging
import os
import time
from pathlib import Path

from kettle import Kettle

app = Kettle()
HERE = Path(__file__).parent

@app.on_shutdown
def stopped():
    (HERE / "stopped").write_text(str(os.getpid()))

@app.get("/slow")
async def slow(seconds: float = 2.0):
    (HERE / "started").write_text("1")
    await asyncio.sleep(seconds)
    return {"slept": seconds}

@app.get("/slow-sync")
def slow_sync(seconds: float = 2.0):
    (HERE / "started").write_text("1")
    time.sleep(seconds)
    return {"slept": seconds}

@app.get("/pid")
def pid():
    logging.getLogger("app").warning("pid asked")
    return {"pid": os.getpid()}
"""


class Served:
    """``python -m kettle serve app:app ARGS`` in ``folder``; stderr and stdout to
    a file."""

    def __init__(
        self, folder: Path, args: list[str], env: dict[str, str] | None = None
    ):
        self.folder = folder
        self.port = free_port()
        self.log = folder / "server.log"
        environ = {k: v for k, v in os.environ.items() if not k.startswith("KETTLE_")}
        environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
        environ["PYTHONUNBUFFERED"] = "1"
        environ.update(env or {})
        command = [sys.executable, "-m", "kettle", "serve", "app:app"]
        command += ["--port", str(self.port), *args]
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                command, cwd=folder, env=environ, stdout=out, stderr=subprocess.STDOUT
            )
        self.url = f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_listening(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"the server exited:\n{self.output()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.05)
        pytest.fail(f"the server did not listen:\n{self.output()}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[list[Served]]:
    (tmp_path / "app.py").write_text(textwrap.dedent(SLOW_APP))
    started: list[Served] = []
    yield started
    for server in started:
        server.stop()


def wait_for(path: Path, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            pytest.fail(f"{path.name} never appeared")
        time.sleep(0.02)


@pytest.mark.parametrize(
    ("server_name", "interface", "path"),
    [
        ("granian", "asgi", "/slow"),
        ("granian", "wsgi", "/slow-sync"),
        ("uvicorn", "asgi", "/slow"),
    ],
)
def test_sigterm_lets_the_request_in_progress_finish(
    tmp_path: Path,
    served: list[Served],
    server_name: str,
    interface: str,
    path: str,
) -> None:
    args = ["--server", server_name, "--interface", interface]
    server = Served(tmp_path, args)
    served.append(server)
    server.wait_listening()
    outcome: dict[str, object] = {}

    def slow_request() -> None:
        try:
            response = httpx.get(f"{server.url}{path}?seconds=2", timeout=30)
            outcome["response"] = (response.status_code, response.json())
        except httpx.HTTPError as exc:
            outcome["response"] = exc

    thread = threading.Thread(target=slow_request)
    thread.start()
    wait_for(tmp_path / "started")  # the handler is running
    server.proc.send_signal(signal.SIGTERM)
    stopped_at = time.monotonic()
    # New connections are refused while the request finishes.
    time.sleep(0.5)
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{server.url}/pid", timeout=5)
    thread.join(30)
    assert outcome["response"] == (200, {"slept": 2.0}), server.output()
    assert server.proc.wait(30) == 0, server.output()
    assert time.monotonic() - stopped_at < 20
    # The app's shutdown hooks ran in the worker.
    assert (tmp_path / "stopped").exists(), server.output()
    # kettle serve's access log, one worker under every server included.
    assert re.search(rf'"path":\s*"{path}"', server.output()), server.output()


def test_a_request_past_the_graceful_timeout_is_cut(
    tmp_path: Path, served: list[Served]
) -> None:
    server = Served(tmp_path, ["--interface", "asgi", "--graceful-timeout", "1"])
    served.append(server)
    server.wait_listening()
    outcome: dict[str, object] = {}

    def slow_request() -> None:
        try:
            outcome["response"] = httpx.get(f"{server.url}/slow?seconds=60", timeout=60)
        except httpx.HTTPError as exc:
            outcome["response"] = exc

    thread = threading.Thread(target=slow_request)
    thread.start()
    wait_for(tmp_path / "started")
    server.proc.send_signal(signal.SIGTERM)
    stopped_at = time.monotonic()
    assert server.proc.wait(30) == 0, server.output()
    assert time.monotonic() - stopped_at < 15  # not the request's 60 seconds
    thread.join(30)
    assert isinstance(outcome["response"], httpx.HTTPError)
    assert "Killing worker-1" in server.output()


def metric_total(text: str, route: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if (
            line.startswith("kettle_http_requests_total{")
            and f'route="{route}"' in line
        ):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_metrics_add_up_over_two_workers(tmp_path: Path, served: list[Served]) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    server = Served(
        tmp_path,
        ["--workers", "2", "--interface", "wsgi"],
        env={"KETTLE_METRICS_URL": "/metrics", "TMPDIR": str(temp)},
    )
    served.append(server)
    server.wait_listening()
    assert len(list(temp.glob("kettle-metrics-*"))) == 1  # the shared directory
    pids: set[int] = set()
    count = 0
    deadline = time.monotonic() + 30
    # New connections spread over the workers; go on until both answered.
    while (len(pids) < 2 or count < 20) and time.monotonic() < deadline:
        with httpx.Client(base_url=server.url, timeout=10) as client:
            pids.add(client.get("/pid").json()["pid"])
        count += 1
    assert len(pids) == 2, server.output()
    # Whichever worker answers the scrape, it reports every worker's requests.
    for _ in range(6):
        with httpx.Client(base_url=server.url, timeout=10) as client:
            assert metric_total(client.get("/metrics").text, "/pid") == count
    server.proc.send_signal(signal.SIGTERM)
    assert server.proc.wait(30) == 0, server.output()
    assert list(temp.glob("kettle-metrics-*")) == []  # removed


def test_serve_logs_json_lines_with_request_ids(
    tmp_path: Path, served: list[Served]
) -> None:
    server = Served(tmp_path, ["--interface", "asgi"])
    served.append(server)
    server.wait_listening()
    response = httpx.get(f"{server.url}/pid", headers={"x-request-id": "trace-me"})
    assert response.status_code == 200
    server.proc.send_signal(signal.SIGTERM)
    server.proc.wait(30)
    lines = [
        json.loads(line)
        for line in server.output().splitlines()
        if line.startswith("{")
    ]
    app_line = next(line for line in lines if line["logger"] == "app")
    access = next(line for line in lines if line["logger"] == "kettle.access")
    assert app_line["message"] == "pid asked"
    assert app_line["request_id"] == "trace-me"
    assert access["message"] == "GET /pid 200"
    assert access["request_id"] == "trace-me"
    assert access["status"] == 200
    assert access["client"] == "127.0.0.1"
    # granian's own access log stays off: one line per request.
    assert len(re.findall(r"GET /pid", server.output())) == 1
