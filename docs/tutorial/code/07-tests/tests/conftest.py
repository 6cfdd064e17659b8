"""Each test gets an app on its own SQLite database, built by the migrations."""

from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path

import pytest

from kettle import Kettle
from kettle.auth import User
from kettle.auth import hashers
from kettle.db import get_database
from kettle.db.migrations import Migrations
from kettle.testing import TestClient

from blog import create_app

hashers.set_test_parameters()  # cheap password hashes: for tests only


@pytest.fixture
def app(tmp_path: Path) -> Kettle:
    app = create_app(
        "blog.settings:Testing",
        env_file=None,
        database_url=f"sqlite:///{tmp_path / 'test.sqlite3'}",
    )
    Migrations(app).upgrade()  # the tables, as `kettle db migrate` makes them
    return app


@pytest.fixture
def client(app: Kettle) -> Iterator[TestClient]:
    with app.test_client() as client:
        yield client


@pytest.fixture
def add_user(app: Kettle) -> Callable[..., None]:
    """Adds a user whose password is "<username>'s password"."""

    def add(username: str, **fields: object) -> None:
        with get_database(app).session() as db:
            db.add(User(username=username, password=f"{username}'s password", **fields))
            db.commit()

    return add


@pytest.fixture
def log_in(client: TestClient) -> Callable[[str], None]:
    """Logs the client in as a user that add_user added."""

    def log_in(username: str) -> None:
        page = client.post(
            "/auth/login",
            data={"username": username, "password": f"{username}'s password"},
        )
        assert f"<span>{username}</span>" in page.text  # the menu shows the name

    return log_in


@pytest.fixture
def ann(client: TestClient, add_user, log_in) -> TestClient:
    """The client, logged in as the user ann."""
    add_user("ann")
    log_in("ann")
    return client
