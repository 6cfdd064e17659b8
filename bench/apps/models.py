"""The ``typed`` endpoint's JSON body: a small pydantic v2 model (see bench/README.md).

Imported only when a module's ``typed_app`` is built, so that the other apps' idle
memory does not include pydantic where the framework itself does not import it.
"""

from pydantic import BaseModel


class Item(BaseModel):
    name: str
    price: float
    tags: list[str] = []
