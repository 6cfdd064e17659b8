"""Signals: an audit log fed by request, model and auth signals, and a signal of
the app's own."""

import logging
import time

from sqlalchemy import String
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import Session
from sqlalchemy.orm import mapped_column

from kettle import Kettle
from kettle.auth import Auth
from kettle.db import PK
from kettle.db import Model
from kettle.signals import Namespace
from kettle.signals import got_request_exception
from kettle.signals import model_after_insert
from kettle.signals import receiver
from kettle.signals import request_finished
from kettle.signals import request_started
from kettle.signals import user_logged_in
from kettle.signals import user_login_failed

audit = logging.getLogger("shop.audit")

app = Kettle()  # SECRET_KEY and DATABASE_URL from the settings or environment
Auth(app)

# A signal of the app's own, in a namespace of its own.
shop = Namespace()
order_placed = shop.signal("order-placed", "Sent with order= once it is saved.")


class Order(Model):
    __tablename__ = "signals_example_order"

    id: Mapped[PK]
    item: Mapped[str] = mapped_column(String(100))


@app.post("/orders")
def place_order(item: str, db: Session):
    order = Order(item=item)
    db.add(order)
    db.flush()  # model_after_insert is sent here
    order_placed.send(app, order=order)
    return {"id": order.id}


# -- receivers: async ones cost no thread hop on an ASGI request --------------


@receiver(request_started, sender=app)
async def start_clock(sender, request):
    request.state.started = time.perf_counter()


@receiver(request_finished, sender=app)
async def log_request(sender, request, response):
    ms = (time.perf_counter() - request.state.started) * 1000
    audit.info("%s %s %d", request.method, request.path, response.status_code)
    audit.debug("took %.1f ms", ms)


@receiver(got_request_exception, sender=app)
async def report_error(sender, request, exception):
    audit.error("%s %s failed: %r", request.method, request.path, exception)


# -- a def receiver of a model signal runs inside the flush -------------------


@receiver(model_after_insert, sender=Order)
def log_new_order(sender, instance, connection):
    audit.info("order %d saved: %s", instance.id, instance.item)


@receiver([user_logged_in, user_login_failed], sender=app)
def log_login(sender, request, **details):
    if "user" in details:
        audit.info("login: %s", details["user"].username)
    else:
        who = details["credentials"]["username"]
        audit.warning("refused login for %r (%s)", who, details["reason"])


@receiver(order_placed, sender=app)
async def announce(sender, order):
    audit.info("announced order %d", order.id)
