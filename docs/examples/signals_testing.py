"""Testing with signals: listen for the length of a ``with`` block."""

from kettle import Kettle
from kettle.signals import Namespace
from kettle.signals import request_finished

shop = Namespace()
cart_emptied = shop.signal("cart-emptied")


def create_app():
    app = Kettle(env_file=None)

    @app.delete("/cart")
    def empty_cart():
        cart_emptied.send(app, items=3)
        return {"emptied": True}

    return app


def test_emptying_the_cart_sends_the_signal():
    app = create_app()
    heard, statuses = [], []

    def on_emptied(sender, items):
        heard.append(items)

    def on_finished(sender, request, response):
        statuses.append(response.status_code)

    with (
        cart_emptied.connected_to(on_emptied, sender=app),
        request_finished.connected_to(on_finished, sender=app),
        app.test_client() as client,
    ):
        client.delete("/cart")
    assert heard == [3] and statuses == [200]

    with cart_emptied.muted(), app.test_client() as client:  # nobody hears it
        client.delete("/cart")
    assert heard == [3]
