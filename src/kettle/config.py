"""The app's settings: defaults, a settings module, ``.env``, ``KETTLE_*`` variables and
keyword arguments, in that order (later ones win)."""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any
from typing import Literal
from typing import overload

from .exceptions import ImproperlyConfigured

__all__ = ("CSP_NONCE", "DEFAULTS", "DEFAULT_CSP", "Config")

#: The source in a ``CSP`` directive replaced by the request's nonce
#: (``'nonce-...'``) when the request used one (see :mod:`kettle.security`).
CSP_NONCE = "'nonce'"

#: The default ``Content-Security-Policy`` directives (read-only: to change it,
#: set ``CSP = {**DEFAULT_CSP, "img-src": ("'self'", "https:")}``). The
#: ``frame-ancestors`` directive follows ``X_FRAME_OPTIONS`` unless given here.
DEFAULT_CSP: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "default-src": ("'self'",),
        "script-src": ("'self'", CSP_NONCE),
        "style-src": ("'self'", CSP_NONCE),
        "img-src": ("'self'", "data:"),
        "object-src": ("'none'",),
        "base-uri": ("'self'",),
        "form-action": ("'self'",),
    }
)

#: Settings every app has. Batteries add their own defaults.
DEFAULTS: dict[str, Any] = {
    "DEBUG": False,
    "TESTING": False,
    "SECRET_KEY": None,
    "SECRET_KEY_FALLBACKS": [],
    "SESSION_BACKEND": "cookie",
    "SESSION_COOKIE_NAME": "session",
    "SESSION_LIFETIME": 14 * 24 * 3600,
    "SESSION_COOKIE_PATH": "/",
    "SESSION_COOKIE_DOMAIN": None,
    "SESSION_COOKIE_SAMESITE": "lax",
    "SESSION_COOKIE_SECURE": None,
    "SESSION_REDIS_URL": None,
    "REDIS_URL": None,
    "SERVER_NAME": None,
    "PREFERRED_URL_SCHEME": "http",
    "REDIRECT_SLASHES": True,
    "COOKIE_SECURE": False,
    "MAX_BODY_SIZE": 1024 * 1024,
    "MAX_UPLOAD_SIZE": 100 * 1024 * 1024,
    "MAX_FORM_FIELDS": 1000,
    "MAX_FORM_FILES": 100,
    "MAX_FORM_PART_SIZE": 1024 * 1024,
    "MAX_FILE_SIZE": None,
    "FORM_SPOOL_SIZE": 1024 * 1024,
    "THREAD_POOL_SIZE": 40,
    "GC_FREEZE": True,
    "TEMPLATES_FOLDER": "templates",
    "TEMPLATES_AUTO_RELOAD": None,
    "CSRF_ENABLED": True,
    "CSRF_TRUSTED_ORIGINS": [],
    "CSRF_FIELD_NAME": "csrf_token",
    "CSRF_HEADER_NAME": "X-CSRF-Token",
    "ALLOWED_HOSTS": [],
    "HTTPS_REDIRECT": False,
    "SECURITY_HEADERS": True,
    "CONTENT_TYPE_NOSNIFF": True,
    "REFERRER_POLICY": "same-origin",
    "X_FRAME_OPTIONS": "DENY",
    "CROSS_ORIGIN_OPENER_POLICY": "same-origin",
    "HSTS_SECONDS": 365 * 24 * 3600,
    "HSTS_INCLUDE_SUBDOMAINS": True,
    "HSTS_PRELOAD": False,
    "CSP": DEFAULT_CSP,
    "CSP_REPORT_ONLY": False,
    "MAIL_BACKEND": None,
    "MAIL_HOST": "localhost",
    "MAIL_PORT": 25,
    "MAIL_USERNAME": None,
    "MAIL_PASSWORD": None,
    "MAIL_USE_TLS": False,
    "MAIL_USE_SSL": False,
    "MAIL_TIMEOUT": 10,
    "MAIL_DEFAULT_FROM": "webmaster@localhost",
    "MAIL_FILE_PATH": None,
    "RATELIMIT_ENABLED": True,
    "RATELIMIT_BACKEND": "memory",
    "RATELIMIT_REDIS_URL": None,
    "RATELIMIT_FAIL_OPEN": True,
    # Caching (kettle.cache): "memory", "redis", "database" or "dummy".
    "CACHE_BACKEND": "memory",
    "CACHE_TTL": 300.0,  # seconds; None (KETTLE_CACHE_TTL=none): no expiry
    "CACHE_KEY_PREFIX": "kettle:cache",
    "CACHE_VERSION": 1,
    "CACHE_MAX_ENTRIES": 10_000,  # memory
    "CACHE_REDIS_URL": None,  # redis; None: REDIS_URL
    "CACHE_FAIL_OPEN": True,  # redis
    "CACHE_TABLE": "kettle_cache",  # database
    # Background tasks (kettle.tasks): "immediate", "in-process" or "dramatiq".
    "TASKS_BACKEND": "in-process",
    "TASKS_REDIS_URL": None,
    "TASKS_RETRIES": 0,
    "TASKS_BACKOFF": 1.0,
    "TASKS_BACKOFF_MAX": 3600.0,
    "TASKS_RESULT_TTL": 24 * 3600,
    "TASKS_THREADS": 4,
    "TASKS_SHUTDOWN_TIMEOUT": 600,
    # Realtime channels (kettle.channels): "memory" or "redis".
    "CHANNELS_BACKEND": "memory",
    "CHANNELS_REDIS_URL": None,
    "CHANNELS_PREFIX": None,  # None: "kettle:<db>:", the URL's database number
    "CHANNELS_QUEUE_SIZE": 100,  # messages a subscriber may fall behind
    # Operations (kettle.operations): access log, health, metrics, tracing.
    "ACCESS_LOG": None,  # None: off, but kettle serve turns it on
    "HEALTH_URL": "/healthz",
    "LIVENESS_URL": None,
    "HEALTH_TIMEOUT": 2.0,
    "METRICS_URL": None,
    "METRICS_TOKEN": None,
    "TRACING": False,
    "STATIC_URL": "/static",
    "STATIC_FOLDER": "static",
    "OPENAPI_URL": "/openapi.json",
    "DOCS_URL": "/docs",
    "OPENAPI_TITLE": "API",
    "OPENAPI_VERSION": "0.1.0",
    "OPENAPI_DESCRIPTION": None,
    "DATABASE_URL": None,
    "DATABASE_BINDS": {},
    "DATABASE_ENGINE_OPTIONS": {},
    "DATABASE_ECHO": False,
    "DATABASE_STRICT_LOADING": None,
    "DATABASE_QUERY_BUDGET": None,
    "DATABASE_QUERY_STATS": None,
    "AUTH_USER_MODEL": "kettle.auth.models:User",
    "AUTH_PASSWORD_VALIDATORS": None,
    "LOGIN_URL": "auth.login",
    "LOGIN_REDIRECT_URL": "/",
    "LOGOUT_REDIRECT_URL": "/",
    "PASSWORD_RESET_TIMEOUT": 3600,
    "EMAIL_CONFIRM_TIMEOUT": 3 * 24 * 3600,
    "AUTH_TOTP_ISSUER": None,
    "AUTH_LOGIN_RATE_ACCOUNT": "5/5m",
    "AUTH_LOGIN_RATE_ADDRESS": "30/5m",
    "AUTH_RESET_RATE_EMAIL": "3/h",
    "AUTH_RESET_RATE_ADDRESS": "10/h",
}

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}

