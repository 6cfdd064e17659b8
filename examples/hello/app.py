from kettle import Kettle
from kettle import request

app = Kettle()

@app.get("/")
def index():
    return "Hello, World!"                      # str -> text/html, dict/list -> JSON

@app.get("/users/{user_id:int}")
async def show_user(user_id: int, verbose: bool = False):   # path + query, typed
    return {"id": user_id, "verbose": verbose, "agent": request.headers.get("user-agent")}
