"""Operations settings: access log, health checks, metrics."""

import logging

from kettle import Kettle
from kettle.health import add_health_check
from kettle.middleware import RequestIDMiddleware

app = Kettle(
    ACCESS_LOG=True,  # kettle serve turns it on by itself
    HEALTH_URL="/healthz",  # the default: dependencies checked
    LIVENESS_URL="/livez",  # no dependency checks
    METRICS_URL="/metrics",  # needs kettle[metrics]
    METRICS_TOKEN="change-me-to-a-long-random-token",
)
# Send the ID back in the X-Request-ID response header too.
app.add_middleware(RequestIDMiddleware)
log = logging.getLogger("shop")

PAYMENTS = {"reachable": True}


def payments_reachable() -> bool:
    return PAYMENTS["reachable"]  # a real check would call the provider


add_health_check(app, "payments", payments_reachable)


@app.get("/orders/{order_id:int}")
def show_order(order_id: int) -> dict[str, int]:
    log.warning("order %s looked up", order_id)  # carries the request's ID
    return {"order": order_id}
