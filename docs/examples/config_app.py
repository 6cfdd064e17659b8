"""Reading settings: a settings class, .env, KETTLE_* variables, keywords."""

from kettle import Kettle
from kettle import current_app


class Settings:
    """Upper-case attributes are settings (a module works the same way)."""

    SECRET_KEY = "change-me"
    MAX_BODY_SIZE = 2 * 1024 * 1024
    SHOP_NAME = "Kettle Tea Shop"  # your own settings live here too
    OPENING_HOUR = 9


class Production(Settings):
    PREFERRED_URL_SCHEME = "https"
    COOKIE_SECURE = True
    SERVER_NAME = "tea.example.com"


def create_app(settings=Settings, env_file=".env", **overrides):
    """An app factory: tests and scripts make apps with their own settings."""
    app = Kettle(settings=settings, env_file=env_file, **overrides)

    @app.get("/")
    def index():
        config = current_app.config
        return {
            "shop": config["SHOP_NAME"],
            "opens": config["OPENING_HOUR"],
            "debug": current_app.debug,
            "max_body_size": config["MAX_BODY_SIZE"],
        }

    return app


app = create_app()
