"""The declarative base every Kettle model derives from, and its optional mixins."""

from __future__ import annotations

import datetime
import re
from typing import Annotated
from typing import Any
from typing import ClassVar

from sqlalchemy import DateTime
from sqlalchemy import MetaData
from sqlalchemy import func
from sqlalchemy import inspect
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import declared_attr
from sqlalchemy.orm import mapped_column

__all__ = ("PK", "NAMING_CONVENTION", "Model", "Timestamps", "table_name")

#: Constraint and index names, so migrations can name what they alter or drop (and
#: SQLite's batch mode can rebuild a table). Alembic compares by these names.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: An integer primary key: ``id: Mapped[PK]``.
PK = Annotated[int, mapped_column(primary_key=True)]

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def table_name(class_name: str) -> str:
    """The default table of a model class: ``BlogPost`` -> ``blog_post``."""
    return _CAMEL.sub("_", class_name).lower()


class Model(DeclarativeBase):
    """The base of Kettle models: SQLAlchemy 2.0 typed declarative mapping.

    What it adds to a plain ``DeclarativeBase``:

    - ``__tablename__`` defaults to the class name in snake case;
    - constraints and indexes are named (:data:`NAMING_CONVENTION`);
    - ``__bind_key__ = "name"`` puts the table in the named database of
      ``DATABASE_BINDS`` instead of ``DATABASE_URL``;
    - ``repr()`` shows the class and primary key (``<Post id=3>``); list more
      attributes in ``__repr_attrs__``.
    """

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    #: The name of the database in ``DATABASE_BINDS`` this model lives in.
    __bind_key__: ClassVar[str | None] = None
    #: Attributes ``repr()`` shows besides the primary key.
    __repr_attrs__: ClassVar[tuple[str, ...]] = ()

    @declared_attr.directive
    def __tablename__(cls) -> str:
        return table_name(cls.__name__)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        table = cls.__dict__.get("__table__")
        if table is not None and cls.__bind_key__ is not None:
            table.info["bind_key"] = cls.__bind_key__

    def __repr__(self) -> str:
        state = inspect(self)
        mapper = state.mapper
        parts: list[str] = []
        names = [mapper.get_property_by_column(c).key for c in mapper.primary_key]
        names += [n for n in self.__repr_attrs__ if n not in names]
        for name in names:
            if name in state.unloaded:  # never trigger a query from repr()
                continue
            parts.append(f"{name}={state.dict.get(name)!r}")
        if state.transient or state.pending:
            parts.append("(unsaved)")
        return " ".join([f"<{type(self).__name__}", *parts]) + ">"


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


class Timestamps:
    """A mixin: ``created_at`` set on insert, ``updated_at`` on every update.

    Both are UTC, set by Python when the ORM writes the row (so they are known
    without reading the row back), and by the database's clock for rows inserted
    by other means. SQLite gives them back without a time zone.
    """

    created_at: Mapped[datetime.datetime] = mapped_column(
        DateTime(timezone=True), default=_now, server_default=func.now()
    )
    updated_at: Mapped[datetime.datetime] = mapped_column(
        DateTime(timezone=True),
        default=_now,
        onupdate=_now,
        server_default=func.now(),
    )
