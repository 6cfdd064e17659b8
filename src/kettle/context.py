"""The context-local ``request`` and ``current_app`` (Flask-style globals)."""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING
from typing import Any
from typing import Generic
from typing import TypeVar
from typing import cast

if TYPE_CHECKING:
    from .app import Kettle
    from .requests import Request

__all__ = ("current_app", "has_request_context", "request")

T = TypeVar("T")

request_var: ContextVar[Any] = ContextVar("kettle.request")
app_var: ContextVar[Any] = ContextVar("kettle.app")


class _Proxy(Generic[T]):
    """Forwards attribute access to the object held by a context variable."""

    __slots__ = ("_message", "_var")

    def __init__(self, var: ContextVar[Any], message: str) -> None:
        object.__setattr__(self, "_var", var)
        object.__setattr__(self, "_message", message)

    def _get_current_object(self) -> T:
        try:
            return cast(T, self._var.get())
        except LookupError:
            raise RuntimeError(self._message) from None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._get_current_object(), name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._get_current_object(), name, value)

    def __repr__(self) -> str:
        try:
            return repr(self._var.get())
        except LookupError:
            return f"<unbound {self._var.name} proxy>"

    def __bool__(self) -> bool:
        try:
            self._var.get()
        except LookupError:
            return False
        return True


request: Request = cast(
    "Request",
    _Proxy(
        request_var,
        "Working outside of a request: kettle.request is only available while a "
        "request is handled (in handlers, hooks and error handlers). Pass the "
        "request as a parameter, or use app.test_client() in tests.",
    ),
)

current_app: Kettle = cast(
    "Kettle",
    _Proxy(
        app_var,
        "Working outside of an application context: use it during a request or "
        "inside 'with app.app_context():'.",
    ),
)


def has_request_context() -> bool:
    """Whether a request is being handled in the current context."""
    return request_var.get(None) is not None
