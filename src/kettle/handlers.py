"""Turning a user's handler into a call plan, once, when it is registered.

The plan says where each parameter comes from (the path, the query string, a
header, a cookie, the JSON body, the form, a ``Depends`` provider, the request) and
how a return value becomes a :class:`~kettle.responses.Response`. Nothing here
inspects a signature per request.

PERF: plain ``str``/``int``/``float``/``bool``/``Enum`` values are converted by
hand; anything else (constraints, lists, ``Literal``, dates, models) goes through a
pydantic validator built at start-up. pydantic is imported only for a handler that
needs it, and a hand conversion that fails asks pydantic for the error, so both
give the same answers and the same messages.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import enum
import functools
import importlib
import inspect
import types
import typing
from collections.abc import Callable
from collections.abc import Mapping
from typing import Any

from . import _json
from .concurrency import run_in_threadpool
from .exceptions import HTTPException
from .exceptions import ImproperlyConfigured
from .exceptions import RequestValidationError
from .params import REQUIRED
from .params import BodyParam
from .params import CookieParam
from .params import Dependency
from .params import FileParam
from .params import FormParam
from .params import HeaderParam
from .params import Param
from .params import PathParam
from .params import QueryParam
from .requests import HTTPConnection
from .requests import Request
from .responses import HTMLResponse
from .responses import JSONResponse
from .responses import Response
from .routing.converters import converter_for_annotation

__all__ = ("HandlerPlan", "ResponseValidationError", "make_response")


class ResponseValidationError(Exception):
    """A handler's return value does not fit its response model (a server bug,
    answered with 500 and logged)."""

    def __init__(self, handler: str, errors: list[dict[str, Any]]) -> None:
        self.errors = errors
        super().__init__(f"the response of {handler} does not fit its model: {errors}")


# -- types -------------------------------------------------------------------------

_BOOL_WORDS = {
    "1": True,
    "true": True,
    "t": True,
    "yes": True,
    "y": True,
    "on": True,
    "0": False,
    "false": False,
    "f": False,
    "no": False,
    "n": False,
    "off": False,
}


def _bool(value: str) -> bool:
    return _BOOL_WORDS[value.lower()]


def _int(value: str) -> int:
    # NOTE: int() alone would take "1_000", " 1" and non-ASCII digits; those (and
    # anything else) go to pydantic, which decides.
    if value.isdigit() and value.isascii() and len(value) < 20:
        return int(value)
    raise ValueError(value)


def _float(value: str) -> float:
    if value.replace(".", "", 1).isdigit() and value.isascii():
        return float(value)
    raise ValueError(value)


_FAST: dict[Any, Callable[[str], Any]] = {
    str: str,
    int: _int,
    float: _float,
    bool: _bool,
}
_NONE = type(None)


def _unwrap_optional(annotation: Any) -> Any:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not _NONE]
        if len(args) == 1:
            return args[0]
    return annotation


def _is_scalar(tp: Any) -> bool:
    """A type read from one string: numbers, strings, dates, UUIDs, enums,
    ``Literal``."""
    tp = _unwrap_optional(tp)
    if tp is Any or tp is inspect.Parameter.empty:
        return True
    origin = typing.get_origin(tp)
    if origin is typing.Literal:
        return True
    if origin is typing.Annotated:
        return _is_scalar(typing.get_args(tp)[0])
    if origin in (typing.Union, types.UnionType):
        return all(_is_scalar(a) for a in typing.get_args(tp) if a is not _NONE)
    if not isinstance(tp, type):
        return False
    if issubclass(tp, str | int | float | bytes | enum.Enum):
        return True
    module = tp.__module__
    return module in ("datetime", "decimal", "uuid", "pathlib", "ipaddress")


def _sequence_of_scalars(tp: Any) -> bool:
    tp = _unwrap_optional(tp)
    origin = typing.get_origin(tp)
    if origin not in (list, set, frozenset, tuple, typing.Sequence) and not (
        origin is not None and getattr(origin, "__name__", "") == "Sequence"
    ):
        return False
    args = [a for a in typing.get_args(tp) if a is not Ellipsis]
    return all(_is_scalar(a) for a in args)


def _is_model(tp: Any) -> bool:
    """A pydantic model, a dataclass or a ``TypedDict``."""
    return isinstance(tp, type) and (
        hasattr(tp, "__pydantic_fields__")
        or dataclasses.is_dataclass(tp)
        or (issubclass(tp, dict) and hasattr(tp, "__total__"))  # any TypedDict
    )


def _is_body_type(tp: Any) -> bool:
    """Read from a JSON body: models, and dicts or lists that hold them."""
    tp = _unwrap_optional(tp)
    if _is_model(tp):
        return True
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _is_body_type(typing.get_args(tp)[0])
    if origin in (dict, typing.Dict, Mapping) or tp is dict:  # noqa: UP006
        return True
    if origin in (list, set, tuple, typing.Union, types.UnionType):
        return any(_is_body_type(a) for a in typing.get_args(tp))
    return False


def _is_upload(tp: Any) -> bool:
    from .formparsers import UploadFile

    tp = _unwrap_optional(tp)
    if tp is UploadFile:
        return True
    origin = typing.get_origin(tp)
    return origin in (list, typing.Sequence) and typing.get_args(tp) == (UploadFile,)


def _contains_model(tp: Any) -> bool:
    if _is_model(tp):
        return True
    return any(_contains_model(a) for a in typing.get_args(tp))


def _is_response_type(tp: Any) -> bool:
    if isinstance(tp, type) and issubclass(tp, Response):
        return True
    return any(_is_response_type(a) for a in typing.get_args(tp))


def _plain(value: Any) -> Any:
    """A value that JSON can carry, for an error entry."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return str(value)


