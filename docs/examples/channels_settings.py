"""Channels: settings for several workers or machines (a settings module)."""

CHANNELS_BACKEND = "redis"  # "memory" (the default): one process only
CHANNELS_REDIS_URL = "redis://127.0.0.1:6379/0"  # default: REDIS_URL
CHANNELS_PREFIX = "shop:"  # default "kettle:<db>:"; one per app sharing a Redis
CHANNELS_QUEUE_SIZE = 100  # messages a subscriber may fall behind (then: drop oldest)
