"""blog: the app factory."""

import os

from kettle import Kettle

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

    from .blueprints.api import api
    from .blueprints.pages import pages

    app.register_blueprint(pages)
    app.register_blueprint(api, url_prefix="/api")
    return app
