"""Path parameter converters: ``{name:conv}`` in route paths."""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING
from typing import Any
from typing import ClassVar

if TYPE_CHECKING:
    import uuid

__all__ = (
    "Converter",
    "FloatConverter",
    "IntConverter",
    "PathConverter",
    "SlugConverter",
    "StringConverter",
    "UUIDConverter",
    "converter_for_annotation",
    "get_converter",
    "register_converter",
)


class Converter:
    """Turns one path parameter from text into a Python value and back.

    Subclass it and set ``regex`` (what a value looks like, without anchors), then
    override :meth:`to_python` and :meth:`to_url`. :meth:`to_python` may raise
    :class:`ValueError` to reject a value: the route then does not match.
    """

    regex: ClassVar[str] = "[^/]+"
    #: Whether a value may span several path segments (only ``path`` does).
    multi_segment: ClassVar[bool] = False

    def to_python(self, value: str) -> Any:
        """Convert matched text into the handler's value."""
        return value

    def to_url(self, value: Any) -> str:
        """Convert a value into path text for :func:`~kettle.url_for`."""
        return str(value)


class StringConverter(Converter):
    """One path segment (the default)."""

    regex = "[^/]+"

    def to_url(self, value: Any) -> str:
        text = str(value)
        if not text or "/" in text:
            raise ValueError(f"{text!r} is not a single, non-empty path segment")
        return text


class IntConverter(Converter):
    """A non-negative integer: ``{id:int}``."""

    regex = "[0-9]+"

    def to_python(self, value: str) -> int:
        # PERF: str.isdigit also accepts other Unicode digits, so check ASCII too.
        if not (value.isascii() and value.isdigit()):
            raise ValueError(value)
        return int(value)

    def to_url(self, value: Any) -> str:
        number = int(value)
        if number < 0:
            raise ValueError(f"{value!r} is negative; int path parameters are >= 0")
        return str(number)


class FloatConverter(Converter):
    """A non-negative decimal number: ``{x:float}``."""

    regex = r"[0-9]+(?:\.[0-9]+)?"
    _re = re.compile(regex)

    def to_python(self, value: str) -> float:
        if self._re.fullmatch(value) is None:
            raise ValueError(value)
        return float(value)

    def to_url(self, value: Any) -> str:
        number = float(value)
        if number < 0 or not math.isfinite(number):
            raise ValueError(f"{value!r} is not a finite non-negative number")
        return repr(number)


class UUIDConverter(Converter):
    """A UUID in its canonical hyphenated form: ``{id:uuid}``."""

    regex = (
        "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    )
    _re = re.compile(regex)

    def to_python(self, value: str) -> uuid.UUID:
        import uuid

        if self._re.fullmatch(value) is None:
            raise ValueError(value)
        return uuid.UUID(value)

    def to_url(self, value: Any) -> str:
        import uuid

        return str(uuid.UUID(str(value)))


class SlugConverter(Converter):
    """Letters, digits, hyphens and underscores: ``{slug:slug}``."""

    regex = "[-a-zA-Z0-9_]+"
    _re = re.compile(regex)

    def to_python(self, value: str) -> str:
        if self._re.fullmatch(value) is None:
            raise ValueError(value)
        return value

    def to_url(self, value: Any) -> str:
        return self.to_python(str(value))


class PathConverter(Converter):
    """The rest of the path, slashes included: ``{rest:path}``."""

    regex = ".*"
    multi_segment = True

    def to_url(self, value: Any) -> str:
        return str(value).lstrip("/")


_CONVERTERS: dict[str, Converter] = {
    "str": StringConverter(),
    "int": IntConverter(),
    "float": FloatConverter(),
    "uuid": UUIDConverter(),
    "slug": SlugConverter(),
    "path": PathConverter(),
}

_ANNOTATIONS: dict[Any, str] = {
    int: "int",
    float: "float",
    str: "str",
    "int": "int",
    "float": "float",
    "UUID": "uuid",
    "uuid.UUID": "uuid",
    "str": "str",
}


def register_converter(name: str, converter: Converter | type[Converter]) -> None:
    """Make ``{param:name}`` available in every route path.

    Args:
        name: The name used in paths.
        converter: A :class:`Converter` instance or subclass.

    Example::

        class HexConverter(Converter):
            regex = "[0-9a-f]+"
            def to_python(self, value): return int(value, 16)
            def to_url(self, value): return format(value, "x")

        register_converter("hex", HexConverter)
    """
    if isinstance(converter, type):
        converter = converter()
    if not isinstance(converter, Converter):
        raise TypeError(
            f"converter for {name!r} must be a kettle Converter, got {converter!r}"
        )
    _CONVERTERS[name] = converter


def get_converter(name: str) -> Converter:
    """Return the converter registered as ``name``."""
    try:
        return _CONVERTERS[name]
    except KeyError:
        known = ", ".join(sorted(_CONVERTERS))
        raise ValueError(
            f"unknown path converter {name!r}; known converters: {known}"
        ) from None


def converter_for_annotation(annotation: Any) -> str | None:
    """Return the converter name implied by a parameter annotation, if any."""
    try:
        name = _ANNOTATIONS.get(annotation)
    except TypeError:  # an unhashable annotation
        return None
    if name is None and getattr(annotation, "__module__", None) == "uuid":
        # NOTE: matched by name so that uuid is imported only when used.
        return "uuid" if getattr(annotation, "__qualname__", None) == "UUID" else None
    return name
