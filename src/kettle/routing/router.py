"""The route table: registration, matching (404/405) and reversing."""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from ..exceptions import ImproperlyConfigured
from .rules import Matcher
from .rules import PathPattern

__all__ = ("BaseRoute", "Mount", "Route", "Router", "WebSocketRoute")

WEBSOCKET = "WEBSOCKET"


class BaseRoute:
    """Something the router can reverse by name."""

    __slots__ = (
        "auto_head",
        "blueprint",
        "endpoint",
        "handler",
        "methods",
        "name",
        "path",
        "pattern",
    )

    def __init__(
        self,
        path: str,
        endpoint: Any,
        methods: Iterable[str],
        name: str,
        converter_names: Mapping[str, str] | None = None,
        blueprint: str | None = None,
    ) -> None:
        self.path = path
        self.endpoint = endpoint
        self.methods = frozenset(m.upper() for m in methods)
        self.name = name
        self.blueprint = blueprint
        self.pattern = PathPattern(path, converter_names)
        self.auto_head = False
        #: What the app runs for this route (set when the route is registered).
        self.handler: Any = None

    def url_path(self, params: Mapping[str, Any]) -> str:
        """Build this route's path; params that are not path parameters are ignored."""
        return self.pattern.build(params)

    def __repr__(self) -> str:
        methods = ",".join(sorted(self.methods))
        kind = type(self).__name__
        return f"{kind}({self.path!r}, name={self.name!r}, methods={methods})"


class Route(BaseRoute):
    """An HTTP route. ``handler`` is filled in by the app when it compiles the route."""

    __slots__ = ()

    def __init__(
        self,
        path: str,
        endpoint: Any,
        methods: Iterable[str],
        name: str,
        converter_names: Mapping[str, str] | None = None,
        blueprint: str | None = None,
    ) -> None:
        methods = {m.upper() for m in methods}
        auto_head = "GET" in methods and "HEAD" not in methods
        if auto_head:
            methods.add("HEAD")
        super().__init__(path, endpoint, methods, name, converter_names, blueprint)
        self.auto_head = auto_head


class WebSocketRoute(BaseRoute):
    """A WebSocket route."""

    __slots__ = ()

    def __init__(
        self,
        path: str,
        endpoint: Any,
        name: str,
        converter_names: Mapping[str, str] | None = None,
        blueprint: str | None = None,
    ) -> None:
        super().__init__(path, endpoint, (WEBSOCKET,), name, converter_names, blueprint)


class Mount:
    """Any ASGI application served under a path prefix."""

    __slots__ = ("app", "name", "path")

    def __init__(self, path: str, app: Any, name: str | None = None) -> None:
        if not path.startswith("/") or path.endswith("/"):
            raise ImproperlyConfigured(
                f"mount prefix {path!r} must start with '/' and not end with '/'"
            )
        self.path = path
        self.app = app
        self.name = name

    def __repr__(self) -> str:
        return f"Mount({self.path!r}, {self.app!r})"


class _Node:
    __slots__ = ("endpoints", "params", "static")

    def __init__(self) -> None:
        self.static: dict[str, _Node] = {}
        # (segment key, kind, matcher, child), tried in registration order.
        self.params: list[tuple[str, str, Matcher, _Node]] = []
        self.endpoints: dict[str, BaseRoute] = {}


def _at(
    node: _Node, method: str, allowed: list[dict[str, BaseRoute]]
) -> BaseRoute | None:
    """The route for ``method`` ending at ``node``; else note the methods it has."""
    endpoints = node.endpoints
    if endpoints:
        route = endpoints.get(method)
        if route is not None:
            return route
        allowed.append(endpoints)
    return None


def _search(
    node: _Node,
    parts: list[str],
    i: int,
    method: str,
    values: list[Any],
    allowed: list[dict[str, BaseRoute]],
) -> BaseRoute | None:
    """Depth-first match of ``parts[i:]`` (never empty): static children first,
    then parameters.

    PERF: a child at the last segment is checked here rather than by one more call.
    """
    part = parts[i]
    last = i + 1 == len(parts)
    child = node.static.get(part)
    if child is not None:
        if last:
            found = _at(child, method, allowed)
        else:
            found = _search(child, parts, i + 1, method, values, allowed)
        if found is not None:
            return found
    for _key, kind, match, child in node.params:
        if kind == "path":
            # Shortest first, so a route with more after the path parameter wins.
            end = len(parts)
            for j in range(i + 1, end + 1):
                try:
                    value = match("/".join(parts[i:j]))
                except ValueError:
                    continue
                if not value:
                    continue
                values.append(value)
                if j == end:
                    found = _at(child, method, allowed)
                else:
                    found = _search(child, parts, j, method, values, allowed)
                if found is not None:
                    return found
                values.pop()
            continue
        try:
            value = match(part)
        except ValueError:
            continue
        if kind == "mixed":
            values.extend(value)
        else:
            values.append(value)
        if last:
            found = _at(child, method, allowed)
        else:
            found = _search(child, parts, i + 1, method, values, allowed)
        if found is not None:
            return found
        del values[len(values) - (len(value) if kind == "mixed" else 1) :]
    return None