def _errors(exc: Any, prefix: tuple[str, ...]) -> list[dict[str, Any]]:
    """pydantic's errors as 422 entries, their ``loc`` under ``prefix``."""
    out = []
    for e in exc.errors(include_url=False):
        entry: dict[str, Any] = {
            "loc": [*prefix, *e["loc"]],
            "msg": e["msg"],
            "type": e["type"],
            "input": _plain(e.get("input")),
        }
        if "ctx" in e:
            entry["ctx"] = _plain(e["ctx"])
        out.append(entry)
    return out


def _missing(loc: list[str]) -> dict[str, Any]:
    return {"loc": loc, "msg": "Field required", "type": "missing", "input": None}


_FAILED: Any = object()


def with_rules(info: Param | None, annotation: Any) -> Any:
    """``Annotated[annotation, Field(...)]`` carrying the marker's rules (and no
    infinities or NaN for a float read from a string)."""
    rules = dict(info.constraints) if info is not None else {}
    if _unwrap_optional(annotation) is float:
        rules["allow_inf_nan"] = False
    if not rules:
        return annotation
    from pydantic import Field

    return typing.Annotated[annotation, Field(**rules)]


def _adapter(annotation: Any) -> Any:
    from pydantic import TypeAdapter

    return TypeAdapter(annotation)


# -- fields ------------------------------------------------------------------------


class RequestField:
    """One value a handler takes from the request: where, under which key, as
    what type, with which default."""

    __slots__ = (
        "annotation",
        "default",
        "fast",
        "info",
        "key",
        "loc",
        "many",
        "name",
        "required",
        "source",
        "validator",
    )

    def __init__(
        self,
        name: str,
        source: str,
        annotation: Any,
        default: Any,
        info: Param | None,
    ) -> None:
        self.name = name
        self.source = source
        self.annotation = annotation
        self.info = info
        key = info.alias if info is not None and info.alias else name
        if isinstance(info, HeaderParam) and info.convert_underscores:
            key = key.replace("_", "-")
        self.key = key.lower() if source == "header" else key
        self.loc = [source if source not in ("form", "file") else "body", self.key]
        self.default = default
        self.required = default is REQUIRED
        base = _unwrap_optional(annotation)
        self.many = _sequence_of_scalars(annotation) or (
            source == "file" and typing.get_origin(base) in (list, typing.Sequence)
        )
        self.fast: Callable[[str], Any] | None = None
        self.validator: Any = None
        if info is None or not info.constraints:
            if base in _FAST:
                self.fast = _FAST[base]
            elif isinstance(base, type) and issubclass(base, enum.Enum):
                self.fast = base
            elif base is inspect.Parameter.empty or base is Any:
                self.fast = str
        if self.fast is None and source != "file":
            self.validator = _adapter(with_rules(info, annotation))

    def missing(self, errors: list[dict[str, Any]]) -> Any:
        if self.required:
            errors.append(_missing(list(self.loc)))
            return _FAILED
        default = self.default
        return copy.copy(default) if isinstance(default, list | dict | set) else default

    def take(self, raw: Any, errors: list[dict[str, Any]]) -> Any:
        """The value for ``raw`` (a string, or a list for ``many``); on a bad value
        an entry is added to ``errors`` and ``_FAILED`` returned."""
        fast = self.fast
        if fast is not None:
            try:
                return fast(raw)
            except (ValueError, TypeError, KeyError, AttributeError):
                pass
        validator = self.validator
        if validator is None:
            validator = self.validator = _adapter(
                with_rules(self.info, self.annotation)
            )
        from pydantic import ValidationError

        try:
            return validator.validate_python(raw)
        except ValidationError as exc:
            errors.extend(_errors(exc, tuple(self.loc)))
            return _FAILED


class JSONBody:
    """The JSON body: one parameter holding all of it, or several embedded by name."""

    __slots__ = (
        "adapter",
        "default",
        "embedded",
        "fields",
        "invalid",
        "model",
        "required",
    )

    def __init__(self, fields: list[RequestField], handler: str) -> None:
        from pydantic import ValidationError

        self.invalid = ValidationError
        self.fields = fields
        first = fields[0]
        info = first.info
        self.embedded = len(fields) > 1 or (isinstance(info, BodyParam) and info.embed)
        if self.embedded:
            from pydantic import Field
            from pydantic import create_model

            spec: dict[str, Any] = {}
            for f in fields:
                default = ... if f.required else f.default
                spec[f.name] = (
                    with_rules(f.info, f.annotation),
                    Field(default, alias=f.key),
                )
            name = "Body_" + "".join(c if c.isalnum() else "_" for c in handler)
            #: The object the embedded values are read into (documented as such).
            self.model: Any = create_model(name, **spec)
            self.adapter = _adapter(self.model)
            self.required = any(f.required for f in fields)
            self.default = None
        else:
            self.model = with_rules(info, first.annotation)
            self.adapter = _adapter(self.model)
            self.required = first.required
            self.default = first.default

    def take(
        self, raw: bytes, kwargs: dict[str, Any], errors: list[dict[str, Any]]
    ) -> None:
        if not raw:
            if self.required:
                errors.append(_missing(["body"]))
            elif self.embedded:
                for f in self.fields:
                    kwargs[f.name] = f.missing(errors)
            else:
                kwargs[self.fields[0].name] = self.fields[0].missing(errors)
            return
        try:
            value = self.adapter.validate_json(raw)
        except self.invalid as exc:
            errors.extend(_errors(exc, ("body",)))
            return
        if self.embedded:
            for f in self.fields:
                kwargs[f.name] = getattr(value, f.name)
        else:
            kwargs[self.fields[0].name] = value


