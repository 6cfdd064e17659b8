"""Hello, World: the whole app is this file."""

from kettle import Kettle
from kettle import request

app = Kettle()


@app.get("/")
def index():
    return "Hello, World!"  # str -> text/html


@app.get("/users/{user_id:int}")
async def show_user(user_id: int, verbose: bool = False):
    agent = request.headers.get("user-agent")
    return {"id": user_id, "verbose": verbose, "agent": agent}  # dict -> JSON
