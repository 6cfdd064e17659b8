"""Serve an app with ``kettle serve`` (granian) on a free loopback port, for
tests that drive it from another process (a browser, sqlmap)."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def serve(
    folder: Path,
    target: str,
    log: Path,
    env: dict[str, str] | None = None,
    command: tuple[str, ...] = ("serve",),
) -> Iterator[str]:
    """``kettle serve TARGET`` (or another ``command``: ``("run",
    "--no-reload")``) run in ``folder``; yields its base URL and stops it
    afterwards (its output goes to ``log``)."""
    port = free_port()
    environ = dict(os.environ)
    environ.pop("KETTLE_DATABASE_URL", None)  # unless ``env`` gives one
    environ.update(env or {})
    with open(log, "wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "kettle", *command, target, "--port", str(port)],
            cwd=folder,
            env=environ,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"{target} did not start:\n{log.read_text()}")
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