def _check_json_type(request: HTTPConnection) -> None:
    ctype = request.headers.get("content-type")
    if ctype is None:
        return  # NOTE: a body without a type is read as JSON, as curl -d users expect
    media = ctype.partition(";")[0].strip().lower()
    if media != "application/json" and not media.endswith("+json"):
        raise HTTPException(
            415,
            f"Expected a JSON body (Content-Type: application/json), got {media!r}.",
        )


def _form_value(field: RequestField, form: Any, errors: list[dict[str, Any]]) -> Any:
    from .formparsers import UploadFile

    if field.many:
        raw: Any = [v for v in form.getlist(field.key) if v != ""]
        if not raw:
            return field.missing(errors)
    else:
        raw = form.get(field.key)
        if raw is None or raw == "":
            return field.missing(errors)
    if field.source != "file":
        if isinstance(raw, UploadFile) or (
            isinstance(raw, list) and any(isinstance(v, UploadFile) for v in raw)
        ):
            errors.append(
                {
                    "loc": list(field.loc),
                    "msg": "Expected a text field, got a file",
                    "type": "string_type",
                    "input": None,
                }
            )
            return _FAILED
        return field.take(raw, errors)
    values = raw if isinstance(raw, list) else [raw]
    if not all(isinstance(v, UploadFile) for v in values):
        errors.append(
            {
                "loc": list(field.loc),
                "msg": "Expected an uploaded file",
                "type": "file_type",
                "input": None,
            }
        )
        return _FAILED
    return raw


def _is_upload_value(value: Any) -> bool:
    from .formparsers import UploadFile

    return isinstance(value, UploadFile)


def _as_bytes_sync(field: RequestField, value: Any) -> Any:
    """An upload's content, for a ``bytes`` file parameter (not its default)."""
    if _unwrap_optional(field.annotation) is bytes and _is_upload_value(value):
        value.file.seek(0)
        return value.file.read()
    return value


async def _as_bytes_async(field: RequestField, value: Any) -> Any:
    if _unwrap_optional(field.annotation) is bytes and _is_upload_value(value):
        await value.seek(0)
        return await value.read()
    return value


# -- injectables -------------------------------------------------------------------

#: Types a battery injects without registration, by dotted name: the battery is
#: imported only when a handler asks for one. ``"module:factory"``; the factory takes
#: the app and the annotated type and returns a provider.
_BATTERY_TYPES = {
    "sqlalchemy.orm.session.Session": "kettle.db.web:session_provider",
    "sqlalchemy.ext.asyncio.session.AsyncSession": "kettle.db.web:session_provider",
    "kettle.forms.Form": "kettle.forms:form_provider",
    "kettle.auth.models.User": "kettle.auth.core:user_provider",
}


class Injectables(dict[Any, Callable[..., Any]]):
    """``app.injectables``: ``{type: provider}``, plus the batteries' own types
    (SQLAlchemy's ``Session`` and ``AsyncSession``), resolved on first use."""

    def __init__(self, app: Any) -> None:
        super().__init__()
        self.app = app

    def lookup(self, annotation: Any) -> Callable[..., Any] | None:
        """The provider for parameters annotated ``annotation``, if any."""
        try:
            provider = self.get(annotation)
        except TypeError:  # unhashable annotation
            return None
        if provider is not None or not isinstance(annotation, type):
            return provider
        for cls in annotation.__mro__:
            target = _BATTERY_TYPES.get(f"{cls.__module__}.{cls.__qualname__}")
            if target is not None:
                module, _, attr = target.partition(":")
                factory = getattr(importlib.import_module(module), attr)
                made: Callable[..., Any] = factory(self.app, annotation)
                self[annotation] = made
                return made
        return None


def _lookup(
    injectables: Mapping[Any, Callable[..., Any]], annotation: Any
) -> Callable[..., Any] | None:
    if isinstance(injectables, Injectables):
        return injectables.lookup(annotation)
    try:
        return injectables.get(annotation)
    except TypeError:
        return None


# -- dependencies ------------------------------------------------------------------

_PLAIN, _ASYNC, _GEN, _ASYNC_GEN = range(4)


def _kind(func: Callable[..., Any]) -> int:
    call = func if inspect.isroutine(func) or isinstance(func, type) else func.__call__  # type: ignore[operator]
    if inspect.isasyncgenfunction(call):
        return _ASYNC_GEN
    if inspect.isgeneratorfunction(call):
        return _GEN
    if inspect.iscoroutinefunction(call):
        return _ASYNC
    return _PLAIN


