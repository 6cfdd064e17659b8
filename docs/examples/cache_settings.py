"""Cache settings: Redis for an app served by several workers or machines,
the database when there is no Redis."""


class Production:
    SECRET_KEY = "change-me: a long random string"  # signs what Redis holds
    CACHE_BACKEND = "redis"
    CACHE_REDIS_URL = "redis://127.0.0.1:6379/1"  # default: REDIS_URL
    CACHE_KEY_PREFIX = "shop"  # apps sharing one Redis keep apart
    CACHE_TTL = 600  # seconds, when a call gives no ttl
    CACHE_FAIL_OPEN = True  # Redis down: reads miss, writes are dropped


class SmallSite:
    SECRET_KEY = "change-me: a long random string"
    DATABASE_URL = "sqlite:///site.db"
    CACHE_BACKEND = "database"  # the table kettle_cache, made at start-up
    CACHE_TTL = 3600
