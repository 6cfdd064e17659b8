"""Settings for each environment. Only upper-case names are settings.

Every setting can also come from a ``KETTLE_<NAME>`` environment variable (or
the ``.env`` file, in development), which wins over these classes.
"""

from pathlib import Path

#: The project's folder (where app.py is).
BASE_DIR = Path(__file__).resolve().parent.parent


class Settings:
    """What every environment shares."""

    DATABASE_URL = f"sqlite:///{BASE_DIR / 'dev.sqlite3'}"
    #: The modules holding models, for `kettle db` (the app imports them too).
    MODELS = ["blog.models"]
    #: The reverse proxies whose X-Forwarded-* headers are believed (none).
    PROXIES: list[str] = []


class Development(Settings):
    """``kettle run``: debug pages; the secret key comes from ``.env``."""

    DEBUG = True


class Testing(Settings):
    """The tests (tests/conftest.py gives each test its own database)."""

    TESTING = True
    SECRET_KEY = "only-for-the-tests-" + "x" * 40


class Production(Settings):
    """``KETTLE_SETTINGS=blog.settings:Production kettle serve app:app``.

    Set ``KETTLE_SECRET_KEY`` and ``KETTLE_DATABASE_URL`` in the environment,
    and ``KETTLE_ALLOWED_HOSTS`` to the site's host names; ``kettle check
    --deploy`` lists what is still missing.
    """

    DEBUG = False
    SESSION_COOKIE_SECURE = True
    COOKIE_SECURE = True  # the site is served over HTTPS only
    HTTPS_REDIRECT = True  # so plain HTTP is redirected to HTTPS
    PROXIES = ["127.0.0.1"]  # nginx, on the same machine