class Dep:
    """A ``Depends(provider)`` parameter: the provider's own plan, and how to call
    it."""

    __slots__ = (
        "kind",
        "name",
        "overridden",
        "path_params",
        "plan",
        "provider",
        "use_cache",
    )

    def __init__(
        self,
        name: str,
        provider: Callable[..., Any],
        use_cache: bool,
        injectables: Mapping[Any, Callable[..., Any]],
        seen: tuple[Callable[..., Any], ...],
        path_params: list[str],
    ) -> None:
        self.name = name
        self.provider = provider
        self.use_cache = use_cache
        #: The route's path parameters: a provider may take them too.
        self.path_params = path_params
        if provider in seen:
            chain = " -> ".join(_name(p) for p in (*seen, provider))
            raise ImproperlyConfigured(f"dependency cycle: {chain}")
        self.plan = HandlerPlan(
            provider,
            path_params,
            injectables=injectables,
            response_model=None,
            _seen=(*seen, provider),
        )
        self.kind = _kind(provider)
        self.overridden: dict[Callable[..., Any], Dep] = {}

    def target(self, overrides: Mapping[Any, Any]) -> Dep:
        """This dependency, or the one replacing it in ``overrides``."""
        fake = overrides.get(self.provider)
        if fake is None:
            return self
        dep = self.overridden.get(fake)
        if dep is None:
            dep = Dep(
                self.name,
                fake,
                self.use_cache,
                self.plan.injectables,
                (),
                self.path_params,
            )
            self.overridden[fake] = dep
        return dep


def _name(func: Any) -> str:
    return str(getattr(func, "__qualname__", None) or repr(func))


class _Solving:
    """One request's dependency values and open generators."""

    __slots__ = ("cache", "errors", "single", "stack")

    def __init__(self) -> None:
        self.cache: dict[Any, Any] = {}
        self.errors: list[dict[str, Any]] = []
        #: The open generators' context managers: one alone is kept as it is
        #: (``single``: a request's session, most often), more in an exit stack.
        self.single: Any = None
        self.stack: Any = None

    def sync_stack(self) -> contextlib.ExitStack[bool | None]:
        stack: contextlib.ExitStack[bool | None] | None = self.stack
        if stack is None:
            stack = self.stack = contextlib.ExitStack()
            if self.single is not None:
                stack.push(self.single)
                self.single = None
        return stack

    def async_stack(self) -> contextlib.AsyncExitStack[bool | None]:
        stack: contextlib.AsyncExitStack[bool | None] | None = self.stack
        if stack is None:
            stack = self.stack = contextlib.AsyncExitStack()
            if self.single is not None:
                stack.push_async_exit(self.single)
                self.single = None
        return stack


# -- the plan ----------------------------------------------------------------------


