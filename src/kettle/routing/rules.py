"""Parsing route paths like ``/users/{id:int}`` and building URLs from them."""

from __future__ import annotations

import re
from collections.abc import Callable
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from ..exceptions import ImproperlyConfigured
from .converters import Converter
from .converters import FloatConverter
from .converters import IntConverter
from .converters import SlugConverter
from .converters import StringConverter
from .converters import UUIDConverter
from .converters import get_converter

__all__ = ("PathPattern", "Segment")

_PARAM_RE = re.compile(r"{([A-Za-z_][A-Za-z0-9_]*)(?::([A-Za-z_][A-Za-z0-9_]*))?}")
_SELF_CHECKING = (IntConverter, FloatConverter, UUIDConverter, SlugConverter)
# Characters left unquoted in built path segments (RFC 3986 pchar, minus "/").
_SAFE = "!$&'()*+,;=:@-._~"

Matcher = Callable[[str], Any]


def _single_matcher(conv: Converter) -> Matcher:
    """Return a function that converts one segment or raises ValueError."""
    if type(conv) is StringConverter:

        def match_str(value: str) -> str:
            if not value:
                raise ValueError("empty segment")
            return value

        return match_str
    if type(conv) in _SELF_CHECKING:
        return conv.to_python
    regex = re.compile(conv.regex)

    def match_checked(value: str) -> Any:
        if regex.fullmatch(value) is None:
            raise ValueError(value)
        return conv.to_python(value)

    return match_checked


class Segment:
    """One ``/``-separated piece of a route path.

    ``kind`` is ``"static"`` (literal text), ``"param"`` (exactly one parameter),
    ``"path"`` (a parameter spanning segments) or ``"mixed"`` (text and parameters,
    like ``{name}.{ext}``).
    """

    __slots__ = ("converters", "key", "kind", "match", "names", "placeholders", "text")

    def __init__(self, text: str, converter_names: Mapping[str, str]) -> None:
        self.text = text
        params = list(_PARAM_RE.finditer(text))
        leftover = _PARAM_RE.sub("", text)
        if "{" in leftover or "}" in leftover:
            raise ImproperlyConfigured(f"unbalanced braces in path segment {text!r}")
        self.names = [m.group(1) for m in params]
        self.placeholders = [m.group(0) for m in params]
        self.converters = [
            get_converter(m.group(2) or converter_names.get(m.group(1), "str"))
            for m in params
        ]
        if not params:
            self.kind = "static"
            self.key = text
            self.match: Matcher = str
        elif len(params) == 1 and params[0].group(0) == text:
            conv = self.converters[0]
            self.kind = "path" if conv.multi_segment else "param"
            self.key = f"{type(conv).__qualname__}:{conv.regex}"
            self.match = _single_matcher(conv)
        else:
            if any(c.multi_segment for c in self.converters):
                raise ImproperlyConfigured(
                    f"a 'path' parameter must fill its whole segment, not {text!r}"
                )
            self.kind = "mixed"
            pattern, pos = "", 0
            for m, conv in zip(params, self.converters, strict=True):
                pattern += re.escape(text[pos : m.start()]) + f"({conv.regex})"
                pos = m.end()
            pattern += re.escape(text[pos:])
            self.key = pattern
            self.match = self._mixed_matcher(re.compile(pattern), self.converters)

    @staticmethod
    def _mixed_matcher(regex: re.Pattern[str], converters: list[Converter]) -> Matcher:
        def match_mixed(value: str) -> tuple[Any, ...]:
            found = regex.fullmatch(value)
            if found is None:
                raise ValueError(value)
            return tuple(
                c.to_python(v) for c, v in zip(converters, found.groups(), strict=True)
            )

        return match_mixed

    def build(self, params: Mapping[str, Any]) -> str:
        """Return this segment's text with ``params`` filled in."""
        if self.kind == "static":
            return self.text
        out = self.text
        for name, placeholder, conv in zip(
            self.names, self.placeholders, self.converters, strict=True
        ):
            safe = _SAFE + "/" if conv.multi_segment else _SAFE
            out = out.replace(
                placeholder, quote(conv.to_url(params[name]), safe=safe), 1
            )
        return out


class PathPattern:
    """A parsed route path.

    Args:
        path: The route path, starting with ``/``.
        converter_names: Converter names to use for parameters written without one
            (``{id}``), usually chosen from the handler's annotations.
    """

    __slots__ = ("param_names", "path", "segments")

    def __init__(
        self, path: str, converter_names: Mapping[str, str] | None = None
    ) -> None:
        if not path.startswith("/"):
            raise ImproperlyConfigured(f"route path {path!r} must start with '/'")
        self.path = path
        names = converter_names or {}
        self.segments = [Segment(part, names) for part in path[1:].split("/")]
        self.param_names: list[str] = [n for s in self.segments for n in s.names]
        seen: set[str] = set()
        for name in self.param_names:
            if name in seen:
                raise ImproperlyConfigured(
                    f"parameter {name!r} appears twice in {path!r}"
                )
            seen.add(name)

    @property
    def is_static(self) -> bool:
        """Whether the path has no parameters."""
        return not self.param_names

    def build(self, params: Mapping[str, Any]) -> str:
        """Build the path for ``params`` (every parameter of the route).

        Raises:
            KeyError: A parameter is missing.
            ValueError: A value does not fit its converter.
        """
        return "/" + "/".join(s.build(params) for s in self.segments)

    def __repr__(self) -> str:
        return f"PathPattern({self.path!r})"
