"""The everyday queries: get-or-404, pages, keyset pages, bulk writes, explicit
transactions. Each takes a ``Session`` (and returns a value) or an
``AsyncSession`` (and returns an awaitable)."""

from __future__ import annotations

import base64
import datetime
import decimal
import json
import math
import uuid
from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING
from typing import Any
from typing import Generic
from typing import TypeVar
from typing import overload

from sqlalchemy import Select
from sqlalchemy import and_
from sqlalchemy import func
from sqlalchemy import insert
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import types as sa
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import UnaryExpression

from ..exceptions import HTTPException
from .engine import begin_now

if TYPE_CHECKING:
    from types import TracebackType

__all__ = (
    "KeysetPage",
    "Page",
    "bulk_insert",
    "bulk_update",
    "first_or_404",
    "get_or_404",
    "keyset",
    "paginate",
    "transaction",
)

T = TypeVar("T")
R = TypeVar("R")


def _not_found(description: str | None, default: str) -> HTTPException:
    return HTTPException(404, description or default)


def _maybe_async(
    session: Session | AsyncSession,
    run: Callable[[Session], R],
) -> R | Awaitable[R]:
    """``run(session)``, or for an AsyncSession an awaitable of it (run in
    SQLAlchemy's greenlet bridge, one hop for the whole helper)."""
    if isinstance(session, AsyncSession):
        return session.run_sync(run)
    if isinstance(session, Session):
        return run(session)
    raise TypeError(
        f"expected a SQLAlchemy Session or AsyncSession, got {type(session).__name__}"
    )


# -- single rows -------------------------------------------------------------------


@overload
def get_or_404(
    session: AsyncSession, model: type[T], ident: Any, *, description: str | None = None
) -> Awaitable[T]: ...
@overload
def get_or_404(
    session: Session, model: type[T], ident: Any, *, description: str | None = None
) -> T: ...
def get_or_404(
    session: Session | AsyncSession,
    model: type[T],
    ident: Any,
    *,
    description: str | None = None,
) -> T | Awaitable[T]:
    """The row of ``model`` with primary key ``ident``, or a 404 response.

    ``ident`` is the key's value (a tuple or dict for composite keys). Rows
    already in the session are returned without a query.
    """

    def run(s: Session) -> T:
        # A key the column cannot hold (2**31 for an INTEGER) has no row; asking
        # PostgreSQL for it would be an error (a 500), not a miss.
        obj = None if _out_of_range(model, ident) else s.get(model, ident)
        if obj is None:
            raise _not_found(description, f"No {model.__name__} with key {ident!r}.")
        return obj

    return _maybe_async(session, run)


def integer_bounds(kind: Any) -> tuple[int, int]:
    """The lowest and highest value of an integer column type (16, 32 or 64
    bits), so that no accepted value overflows the column."""
    bits = 32
    if isinstance(kind, sa.SmallInteger):
        bits = 16
    elif isinstance(kind, sa.BigInteger):
        bits = 64
    limit = 2 ** (bits - 1) - 1
    return -limit - 1, limit


#: Each model's ``(lowest, highest)`` integer primary key, or None for a key
#: that is not one integer column.
_KEY_BOUNDS: dict[type, tuple[int, int] | None] = {}


def _out_of_range(model: type, ident: Any) -> bool:
    """Whether ``ident`` is an int its model's integer primary key cannot hold."""
    if type(ident) is not int:
        return False
    try:
        bounds = _KEY_BOUNDS[model]
    except KeyError:
        from sqlalchemy import inspect

        bounds = None
        keys: Sequence[Any] = inspect(model).primary_key
        if len(keys) == 1:
            try:
                is_int = keys[0].type.python_type is int
            except NotImplementedError:
                is_int = False
            if is_int:
                bounds = integer_bounds(keys[0].type)
        _KEY_BOUNDS[model] = bounds
    return bounds is not None and not bounds[0] <= ident <= bounds[1]


