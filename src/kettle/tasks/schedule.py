"""When periodic tasks run: ``every=`` intervals and five-field ``cron=`` strings.

Both count in UTC and in whole seconds since the epoch, so that every process
agrees on each tick: a tick is the start of an interval (``every``), or a minute
the cron expression matches. The scheduler enqueues a task once per tick; with
several processes, a Redis ``SET NX`` per task and tick lets one of them do it.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

__all__ = ("Cron", "Every", "Schedule")

# (name, lowest, highest) of the five fields.
_FIELDS = (
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day of month", 1, 31),
    ("month", 1, 12),
    ("day of week", 0, 7),
)
_MONTHS = "jan feb mar apr may jun jul aug sep oct nov dec".split()
_DAYS = "sun mon tue wed thu fri sat".split()
_ALIASES = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}


class Schedule:
    """When a periodic task is due."""

    def tick(self, now: float) -> int | None:
        """The tick (seconds since the epoch) that ``now`` falls in, if the task
        is due in it; None otherwise."""
        raise NotImplementedError

    def next_after(self, now: float) -> float:
        """The next time (seconds since the epoch) after ``now`` worth checking."""
        raise NotImplementedError


@dataclass(frozen=True)
class Every(Schedule):
    """Every ``seconds`` seconds, at multiples of ``seconds`` since the epoch
    (``every=timedelta(hours=1)`` runs on the hour, UTC)."""

    seconds: int

    def __post_init__(self) -> None:
        if self.seconds < 1:
            raise ValueError("every= must be at least one second")

    def tick(self, now: float) -> int | None:
        return int(now) // self.seconds * self.seconds

    def next_after(self, now: float) -> float:
        return float((int(now) // self.seconds + 1) * self.seconds)

    def __str__(self) -> str:
        return f"every {self.seconds}s"


def _parse_value(text: str, index: int) -> int:
    name, low, high = _FIELDS[index]
    names = _MONTHS if index == 3 else _DAYS if index == 4 else None
    lowered = text.lower()
    if names is not None and lowered in names:
        return names.index(lowered) + (1 if index == 3 else 0)
    if not text.isdigit():
        raise ValueError(f"{text!r} is not a number for the {name} field")
    value = int(text)
    if not low <= value <= high:
        raise ValueError(f"{value} is out of range for the {name} field ({low}-{high})")
    return value


def _parse_field(text: str, index: int) -> frozenset[int]:
    name, low, high = _FIELDS[index]
    values: set[int] = set()
    for part in text.split(","):
        body, _, step_text = part.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) < 1:
                raise ValueError(f"{part!r}: the step must be a positive number")
            step = int(step_text)
        if body == "*":
            start, stop = low, high
        elif "-" in body:
            first, _, last = body.partition("-")
            start, stop = _parse_value(first, index), _parse_value(last, index)
            if start > stop:
                raise ValueError(f"{part!r}: the range runs backwards")
        else:
            start = _parse_value(body, index)
            stop = high if step_text else start
        values.update(range(start, stop + 1, step))
    if index == 4 and 7 in values:  # 7 is Sunday too
        values.discard(7)
        values.add(0)
    return frozenset(values)


@dataclass(frozen=True)
class Cron(Schedule):
    """A standard five-field cron expression (minute, hour, day of month, month,
    day of week), in UTC: numbers, ``*``, ranges ``a-b``, lists ``a,b``, steps
    ``*/n`` and ``a-b/n``, month and day names (``jan``, ``mon``), and the
    ``@hourly``/``@daily``/``@weekly``/``@monthly``/``@yearly`` shorthands.

    The two day fields combine as in Vixie cron (and cronie, and most cron
    daemons): when both start with something other than ``*``, a day matching
    either one runs (``0 0 1,15 * mon``: the 1st, the 15th, and every Monday);
    when either starts with ``*`` (``*``, ``*/2``), a day must match both
    (``0 0 */2 * mon``: Mondays that fall on an odd day of the month).

    Raises:
        ValueError: The expression is not valid, naming the part that is wrong.
    """

    expression: str

    def __post_init__(self) -> None:
        text = _ALIASES.get(self.expression.strip().lower(), self.expression)
        parts = text.split()
        if len(parts) != 5:
            raise ValueError(
                f"cron {self.expression!r} must have 5 fields (minute hour "
                "day-of-month month day-of-week), or be @hourly, @daily, ..."
            )
        try:
            fields = tuple(_parse_field(p, i) for i, p in enumerate(parts))
        except ValueError as exc:
            raise ValueError(f"cron {self.expression!r}: {exc}") from None
        object.__setattr__(self, "_fields", fields)
        # Vixie cron's DOM_STAR/DOW_STAR: the field's first character is "*".
        starred = parts[2].startswith("*") or parts[4].startswith("*")
        object.__setattr__(self, "_days_and", starred)

    def matches(self, when: datetime.datetime) -> bool:
        """Whether the minute of ``when`` (UTC) is one the expression names."""
        minute, hour, dom, month, dow = self._fields  # type: ignore[attr-defined]
        if when.minute not in minute or when.hour not in hour:
            return False
        if when.month not in month:
            return False
        day_ok = when.day in dom
        week_ok = (when.isoweekday() % 7) in dow
        if self._days_and:  # type: ignore[attr-defined]
            return day_ok and week_ok
        return day_ok or week_ok

    def tick(self, now: float) -> int | None:
        minute = int(now) // 60 * 60
        when = datetime.datetime.fromtimestamp(minute, datetime.UTC)
        return minute if self.matches(when) else None

    def next_after(self, now: float) -> float:
        return float((int(now) // 60 + 1) * 60)

    def __str__(self) -> str:
        return f"cron {self.expression!r}"