class HandlerPlan:
    """How to call one handler: made at registration, used per request.

    Args:
        func: The handler (or a dependency provider).
        path_params: The names of the route's path parameters.
        connection_type: ``Request`` for HTTP routes, ``WebSocket`` for WebSockets.
        skip_first: Skip the first parameter (``self`` of a class-based view).
        injectables: Types injected by annotation (``{Session: provider}``).
        response_model: The type the return value is validated and filtered by
            (default: the return annotation when it holds a model); None for none.
        status_code: The status of a response made from a returned value.
    """

    __slots__ = (
        "body",
        "conn_names",
        "cookie",
        "deps",
        "form",
        "hidden",
        "func",
        "has_fields",
        "header",
        "injectables",
        "is_async",
        "needs_loop",
        "path",
        "path_docs",
        "path_names",
        "plain_result",
        "query",
        "response",
        "simple",
        "solves",
        "status_code",
        "where",
    )

    def __init__(
        self,
        func: Callable[..., Any],
        path_params: list[str],
        connection_type: type[HTTPConnection] = Request,
        skip_first: bool = False,
        *,
        injectables: Mapping[Any, Callable[..., Any]] | None = None,
        response_model: Any = REQUIRED,
        status_code: int | None = None,
        requires: tuple[Callable[..., Any], ...] = (),
        _seen: tuple[Callable[..., Any], ...] = (),
    ) -> None:
        self.func = func
        self.injectables = injectables if injectables is not None else {}
        self.is_async = _kind(func) in (_ASYNC, _ASYNC_GEN)
        self.where = where = _name(func)
        self.status_code = status_code
        signature, hints = _signature(func, where)
        params = list(signature.parameters.values())
        if skip_first:
            params = params[1:]
        self.path_names: list[str] = []
        #: The Path() markers of path parameters (their docs), by name.
        self.path_docs: dict[str, Param] = {}
        self.conn_names: list[str] = []
        self.path: list[RequestField] = []
        self.query: list[RequestField] = []
        self.header: list[RequestField] = []
        self.cookie: list[RequestField] = []
        self.deps: list[Dep] = []
        body: list[RequestField] = []
        form: list[RequestField] = []
        conn_attr = connection_type.__name__.lower()
        for param in params:
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                continue
            annotation = hints.get(param.name, param.annotation)
            try:
                self._add(
                    param, annotation, path_params, connection_type, conn_attr,
                    body, form, _seen,
                )  # fmt: skip
            except ImproperlyConfigured:
                raise
            except Exception as exc:  # pydantic cannot build a validator for it
                raise ImproperlyConfigured(
                    f"handler {where}: parameter {param.name!r} (annotated "
                    f"{annotation!r}) cannot be read from a request: {exc}"
                ) from exc
        self.hidden = False
        self._add_requirements(requires, _seen, path_params)
        if not _seen:  # a route's handler: requires() must come before this
            with contextlib.suppress(AttributeError, TypeError):
                func.__kettle_routed__ = True  # type: ignore[attr-defined]
        # A route's handler must take each path parameter, or have a provider
        # (Depends) that does; a provider takes those it wants.
        taken = self._path_names_taken() if not _seen else set(path_params)
        missing = [n for n in path_params if n not in taken]
        if missing and not any(p.kind == p.VAR_KEYWORD for p in params):
            raise ImproperlyConfigured(
                f"handler {where} does not take the path parameter(s) "
                f"{', '.join(missing)}; add them to its signature"
            )
        if body and form:
            raise ImproperlyConfigured(
                f"handler {where}: parameters {body[0].name!r} (JSON body) and "
                f"{form[0].name!r} (form) cannot both be read from one body"
            )
        self.body = JSONBody(body, where) if body else None
        self.form = form
        self.has_fields = bool(self.path or self.query or self.header or self.cookie)
        self.response = _response_model(func, where, response_model, hints)
        self.needs_loop: bool = self.is_async or any(
            d.kind in (_ASYNC, _ASYNC_GEN) or d.plan.needs_loop for d in self.deps
        )
        #: Dependencies or a body to read: the full resolution, per request.
        self.solves = bool(self.deps or self.body or self.form)
        #: No response model or status code to apply to the return value.
        self.plain_result = self.response is None and status_code is None
        # PERF: the common shapes call the handler without building kwargs.
        self.simple = not (
            self.conn_names
            or self.has_fields
            or self.deps
            or self.body
            or self.form
            or self.response
            or status_code is not None
        )

    def _add(
        self,
        param: inspect.Parameter,
        annotation: Any,
        path_params: list[str],
        connection_type: type[HTTPConnection],
        conn_attr: str,
        body: list[RequestField],
        form: list[RequestField],
        seen: tuple[Callable[..., Any], ...],
    ) -> None:
        name = param.name
        marker, annotation, default = self._marker(param, annotation)
        if isinstance(marker, Dependency):
            provider = marker.dependency
            if provider is None:
                provider = _unwrap_optional(annotation)
                if not callable(provider):
                    raise ImproperlyConfigured(
                        f"handler {self.where}: Depends() on parameter {name!r} "
                        "needs a provider or a class annotation"
                    )
            provider = self._variant(provider, annotation)
            self._check_flavour(name, provider)
            self.deps.append(
                Dep(
                    name,
                    provider,
                    marker.use_cache,
                    self.injectables,
                    seen,
                    path_params,
                )
            )
            return
        if name in path_params and (marker is None or isinstance(marker, PathParam)):
            self._add_path(name, annotation, marker)
            return
        if marker is None:
            if _is_connection(annotation, connection_type) or (
                name == conn_attr and annotation is inspect.Parameter.empty
            ):
                self.conn_names.append(name)
                return
            provider = _lookup(self.injectables, _unwrap_optional(annotation))
            if provider is not None:
                provider = self._variant(provider, annotation)
                self._check_flavour(name, provider)
                self.deps.append(
                    Dep(name, provider, True, self.injectables, seen, path_params)
                )
                return
            marker = self._infer(name, annotation)
        field = RequestField(name, marker.source, annotation, default, marker)
        if isinstance(marker, BodyParam):
            body.append(field)
        elif isinstance(marker, FormParam):  # FileParam too
            form.append(field)
        elif isinstance(marker, HeaderParam):
            self.header.append(field)
        elif isinstance(marker, CookieParam):
            self.cookie.append(field)
        elif isinstance(marker, QueryParam):
            if not (_is_scalar(annotation) or _sequence_of_scalars(annotation)):
                raise ImproperlyConfigured(
                    f"handler {self.where}: query parameter {name!r} must be a "
                    f"scalar or a list of scalars, not {annotation!r}"
                )
            self.query.append(field)
        else:  # Path() on a name the route does not have
            raise ImproperlyConfigured(
                f"handler {self.where}: parameter {name!r} is marked Path() but the "
                "route has no such path parameter"
            )

    def _variant(
        self, provider: Callable[..., Any], annotation: Any
    ) -> Callable[..., Any]:
        """The form of ``provider`` for this handler: a provider with a
        ``kettle_variant(is_async, optional)`` attribute (the current user's, say)
        is replaced by what it returns for an ``async def`` or ``def`` handler
        and an optional (``X | None``) or required annotation."""
        pick = getattr(provider, "kettle_variant", None)
        if pick is None:
            return provider
        optional = _unwrap_optional(annotation) is not annotation
        chosen: Callable[..., Any] = pick(self.is_async, optional)
        return chosen

    def _add_requirements(
        self,
        extra: tuple[Callable[..., Any], ...],
        seen: tuple[Callable[..., Any], ...],
        path_params: list[str],
    ) -> None:
        """The providers the handler requires without taking their values
        (:func:`~kettle.requires`, ``login_required``; ``extra``: those of its
        :class:`~kettle.View` class, first): solved first, in order, so a
        refusal comes before the body is read."""
        required = (*extra, *getattr(self.func, "__kettle_requires__", ()))
        if not required:
            return
        made = []
        for provider in required:
            provider = self._variant(provider, None)
            self._check_flavour("(required)", provider)
            made.append(Dep("", provider, True, self.injectables, seen, path_params))
        self.deps[:0] = made
        self.hidden = True

    def _check_flavour(self, name: str, provider: Callable[..., Any]) -> None:
        """Refuse a provider made for the other kind of handler (a blocking
        database session in an ``async def`` one, say)."""
        needs = getattr(provider, "kettle_handler_kind", None)
        if needs is None or needs == ("async" if self.is_async else "sync"):
            return
        raise ImproperlyConfigured(
            f"handler {self.where}: parameter {name!r} "
            + getattr(provider, "kettle_kind_hint", f"needs an {needs} handler")
        )

    def _path_names_taken(self) -> set[str]:
        """The path parameters this handler or its providers take."""
        taken = set(self.path_names)
        for dep in self.deps:
            taken |= dep.plan._path_names_taken()
        return taken

    def _add_path(self, name: str, annotation: Any, marker: Param | None) -> None:
        self.path_names.append(name)
        if marker is not None:
            self.path_docs[name] = marker
        if _needs_check(annotation, marker):
            self.path.append(RequestField(name, "path", annotation, REQUIRED, marker))

    def _marker(
        self, param: inspect.Parameter, annotation: Any
    ) -> tuple[Param | Dependency | None, Any, Any]:
        """The parameter's marker (from ``Annotated`` or its default), its
        annotation without the marker, and its default."""
        marker: Param | Dependency | None = None
        if typing.get_origin(annotation) is typing.Annotated:
            args = typing.get_args(annotation)
            found = [a for a in args[1:] if isinstance(a, Param | Dependency)]
            if found:
                marker = found[-1]
                rest = tuple(a for a in args[1:] if a is not marker)
                annotation = typing.Annotated[(args[0], *rest)] if rest else args[0]
        default = param.default
        if isinstance(default, Param | Dependency):
            if marker is not None:
                raise ImproperlyConfigured(
                    f"handler {self.where}: parameter {param.name!r} has a marker "
                    "both in Annotated and as its default; keep one"
                )
            marker = default
            default = REQUIRED
        if default is inspect.Parameter.empty:
            default = REQUIRED
        if isinstance(marker, Param) and marker.default is not REQUIRED:
            default = marker.default
        return marker, annotation, default

    def _infer(self, name: str, annotation: Any) -> Param:
        """The source of an unmarked parameter, from its annotation."""
        if _is_upload(annotation):
            return FileParam()
        if _is_scalar(annotation) or _sequence_of_scalars(annotation):
            return QueryParam()
        if _is_body_type(annotation):
            return BodyParam()
        raise ImproperlyConfigured(
            f"handler {self.where}: parameter {name!r} (annotated "
            f"{annotation!r}) is not a path, query, header, cookie, body, "
            "form or file parameter, a Depends() or the request; mark it "
            "with one of those or change its annotation"
        )

    # -- per request ------------------------------------------------------------

    def kwargs(self, conn: HTTPConnection) -> Mapping[str, Any]:
        """The handler's keyword arguments from the path, query, headers, cookies
        and the connection (no body, no dependencies).

        Raises:
            RequestValidationError: Some values are missing or invalid.
        """
        params = conn.path_params
        if self.simple:
            return params
        # PERF: _head inlined
        kwargs = {name: params[name] for name in self.path_names} if params else {}
        for name in self.conn_names:
            kwargs[name] = conn
        if self.has_fields:
            errors: list[dict[str, Any]] = []
            self._fields(conn, kwargs, errors)
            if errors:
                raise RequestValidationError(errors)
        return kwargs

    def _head(self, conn: HTTPConnection) -> dict[str, Any]:
        """The keyword arguments from the path and the connection."""
        params = conn.path_params
        kwargs = {name: params[name] for name in self.path_names} if params else {}
        for name in self.conn_names:
            kwargs[name] = conn
        return kwargs

    def _fields(
        self,
        conn: HTTPConnection,
        kwargs: dict[str, Any],
        errors: list[dict[str, Any]],
    ) -> None:
        for f in self.path:
            value = f.take(kwargs[f.name], errors)
            if value is not _FAILED:
                kwargs[f.name] = value
        if self.query:
            query = conn.query
            values = query.last_values()
            for f in self.query:
                if f.many:
                    raw: Any = query.getlist(f.key)
                    value = f.take(raw, errors) if raw else f.missing(errors)
                else:
                    raw = values.get(f.key)
                    if raw is None:
                        value = f.missing(errors)
                    elif f.fast is not None:  # PERF: the common case, no call
                        try:
                            value = f.fast(raw)
                        except (ValueError, TypeError, KeyError, AttributeError):
                            value = f.take(raw, errors)
                    else:
                        value = f.take(raw, errors)
                kwargs[f.name] = value
        if self.header:
            headers = conn.headers
            for f in self.header:
                if f.many:
                    raw = headers.getlist(f.key)
                    value = f.take(raw, errors) if raw else f.missing(errors)
                else:
                    raw = headers.get(f.key)
                    value = f.missing(errors) if raw is None else f.take(raw, errors)
                kwargs[f.name] = value
        if self.cookie:
            cookies = conn.cookies
            for f in self.cookie:
                raw = cookies.get(f.key)
                kwargs[f.name] = (
                    f.missing(errors) if raw is None else f.take(raw, errors)
                )

    def _solve_sync(self, conn: HTTPConnection, solving: _Solving) -> dict[str, Any]:
        kwargs = self._head(conn)
        errors = solving.errors
        overrides = conn.app.dependency_overrides
        for dep in self.deps:
            if overrides:
                dep = dep.target(overrides)
            provider = dep.provider
            if dep.use_cache and provider in solving.cache:
                kwargs[dep.name] = solving.cache[provider]
                continue
            sub = dep.plan._solve_sync(conn, solving)
            if errors:  # not called; its own errors are listed once
                solving.cache[provider] = _FAILED
                continue
            value = _call_sync(dep.kind, provider, sub, solving)
            if dep.use_cache:
                solving.cache[provider] = value
            kwargs[dep.name] = value
        if self.hidden:
            kwargs.pop("", None)
        if self.has_fields:
            self._fields(conn, kwargs, errors)
        if self.body is not None:
            _check_json_type(conn)
            self.body.take(conn.get_body(), kwargs, errors)  # type: ignore[attr-defined]
        if self.form:
            form = conn.get_form()  # type: ignore[attr-defined]
            for f in self.form:
                value = _form_value(f, form, errors)
                if value is not _FAILED and f.source == "file":
                    value = _as_bytes_sync(f, value)
                kwargs[f.name] = value
        return kwargs

    async def _solve_async(
        self, conn: HTTPConnection, solving: _Solving
    ) -> dict[str, Any]:
        kwargs = self._head(conn)
        errors = solving.errors
        overrides = conn.app.dependency_overrides
        for dep in self.deps:
            if overrides:
                dep = dep.target(overrides)
            provider = dep.provider
            if dep.use_cache and provider in solving.cache:
                kwargs[dep.name] = solving.cache[provider]
                continue
            sub = await dep.plan._solve_async(conn, solving)
            if errors:  # not called; its own errors are listed once
                solving.cache[provider] = _FAILED
                continue
            value = await _call_async(dep.kind, provider, sub, solving)
            if dep.use_cache:
                solving.cache[provider] = value
            kwargs[dep.name] = value
        if self.hidden:
            kwargs.pop("", None)
        if self.has_fields:
            self._fields(conn, kwargs, errors)
        if self.body is not None:
            _check_json_type(conn)
            self.body.take(await conn.body(), kwargs, errors)  # type: ignore[attr-defined]
        if self.form:
            form = await conn.form()  # type: ignore[attr-defined]
            for f in self.form:
                value = _form_value(f, form, errors)
                if value is not _FAILED and f.source == "file":
                    value = await _as_bytes_async(f, value)
                kwargs[f.name] = value
        return kwargs

    def call_sync(
        self, conn: HTTPConnection, func: Callable[..., Any] | None = None
    ) -> Any:
        """Resolve the parameters, call the handler (``func`` when given, e.g. a
        bound view method), close generator dependencies, and return the result
        (through the response model, when there is one)."""
        if func is None:
            func = self.func
        if self.simple:
            return func(**conn.path_params)
        if not self.solves:
            if self.plain_result:
                return func(**self.kwargs(conn))
            return self.finish(func(**self.kwargs(conn)))
        solving = _Solving()
        try:
            kwargs = self._solve_sync(conn, solving)
            if solving.errors:
                raise RequestValidationError(solving.errors)
            rv = self.finish(func(**kwargs))
        except BaseException as exc:
            exits = solving.single if solving.stack is None else solving.stack
            if exits is not None:
                exits.__exit__(type(exc), exc, exc.__traceback__)
            raise
        exits = solving.single if solving.stack is None else solving.stack
        if exits is not None:
            exits.__exit__(None, None, None)
        return rv

    async def call_async(
        self, conn: HTTPConnection, func: Callable[..., Any] | None = None
    ) -> Any:
        """:meth:`call_sync` from the event loop: async pieces are awaited, sync
        ones run in the thread pool."""
        if func is None:
            func = self.func
        if not self.solves:
            kwargs = self.kwargs(conn)
            if self.is_async:
                return self.finish(await func(**kwargs))
            return self.finish(
                await run_in_threadpool(functools.partial(func, **kwargs))
            )
        solving = _Solving()
        try:
            kwargs = await self._solve_async(conn, solving)
            if solving.errors:
                raise RequestValidationError(solving.errors)
            if self.is_async:
                rv = await func(**kwargs)
            else:
                rv = await run_in_threadpool(functools.partial(func, **kwargs))
            rv = self.finish(rv)
        except BaseException as exc:
            exits = solving.single if solving.stack is None else solving.stack
            if exits is not None:
                await exits.__aexit__(type(exc), exc, exc.__traceback__)
            raise
        exits = solving.single if solving.stack is None else solving.stack
        if exits is not None:
            await exits.__aexit__(None, None, None)
        return rv

    def finish(self, rv: Any) -> Any:
        """Apply the response model and the route's status code to a return
        value."""
        if isinstance(rv, Response):
            return rv
        response = self.response
        if response is not None:
            rv = response.render(rv, self.where)
        status = self.status_code
        if status is not None and type(rv) is not tuple:
            rv = make_response(rv)
            rv.status_code = status
            if status in (204, 304):
                rv.body = b""
                rv.raw_headers[:] = [
                    h for h in rv.raw_headers if h[0] != b"content-length"
                ]
        return rv

    def all_fields(self) -> list[RequestField]:
        """Every request value this handler and its dependencies read (for the
        OpenAPI document), each key once."""
        out: dict[tuple[str, str], RequestField] = {}
        for dep in self.deps:
            for f in dep.plan.all_fields():
                out.setdefault((f.source, f.key), f)
        for f in (*self.path, *self.query, *self.header, *self.cookie):
            out.setdefault((f.source, f.key), f)
        for f in (*(self.body.fields if self.body else ()), *self.form):
            out.setdefault((f.source, f.key), f)
        return list(out.values())


