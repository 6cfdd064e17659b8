"""blog: the app factory."""

import os

from kettle import Kettle
from kettle.auth import Auth
from kettle.middleware import ProxyHeadersMiddleware

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

    from .admin import setup_admin
    from .blueprints.accounts import accounts
    from .blueprints.posts import posts

    Auth(app)  # /auth/login and /auth/logout
    app.register_blueprint(accounts)
    app.register_blueprint(posts)
    setup_admin(app)  # /admin, for staff users
    if app.config["PROXIES"]:  # the client's address and scheme, from the proxy
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=app.config["PROXIES"])
    return app
