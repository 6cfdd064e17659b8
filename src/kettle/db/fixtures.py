"""JSON fixtures: the rows of the app's tables, written out and loaded back (what
``kettle db dump`` and ``kettle db seed`` run).

A fixture is a list of records, as Django's ``dumpdata``/``loaddata`` write them::

    [
      {"model": "author", "fields": {"id": 1, "name": "Ann"}},
      {"model": "book", "fields": {"id": 1, "title": "Tea", "author_id": 1}}
    ]

``model`` is a table name or a model class name; ``fields`` are column names (or,
for a model class, its attribute names), primary keys included. Values are JSON:
dates and times in ISO 8601, ``Decimal`` as a string, bytes in base64, UUIDs as
strings, enums by name, intervals in seconds; loading converts them back through
the column's type.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import decimal
import enum
import importlib
import uuid
from collections.abc import Iterable
from collections.abc import Mapping
from typing import TYPE_CHECKING
from typing import Any

from sqlalchemy import Column
from sqlalchemy import Engine
from sqlalchemy import Table
from sqlalchemy import bindparam
from sqlalchemy import cast
from sqlalchemy import create_engine
from sqlalchemy import func
from sqlalchemy import literal
from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy.dialects.postgresql import REGCLASS
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool
from sqlalchemy.types import JSON

from .migrations import MigrationError
from .migrations import _database
from .migrations import _error_text
from .migrations import _show_url
from .migrations import import_models

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from ..app import Kettle
    from .database import Database

__all__ = ("FixtureError", "decode_value", "dump", "encode_value", "seed")


class FixtureError(MigrationError):
    """A fixture could not be written or loaded; the message says why."""


# -- values ---------------------------------------------------------------------------


def encode_value(value: Any) -> Any:
    """A column's value as JSON data.

    Raises:
        TypeError: JSON has no form for the value.
    """
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, list | tuple):
        return [encode_value(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): encode_value(v) for k, v in value.items()}
    raise TypeError(f"no JSON form for a {type(value).__name__}")


def _python_type(column: Column[Any]) -> Any:
    if isinstance(column.type, JSON):
        return None
    try:
        return column.type.python_type
    except NotImplementedError:
        return None


def decode_value(column: Column[Any], value: Any) -> Any:
    """A JSON value as the Python value ``column``'s type takes.

    Raises:
        ValueError: The value does not fit the column's type.
    """
    if value is None:
        return None
    kind = _python_type(column)
    if kind is None or isinstance(value, kind):
        return value
    if kind is datetime.datetime and isinstance(value, str):
        return datetime.datetime.fromisoformat(value)
    if kind is datetime.date and isinstance(value, str):
        return datetime.date.fromisoformat(value)
    if kind is datetime.time and isinstance(value, str):
        return datetime.time.fromisoformat(value)
    if kind is datetime.timedelta and isinstance(value, int | float):
        return datetime.timedelta(seconds=value)
    if kind is decimal.Decimal and isinstance(value, str | int | float):
        try:
            return decimal.Decimal(str(value))
        except decimal.InvalidOperation:
            raise ValueError(f"{value!r} is not a decimal number") from None
    if kind is float and isinstance(value, int | str):
        return float(value)
    if kind is bytes and isinstance(value, str):
        return base64.b64decode(value, validate=True)
    if kind is uuid.UUID and isinstance(value, str):
        return uuid.UUID(value)
    if kind is bool and isinstance(value, int):
        return bool(value)
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        try:
            return kind[value]
        except KeyError:
            return kind(value)
    return value


# -- models ---------------------------------------------------------------------------


def _models(database: Database) -> dict[str, tuple[Table, dict[str, Column[Any]]]]:
    """``{name: (table, {field: column})}`` by table name and model class name."""
    mapperlib = importlib.import_module("sqlalchemy.orm.mapper")
    models: dict[str, tuple[Table, dict[str, Column[Any]]]] = {}
    tables = database.metadata.tables
    for table in tables.values():
        fields: dict[str, Column[Any]] = {}
        for column in table.columns:
            fields[column.key] = fields[column.name] = column
        models[table.key] = models[table.name] = (table, fields)
    # NOTE: SQLAlchemy has no public list of registries; the model classes are
    # looked up there, the tables above are enough without them.
    all_registries = getattr(mapperlib, "_all_registries", None)
    for registry in all_registries() if all_registries is not None else ():
        if registry.metadata is not database.metadata:
            continue
        for mapper in registry.mappers:
            table = mapper.local_table
            if not isinstance(table, Table) or table.key not in tables:
                continue
            fields = dict(models[table.key][1])
            for prop in mapper.column_attrs:
                columns = [c for c in prop.columns if isinstance(c, Column)]
                if len(columns) == 1 and columns[0].table is table:
                    fields[prop.key] = columns[0]
            models.setdefault(mapper.class_.__name__, (table, fields))
    return models


def _bind(database: Database, table: Table) -> str | None:
    key: str | None = table.info.get("bind_key")
    if key not in database.urls:
        raise FixtureError(
            f"table {table.name!r} lives in the database {key!r} (__bind_key__), "
            "which DATABASE_BINDS does not name"
        )
    return key


def _engine(database: Database, key: str | None) -> Engine:
    return create_engine(database.urls[key][0], poolclass=NullPool)


def _connect(engine: Engine) -> Connection:
    try:
        return engine.connect()
    except SQLAlchemyError as exc:
        raise FixtureError(
            f"cannot connect to the database {_show_url(engine.url)}: "
            f"{_error_text(exc)}"
        ) from exc


# -- dump -----------------------------------------------------------------------------


def dump(app: Kettle, models: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """The rows of the app's tables as fixture records: every table of the models'
    metadata (or those of ``models``, table or class names), parents before the
    tables that refer to them, rows by primary key.

    Raises:
        FixtureError: A name is no table or model, a value has no JSON form, or a
            database cannot be read.
    """
    database = _database(app)
    import_models(app)
    known = _models(database)
    wanted: set[Table] | None = None
    if models is not None:
        wanted = set()
        for name in models:
            if name not in known:
                raise FixtureError(f"unknown model {name!r}{_known(known)}")
            wanted.add(known[name][0])
    tables = [
        t for t in database.metadata.sorted_tables if wanted is None or t in wanted
    ]
    engines: dict[str | None, Engine] = {}
    records: list[dict[str, Any]] = []
    try:
        for table in tables:
            key = _bind(database, table)
            if key not in engines:
                engines[key] = _engine(database, key)
            with _connect(engines[key]) as conn:
                records.extend(_dump_table(conn, table))
    finally:
        for engine in engines.values():
            engine.dispose()
    return records


def _dump_table(conn: Connection, table: Table) -> list[dict[str, Any]]:
    query = select(table).order_by(*table.primary_key.columns)
    try:
        rows = conn.execute(query).mappings().all()
    except SQLAlchemyError as exc:
        raise FixtureError(
            f"cannot read table {table.name!r}: {_error_text(exc)}"
        ) from exc
    records = []
    for row in rows:
        fields: dict[str, Any] = {}
        for column in table.columns:
            value = row[column]
            try:
                fields[column.name] = encode_value(value)
            except TypeError as exc:
                raise FixtureError(
                    f"{table.name}.{column.name}: {exc} ({value!r})"
                ) from None
        records.append({"model": table.key, "fields": fields})
    return records


def _known(models: Mapping[str, Any]) -> str:
    names = sorted(models)
    return f" (known: {', '.join(names)})" if names else " (there are no models)"


# -- seed -----------------------------------------------------------------------------


def _parse(
    records: Any, known: Mapping[str, tuple[Table, dict[str, Column[Any]]]]
) -> dict[Table, list[dict[str, Any]]]:
    """Check and convert every record before anything is written."""
    if not isinstance(records, list):
        raise FixtureError("a fixture is a JSON list of records")
    rows: dict[Table, list[dict[str, Any]]] = {}
    for number, record in enumerate(records, 1):
        if (
            not isinstance(record, Mapping)
            or not isinstance(record.get("model"), str)
            or not isinstance(record.get("fields"), Mapping)
        ):
            raise FixtureError(
                f"record {number}: expected {{'model': NAME, 'fields': {{...}}}}, "
                f"got {record!r:.80}"
            )
        name = record["model"]
        if name not in known:
            raise FixtureError(
                f"record {number}: unknown model {name!r}{_known(known)}"
            )
        table, fields = known[name]
        row: dict[str, Any] = {}
        for field, value in record["fields"].items():
            column = fields.get(field)
            if column is None:
                raise FixtureError(
                    f"record {number}: model {name!r} has no column {field!r} "
                    f"(its columns: {', '.join(c.name for c in table.columns)})"
                )
            try:
                row[column.key] = decode_value(column, value)
            except (ValueError, TypeError) as exc:
                raise FixtureError(
                    f"record {number}: {name}.{field}: {value!r} does not fit "
                    f"{column.type}: {exc}"
                ) from None
        rows.setdefault(table, []).append(row)
    return rows


def seed(app: Kettle, records: Any) -> int:
    """Insert fixture records, all or none: in one transaction per database,
    tables in the order of their foreign keys, after checking every record.

    On PostgreSQL, the sequences of integer primary keys are then set past the
    largest key, so rows inserted later get fresh ones.

    Returns:
        The number of rows inserted.

    Raises:
        FixtureError: A record names an unknown model or column, a value does not
            fit its column, or the database refused a row (nothing is written).
    """
    database = _database(app)
    import_models(app)
    rows = _parse(records, _models(database))
    order = [t for t in database.metadata.sorted_tables if t in rows]
    by_bind: dict[str | None, list[Table]] = {}
    for table in order:
        by_bind.setdefault(_bind(database, table), []).append(table)
    engines = {key: _engine(database, key) for key in by_bind}
    try:
        with contextlib.ExitStack() as stack:
            connections = {}
            for key, engine in engines.items():
                conn = stack.enter_context(_connect(engine))
                stack.enter_context(conn.begin())
                connections[key] = conn
            for key, tables in by_bind.items():
                for table in tables:
                    _insert(connections[key], table, rows[table])
                if connections[key].dialect.name == "postgresql":
                    for table in tables:
                        _reset_sequence(connections[key], table)
    except SQLAlchemyError as exc:
        raise FixtureError(
            f"the database refused the fixture, nothing was written: {_error_text(exc)}"
        ) from exc
    finally:
        for engine in engines.values():
            engine.dispose()
    return sum(len(r) for r in rows.values())


def _insert(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    # Consecutive rows with the same fields go in one executemany.
    batch: list[dict[str, Any]] = []
    for row in rows:
        if batch and row.keys() != batch[0].keys():
            conn.execute(_insert_statement(table, batch[0]), batch)
            batch = []
        batch.append(row)
    if batch:
        conn.execute(_insert_statement(table, batch[0]), batch)


def _insert_statement(table: Table, row: Mapping[str, Any]) -> Any:
    """An INSERT that writes None into a JSON column as SQL NULL (the dump cannot
    tell it from JSON's null, and SQL NULL is what a missing value reads back as)."""
    values = {}
    for key in row:
        type_ = table.c[key].type
        if isinstance(type_, JSON) and not type_.none_as_null:
            as_null = type_.copy()
            as_null.none_as_null = True
            values[key] = bindparam(key, type_=as_null)
    return table.insert().values(values) if values else table.insert()


def _reset_sequence(conn: Connection, table: Table) -> None:
    """Set the sequence of an integer primary key past the largest key."""
    pk = list(table.primary_key.columns)
    if len(pk) != 1 or _python_type(pk[0]) is not int:
        return
    column = pk[0]
    preparer = conn.dialect.identifier_preparer
    sequence = conn.execute(
        text("SELECT pg_get_serial_sequence(:table, :column)"),
        {"table": preparer.format_table(table), "column": column.name},
    ).scalar()
    if sequence is None:
        return
    largest = select(func.coalesce(func.max(column), 0) + 1).scalar_subquery()
    conn.execute(select(func.setval(cast(literal(sequence), REGCLASS), largest, False)))
