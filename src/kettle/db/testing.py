"""A pytest plugin: each test in a database transaction rolled back afterwards.

Enable it in ``conftest.py`` and give it the app::

    pytest_plugins = ["kettle.db.testing"]

    @pytest.fixture
    def app():
        return create_app(DATABASE_URL="postgresql://localhost/myapp_test")

    def test_signup(db, app):          # db: a Session in the test's transaction
        db.add(User(name="ann"))
        db.flush()
        client = app.test_client()
        assert client.get("/users").json() == [{"name": "ann"}]
    # the user and everything the requests wrote are rolled back here

The tables must exist (``get_database(app).create_all()`` once per session, or
``kettle db migrate``). Works on SQLite, PostgreSQL and MariaDB; strict loading
(N+1 detection) is on for the app's sessions while the fixture is active.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from .database import KettleSession
from .database import get_database

__all__ = ("db",)


@pytest.fixture
def db(app: Any) -> Iterator[KettleSession]:
    """A session in a transaction rolled back after the test; the app's request
    sessions join the same transaction. Needs a fixture named ``app``."""
    database = get_database(app)
    strict = database.strict_loading
    database.strict_loading = True
    try:
        with database.rolled_back() as session:
            yield session
    finally:
        database.strict_loading = strict
