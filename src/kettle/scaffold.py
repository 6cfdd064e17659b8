"""What an app and a blueprint share: route decorators, hooks and error handlers."""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterable
from typing import Any
from typing import TypeVar

__all__ = ("Scaffold",)

F = TypeVar("F", bound=Callable[..., Any])
HTTP_METHODS = ("get", "post", "put", "patch", "delete", "head", "options", "trace")


class Scaffold:
    """Registration methods shared by :class:`~kettle.Kettle` and
    :class:`~kettle.Blueprint`."""

    def __init__(self) -> None:
        self.before_request_funcs: list[Callable[..., Any]] = []
        self.after_request_funcs: list[Callable[..., Any]] = []
        self.teardown_request_funcs: list[Callable[..., Any]] = []
        self.error_handlers: dict[int | type[BaseException], Callable[..., Any]] = {}

    # -- routes ----------------------------------------------------------------

    def add_route(
        self,
        path: str,
        endpoint: Callable[..., Any],
        methods: Iterable[str] | None = None,
        name: str | None = None,
    ) -> None:
        """Register ``endpoint`` for ``path`` (what the decorators call)."""
        raise NotImplementedError

    def add_websocket_route(
        self, path: str, endpoint: Callable[..., Any], name: str | None = None
    ) -> None:
        """Register a WebSocket ``endpoint`` for ``path``."""
        raise NotImplementedError

    def route(
        self, path: str, methods: Iterable[str] | None = None, name: str | None = None
    ) -> Callable[[F], F]:
        """Register a handler, or a :class:`~kettle.View` class, for ``path``.

        Args:
            path: The route path, e.g. ``"/users/{id:int}"``.
            methods: HTTP methods (default ``["GET"]``; for a View, the methods it
                defines).
            name: The name for :func:`~kettle.url_for` (default: the function name).
        """

        def decorator(func: F) -> F:
            self.add_route(path, func, methods, name)
            return func

        return decorator

    def get(self, path: str, *, name: str | None = None) -> Callable[[F], F]:
        """Register a ``GET`` handler (``HEAD`` is answered too)."""
        return self.route(path, ["GET"], name)

    def post(self, path: str, *, name: str | None = None) -> Callable[[F], F]:
        """Register a ``POST`` handler."""
        return self.route(path, ["POST"], name)

    def put(self, path: str, *, name: str | None = None) -> Callable[[F], F]:
        """Register a ``PUT`` handler."""
        return self.route(path, ["PUT"], name)

    def patch(self, path: str, *, name: str | None = None) -> Callable[[F], F]:
        """Register a ``PATCH`` handler."""
        return self.route(path, ["PATCH"], name)

    def delete(self, path: str, *, name: str | None = None) -> Callable[[F], F]:
        """Register a ``DELETE`` handler."""
        return self.route(path, ["DELETE"], name)

    def websocket(self, path: str, *, name: str | None = None) -> Callable[[F], F]:
        """Register an ``async def`` WebSocket handler taking a ``WebSocket``."""

        def decorator(func: F) -> F:
            self.add_websocket_route(path, func, name)
            return func

        return decorator

    # -- hooks -----------------------------------------------------------------

    def before_request(self, func: F) -> F:
        """Run ``func()`` before each request's handler.

        If it returns a value other than None, that value is the response and the
        handler is skipped.
        """
        self.before_request_funcs.append(func)
        return func

    def after_request(self, func: F) -> F:
        """Run ``func(response)`` after each handler; it returns the response."""
        self.after_request_funcs.append(func)
        return func

    def teardown_request(self, func: F) -> F:
        """Run ``func(exc)`` when each request ends, even after an error (``exc`` is
        the unhandled exception or None). Its return value is ignored."""
        self.teardown_request_funcs.append(func)
        return func

    def errorhandler(
        self, code_or_exception: int | type[BaseException]
    ) -> Callable[[F], F]:
        """Handle an HTTP status code or an exception class.

        The handler takes the exception and returns a response value, like a route
        handler does. ``@app.errorhandler(404)`` also handles unknown paths.
        """

        def decorator(func: F) -> F:
            self.register_error_handler(code_or_exception, func)
            return func

        return decorator

    def register_error_handler(
        self, code_or_exception: int | type[BaseException], func: Callable[..., Any]
    ) -> None:
        """Non-decorator form of :meth:`errorhandler`."""
        if isinstance(code_or_exception, int):
            if not 400 <= code_or_exception <= 599:
                raise ValueError(
                    f"{code_or_exception} is not an HTTP error status code"
                )
        elif not (
            isinstance(code_or_exception, type)
            and issubclass(code_or_exception, BaseException)
        ):
            raise TypeError(
                f"{code_or_exception!r} is not a status code or exception class"
            )
        self.error_handlers[code_or_exception] = func