#: ``contextlib.contextmanager(provider)`` and its async twin, made once per
#: provider rather than once per request (each copies the function's metadata).
_context_manager = functools.cache(contextlib.contextmanager)
_async_context_manager = functools.cache(contextlib.asynccontextmanager)


async def _call_async(
    kind: int, provider: Callable[..., Any], sub: dict[str, Any], solving: _Solving
) -> Any:
    """Call a provider from the event loop; sync ones run in the thread pool."""
    if kind == _ASYNC:
        return await provider(**sub)
    if kind == _PLAIN:
        return await run_in_threadpool(functools.partial(provider, **sub))
    if kind == _ASYNC_GEN:
        acm = _async_context_manager(provider)(**sub)
        value = await acm.__aenter__()
        if solving.stack is None and solving.single is None:
            solving.single = acm
        else:
            solving.async_stack().push_async_exit(acm)
        return value
    # a sync generator: both halves in the thread pool
    cm = _context_manager(provider)(**sub)
    value = await run_in_threadpool(cm.__enter__)
    solving.async_stack().push_async_exit(_threaded_exit(cm))
    return value


def _call_sync(
    kind: int, provider: Callable[..., Any], sub: dict[str, Any], solving: _Solving
) -> Any:
    """Call a provider from sync code; an async one (an override of a sync
    provider, say) runs through :func:`~kettle.concurrency.run_sync`."""
    if kind == _PLAIN:
        return provider(**sub)
    if kind == _GEN:
        cm = _context_manager(provider)(**sub)
        value = cm.__enter__()
        if solving.stack is None and solving.single is None:
            solving.single = cm
        else:
            solving.sync_stack().push(cm)
        return value
    from .concurrency import run_sync

    if kind == _ASYNC:
        return run_sync(provider(**sub))
    acm = _async_context_manager(provider)(**sub)
    value = run_sync(acm.__aenter__())
    solving.sync_stack().push(lambda *exc_info: run_sync(acm.__aexit__(*exc_info)))
    return value


