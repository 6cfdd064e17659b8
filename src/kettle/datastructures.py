"""Request and response data structures: multi-dicts, headers, URLs and state."""

from __future__ import annotations

import re
from collections.abc import Iterable
from collections.abc import Iterator
from collections.abc import Mapping
from typing import Any
from typing import Generic
from typing import TypeVar
from typing import overload
from urllib.parse import quote
from urllib.parse import unquote
from urllib.parse import urlencode

from .exceptions import BadRequestKeyError

__all__ = (
    "URL",
    "Address",
    "Headers",
    "MultiDict",
    "MutableHeaders",
    "QueryParams",
    "State",
)

V = TypeVar("V")
_D = TypeVar("_D")


class MultiDict(Mapping[str, V], Generic[V]):
    """An immutable mapping where one key may hold several values.

    ``md[key]`` and ``md.get(key)`` give the last value, ``md.getlist(key)`` all of
    them in order. A missing key raises :class:`~kettle.exceptions.BadRequestKeyError`,
    a :class:`KeyError` that is answered with 400 when left unhandled (as in Flask).
    """

    __slots__ = ("_dict", "_list")
    _where = "request"

    def __init__(
        self, items: Iterable[tuple[str, V]] | Mapping[str, V] | None = None
    ) -> None:
        if items is None:
            pairs: list[tuple[str, V]] = []
        elif isinstance(items, Mapping):
            pairs = list(items.items())
        else:
            pairs = list(items)
        self._list = pairs
        self._dict: dict[str, V] = dict(pairs)

    def __getitem__(self, key: str) -> V:
        try:
            return self._dict[key]
        except KeyError:
            raise BadRequestKeyError(key, self._where) from None

    def __contains__(self, key: object) -> bool:
        return key in self._dict

    def __iter__(self) -> Iterator[str]:
        return iter(self._dict)

    def __len__(self) -> int:
        return len(self._dict)

    @overload
    def get(self, key: str) -> V | None: ...
    @overload
    def get(self, key: str, default: V | _D) -> V | _D: ...
    def get(self, key: str, default: Any = None) -> Any:
        return self._dict.get(key, default)

    def last_values(self) -> Mapping[str, V]:
        """A read-only view: each key with its last value (no copy)."""
        return self._dict

    def getlist(self, key: str) -> list[V]:
        """Return every value of ``key`` in order (an empty list when absent)."""
        return [v for k, v in self._list if k == key]

    def multi_items(self) -> list[tuple[str, V]]:
        """Return every ``(key, value)`` pair, repeated keys included."""
        return list(self._list)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, MultiDict):
            return sorted(self._list) == sorted(other._list)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._list!r})"


def parse_query(query: str) -> list[tuple[str, str]]:
    """Split a query string into ``(name, value)`` pairs (blank values kept).

    ``+`` means a space; percent-escapes are decoded as UTF-8 (bad bytes replaced).
    """
    pairs: list[tuple[str, str]] = []
    if "%" not in query and "+" not in query:  # PERF: nothing to decode
        for part in query.split("&"):
            if part:
                name, _, value = part.partition("=")
                pairs.append((name, value))
        return pairs
    for part in query.split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        if "+" in name:
            name = name.replace("+", " ")
        if "%" in name:
            name = unquote(name)
        if "+" in value:
            value = value.replace("+", " ")
        if "%" in value:
            value = unquote(value)
        pairs.append((name, value))
    return pairs


class QueryParams(MultiDict[str]):
    """The parsed query string of a request."""

    __slots__ = ()
    _where = "query string"

    def __init__(
        self,
        items: Iterable[tuple[str, str]]
        | Mapping[str, str]
        | str
        | bytes
        | None = None,
    ) -> None:
        if isinstance(items, bytes):
            # Raw (unescaped) bytes in a query string are UTF-8 in practice.
            items = items.decode("utf-8", "replace")
        if isinstance(items, str):
            # PERF: straight to the fields; no copy, no Mapping check.
            pairs = parse_query(items)
            self._list = pairs
            self._dict = dict(pairs)
            return
        super().__init__(items)

    def __str__(self) -> str:
        return urlencode(self._list)