@overload
def first_or_404(
    session: AsyncSession,
    statement: Select[T],
    *,
    description: str | None = None,
) -> Awaitable[T]: ...
@overload
def first_or_404(
    session: Session, statement: Select[T], *, description: str | None = None
) -> T: ...
def first_or_404(
    session: Session | AsyncSession,
    statement: Select[T],
    *,
    description: str | None = None,
) -> T | Awaitable[T]:
    """The first row ``statement`` selects (its first column: the model), or a
    404 response. Only one row is fetched."""

    def run(s: Session) -> T:
        obj = s.scalars(statement.limit(1)).first()
        if obj is None:
            raise _not_found(description, "Not found.")
        return obj

    return _maybe_async(session, run)


# -- pages -------------------------------------------------------------------------


@dataclass
class Page(Generic[T]):
    """One page of a query's results, with the totals a pager needs."""

    #: The rows of this page.
    items: list[T]
    #: The page number, from 1.
    page: int
    #: The most rows a page holds.
    per_page: int
    #: The number of rows over all pages (None when not counted).
    total: int | None

    @property
    def pages(self) -> int | None:
        """The number of pages (at least 1), None when not counted."""
        if self.total is None:
            return None
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        if self.total is None:
            return len(self.items) == self.per_page
        return self.page * self.per_page < self.total

    @property
    def prev_page(self) -> int | None:
        return self.page - 1 if self.has_prev else None

    @property
    def next_page(self) -> int | None:
        return self.page + 1 if self.has_next else None

    def __iter__(self) -> Iterator[T]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def to_dict(self) -> dict[str, Any]:
        """The page's numbers (not its items), for a JSON response."""
        return {
            "page": self.page,
            "per_page": self.per_page,
            "total": self.total,
            "pages": self.pages,
            "has_next": self.has_next,
            "has_prev": self.has_prev,
        }


def _check_page(page: Any, per_page: Any, max_per_page: int) -> tuple[int, int]:
    if isinstance(page, bool) or not isinstance(page, int) or page < 1:
        raise HTTPException(404, f"Page {page!r} does not exist; pages start at 1.")
    if isinstance(per_page, bool) or not isinstance(per_page, int) or per_page < 1:
        raise HTTPException(
            400, f"per_page must be a positive integer, not {per_page!r}."
        )
    return page, min(per_page, max_per_page)


@overload
def paginate(
    session: AsyncSession,
    statement: Select[T],
    page: int = 1,
    per_page: int = 20,
    *,
    max_per_page: int = 100,
    count: bool = True,
) -> Awaitable[Page[T]]: ...
@overload
def paginate(
    session: Session,
    statement: Select[T],
    page: int = 1,
    per_page: int = 20,
    *,
    max_per_page: int = 100,
    count: bool = True,
) -> Page[T]: ...
def paginate(
    session: Session | AsyncSession,
    statement: Select[T],
    page: int = 1,
    per_page: int = 20,
    *,
    max_per_page: int = 100,
    count: bool = True,
) -> Page[T] | Awaitable[Page[T]]:
    """Page ``page`` of ``statement``'s rows (OFFSET pagination), with the total.

    Give the statement an ``order_by``, or pages may overlap. A page past the last
    one is a 404 (page 1 of nothing is an empty page). ``per_page`` is capped at
    ``max_per_page``. ``count=False`` skips the ``COUNT(*)`` query. For deep pages
    of large tables use :func:`keyset`.
    """
    page, per_page = _check_page(page, per_page, max_per_page)

    def run(s: Session) -> Page[T]:
        items = list(
            s.scalars(statement.limit(per_page).offset((page - 1) * per_page)).all()
        )
        total: int | None = None
        if count:
            if page == 1 and len(items) < per_page:
                total = len(items)  # the whole result is on this page
            else:
                counted = select(func.count()).select_from(
                    statement.order_by(None).subquery()
                )
                total = s.execute(counted).scalar_one()
        if not items and page > 1:
            raise HTTPException(404, f"Page {page} is past the last page.")
        return Page(items, page, per_page, total)

    return _maybe_async(session, run)


