"""Error handlers, abort, the default error pages and validation errors."""

from kettle import Kettle
from kettle import abort
from kettle import request


class OutOfStock(Exception):
    def __init__(self, item: str):
        self.item = item


app = Kettle()
STOCK = {"sencha": 3, "matcha": 0}


@app.errorhandler(404)
def not_found(exc):  # also answers paths that match no route
    return {"detail": exc.detail, "path": request.path}, 404


@app.errorhandler(OutOfStock)
def out_of_stock(exc):
    return {"detail": f"{exc.item} is out of stock"}, 409


@app.errorhandler(LookupError)  # KeyError, IndexError... (the closest class wins)
def lookup_error(exc):
    return {"detail": "lookup failed"}, 400


@app.get("/buy/{item}")
def buy(item: str, quantity: int = 1):
    if item not in STOCK:
        abort(404, f"We do not sell {item}.")
    if STOCK[item] < quantity:
        raise OutOfStock(item)
    return {"bought": item, "quantity": quantity}


@app.get("/shelf/{index:int}")
def shelf(index: int):
    return {"item": list(STOCK)[index]}  # IndexError -> lookup_error


@app.get("/private")
def private():
    abort(401, headers={"www-authenticate": 'Bearer realm="tea"'})


@app.get("/broken")
def broken():
    return 1 / 0  # unhandled: 500, logged with its traceback