# Bounded caches of name conversions (names repeat, so each is worked out once):
# WSGI environ keys -> header names ("HTTP_USER_AGENT" -> "user-agent"), header names
# as asked for -> environ keys ("User-Agent" -> "HTTP_USER_AGENT"), and header names
# as asked for -> lower-cased bytes (b"user-agent").
_ENVIRON_NAMES: dict[str, str] = {}
_ENVIRON_KEYS: dict[str, str] = {}
_BYTE_NAMES: dict[str, bytes] = {}
_CACHE_LIMIT = 1000
# CGI passes these without the HTTP_ prefix, and some servers set them empty when the
# request has none: empty reads as absent.
_ENTITY_KEYS = frozenset(("CONTENT_TYPE", "CONTENT_LENGTH"))


def _environ_key(name: str) -> str:
    key = _ENVIRON_KEYS.get(name)
    if key is None:
        key = name.upper().replace("-", "_")
        if key not in _ENTITY_KEYS:
            key = "HTTP_" + key
        if len(_ENVIRON_KEYS) < _CACHE_LIMIT:
            _ENVIRON_KEYS[name] = key
    return key


def _byte_name(name: str) -> bytes:
    encoded = _BYTE_NAMES.get(name)
    if encoded is None:
        encoded = name.lower().encode("latin-1")
        if len(_BYTE_NAMES) < _CACHE_LIMIT:
            _BYTE_NAMES[name] = encoded
    return encoded


class Headers(Mapping[str, str]):
    """Case-insensitive, multi-valued HTTP headers (immutable).

    Built over the raw ``[(name, value), ...]`` byte pairs of the ASGI scope, or
    over a WSGI environ, without copying them; a full table is made only to iterate.
    """

    __slots__ = ("_environ", "_index", "_raw")

    def __init__(
        self,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
        *,
        raw: list[tuple[bytes, bytes]] | None = None,
    ) -> None:
        if raw is not None:
            self._raw: list[tuple[bytes, bytes]] | None = raw
        elif headers is None:
            self._raw = []
        else:
            pairs = headers.items() if isinstance(headers, Mapping) else headers
            self._raw = [
                (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in pairs
            ]
        self._index: dict[str, list[str]] | None = None
        self._environ: Mapping[str, Any] | None = None

    @classmethod
    def from_environ(cls, environ: Mapping[str, Any]) -> Headers:
        """The headers of a WSGI environ (``HTTP_*``, ``CONTENT_TYPE``,
        ``CONTENT_LENGTH``): a view, where each lookup is one environ lookup."""
        headers = cls.__new__(cls)
        headers._raw = None
        headers._index = None
        headers._environ = environ
        return headers

    @property
    def raw(self) -> list[tuple[bytes, bytes]]:
        """The ``(name, value)`` byte pairs, names lower-cased."""
        raw = self._raw
        if raw is None:
            index = self._index if self._index is not None else self._build()
            raw = self._raw = [
                (k.encode("latin-1"), v.encode("latin-1"))
                for k, values in index.items()
                for v in values
            ]
        return raw

    def _build(self) -> dict[str, list[str]]:
        index: dict[str, list[str]] = {}
        environ = self._environ
        if environ is not None:
            names = _ENVIRON_NAMES
            for key, value in environ.items():
                name = names.get(key)
                if name is None:
                    if key.startswith("HTTP_"):
                        name = key[5:].replace("_", "-").lower()
                    elif key in _ENTITY_KEYS:
                        name = key.replace("_", "-").lower()
                    else:
                        name = ""  # not a header
                    if len(names) < _CACHE_LIMIT:
                        names[key] = name
                if name and (value or key not in _ENTITY_KEYS):
                    index[name] = [str(value)]
        else:
            for k, v in self.raw:
                index.setdefault(k.decode("latin-1").lower(), []).append(
                    v.decode("latin-1")
                )
        self._index = index
        return index

    # PERF: requests carry few headers and handlers read few of them, so lookups
    # scan the byte pairs (or look up the environ key); the full index is built only
    # for iteration.

    def __getitem__(self, key: str) -> str:
        value = self.get(key)
        if value is None:
            raise KeyError(key)
        return str(value)

    def get(self, key: str, default: Any = None) -> Any:
        environ = self._environ
        if environ is not None:
            environ_key = _ENVIRON_KEYS.get(key) or _environ_key(key)
            value = environ.get(environ_key)
            if value:
                return value
            if value is None or environ_key in _ENTITY_KEYS:
                return default
            return value
        index = self._index
        if index is not None:
            values = index.get(key.lower())
            return values[0] if values else default
        name = _BYTE_NAMES.get(key) or _byte_name(key)
        raw = self._raw
        for k, v in self.raw if raw is None else raw:
            if k == name:
                return v.decode("latin-1")
        return default

    def getlist(self, key: str) -> list[str]:
        """Return every value of the header ``key`` (an empty list when absent)."""
        if self._environ is not None:
            value = self.get(key)
            return [] if value is None else [value]
        index = self._index
        if index is not None:
            return list(index.get(key.lower(), ()))
        name = _byte_name(key)
        return [v.decode("latin-1") for k, v in self.raw if k == name]

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        if self._environ is not None:
            return self.get(key) is not None
        index = self._index
        if index is not None:
            return key.lower() in index
        name = _BYTE_NAMES.get(key) or _byte_name(key)
        raw = self._raw
        for k, _ in self.raw if raw is None else raw:
            if k == name:
                return True
        return False

    def __iter__(self) -> Iterator[str]:
        index = self._index if self._index is not None else self._build()
        return iter(index)

    def __len__(self) -> int:
        index = self._index if self._index is not None else self._build()
        return len(index)

    def items(self) -> list[tuple[str, str]]:  # type: ignore[override]
        """Every ``(name, value)`` pair, repeated names included, names lower-cased."""
        return [(k.decode("latin-1"), v.decode("latin-1")) for k, v in self.raw]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.items()!r})"


