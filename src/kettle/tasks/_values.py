"""Checks that a task's arguments and result survive JSON, as the queue sends them."""

from __future__ import annotations

import math
from typing import Any

__all__ = ("ResultNotJSON", "check_json", "json_safe")

_SCALARS = (str, int, float, bool, type(None))


class ResultNotJSON(TypeError):
    """A task returned a value that cannot be stored as its result."""


def _problem(value: Any, path: str) -> str | None:
    """Where ``value`` stops being JSON, as a message; None when it is JSON."""
    if isinstance(value, _SCALARS):
        if isinstance(value, float) and not math.isfinite(value):
            return f"{path} is {value!r}, which JSON cannot carry"
        return None
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            found = _problem(item, f"{path}[{i}]")
            if found:
                return found
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                return (
                    f"{path} has the key {key!r} ({type(key).__name__}); "
                    "JSON objects take string keys only"
                )
            found = _problem(item, f"{path}[{key!r}]")
            if found:
                return found
        return None
    hint = ""
    name = type(value).__name__
    if name in ("datetime", "date", "time"):
        hint = " (pass value.isoformat() and parse it in the task)"
    elif name in ("UUID", "Decimal"):
        hint = " (pass str(value))"
    elif name in ("set", "frozenset"):
        hint = " (pass a list)"
    elif hasattr(value, "__table__") or hasattr(value, "_sa_instance_state"):
        hint = " (pass the row's primary key and load it in the task)"
    return f"{path} is a {name}, which is not JSON-serialisable{hint}"


def check_json(task: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Refuse arguments a queue cannot carry.

    Raises:
        TypeError: Naming the argument and what in it is not JSON.
    """
    for i, value in enumerate(args):
        found = _problem(value, f"argument {i + 1}")
        if found:
            raise TypeError(f"task {task}: {found}")
    for key, value in kwargs.items():
        found = _problem(value, f"argument {key!r}")
        if found:
            raise TypeError(f"task {task}: {found}")


def json_safe(value: Any) -> Any:
    """``value`` as it comes back from JSON (tuples become lists).

    Raises:
        ResultNotJSON: ``value`` is not JSON-serialisable.
    """
    found = _problem(value, "the return value")
    if found:
        raise ResultNotJSON(
            f"{found}; the task ran to its end, but its result cannot be stored"
        )
    return _plain(value)


def _plain(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value
