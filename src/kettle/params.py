"""Where a handler parameter comes from: ``Query``, ``Header``, ``Cookie``, ``Body``,
``Form``, ``File``, ``Path`` and ``Depends``.

Each is used either inside ``Annotated`` or as the parameter's default::

    from typing import Annotated
    from kettle import Depends, Header, Query

    @app.get("/items")
    def items(
        page: Annotated[int, Query(ge=1)] = 1,
        user_agent: str | None = Header(None),
        db: Annotated[Database, Depends(get_db)],
    ): ...

The functions return the marker objects defined here (typed ``Any`` so that they
can stand as a default of any annotation). Nothing in this module imports pydantic;
the handler plan does, once, at start-up, when a parameter needs it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from typing import ClassVar
from typing import TypeVar

from .exceptions import ImproperlyConfigured

F = TypeVar("F", bound=Callable[..., Any])

__all__ = (
    "Body",
    "Cookie",
    "Depends",
    "File",
    "Form",
    "Header",
    "Path",
    "Query",
    "requires",
)


class _Required:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<required>"


#: The default of a parameter that must be given.
REQUIRED: Any = _Required()

#: The constraints a parameter may carry, as pydantic's ``Field`` spells them.
CONSTRAINTS = (
    "gt",
    "ge",
    "lt",
    "le",
    "multiple_of",
    "min_length",
    "max_length",
    "pattern",
)


class Param:
    """What a parameter marker says: the source, the default and the rules."""

    #: Where the value is read from: path, query, header, cookie, body, form, file.
    source: ClassVar[str] = ""

    __slots__ = (
        "alias",
        "constraints",
        "default",
        "deprecated",
        "description",
        "examples",
        "include_in_schema",
        "title",
    )

    def __init__(
        self,
        default: Any = REQUIRED,
        *,
        alias: str | None = None,
        title: str | None = None,
        description: str | None = None,
        examples: list[Any] | None = None,
        deprecated: bool | None = None,
        include_in_schema: bool = True,
        gt: float | None = None,
        ge: float | None = None,
        lt: float | None = None,
        le: float | None = None,
        multiple_of: float | None = None,
        min_length: int | None = None,
        max_length: int | None = None,
        pattern: str | None = None,
    ) -> None:
        self.default = REQUIRED if default is ... else default
        self.alias = alias
        self.title = title
        self.description = description
        self.examples = examples
        self.deprecated = deprecated
        self.include_in_schema = include_in_schema
        given = {
            "gt": gt,
            "ge": ge,
            "lt": lt,
            "le": le,
            "multiple_of": multiple_of,
            "min_length": min_length,
            "max_length": max_length,
            "pattern": pattern,
        }
        self.constraints: dict[str, Any] = {
            k: v for k, v in given.items() if v is not None
        }

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.default!r})"


class PathParam(Param):
    source = "path"
    __slots__ = ()


class QueryParam(Param):
    source = "query"
    __slots__ = ()


class HeaderParam(Param):
    source = "header"
    __slots__ = ("convert_underscores",)

    def __init__(
        self, default: Any = REQUIRED, *, convert_underscores: bool = True, **kw: Any
    ) -> None:
        super().__init__(default, **kw)
        self.convert_underscores = convert_underscores


class CookieParam(Param):
    source = "cookie"
    __slots__ = ()


class BodyParam(Param):
    source = "body"
    media_type: ClassVar[str] = "application/json"
    __slots__ = ("embed",)

    def __init__(self, default: Any = REQUIRED, *, embed: bool = False, **kw: Any):
        super().__init__(default, **kw)
        self.embed = embed


class FormParam(Param):
    source = "form"
    media_type: ClassVar[str] = "application/x-www-form-urlencoded"
    __slots__ = ()


class FileParam(FormParam):
    source = "file"
    media_type = "multipart/form-data"
    __slots__ = ()


class Dependency:
    """``Depends(provider)``: the parameter's value is what ``provider`` returns."""

    __slots__ = ("dependency", "use_cache")

    def __init__(
        self, dependency: Callable[..., Any] | None = None, *, use_cache: bool = True
    ) -> None:
        self.dependency = dependency
        self.use_cache = use_cache

    def __repr__(self) -> str:
        name = getattr(self.dependency, "__qualname__", repr(self.dependency))
        return f"Depends({name})"