class MutableHeaders(Headers):
    """Response headers: case-insensitive, multi-valued, changeable in place.

    Changes keep no index (lookups scan the byte pairs), so nothing is rebuilt.
    """

    __slots__ = ()

    def __setitem__(self, key: str, value: str) -> None:
        """Set ``key`` to a single ``value``, replacing any previous values.

        Raises:
            ValueError: The name is not a token, or the value holds CR, LF or NUL.
        """
        name, encoded = encode_header(key, value)
        raw = self.raw
        for k, _ in raw:
            if k == name:
                # NOTE: mutate in place: a Response shares the list with its headers.
                raw[:] = [(k, v) for k, v in raw if k != name]
                break
        raw.append((name, encoded))
        self._index = None

    def __delitem__(self, key: str) -> None:
        name = _byte_name(key)
        self.raw[:] = [(k, v) for k, v in self.raw if k != name]
        self._index = None

    def append(self, key: str, value: str) -> None:
        """Add a value for ``key``, keeping the existing ones (as for Set-Cookie)."""
        self.raw.append(encode_header(key, value))
        self._index = None

    def setdefault(self, key: str, value: str) -> str:
        """Set ``key`` to ``value`` unless it is already present; return its value."""
        existing = self.get(key)
        if existing is not None:
            return str(existing)
        self.append(key, value)
        return value

    def update(self, other: Mapping[str, str]) -> None:
        """Set every header of ``other``, replacing values of the same names."""
        for k, v in other.items():
            self[k] = v

    def add_vary(self, name: str) -> None:
        """Add ``name`` to the ``Vary`` header unless it (or ``*``) is listed."""
        raw = self.raw
        for k, _ in raw:
            if k == b"vary":
                break
        else:  # PERF: no Vary yet, the usual case
            raw.append(encode_header("vary", name))
            self._index = None
            return
        values = self.getlist("vary")
        present = {t.strip().lower() for value in values for t in value.split(",")}
        if "*" in present or name.lower() in present:
            return
        self["vary"] = ", ".join([*values, name])

    def pop(self, key: str, default: Any = None) -> Any:
        """Remove ``key`` and return its first value, or ``default``."""
        value = self.get(key, default)
        del self[key]
        return value


