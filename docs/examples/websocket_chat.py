"""WebSockets: echo, JSON messages, path and query parameters, closing."""

from kettle import Kettle
from kettle import WebSocket
from kettle.exceptions import WebSocketException

app = Kettle()
ROOMS = {"lobby", "tea"}


@app.websocket("/echo")
async def echo(ws: WebSocket):
    await ws.accept()
    async for message in ws:  # text (str) or binary (bytes) until the client leaves
        await ws.send_text(f"echo: {message}")


@app.websocket("/rooms/{room}")
async def room(ws: WebSocket, room: str, name: str = "guest"):
    if room not in ROOMS:
        await ws.close(code=4404, reason="no such room")  # refuse before accepting
        return
    await ws.accept()
    await ws.send_json({"joined": room, "name": name})
    async for data in ws.iter_json():
        if data.get("text") == "/quit":
            raise WebSocketException(code=4000, reason="bye")
        await ws.send_json({"from": name, "text": data.get("text")})


@app.websocket("/sum")
async def running_sum(ws: WebSocket):
    await ws.accept()
    total = 0
    for _ in range(3):
        total += int(await ws.receive_text())
        await ws.send_json({"total": total})
    await ws.close()  # returning also closes with code 1000