class Router:
    """Holds the routes of an app and matches requests to them.

    Paths without parameters are found with one dict lookup; the others walk a
    segment tree, so lookup cost does not grow with the number of routes.
    """

    def __init__(self) -> None:
        self.routes: list[BaseRoute] = []
        self.mounts: list[Mount] = []
        self._static: dict[str, dict[str, BaseRoute]] = {}
        self._root = _Node()
        self._names: dict[str, BaseRoute] = {}

    def add(self, route: BaseRoute) -> None:
        """Register ``route``.

        Raises:
            ImproperlyConfigured: The path and method, or the name, are taken.
        """
        existing = self._names.get(route.name)
        if existing is not None and existing.endpoint is not route.endpoint:
            raise ImproperlyConfigured(
                f"route name {route.name!r} is already used by {existing!r}; "
                f"pass name= to give {route.path!r} another name"
            )
        if route.pattern.is_static:
            endpoints = self._static.setdefault(route.path, {})
        else:
            node = self._root
            for seg in route.pattern.segments:
                if seg.kind == "static":
                    node = node.static.setdefault(seg.text, _Node())
                    continue
                for key, _kind, _match, child in node.params:
                    if key == seg.key:
                        node = child
                        break
                else:
                    child = _Node()
                    node.params.append((seg.key, seg.kind, seg.match, child))
                    node = child
            endpoints = node.endpoints
        for method in route.methods:
            taken = endpoints.get(method)
            if taken is None or (
                method == "HEAD" and (taken.auto_head or route.auto_head)
            ):
                continue
            raise ImproperlyConfigured(
                f"{method} {route.path} is already routed to {taken!r}"
            )
        for method in route.methods:
            taken = endpoints.get(method)
            if method == "HEAD" and taken is not None and route.auto_head:
                continue  # an explicit HEAD route wins over the automatic one
            endpoints[method] = route
        self.routes.append(route)
        self._names.setdefault(route.name, route)

    def mount(self, mount: Mount) -> None:
        """Register a mounted application; longer prefixes are tried first."""
        self.mounts.append(mount)
        self.mounts.sort(key=lambda m: len(m.path), reverse=True)

    def match(
        self, method: str, path: str
    ) -> tuple[BaseRoute, dict[str, Any]] | tuple[None, frozenset[str]]:
        """Find the route for ``method`` and ``path``.

        Returns:
            ``(route, params)`` on a match, else ``(None, allowed)`` where ``allowed``
            holds the methods the path accepts (empty when no route has the path).
        """
        endpoints = self._static.get(path)
        if endpoints is not None:
            route = endpoints.get(method)
            if route is not None:
                return route, {}
            allowed = [endpoints]
        else:
            allowed = []
        values: list[Any] = []
        found = _search(self._root, path[1:].split("/"), 0, method, values, allowed)
        if found is not None:
            names = found.pattern.param_names
            if len(names) == 1:
                return found, {names[0]: values[0]}
            return found, dict(zip(names, values, strict=True))
        methods: set[str] = set()
        for endpoints in allowed:
            methods.update(endpoints)
        methods.discard(WEBSOCKET)
        return None, frozenset(methods)

    def match_mount(self, path: str) -> Mount | None:
        """Return the mounted app whose prefix covers ``path``."""
        for mount in self.mounts:
            prefix = mount.path
            if path.startswith(prefix) and (
                len(path) == len(prefix) or path[len(prefix)] == "/"
            ):
                return mount
        return None

    def has_name(self, name: str) -> bool:
        """Whether a route is registered as ``name``."""
        return name in self._names

    def lookup(self, name: str) -> BaseRoute:
        """Return the route registered as ``name``."""
        try:
            return self._names[name]
        except KeyError:
            raise LookupError(f"no route named {name!r}") from None

    def url_path_for(self, name: str, params: Mapping[str, Any]) -> str:
        """Reverse ``name`` to a path; params that are not path parameters become the
        query string.

        Raises:
            LookupError: No route has that name, or a path parameter is missing.
            ValueError: A value does not fit its converter.
        """
        route = self.lookup(name)
        names = route.pattern.param_names
        missing = [n for n in names if n not in params]
        if missing:
            raise LookupError(
                f"route {name!r} ({route.path}) needs the parameter(s): "
                + ", ".join(missing)
            )
        path = route.url_path(params)
        extra = [(k, v) for k, v in params.items() if k not in names and v is not None]
        if extra:
            pairs: list[tuple[str, Any]] = []
            for k, v in extra:
                if isinstance(v, list | tuple):
                    pairs.extend((k, item) for item in v)
                else:
                    pairs.append((k, v))
            path += "?" + urlencode(pairs)
        return path

    def iter_routes(self) -> Iterable[BaseRoute | Mount]:
        """Every route and mount, in registration order for routes."""
        yield from self.routes
        yield from self.mounts