_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_VALID_NAMES: dict[str, bytes] = {}


def encode_header(name: str, value: str) -> tuple[bytes, bytes]:
    """Check and encode one response header (lower-cased name, latin-1 bytes).

    Raises:
        ValueError: The name is not an HTTP token, or the value contains CR, LF or
            NUL (which would split the response).
    """
    lowered = _VALID_NAMES.get(name)
    if lowered is None:
        if _TOKEN.fullmatch(name) is None:
            raise ValueError(f"invalid header name {name!r}")
        lowered = name.lower().encode("latin-1")
        if len(_VALID_NAMES) < 1000:  # PERF: names repeat; bounded cache
            _VALID_NAMES[name] = lowered
    if "\r" in value or "\n" in value or "\0" in value:
        raise ValueError(f"header {name!r}: the value must not contain CR, LF or NUL")
    return lowered, value.encode("latin-1")


class URL:
    """A parsed URL with the parts a handler usually needs."""

    __slots__ = ("_parts", "_str")

    def __init__(self, url: str) -> None:
        from urllib.parse import urlsplit

        self._str = url
        self._parts = urlsplit(url)

    @property
    def scheme(self) -> str:
        """``"http"``, ``"https"``, ..."""
        return self._parts.scheme

    @property
    def netloc(self) -> str:
        """Host and port as written."""
        return self._parts.netloc

    @property
    def path(self) -> str:
        """The path, percent-encoded."""
        return self._parts.path

    @property
    def query(self) -> str:
        """The query string, without ``?``."""
        return self._parts.query

    @property
    def fragment(self) -> str:
        """The fragment, without ``#``."""
        return self._parts.fragment

    @property
    def hostname(self) -> str | None:
        """The host name, lower-cased, without brackets or port."""
        return self._parts.hostname

    @property
    def port(self) -> int | None:
        """The port, or None when absent or not a valid port number."""
        try:
            return self._parts.port
        except ValueError:
            return None

    @classmethod
    def build(cls, scheme: str, host: str, path: str, query: str = "") -> URL:
        """Build a URL from its parts; ``path`` is percent-quoted."""
        url = f"{scheme}://{host}{quote(path, safe='/:@!$&()*+,;=~-._')}"
        if query:
            url += "?" + query
        return cls(url)

    def replace_query(self, query: str) -> URL:
        """Return this URL with another query string."""
        base = self._str.split("?", 1)[0].split("#", 1)[0]
        return URL(base + ("?" + query if query else ""))

    def __str__(self) -> str:
        return self._str

    def __repr__(self) -> str:
        return f"URL({self._str!r})"

    def __eq__(self, other: object) -> bool:
        return str(self) == str(other)

    def __hash__(self) -> int:
        return hash(self._str)


class Address:
    """A network peer: ``host`` and ``port``."""

    __slots__ = ("host", "port")

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port

    def __iter__(self) -> Iterator[Any]:
        return iter((self.host, self.port))

    def __repr__(self) -> str:
        return f"Address(host={self.host!r}, port={self.port!r})"


class State:
    """An object for arbitrary attributes (``request.state.user = ...``)."""

    def __init__(self, state: dict[str, Any] | None = None) -> None:
        super().__setattr__("_state", dict(state) if state else {})

    def __setattr__(self, key: str, value: Any) -> None:
        self._state[key] = value

    def __getattr__(self, key: str) -> Any:
        try:
            return self._state[key]
        except KeyError:
            raise AttributeError(f"'State' object has no attribute {key!r}") from None

    def __delattr__(self, key: str) -> None:
        del self._state[key]

    def __contains__(self, key: str) -> bool:
        return key in self._state
