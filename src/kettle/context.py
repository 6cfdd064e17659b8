"""The context-local ``request``, ``session`` and ``current_app`` (Flask-style
globals)."""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from typing import TYPE_CHECKING
from typing import Any
from typing import Generic
from typing import TypeVar
from typing import cast

if TYPE_CHECKING:
    from .app import Kettle
    from .requests import Request
    from .sessions import Session

__all__ = ("current_app", "has_request_context", "request", "session")

T = TypeVar("T")

request_var: ContextVar[Any] = ContextVar("kettle.request")
app_var: ContextVar[Any] = ContextVar("kettle.app")


def _current_request() -> Any:
    return request_var.get()


def _current_app() -> Any:
    current = request_var.get(None)
    if current is not None:
        return current.app
    return app_var.get()


def _current_app_or_none() -> Any:
    """The request's app, else the app context's, else None."""
    current = request_var.get(None)
    return current.app if current is not None else app_var.get(None)


class _Proxy(Generic[T]):
    """Forwards attribute access to the object a lookup function returns."""

    __slots__ = ("_lookup", "_message")

    def __init__(self, lookup: Callable[[], Any], message: str) -> None:
        object.__setattr__(self, "_lookup", lookup)
        object.__setattr__(self, "_message", message)

    def _get_current_object(self) -> T:
        try:
            return cast("T", self._lookup())
        except LookupError:
            raise RuntimeError(self._message) from None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._get_current_object(), name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._get_current_object(), name, value)

    def __repr__(self) -> str:
        try:
            return repr(self._lookup())
        except LookupError:
            return "<unbound proxy>"

    def __bool__(self) -> bool:
        try:
            self._lookup()
        except LookupError:
            return False
        return True


request: Request = cast(
    "Request",
    _Proxy(
        _current_request,
        "Working outside of a request: kettle.request is only available while a "
        "request is handled (in handlers, hooks and error handlers). Pass the "
        "request as a parameter, or use app.test_client() in tests.",
    ),
)

current_app: Kettle = cast(
    "Kettle",
    _Proxy(
        _current_app,
        "Working outside of an application context: use it during a request or "
        "inside 'with app.app_context():'.",
    ),
)


class _SessionProxy(_Proxy[Any]):
    """The current request's session, usable as the dict it is."""

    __slots__ = ()

    def __getitem__(self, key: str) -> Any:
        return self._get_current_object()[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._get_current_object()[key] = value

    def __delitem__(self, key: str) -> None:
        del self._get_current_object()[key]

    def __contains__(self, key: object) -> bool:
        return key in self._get_current_object()

    def __iter__(self) -> Any:
        return iter(self._get_current_object())

    def __len__(self) -> int:
        return len(self._get_current_object())

    def __eq__(self, other: object) -> bool:
        return bool(self._get_current_object() == other)

    __hash__ = None  # type: ignore[assignment]

    def __bool__(self) -> bool:
        try:
            return bool(self._get_current_object())
        except RuntimeError:
            return False


session: Session = cast(
    "Session",
    _SessionProxy(
        lambda: request_var.get().session,
        "Working outside of a request: kettle.session is the session of the "
        "request being handled.",
    ),
)


def has_request_context() -> bool:
    """Whether a request is being handled in the current context."""
    return request_var.get(None) is not None
