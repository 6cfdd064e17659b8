"""Sessions and flash messages: a cart kept in the signed session cookie."""

from kettle import Kettle
from kettle import flash
from kettle import get_flashed_messages
from kettle import redirect
from kettle import session

app = Kettle()  # SECRET_KEY comes from the settings, the environment or .env


@app.post("/cart/{item_id:int}")
def add_to_cart(item_id: int):
    session["cart"] = [*session.get("cart", []), item_id]  # assigned: saved
    flash("Added to your cart.", "success")
    return redirect("/cart")


@app.get("/cart")
def cart():
    return {"items": session.get("cart", []), "messages": get_flashed_messages()}


@app.post("/cart/empty")
def empty_cart():
    session.clear()  # deletes the cookie
    return redirect("/cart")
