"""JSON encoding and decoding: orjson when installed, the standard library otherwise."""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import json
import uuid
from collections.abc import Callable
from typing import Any

__all__ = ("dumps", "loads")


def _default(obj: Any) -> Any:
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
    dump = getattr(
        obj, "model_dump", None
    )  # pydantic models, without importing pydantic
    if callable(dump):
        return dump(mode="json")
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


dumps: Callable[[Any], bytes]
loads: Callable[[bytes | str], Any]

try:
    import orjson

    _OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY

    def dumps(obj: Any) -> bytes:
        """Encode ``obj`` as compact UTF-8 JSON."""
        return orjson.dumps(obj, default=_default, option=_OPTIONS)

    loads = orjson.loads
except ImportError:  # pragma: no cover - exercised only without the 'fast' extra
    _encoder = json.JSONEncoder(
        ensure_ascii=False, separators=(",", ":"), default=_default
    )

    def dumps(obj: Any) -> bytes:
        """Encode ``obj`` as compact UTF-8 JSON."""
        return _encoder.encode(obj).encode("utf-8")

    loads = json.loads