#: Settings whose default is None ("decide for me") but which take a boolean or
#: an integer when set: from the environment they are converted like one, and
#: ``none`` (or nothing) keeps the default.
_OPTIONAL_TYPES: dict[str, type] = {
    "SESSION_COOKIE_SECURE": bool,
    "TEMPLATES_AUTO_RELOAD": bool,
    "DATABASE_STRICT_LOADING": bool,
    "DATABASE_QUERY_STATS": bool,
    "ACCESS_LOG": bool,
    "MAX_FILE_SIZE": int,
    "DATABASE_QUERY_BUDGET": int,
}


#: Settings with a default that also take None (``none`` or an empty value in
#: the environment).
_NULLABLE = frozenset({"CACHE_TTL"})


def _coerce(key: str, value: str, current: Any, name: str = "") -> Any:
    """Convert an environment string (variable ``key``, setting ``name``) to the
    type of the setting's current value."""
    if name in _NULLABLE and value.strip().lower() in ("", "none"):
        return None
    if current is None:
        kind = _OPTIONAL_TYPES.get(name)
        if kind is not None:
            if value.strip().lower() in ("", "none"):
                return None
            current = kind()
    if isinstance(current, bool):
        lowered = value.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ValueError(
            f"setting {key}: {value!r} is not a boolean (use 1/0, true/false)"
        )
    if isinstance(current, int):
        try:
            return int(value)
        except ValueError:
            raise ValueError(f"setting {key}: {value!r} is not an integer") from None
    if isinstance(current, float):
        try:
            return float(value)
        except ValueError:
            raise ValueError(f"setting {key}: {value!r} is not a number") from None
    return value