def _threaded_exit(cm: Any) -> Callable[..., Any]:
    async def exit_(*exc_info: Any) -> Any:
        return await run_in_threadpool(cm.__exit__, *exc_info)

    return exit_


def _signature(
    func: Callable[..., Any], where: str
) -> tuple[inspect.Signature, dict[str, Any]]:
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError) as exc:
        raise ImproperlyConfigured(
            f"cannot read the signature of {where}: {exc}"
        ) from exc
    target = func
    if not inspect.isroutine(func) and not isinstance(func, type):
        target = func.__call__  # type: ignore[operator]
    elif isinstance(func, type):
        target = func.__init__  # type: ignore[misc]
    try:
        hints = typing.get_type_hints(target, include_extras=True)
    except (NameError, TypeError):
        hints = {
            name: _resolve(target, name, p.annotation, where)
            for name, p in signature.parameters.items()
        }
    return signature, hints


def _resolve(func: Any, name: str, annotation: Any, where: str) -> Any:
    """One annotation, when not all of a function's can be resolved together."""
    if not isinstance(annotation, str):
        return annotation
    try:
        namespace = dict(getattr(func, "__globals__", {}))
        return eval(annotation, namespace)  # noqa: S307 - what get_type_hints does
    except Exception:
        raise ImproperlyConfigured(
            f"handler {where}: the annotation {annotation!r} of parameter {name!r} "
            "cannot be resolved; define what it names at module level (or drop "
            "'from __future__ import annotations' for a local class)"
        ) from None