# The public spellings. They return Any so that ``x: int = Query(1)`` type-checks.


def Path(default: Any = REQUIRED, **options: Any) -> Any:
    """A path parameter with rules or documentation (``Path(ge=1)``).

    Path parameters are found by name without it; use it to add constraints.
    Takes the same options as :func:`Query`.
    """
    return PathParam(default, **options)


def Query(default: Any = REQUIRED, **options: Any) -> Any:
    """A query-string parameter.

    Args:
        default: The value when the key is absent; leave it out to make the
            parameter required.
        alias: The key in the query string, when it differs from the name.
        title, description, examples, deprecated: For the OpenAPI document.
        include_in_schema: False to leave the parameter out of the document.
        gt, ge, lt, le, multiple_of: Bounds for numbers.
        min_length, max_length, pattern: Rules for strings (and lengths of lists).
    """
    return QueryParam(default, **options)


def Header(
    default: Any = REQUIRED, *, convert_underscores: bool = True, **options: Any
) -> Any:
    """A request header; ``user_agent`` reads ``User-Agent`` (case-insensitive).

    Args:
        convert_underscores: Read underscores in the name as hyphens (default).
        **options: As for :func:`Query`.
    """
    return HeaderParam(default, convert_underscores=convert_underscores, **options)


def Cookie(default: Any = REQUIRED, **options: Any) -> Any:
    """A cookie sent by the client. Takes the same options as :func:`Query`."""
    return CookieParam(default, **options)


def Body(default: Any = REQUIRED, *, embed: bool = False, **options: Any) -> Any:
    """A value from the JSON body.

    A pydantic model, dataclass or ``TypedDict`` parameter is the body without it.
    With two body parameters or more, or ``embed=True``, each is a key of the body
    object named after the parameter.
    """
    return BodyParam(default, embed=embed, **options)


def Form(default: Any = REQUIRED, **options: Any) -> Any:
    """A field of an urlencoded or multipart form. Options as for :func:`Query`."""
    return FormParam(default, **options)


def File(default: Any = REQUIRED, **options: Any) -> Any:
    """An uploaded file of a multipart form: annotate ``UploadFile`` (streamed,
    spooled to disk) or ``bytes`` (read whole); ``list[UploadFile]`` for several."""
    return FileParam(default, **options)


def Depends(
    dependency: Callable[..., Any] | None = None, *, use_cache: bool = True
) -> Any:
    """The parameter's value is what ``dependency`` returns.

    The provider's own parameters are resolved like a handler's (query, headers,
    other dependencies...). A provider that ``yield`` s a value is a generator:
    the code after ``yield`` runs once the handler's response is made, and sees the
    handler's exception, if any. Within one request each provider runs once and its
    value is shared (``use_cache=False`` to call it for every use). With no
    argument, the annotated class itself is called.

    ``app.dependency_overrides[provider] = other`` replaces a provider (in tests).
    """
    return Dependency(dependency, use_cache=use_cache)


def requires(*providers: Callable[..., Any]) -> Callable[[F], F]:
    """Run ``providers`` before the decorated handler, as dependencies whose
    values the handler does not take: a check that raises (``abort(403)``, a
    redirect to the login page) refuses the request before its body is read::

        def staff_only(user: User) -> None:
            if not user.is_staff:
                abort(403)

        @app.post("/settings")
        @requires(staff_only)
        def settings(form: SettingsForm): ...

    Put it below the route decorator (it must mark the function before the
    route reads its signature); above it, it raises ``ImproperlyConfigured``.
    On a :class:`~kettle.View` class it guards every method (and those of its
    subclasses).
    """
    for provider in providers:
        if not callable(provider):
            raise TypeError(f"requires(): {provider!r} is not callable")

    def decorate(func: F) -> F:
        if isinstance(func, type):  # a View: its own mark, not a base class's
            routed = func.__dict__.get("__kettle_routed__", False)
        else:
            routed = getattr(func, "__kettle_routed__", False)
        if routed:
            raise ImproperlyConfigured(
                f"{getattr(func, '__qualname__', func)!r} is already a route's "
                "handler: put @requires (and @login_required, "
                "@permission_required) below the route decorator"
            )
        existing = getattr(func, "__kettle_requires__", ())
        func.__kettle_requires__ = (*providers, *existing)  # type: ignore[attr-defined]
        return func

    return decorate
