"""What an app and a blueprint share: route decorators, hooks and error handlers."""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any
from typing import TypedDict
from typing import TypeVar
from typing import Unpack

__all__ = ("RouteInfo", "RouteOptions", "Scaffold", "caller_folder")

F = TypeVar("F", bound=Callable[..., Any])
HTTP_METHODS = ("get", "post", "put", "patch", "delete", "head", "options", "trace")


def caller_folder() -> str:
    """The folder of the first module outside Kettle on the call stack (the one
    making the app or blueprint), or the working directory."""
    frame = sys._getframe(2)
    while frame is not None:
        name = frame.f_globals.get("__name__", "")
        if name != "kettle" and not name.startswith("kettle."):
            file = frame.f_globals.get("__file__")
            if isinstance(file, str):
                return os.path.dirname(os.path.abspath(file))
            break
        frame = frame.f_back  # type: ignore[assignment]
    return os.getcwd()


class _Unset:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<unset>"


_UNSET: Any = _Unset()


class RouteOptions(TypedDict, total=False):
    """What a route decorator takes besides the path, methods and name.

    Attributes:
        status_code: The status of a response made from a returned value
            (``201`` for a create); also the documented success status.
        response_model: The type a return value is validated and filtered by
            (default: the return annotation when it holds a model; None for
            none).
        tags: Groups for the API docs.
        summary: The operation's title in the docs (default: the docstring's
            first line).
        description: The operation's text (default: the rest of the docstring).
        deprecated: Mark the operation deprecated in the docs.
        include_in_schema: False to leave the route out of ``/openapi.json``.
        responses: More documented responses: ``{404: {"description": ...}}``,
            optionally with ``"model": SomeType``.
        operation_id: The OpenAPI ``operationId`` (default: the route name).
        template: A template the handler's returned dict is rendered through
            (see :mod:`kettle.templating`).
    """

    status_code: int | None
    response_model: Any
    tags: Sequence[str]
    summary: str | None
    description: str | None
    deprecated: bool
    include_in_schema: bool
    responses: Mapping[int | str, Mapping[str, Any]]
    operation_id: str | None
    template: str | None


@dataclasses.dataclass(frozen=True, slots=True)
class RouteInfo:
    """A route's :class:`RouteOptions`, checked at registration and kept on the
    route's pipeline (what the app and the OpenAPI document read)."""

    status_code: int | None = None
    response_model: Any = _UNSET
    tags: Sequence[str] = ()
    summary: str | None = None
    description: str | None = None
    deprecated: bool = False
    include_in_schema: bool = True
    responses: Mapping[int | str, Mapping[str, Any]] = dataclasses.field(
        default_factory=dict
    )
    operation_id: str | None = None
    template: str | None = None

    def __post_init__(self) -> None:
        status = self.status_code
        if status is not None and (
            not isinstance(status, int) or not 100 <= status <= 599
        ):
            raise ValueError(f"status_code must be an HTTP status, not {status!r}")
        if isinstance(self.tags, str):
            raise TypeError("tags must be a list of strings, not a string")
        if self.template is not None and not isinstance(self.template, str):
            raise TypeError(f"template must be a template name, not {self.template!r}")


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
        **options: Any,
    ) -> None:
        """Register ``endpoint`` for ``path`` (what the decorators call).

        ``options`` are those of :class:`RouteOptions`.
        """
        raise NotImplementedError

    def add_websocket_route(
        self, path: str, endpoint: Callable[..., Any], name: str | None = None
    ) -> None:
        """Register a WebSocket ``endpoint`` for ``path``."""
        raise NotImplementedError

    def route(
        self,
        path: str,
        methods: Iterable[str] | None = None,
        name: str | None = None,
        **options: Unpack[RouteOptions],
    ) -> Callable[[F], F]:
        """Register a handler, or a :class:`~kettle.View` class, for ``path``.

        Args:
            path: The route path, e.g. ``"/users/{id:int}"``.
            methods: HTTP methods (default ``["GET"]``; for a View, the methods it
                defines).
            name: The name for :func:`~kettle.url_for` (default: the function name).
            **options: ``status_code``, ``response_model``, ``tags``, ``summary``,
                ``description``, ``deprecated``, ``include_in_schema``,
                ``responses``, ``operation_id``: see :class:`RouteOptions`.
        """

        def decorator(func: F) -> F:
            self.add_route(path, func, methods, name, **options)
            return func

        return decorator

    def get(
        self, path: str, *, name: str | None = None, **options: Unpack[RouteOptions]
    ) -> Callable[[F], F]:
        """Register a ``GET`` handler (``HEAD`` is answered too)."""
        return self.route(path, ["GET"], name, **options)

    def post(
        self, path: str, *, name: str | None = None, **options: Unpack[RouteOptions]
    ) -> Callable[[F], F]:
        """Register a ``POST`` handler."""
        return self.route(path, ["POST"], name, **options)

    def put(
        self, path: str, *, name: str | None = None, **options: Unpack[RouteOptions]
    ) -> Callable[[F], F]:
        """Register a ``PUT`` handler."""
        return self.route(path, ["PUT"], name, **options)

    def patch(
        self, path: str, *, name: str | None = None, **options: Unpack[RouteOptions]
    ) -> Callable[[F], F]:
        """Register a ``PATCH`` handler."""
        return self.route(path, ["PATCH"], name, **options)

    def delete(
        self, path: str, *, name: str | None = None, **options: Unpack[RouteOptions]
    ) -> Callable[[F], F]:
        """Register a ``DELETE`` handler."""
        return self.route(path, ["DELETE"], name, **options)

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
