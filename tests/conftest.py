"""Shared fixtures: every core behaviour runs through ASGI and WSGI."""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterator

import pytest

from kettle import Kettle
from kettle.testing import TestClient

# Real databases (SQLite, PostgreSQL, MariaDB): postgres_server, mariadb_server and
# database_url. tests/ is on sys.path (pytest's default "prepend" import mode).
pytest_plugins = ["dbfixtures"]


@pytest.fixture(params=["asgi", "wsgi"])
def interface(request: pytest.FixtureRequest) -> str:
    """The server interface a test drives the app through."""
    return request.param


@pytest.fixture
def make_client(interface: str) -> Iterator[Callable[..., TestClient]]:
    """Build a test client for an app over the current interface; closed afterwards."""
    clients: list[TestClient] = []

    def factory(app: Kettle, **kwargs: object) -> TestClient:
        client = app.test_client(interface=interface, **kwargs)
        client.__enter__()
        clients.append(client)
        return client

    yield factory
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def app() -> Kettle:
    """A fresh app that reads no .env file."""
    return Kettle(env_file=None)
