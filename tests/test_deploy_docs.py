"""The deployment guide's files (docs/deploy/) say what Kettle accepts.

nginx.conf is run by tests/test_scaleout.py. Here: the commands of the systemd
units and of the Dockerfile parse with Kettle's CLI (so an option renamed in
the CLI breaks this test, not a deployment), and the environment file gives the
settings the guide says it gives.
"""

from __future__ import annotations

import json
import os
import re
import shlex
from pathlib import Path

import click
import pytest

from kettle import Kettle
from kettle.cli import cli

DEPLOY = Path(__file__).resolve().parent.parent / "docs" / "deploy"


def _parses(argv: list[str]) -> click.Context:
    """Parse ``kettle ARGS`` down to the subcommand, without running it."""
    assert argv[0].endswith("kettle"), argv
    name, *rest = argv[1:]
    command = cli.get_command(click.Context(cli), name)
    assert command is not None, name
    return command.make_context(
        name, rest, parent=click.Context(cli, info_name="kettle")
    )


def _exec_start(unit: str) -> list[str]:
    found = re.search(r"^ExecStart=(.+)$", (DEPLOY / unit).read_text(), re.M)
    assert found
    return shlex.split(found.group(1).replace("%i", "8001"))


def test_the_web_unit_runs_kettle_serve() -> None:
    ctx = _parses(_exec_start("kettle@.service"))
    assert ctx.info_name == "serve"
    assert ctx.params["port"] == 8001 and ctx.params["workers"] == 2
    assert ctx.params["graceful_timeout"] == 30
    # systemd waits longer than the server's graceful timeout before SIGKILL.
    unit = (DEPLOY / "kettle@.service").read_text()
    stop = re.search(r"^TimeoutStopSec=(\d+)$", unit, re.M)
    assert stop and int(stop.group(1)) > ctx.params["graceful_timeout"]


def test_the_worker_unit_runs_kettle_worker() -> None:
    ctx = _parses(_exec_start("kettle-worker.service"))
    assert ctx.info_name == "worker"
    assert ctx.params["processes"] == 2 and ctx.params["threads"] == 8


def test_the_dockerfile_command_runs_kettle_serve() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    found = re.search(r"^CMD (\[.+\])$", text, re.M)
    assert found
    ctx = _parses(json.loads(found.group(1)))
    assert ctx.info_name == "serve"
    assert ctx.params["host"] == "0.0.0.0" and ctx.params["port"] == 8000
    assert "/healthz" in text


@pytest.fixture
def env_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in list(os.environ):
        if name.startswith("KETTLE_"):
            monkeypatch.delenv(name)
    text = (DEPLOY / "env").read_text()
    text = re.sub(r"<[^>]+>", "x" * 60, text)  # the placeholders filled in
    path = tmp_path / "env"
    path.write_text(text)
    return path


def test_the_environment_file_sets_shared_backends(env_file: Path) -> None:
    config = Kettle(env_file=env_file).config
    assert config["SESSION_BACKEND"] == "redis"
    assert config["CACHE_BACKEND"] == "redis"
    assert config["RATELIMIT_BACKEND"] == "redis"
    assert config["TASKS_BACKEND"] == "dramatiq"
    assert config["CHANNELS_BACKEND"] == "redis"
    assert config["SESSION_COOKIE_SECURE"] is True
    assert config["COOKIE_SECURE"] is True
    assert config["DATABASE_URL"].startswith("postgresql+psycopg://")
    assert config["REDIS_URL"].startswith("redis://")
