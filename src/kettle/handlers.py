"""Turning a user's handler into a call plan, once, when it is registered.

The plan says where each parameter comes from (path, query, the request) and how a
return value becomes a :class:`~kettle.responses.Response`. Nothing here inspects a
signature per request.
"""

from __future__ import annotations

import enum
import math
import re
import types
import typing
from collections.abc import Callable
from collections.abc import Mapping
from typing import Any

from . import _json
from .exceptions import ImproperlyConfigured
from .exceptions import RequestValidationError
from .requests import HTTPConnection
from .requests import Request
from .responses import HTMLResponse
from .responses import JSONResponse
from .responses import Response
from .routing.converters import converter_for_annotation

__all__ = ("HandlerPlan", "make_response")


def _bool(value: str) -> bool:
    lowered = value.lower()
    if lowered in ("1", "true", "yes", "on", "y", "t"):
        return True
    if lowered in ("0", "false", "no", "off", "n", "f", ""):
        return False
    raise ValueError(value)


_INT = re.compile(r"-?[0-9]+")
_FLOAT = re.compile(r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")


def _int(value: str) -> int:
    # NOTE: int() alone would take "1_000", " 1" and non-ASCII digits.
    if value.isdigit() and value.isascii():  # PERF: the common case, no regex
        return int(value)
    if _INT.fullmatch(value) is None:
        raise ValueError(value)
    return int(value)


def _float(value: str) -> float:
    if _FLOAT.fullmatch(value) is None:
        raise ValueError(value)
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(value)
    return number


_SCALARS: dict[Any, Callable[[str], Any]] = {
    str: str,
    int: _int,
    float: _float,
    bool: _bool,
}
_TYPE_NAMES = {str: "string", int: "int", float: "float", bool: "bool"}
_STRING_TYPES: dict[Any, Any] = {"str": str, "int": int, "float": float, "bool": bool}


def _unwrap_optional(annotation: Any) -> Any:
    if typing.get_origin(annotation) in (
        typing.Union,
        types.UnionType,
    ):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


class _QueryParam:
    """A scalar query parameter taken from the handler signature."""

    __slots__ = ("convert", "default", "name", "required", "type_name")

    def __init__(self, name: str, annotation: Any, default: Any) -> None:
        import inspect

        self.name = name
        base = _unwrap_optional(annotation)
        if base is inspect.Parameter.empty:
            base = str
        if isinstance(base, type) and issubclass(base, enum.Enum):
            self.convert: Callable[[str], Any] = base
            self.type_name = "enum"
        elif base in _SCALARS:
            self.convert = _SCALARS[base]
            self.type_name = _TYPE_NAMES[base]
        else:
            raise TypeError(base)
        self.default = default
        self.required = default is inspect.Parameter.empty

    def error(self, raw: str | None) -> dict[str, Any]:
        """The 422 entry for a missing (``raw`` None) or unconvertible value."""
        if raw is None:
            return {
                "loc": ["query", self.name],
                "msg": "Field required",
                "type": "missing",
            }
        return {
            "loc": ["query", self.name],
            "msg": f"Input should be a valid {self.type_name}",
            "type": f"{self.type_name}_parsing",
            "input": raw,
        }


class HandlerPlan:
    """How to call one handler: made at registration, used per request.

    Args:
        func: The handler.
        path_params: The names of the route's path parameters.
        connection_type: ``Request`` for HTTP routes, ``WebSocket`` for WebSockets.
        skip_first: Skip the first parameter (``self`` of a class-based view).
    """

    __slots__ = ("conn_names", "func", "is_async", "path_names", "query", "simple")

    def __init__(
        self,
        func: Callable[..., Any],
        path_params: list[str],
        connection_type: type[HTTPConnection] = Request,
        skip_first: bool = False,
    ) -> None:
        import inspect

        self.func = func
        self.is_async = inspect.iscoroutinefunction(func)
        where = getattr(func, "__qualname__", repr(func))
        try:
            signature = inspect.signature(func)
        except (TypeError, ValueError) as exc:
            raise ImproperlyConfigured(
                f"cannot read the signature of {where}: {exc}"
            ) from exc
        try:
            hints = typing.get_type_hints(func)
        except NameError:
            # NOTE: an annotation naming a local class cannot be resolved; read the
            # strings as written (builtins still work) and report what does not fit.
            hints = {
                name: _STRING_TYPES.get(p.annotation, p.annotation)
                for name, p in signature.parameters.items()
            }
        params = list(signature.parameters.values())
        if skip_first:
            params = params[1:]
        self.path_names: list[str] = []
        self.conn_names: list[str] = []
        self.query: list[_QueryParam] = []
        conn_attr = connection_type.__name__.lower()
        for param in params:
            annotation = hints.get(param.name, param.annotation)
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                continue
            if param.name in path_params:
                self.path_names.append(param.name)
            elif _is_connection(annotation, connection_type) or (
                param.name == conn_attr and annotation is inspect.Parameter.empty
            ):
                self.conn_names.append(param.name)
            else:
                try:
                    self.query.append(
                        _QueryParam(param.name, annotation, param.default)
                    )
                except TypeError:
                    raise ImproperlyConfigured(
                        f"handler {where}: parameter {param.name!r} (annotated "
                        f"{annotation!r}) is not a path parameter, the request, or a "
                        "str/int/float/bool/Enum query parameter; change its "
                        "annotation or read the value from the request"
                    ) from None
        missing = [n for n in path_params if n not in self.path_names]
        if missing and not any(p.kind == p.VAR_KEYWORD for p in params):
            raise ImproperlyConfigured(
                f"handler {where} does not take the path parameter(s) "
                f"{', '.join(missing)}; add them to its signature"
            )
        # PERF: the common shapes call the handler without building kwargs.
        self.simple = not self.conn_names and not self.query

    def kwargs(self, conn: HTTPConnection) -> Mapping[str, Any]:
        """Build the handler's keyword arguments for this request."""
        params = conn.path_params
        if self.simple:
            return params
        kwargs = {name: params[name] for name in self.path_names} if params else {}
        for name in self.conn_names:
            kwargs[name] = conn
        if self.query:
            values = conn.query.last_values()
            errors: list[dict[str, Any]] | None = None
            for q in self.query:
                raw = values.get(q.name)
                if raw is None:
                    if q.required:
                        errors = [*(errors or ()), q.error(None)]
                    kwargs[q.name] = q.default
                    continue
                try:
                    kwargs[q.name] = q.convert(raw)
                except (ValueError, TypeError):
                    errors = [*(errors or ()), q.error(raw)]
            if errors:
                raise RequestValidationError(errors)
        return kwargs


def _is_connection(annotation: Any, connection_type: type[HTTPConnection]) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, connection_type)