@dataclass
class KeysetPage(Generic[T]):
    """A page of a keyset (cursor) pagination: the rows, and the cursor of the next
    page (None on the last)."""

    items: list[T]
    next_cursor: str | None
    per_page: int = 0

    @property
    def has_next(self) -> bool:
        return self.next_cursor is not None

    def __iter__(self) -> Iterator[T]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


_TAGS: dict[type, tuple[str, Callable[[Any], Any]]] = {
    datetime.datetime: ("dt", datetime.datetime.isoformat),
    datetime.date: ("d", datetime.date.isoformat),
    decimal.Decimal: ("dec", str),
    uuid.UUID: ("u", str),
}
_UNTAG: dict[str, Callable[[Any], Any]] = {
    "dt": datetime.datetime.fromisoformat,
    "d": datetime.date.fromisoformat,
    "dec": decimal.Decimal,
    "u": uuid.UUID,
}


def _encode_cursor(values: Sequence[Any]) -> str:
    out: list[Any] = []
    for v in values:
        tag = _TAGS.get(type(v))
        out.append({tag[0]: tag[1](v)} if tag else v)
    raw = json.dumps(out, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _decode_cursor(cursor: str, size: int) -> list[Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
        if not isinstance(data, list) or len(data) != size:
            raise ValueError("wrong shape")
        values = []
        for v in data:
            if isinstance(v, dict):
                ((tag, text),) = v.items()
                v = _UNTAG[tag](text)
            values.append(v)
        return values
    except Exception:
        raise HTTPException(400, "Invalid pagination cursor.") from None


def _order_columns(order_by: Any) -> list[tuple[Any, bool]]:
    """``[(column, descending)]`` of an ``order_by`` argument."""
    items = order_by if isinstance(order_by, list | tuple) else [order_by]
    out = []
    for item in items:
        if isinstance(item, UnaryExpression) and item.modifier in (
            operators.desc_op,
            operators.asc_op,
        ):
            out.append((item.element, item.modifier is operators.desc_op))
        else:
            out.append((item, False))
    if not out:
        raise ValueError("keyset() needs at least one column to order by")
    return out


@overload
def keyset(
    session: AsyncSession,
    statement: Select[T],
    order_by: Any,
    *,
    after: str | None = None,
    per_page: int = 20,
    max_per_page: int = 100,
) -> Awaitable[KeysetPage[T]]: ...
@overload
def keyset(
    session: Session,
    statement: Select[T],
    order_by: Any,
    *,
    after: str | None = None,
    per_page: int = 20,
    max_per_page: int = 100,
) -> KeysetPage[T]: ...
def keyset(
    session: Session | AsyncSession,
    statement: Select[T],
    order_by: Any,
    *,
    after: str | None = None,
    per_page: int = 20,
    max_per_page: int = 100,
) -> KeysetPage[T] | Awaitable[KeysetPage[T]]:
    """A page of ``statement``'s rows after the cursor ``after``, by keyset
    ("seek") pagination: as fast on page 10,000 as on page 1.

    Args:
        order_by: The columns that order the rows, ``desc(col)`` for descending;
            together they must be unique (end with the primary key).
        after: The ``next_cursor`` of the previous page (None for the first page).
            A cursor that was not made by this function is a 400 response.
    """
    _, per_page = _check_page(1, per_page, max_per_page)
    columns = _order_columns(order_by)
    keys = [c for c, _ in columns]
    stmt = statement.order_by(None).order_by(
        *[c.desc() if descending else c.asc() for c, descending in columns]
    )
    if after is not None:
        values = _decode_cursor(after, len(columns))
        clauses = []
        for i, (col, descending) in enumerate(columns):
            equal = [keys[j] == values[j] for j in range(i)]
            step = col < values[i] if descending else col > values[i]
            clauses.append(and_(*equal, step))
        stmt = stmt.where(or_(*clauses))
    # The key values are selected alongside, so the cursor needs no attribute names.
    stmt = stmt.add_columns(*keys).limit(per_page + 1)

    def run(s: Session) -> KeysetPage[T]:
        rows = s.execute(stmt).all()
        more = len(rows) > per_page
        rows = rows[:per_page]
        cursor = _encode_cursor(rows[-1][1:]) if more and rows else None
        return KeysetPage([r[0] for r in rows], cursor, per_page)

    return _maybe_async(session, run)


# -- bulk writes -------------------------------------------------------------------


def _rows(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    out = [dict(r) for r in rows]
    for r in out:
        if not r:
            raise ValueError("bulk write: a row with no values")
    return out


@overload
def bulk_insert(
    session: AsyncSession, model: type[Any], rows: Iterable[Mapping[str, Any]]
) -> Awaitable[int]: ...
@overload
def bulk_insert(
    session: Session, model: type[Any], rows: Iterable[Mapping[str, Any]]
) -> int: ...
def bulk_insert(
    session: Session | AsyncSession,
    model: type[Any],
    rows: Iterable[Mapping[str, Any]],
) -> int | Awaitable[int]:
    """Insert many rows of ``model`` from dicts, in as few statements as the driver
    allows (no objects are made). Returns the number of rows."""
    data = _rows(rows)

    def run(s: Session) -> int:
        if data:
            s.execute(insert(model), data)
        return len(data)

    return _maybe_async(session, run)


@overload
def bulk_update(
    session: AsyncSession, model: type[Any], rows: Iterable[Mapping[str, Any]]
) -> Awaitable[int]: ...
@overload
def bulk_update(
    session: Session, model: type[Any], rows: Iterable[Mapping[str, Any]]
) -> int: ...
def bulk_update(
    session: Session | AsyncSession,
    model: type[Any],
    rows: Iterable[Mapping[str, Any]],
) -> int | Awaitable[int]:
    """Update many rows of ``model`` by primary key: each dict holds the key and
    the new values. Returns the number of rows given."""
    data = _rows(rows)
    from sqlalchemy import inspect

    pk = [c.key for c in inspect(model).primary_key]
    for r in data:
        missing = [k for k in pk if k not in r]
        if missing:
            raise ValueError(
                f"bulk_update({model.__name__}): a row lacks its primary key "
                f"{', '.join(missing)}"
            )

    def run(s: Session) -> int:
        if data:
            s.execute(update(model), data)
        return len(data)

    return _maybe_async(session, run)


# -- explicit transactions -----------------------------------------------------------


class transaction:
    """Run a block in one database transaction, started at once (not at the first
    write): ``with transaction(db):`` for a ``Session``, ``async with
    transaction(db):`` for an ``AsyncSession``.

    The block's changes are committed when it ends, and rolled back if it raises.
    Inside another ``transaction()`` it is a savepoint: its failure undoes only its
    own changes. Reads in the block see one consistent state (under the database's
    isolation level), and ``SELECT ... FOR UPDATE`` locks last until its end.
    """

    def __init__(self, session: Session | AsyncSession) -> None:
        self.session = session
        self._nested: Any = None

    def _enter(self, s: Session) -> None:
        depth = s.info.get("kettle_tx_depth", 0)
        s.info["kettle_tx_depth"] = depth + 1
        if depth:
            self._nested = s.begin_nested()
        else:
            begin_now(s.connection())

    def _exit(self, s: Session, failed: bool) -> None:
        s.info["kettle_tx_depth"] -= 1
        nested = self._nested
        if nested is not None:
            if failed:
                nested.rollback()
            else:
                nested.commit()
        elif failed:
            s.rollback()
        else:
            s.commit()

    def __enter__(self) -> Session:
        if not isinstance(self.session, Session):
            raise TypeError("use 'async with transaction(...)' with an AsyncSession")
        self._enter(self.session)
        return self.session

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert isinstance(self.session, Session)
        self._exit(self.session, exc_type is not None)

    async def __aenter__(self) -> AsyncSession:
        if not isinstance(self.session, AsyncSession):
            raise TypeError("use 'with transaction(...)' with a Session")
        await self.session.run_sync(self._enter)
        return self.session

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert isinstance(self.session, AsyncSession)
        failed = exc_type is not None
        await self.session.run_sync(lambda s: self._exit(s, failed))
