"""Django's tutorial "polls" app, rebuilt with Kettle: the project (Django's
``mysite``: settings and URLs). The app itself is the ``polls`` blueprint.

Run it from this folder: ``kettle run`` (SQLite, ``instance/polls.sqlite3``),
then open http://127.0.0.1:8000/polls/ and http://127.0.0.1:8000/admin/.
"""

from __future__ import annotations

import io
import logging
import os
import secrets
from pathlib import Path
from typing import Any

import polls

from kettle import Kettle
from kettle import RedirectResponse
from kettle import redirect
from kettle.admin import Admin
from kettle.db.migrations import Migrations

HERE = Path(__file__).resolve().parent
INSTANCE = Path(os.environ.get("POLLS_INSTANCE", HERE / "instance"))
log = logging.getLogger("polls")


def _instance_secret_key() -> str:
    """A key made once and kept in instance/ (development)."""
    INSTANCE.mkdir(parents=True, exist_ok=True)
    path = INSTANCE / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
    return path.read_text().strip()


def create_app(**settings: Any) -> Kettle:
    """The site: the polls app under /polls/, the admin under /admin/.

    The database is ``KETTLE_DATABASE_URL`` (or a ``.env`` line, or a settings
    module), else SQLite in ``instance/``; ``settings`` win over all of them.
    """
    app = Kettle(**settings)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret_key()
    if not app.config.get("DATABASE_URL"):
        INSTANCE.mkdir(parents=True, exist_ok=True)
        app.config["DATABASE_URL"] = f"sqlite:///{INSTANCE / 'polls.sqlite3'}"
    Admin(app, title="Polls administration")
    app.register_blueprint(polls.bp)

    @app.get("/")
    def home() -> RedirectResponse:
        return redirect("polls.index")

    @app.on_startup
    def migrate() -> None:
        """Bring the tables up to date (``kettle db migrate``), so that a fresh
        checkout runs at once; at the latest revision this only reads."""
        applied = Migrations(app, stdout=io.StringIO()).upgrade()
        for line in applied:
            log.info("migrated: %s", line)

    return app


app = create_app()