def path_converters(
    func: Callable[..., Any], skip_first: bool = False
) -> dict[str, str]:
    """Converter names implied by a handler's annotations (``id: int`` -> ``int``)."""
    try:
        hints = typing.get_type_hints(func)
    except (TypeError, NameError):
        return {}
    out: dict[str, str] = {}
    for name, annotation in hints.items():
        conv = converter_for_annotation(_unwrap_optional(annotation))
        if conv is not None:
            out[name] = conv
    return out


def make_response(rv: Any) -> Response:
    """Turn a handler's return value into a :class:`Response`.

    ``str`` -> HTML, ``bytes`` -> octet-stream, ``dict``/``list`` (and numbers,
    booleans, dataclasses, pydantic models) -> JSON, ``None`` -> 204,
    ``(body, status)``,
    ``(body, status, headers)`` and ``(body, headers)`` tuples, or a Response.
    """
    kind = type(rv)
    if kind is str:
        return HTMLResponse(rv)
    if kind is dict or kind is list:
        return JSONResponse(rv)
    if isinstance(rv, Response):
        return rv
    if rv is None:
        return Response(status_code=204)
    if kind is tuple:
        return _from_tuple(rv)
    if isinstance(rv, bytes | bytearray | memoryview):
        return Response(bytes(rv), media_type="application/octet-stream")
    if isinstance(rv, str):
        return HTMLResponse(str(rv))
    if isinstance(rv, dict | list | int | float) or hasattr(
        kind, "__dataclass_fields__"
    ):
        return JSONResponse(rv)
    if hasattr(rv, "model_dump"):
        return JSONResponse(rv)
    raise TypeError(
        f"a handler returned {kind.__name__!r}; return str, bytes, dict, list, "
        "number, None, "
        "a (body, status[, headers]) tuple or a Response"
    )


def _from_tuple(rv: tuple[Any, ...]) -> Response:
    if len(rv) == 3:
        body, status, headers = rv
    elif len(rv) == 2:
        body, second = rv
        if isinstance(second, int):
            status, headers = second, None
        else:
            status, headers = None, second
    else:
        raise TypeError(
            "a returned tuple must be (body, status), (body, headers) or "
            "(body, status, headers)"
        )
    response = make_response(body)
    if status is not None:
        response.status_code = int(status)
        if response.status_code in (204, 304) or response.status_code < 200:
            response.body = b""  # these statuses never carry a body
            response.raw_headers[:] = [
                h for h in response.raw_headers if h[0] != b"content-length"
            ]
    if headers:
        items = headers.items() if hasattr(headers, "items") else headers
        for k, v in items:
            response.headers[k] = str(v)
    return response


def json_error_body(detail: Any) -> bytes:
    """The JSON body of an error response."""
    return _json.dumps({"detail": detail})
