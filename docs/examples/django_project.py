"""A Django project's settings.py, middleware and urls.py, in Kettle: settings
classes, an HTTPMiddleware, an app factory registering the blueprints. The
Django original of each line is in its comment."""

import time

from django_admin import create_admin
from django_auth import staff
from django_forms import forms
from django_views import shop

from kettle import Kettle
from kettle.auth import Auth
from kettle.middleware import HTTPMiddleware


class Settings:  # settings.py (DJANGO_SETTINGS_MODULE: KETTLE_SETTINGS)
    DEBUG = False
    SECRET_KEY = None  # from the environment: KETTLE_SECRET_KEY
    ALLOWED_HOSTS = ["shop.example.com"]  # the same
    # DATABASES = {"default": {"ENGINE": "django.db.backends.postgresql", ...}}
    DATABASE_URL = "postgresql://shop@localhost/shop"
    # SESSION_ENGINE = "django.contrib.sessions.backends.db"
    SESSION_BACKEND = "database"
    CSRF_TRUSTED_ORIGINS = ["https://admin.example.com"]  # the same
    HTTPS_REDIRECT = True  # SECURE_SSL_REDIRECT = True
    LOGIN_URL = "auth.login"  # LOGIN_URL = "login"
    SHOP_OPENING_HOUR = 9  # your own settings: settings.SHOP_OPENING_HOUR


class Development(Settings):  # a settings module per environment
    DEBUG = True
    HTTPS_REDIRECT = False
    DATABASE_URL = "sqlite:///shop.sqlite3"


class TimingMiddleware(HTTPMiddleware):  # class TimingMiddleware:
    def process_request(self, request):  # __call__, before get_response(request)
        request.state.started = time.perf_counter()

    def process_response(self, request, response):  # after get_response(request)
        spent = (time.perf_counter() - request.state.started) * 1000
        response.headers["Server-Timing"] = f"app;dur={spent:.1f}"
        return response


def create_app(settings: object = Development, **overrides: object) -> Kettle:
    app = Kettle(settings=settings, **overrides)
    app.add_middleware(TimingMiddleware)  # MIDDLEWARE = [..., "shop.TimingMiddleware"]
    # urls.py: urlpatterns = [path("shop/", include("shop.urls")), ...]
    app.register_blueprint(shop)
    app.register_blueprint(forms)
    app.register_blueprint(staff)
    Auth(app)  # path("accounts/", include("django.contrib.auth.urls"))
    create_admin(app)  # path("admin/", admin.site.urls)
    return app
