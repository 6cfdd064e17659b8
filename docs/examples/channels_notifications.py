"""Channels: live notifications over server-sent events (SSE)."""

from kettle import EventSourceResponse
from kettle import Kettle
from kettle import ServerSentEvent
from kettle.auth import Auth
from kettle.auth import User
from kettle.channels import events
from kettle.channels import publish
from kettle.channels import subscribe

app = Kettle()
Auth(app)


@app.get("/notifications")
def notifications(user: User):
    # each message of the user's channel is an event; a comment every 15 s
    # keeps proxies from closing a quiet stream
    return EventSourceResponse(events(f"user:{user.id}"))


@app.post("/users/{user_id:int}/poke")
def poke(user_id: int, user: User):  # anywhere in sync code: a handler, a task
    publish(f"user:{user_id}", {"kind": "poke", "from": user.username})
    return {"poked": user_id}


@app.get("/feed")
def feed(user: User):
    async def stream():  # your own events: here, named after their channel
        async with subscribe("news", f"user:{user.id}") as subscription:
            async for message in subscription:
                yield ServerSentEvent(data=message.data, event=message.channel)

    return EventSourceResponse(stream())
