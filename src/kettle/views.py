"""Class-based views: one method per HTTP verb."""

from __future__ import annotations

from typing import ClassVar

__all__ = ("View",)


class View:
    """A class whose ``get``, ``post``, ... methods handle those HTTP methods.

    Register it like a function: ``@app.route("/items/{id:int}")`` on the class.
    A new instance handles each request; methods it does not define get 405 with
    an ``Allow`` header. Method parameters are resolved like a handler's.

    Example::

        @app.route("/items/{item_id:int}")
        class ItemView(View):
            def get(self, item_id: int):
                return {"id": item_id}

            async def delete(self, item_id: int):
                return None
    """

    http_method_names: ClassVar[tuple[str, ...]] = (
        "get",
        "post",
        "put",
        "patch",
        "delete",
        "head",
        "options",
        "trace",
    )

    @classmethod
    def defined_methods(cls) -> list[str]:
        """The HTTP methods this view answers, upper-case."""
        return [
            m.upper() for m in cls.http_method_names if callable(getattr(cls, m, None))
        ]
