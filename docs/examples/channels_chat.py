"""Channels: a chat over WebSocket, across every worker, for logged-in users."""

from kettle import Kettle
from kettle import WebSocket
from kettle import abort
from kettle.auth import Auth
from kettle.auth import User
from kettle.channels import apublish
from kettle.channels import publish
from kettle.channels import relay
from kettle.channels import subscribe

app = Kettle()  # CHANNELS_BACKEND = "redis" (and CHANNELS_REDIS_URL) in production
Auth(app)  # /auth/login: the socket gets the session's user


@app.websocket("/rooms/{room}")
async def room(ws: WebSocket, room: str, user: User):  # anonymous: refused (1008)
    await ws.accept()
    async with subscribe(f"room:{room}") as subscription:
        await apublish(f"room:{room}", {"joined": user.username})
        # relay() sends each message of the room to this socket while
        # yielding what the client sends, until the client leaves
        async for data in relay(ws, subscription):
            text = str(data.get("text", ""))[:500]
            await apublish(f"room:{room}", {"from": user.username, "text": text})
    await apublish(f"room:{room}", {"left": user.username})


@app.post("/rooms/{room}/announce")
def announce(room: str, text: str, user: User):  # a def handler: publish()
    if not user.is_staff:
        abort(403)
    publish(f"room:{room}", {"from": "staff", "text": text})
    return {"sent": True}
