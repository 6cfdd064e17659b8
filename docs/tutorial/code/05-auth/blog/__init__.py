"""blog: the app factory."""

import os

from kettle import Kettle
from kettle.auth import Auth

#: The settings when neither create_app() nor KETTLE_SETTINGS names others.
DEVELOPMENT = "blog.settings:Development"


def create_app(settings: object | str | None = None, **overrides: object) -> Kettle:
    """Make the app.

    Args:
        settings: A settings class or import path; by default the one named by
            ``KETTLE_SETTINGS``, else ``blog.settings:Development``.
        overrides: Settings that win over every other source (tests use them).
    """
    if settings is None:
        settings = os.environ.get("KETTLE_SETTINGS", DEVELOPMENT)
    app = Kettle(settings=settings, **overrides)

    from .blueprints.accounts import accounts
    from .blueprints.posts import posts

    Auth(app)  # /auth/login and /auth/logout
    app.register_blueprint(accounts)
    app.register_blueprint(posts)
    return app