class ResponseModel:
    """Validates a handler's return value against a type and serialises it: only
    the fields the type declares reach the client."""

    __slots__ = ("adapter", "annotation")

    def __init__(self, annotation: Any) -> None:
        self.annotation = annotation
        self.adapter = _adapter(annotation)

    def render(self, rv: Any, where: str) -> Any:
        if isinstance(rv, Response):
            return rv
        rest: tuple[Any, ...] = ()
        if type(rv) is tuple:
            rv, *others = rv
            rest = tuple(others)
        from pydantic import ValidationError

        try:
            value = self.adapter.validate_python(rv, from_attributes=True)
        except ValidationError as exc:
            raise ResponseValidationError(where, _errors(exc, ("response",))) from None
        response = Response(
            self.adapter.dump_json(value), media_type="application/json"
        )
        return (response, *rest) if rest else response


def _response_model(
    func: Callable[..., Any], where: str, given: Any, hints: Mapping[str, Any]
) -> ResponseModel | None:
    if given is None:
        return None
    if given is REQUIRED:
        annotation = hints.get("return")
        if annotation is None or _is_response_type(annotation):
            return None
        if not _contains_model(annotation):
            return None
        given = annotation
    try:
        return ResponseModel(given)
    except Exception as exc:
        raise ImproperlyConfigured(
            f"handler {where}: its response model {given!r} cannot be validated: {exc}"
        ) from exc


def _needs_check(annotation: Any, marker: Param | None) -> bool:
    """Whether a path parameter needs validating beyond its route converter."""
    if marker is not None and marker.constraints:
        return True
    base = _unwrap_optional(annotation)
    return not (
        base is inspect.Parameter.empty
        or base is Any
        or base is str
        or converter_for_annotation(base) is not None
    )


def _is_connection(annotation: Any, connection_type: type[HTTPConnection]) -> bool:
    annotation = _unwrap_optional(annotation)
    return isinstance(annotation, type) and (
        issubclass(annotation, connection_type) or annotation is HTTPConnection
    )


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