def read_dotenv(path: str | os.PathLike[str]) -> dict[str, str]:
    """Read ``KEY=value`` lines of a ``.env`` file (``#`` comments, optional quotes,
    optional ``export``). A missing file gives an empty dict."""
    file = os.fspath(path)
    if not os.path.isfile(file):
        return {}
    with open(file, encoding="utf-8") as handle:
        text = handle.read()
    values: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[7:].lstrip()
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{file}:{number}: expected KEY=value, got {line!r}")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        elif " #" in value:
            value = value.split(" #", 1)[0].rstrip()
        values[key.strip()] = value
    return values


class Config(dict[str, Any]):
    """A dict of settings with loaders. Keys are upper-case by convention."""

    def __init__(self, defaults: Mapping[str, Any] | None = None) -> None:
        super().__init__(DEFAULTS if defaults is None else defaults)

    def from_object(self, obj: object | str) -> None:
        """Load the upper-case attributes of a module, class or object.

        Args:
            obj: The object, or an import path (``"myapp.settings"`` or
                ``"myapp.settings:Production"``).
        """
        if isinstance(obj, str):
            module_name, _, attr = obj.partition(":")
            loaded: object = importlib.import_module(module_name)
            if attr:
                loaded = getattr(loaded, attr)
            obj = loaded
        for key in dir(obj):
            if key.isupper():
                self[key] = getattr(obj, key)

    def from_mapping(
        self, mapping: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> None:
        """Load settings from a mapping and keyword arguments (keys upper-cased)."""
        for source in (mapping or {}, kwargs):
            for key, value in source.items():
                self[key.upper()] = value

    def from_env(
        self, prefix: str = "KETTLE_", environ: Mapping[str, str] | None = None
    ) -> None:
        """Load ``PREFIX_NAME`` variables as ``NAME`` (prefix stripped), converting each
        value to the type of the setting's existing value (bool, int, float)."""
        source = os.environ if environ is None else environ
        for key, value in source.items():
            if key.startswith(prefix) and len(key) > len(prefix):
                name = key[len(prefix) :]
                self[name] = _coerce(key, value, self.get(name), name)

    @overload
    def get_int(self, key: str, *, optional: Literal[False] = False) -> int: ...
    @overload
    def get_int(self, key: str, *, optional: Literal[True]) -> int | None: ...
    def get_int(self, key: str, *, optional: bool = False) -> int | None:
        """Read ``key`` as a whole number >= 0 (strings of digits are accepted, as
        set from the environment for a setting whose default is None).

        Raises:
            ImproperlyConfigured: The value is not such a number (or None when
                ``optional``).
        """
        value = self.get(key)
        if value is None and optional:
            return None
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            allowed = "a whole number >= 0" + (" or None" if optional else "")
            raise ImproperlyConfigured(
                f"setting {key} must be {allowed}, not {value!r}"
            )
        return value

    def get_flag(self, key: str) -> bool | None:
        """Read ``key`` as True, False or None (not set), from a bool or a
        string (``"1"``, ``"off"``..., as :meth:`from_env` reads booleans).

        Raises:
            ImproperlyConfigured: The value is neither.
        """
        value = self.get(key)
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, str):
            lowered = value.strip().lower()
            if lowered in _TRUE or lowered in _FALSE:
                return lowered in _TRUE
        raise ImproperlyConfigured(f"{key} must be True or False, not {value!r}")

    def get_namespace(self, namespace: str, lowercase: bool = True) -> dict[str, Any]:
        """Settings starting with ``namespace`` (``"MAIL_"``), without the prefix."""
        out: dict[str, Any] = {}
        for key, value in self.items():
            if key.startswith(namespace):
                name = key[len(namespace) :]
                out[name.lower() if lowercase else name] = value
        return out
