"""Django settings: TechEmpower's Django entry's, the database from DATABASE_URL."""

import os
from urllib.parse import unquote
from urllib.parse import urlsplit

_url = urlsplit(os.environ["DATABASE_URL"])

DEBUG = False
SECRET_KEY = "bench-only-not-secret"
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "bench.apps.tfb_django.urls"
INSTALLED_APPS = ["bench.apps.tfb_django"]
MIDDLEWARE: list[str] = []
USE_TZ = False
USE_I18N = False
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",  # psycopg 3 when installed
        "NAME": _url.path.lstrip("/"),
        "USER": unquote(_url.username or ""),
        "PASSWORD": unquote(_url.password or ""),
        "HOST": _url.hostname,
        "PORT": str(_url.port or 5432),
        "CONN_MAX_AGE": 30,  # persistent connections, as TechEmpower's entry
    }
}
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
    }
]
LOGGING = {"version": 1, "disable_existing_loggers": True}
