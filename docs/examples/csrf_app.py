"""CSRF protection: a form with its token, an htmx button, an exempt webhook."""

from kettle import Kettle
from kettle import Request
from kettle import redirect
from kettle.csrf import csrf_exempt
from kettle.templating import render

app = Kettle()  # SECRET_KEY from the settings, the environment or .env
LIKES = {"count": 0}


@app.get("/comment")
def comment_form():
    return render("comment.html")  # {{ csrf_input() }} puts the token in the form


@app.post("/comment")
def comment(text: str = ""):  # reached only with a valid token
    return redirect("/comment")


@app.post("/like")
def like():  # htmx sends the token in the X-CSRF-Token header
    LIKES["count"] += 1
    return {"likes": LIKES["count"]}


@app.post("/hooks/payments")
@csrf_exempt  # no browser posts here: the sender signs its requests instead
async def payment_hook(request: Request):
    return {"received": len(await request.body())}
