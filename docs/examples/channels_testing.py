"""Testing channels: sockets through the test client, messages published by the
test (the memory backend: nothing to start)."""

from kettle import Kettle
from kettle import WebSocket
from kettle.channels import get_backend
from kettle.channels import publish
from kettle.channels import relay
from kettle.channels import subscribe


def create_app(**settings):
    app = Kettle(env_file=None, **settings)

    @app.websocket("/live/{topic}")
    async def live(ws: WebSocket, topic: str):
        await ws.accept()
        async with subscribe(topic) as subscription:
            await ws.send_json({"listening": topic})  # subscribed from here on
            async for _ in relay(ws, subscription):  # until the client leaves
                pass

    return app


def test_live_updates():
    app = create_app()
    with app.test_client() as client:
        with client.websocket_connect("/live/scores") as ws:
            assert ws.receive_json() == {"listening": "scores"}
            with app.app_context():  # the test publishes, as a task would
                publish("scores", {"home": 1, "away": 0})
                publish("weather", "sunny")  # another channel: not received
                publish("scores", {"home": 2, "away": 0})
            assert ws.receive_json() == {"home": 1, "away": 0}
            assert ws.receive_json() == {"home": 2, "away": 0}
        assert get_backend(app).subscribers("scores") == 0  # it left with the client
