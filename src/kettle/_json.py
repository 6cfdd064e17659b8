"""JSON encoding and decoding: orjson when installed, the standard library otherwise.

``dumps(obj) -> bytes`` and ``loads(data)`` are bound on first use (module
``__getattr__``), so importing kettle does not import orjson.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING
from typing import Any

__all__ = ("dumps", "loads")


def _default(obj: Any) -> Any:
    import dataclasses
    import datetime
    import decimal
    import enum
    import uuid

    if isinstance(obj, datetime.datetime | datetime.date | datetime.time):
        return obj.isoformat()
    if isinstance(obj, uuid.UUID | decimal.Decimal):
        return str(obj)
    if isinstance(obj, enum.Enum):
        return obj.value
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    if isinstance(obj, set | frozenset | tuple):
        return list(obj)
    dump = getattr(obj, "model_dump", None)  # pydantic models, without importing it
    if callable(dump):
        return dump(mode="json")
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def _std() -> tuple[Callable[[Any], bytes], Callable[[bytes | str], Any]]:
    import json

    encoder = json.JSONEncoder(
        ensure_ascii=False, separators=(",", ":"), default=_default, allow_nan=False
    )

    def std_dumps(obj: Any) -> bytes:
        """Encode ``obj`` as compact UTF-8 JSON."""
        return encoder.encode(obj).encode("utf-8")

    def reject_constant(name: str) -> Any:
        raise ValueError(f"{name} is not valid JSON")

    def std_loads(data: bytes | str) -> Any:
        """Decode JSON as orjson does: no NaN/Infinity; too deep is an error."""
        try:
            return json.loads(data, parse_constant=reject_constant)
        except RecursionError:
            raise ValueError("JSON nested too deeply") from None

    return std_dumps, std_loads


def _bind() -> tuple[Callable[[Any], bytes], Callable[[bytes | str], Any]]:
    try:
        import orjson
    except ImportError:  # pragma: no cover - only without the 'fast' extra
        return _std()

    options = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY
    std_dumps = _std()[0]

    def orjson_dumps(obj: Any) -> bytes:
        """Encode ``obj`` as compact UTF-8 JSON."""
        try:
            return orjson.dumps(obj, default=_default, option=options)
        except orjson.JSONEncodeError as exc:
            # NOTE: orjson refuses integers beyond 64 bits, which JSON allows (a
            # 422 echoing a client's huge number must not become a 500).
            if "64-bit" not in str(exc):
                raise
            return std_dumps(obj)

    return orjson_dumps, orjson.loads


def __getattr__(name: str) -> Any:
    if name in __all__:
        found_dumps, found_loads = _bind()
        globals().update(dumps=found_dumps, loads=found_loads)
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


if TYPE_CHECKING:
    dumps: Callable[[Any], bytes]
    loads: Callable[[bytes | str], Any]
