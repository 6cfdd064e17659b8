"""Tests for a small app, as you would write them in tests/test_app.py."""

import asyncio

import pytest

from kettle import Kettle
from kettle import WebSocket
from kettle.testing import AsyncTestClient


def create_app():
    app = Kettle(env_file=None)  # reads no .env file: tests see only their settings

    @app.get("/greet/{name}")
    def greet(name: str):
        return {"hello": name}

    @app.get("/fail")
    def fail():
        raise ValueError("bad")

    @app.websocket("/ws")
    async def shout(ws: WebSocket):
        await ws.accept()
        async for message in ws:
            await ws.send_text(message.upper())

    return app


app = create_app()


def test_get():
    with create_app().test_client() as client:  # ASGI; `with` runs the lifespan
        response = client.get("/greet/ann")
        assert response.status_code == 200
        assert response.json() == {"hello": "ann"}


@pytest.mark.parametrize("interface", ["asgi", "wsgi"])
def test_both_interfaces(interface):
    with create_app().test_client(interface=interface) as client:
        assert client.get("/greet/bob").json() == {"hello": "bob"}


def test_server_errors():
    app = create_app()
    with app.test_client() as client:  # like a real server: a 500 response
        assert client.get("/fail").status_code == 500
    with app.test_client(raise_server_exceptions=True) as client:
        with pytest.raises(ValueError, match="bad"):  # the exception, in the test
            client.get("/fail")


def test_websocket():
    with create_app().test_client() as client:
        with client.websocket_connect("/ws") as ws:
            ws.send_text("hello")
            assert ws.receive_text() == "HELLO"


def test_async_client():
    async def main():
        async with AsyncTestClient(create_app()) as client:
            response = await client.get("/greet/cho")
            assert response.json() == {"hello": "cho"}

    asyncio.run(main())
