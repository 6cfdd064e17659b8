"""Testing an app with rate limits: off for most tests, on with a clock the
test moves for the tests of the limits themselves."""

from kettle import Kettle
from kettle.ratelimit import MemoryLimiter
from kettle.ratelimit import rate_limit
from kettle.ratelimit import set_limiter


def create_app(**settings):
    app = Kettle(env_file=None, **settings)

    @app.get("/ping")
    @rate_limit("2/minute")
    def ping():
        return "pong"

    return app


def test_limits_are_off():
    app = create_app(RATELIMIT_ENABLED=False)  # in the test settings, say
    with app.test_client() as client:
        assert all(client.get("/ping").status_code == 200 for _ in range(10))


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_the_limit():
    clock = FakeClock()
    app = create_app()
    set_limiter(app, MemoryLimiter(clock=clock))  # before the first request
    with app.test_client() as client:
        assert [client.get("/ping").status_code for _ in range(3)] == [200, 200, 429]
        assert client.get("/ping").headers["Retry-After"] == "30"
        clock.now += 30  # one request comes back every 30 seconds
        assert [client.get("/ping").status_code for _ in range(2)] == [200, 429]
