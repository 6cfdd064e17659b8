"""Migrations with Alembic, driven by the app: what ``kettle db`` runs.

Kettle builds Alembic's configuration in code, from the app's settings: there is no
``alembic.ini``. ``kettle db init`` writes a ``migrations/`` folder beside the app::

    migrations/
        env.py            # two lines: calls run_migrations() below
        script.py.mako    # the template of a revision file
        versions/         # the revisions of the main database (DATABASE_URL)
        <bind>/versions/  # those of a DATABASE_BINDS database (kettle db init --bind)

The models are the tables of the app's :class:`~kettle.db.Database` metadata (every
:class:`~kettle.db.Model`, or the metadata given to ``Database(app, metadata=...)``).
A model counts once its module is imported: the app's module and the modules of its
blueprints are, since loading the app imports them. Models kept in modules the app
does not import are named in the ``MODELS`` setting, a list of module paths (or a
comma-separated string, as from ``KETTLE_MODELS``), imported before the metadata is
read.

Binds: the main database's migrations cover the tables without a ``__bind_key__``;
``--bind NAME`` (``bind=`` here) covers the tables whose ``__bind_key__`` is
``NAME``, in the database ``DATABASE_BINDS`` names so, with its own revisions
(``migrations/NAME/versions``) and its own version table
(``alembic_version_NAME``). Tables in the database that no model declares are
proposed for dropping, as Alembic does, except Alembic's version tables and the
tables of the app's other databases.

Settings: ``MIGRATIONS_DIR`` (default ``migrations`` in the app's folder; a relative
path is taken from the app's folder) and ``MODELS``.

Example::

    from kettle.db.migrations import Migrations

    migrations = Migrations(app)
    migrations.upgrade()                      # to the latest revision
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import re
import sys
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any
from typing import TextIO

from alembic import command
from alembic.autogenerate import renderers
from alembic.config import Config
from alembic.operations import ops as alembic_ops
from alembic.operations.ops import MigrateOperation
from alembic.runtime.environment import EnvironmentContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import MetaData
from sqlalchemy import create_engine
from sqlalchemy import types as sa_types
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from ..exceptions import ImproperlyConfigured
from ..sessions import SESSION_TABLE
from .database import Database
from .database import get_database

if TYPE_CHECKING:
    from alembic.operations.ops import MigrationScript
    from alembic.runtime.migration import MigrationContext
    from alembic.runtime.migration import MigrationInfo
    from alembic.script import Script

    from ..app import Kettle

__all__ = (
    "CheckResult",
    "MigrationError",
    "Migrations",
    "describe_diff",
    "import_models",
    "run_migrations",
)

#: The version table of the main database; a bind's is ``alembic_version_<bind>``.
VERSION_TABLE = "alembic_version"
#: Revision files sort by creation time: ``20250101_120000_1a2b3c4d5e6f_message.py``.
FILE_TEMPLATE = (
    "%%(year)d%%(month).2d%%(day).2d_%%(hour).2d%%(minute).2d%%(second).2d"
    "_%%(rev)s_%%(slug)s"
)

ENV_PY = '''\
"""Alembic's environment for ``kettle db``: Kettle supplies the database URL, the
models' metadata and the options (see kettle.db.migrations). Keyword arguments to
run_migrations() are passed on to Alembic's context.configure()."""

from kettle.db.migrations import run_migrations

run_migrations()
'''

SCRIPT_MAKO = '''\
<%
    parents = [down_revision] if isinstance(down_revision, str) else down_revision
    revises = " " + ", ".join(parents) if parents else ""
%>\\
"""${message}

Revision ID: ${up_revision}
Revises:${revises}
Create Date: ${create_date}
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
% if imports:
${imports}
% endif

revision: str = ${repr(up_revision)}
down_revision: str | Sequence[str] | None = ${repr(down_revision)}
branch_labels: str | Sequence[str] | None = ${repr(branch_labels)}
depends_on: str | Sequence[str] | None = ${repr(depends_on)}


def upgrade() -> None:
    ${upgrades if upgrades else "pass"}


def downgrade() -> None:
    ${downgrades if downgrades else "pass"}
'''

_BIND_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]*")


#: How databases spell "the time of the insert" in a column's default:
#: ``func.now()`` comes back from MariaDB as ``current_timestamp()``.
_NOW = frozenset(
    ("now()", "current_timestamp", "current_timestamp()", "(current_timestamp)")
)


def _server_defaults_differ(
    context: Any,
    inspected_column: Any,
    metadata_column: Any,
    inspected_default: str | None,
    metadata_default: Any,
    rendered_metadata_default: str | None,
) -> bool | None:
    """Alembic's ``compare_server_default``: the same current-time default
    spelled two ways is no change; anything else is Alembic's to compare."""

    def spelled(text: str | None) -> str:
        return (text or "").strip().strip("'\"").lower()

    if (
        spelled(inspected_default) in _NOW
        and spelled(rendered_metadata_default) in _NOW
    ):
        return False
    return None


class MigrationError(Exception):
    """A migration command could not do what was asked; the message says why."""


def import_models(app: Kettle) -> list[str]:
    """Import the modules the ``MODELS`` setting names, so their models are in
    the metadata.

    Returns:
        The module names.

    Raises:
        MigrationError: A module could not be imported.
    """
    value = app.config.get("MODELS") or ()
    if isinstance(value, str):
        names = [n for n in re.split(r"[,\s]+", value) if n]
    else:
        names = [str(n) for n in value]
    for name in names:
        try:
            importlib.import_module(name)
        except Exception as exc:
            raise MigrationError(
                f"MODELS: could not import {name!r}: {type(exc).__name__}: {exc}"
            ) from exc
    return names


def _database(app: Kettle) -> Database:
    try:
        return get_database(app)
    except ImproperlyConfigured as exc:
        raise MigrationError(str(exc)) from exc


def _show_url(url: URL) -> str:
    return url.render_as_string(hide_password=True)


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        return f"{type(exc.orig).__name__}: {str(exc.orig).strip()}"
    return f"{type(exc).__name__}: {exc}"


class CheckResult:
    """What :meth:`Migrations.check` found."""

    def __init__(
        self,
        current: tuple[str, ...],
        heads: tuple[str, ...],
        differences: list[str],
    ) -> None:
        #: The revisions the database is at.
        self.current = current
        #: The latest revisions of the migrations.
        self.heads = heads
        #: The models' differences from the database, one line each (compared
        #: only when the database is at the heads).
        self.differences = differences

    @property
    def at_head(self) -> bool:
        """Whether the database is at the latest revisions."""
        return set(self.current) == set(self.heads)

    @property
    def ok(self) -> bool:
        """Whether the models, the migrations and the database agree."""
        return self.at_head and not self.differences


class Migrations:
    """The migrations of one of an app's databases.

    Args:
        app: The app. Its :class:`~kettle.db.Database` (``get_database(app)``)
            gives the URLs and the models' metadata.
        directory: The migrations folder (default: ``MIGRATIONS_DIR``, or
            ``migrations`` in the app's folder).
        bind: The ``DATABASE_BINDS`` name of the database (default: the main one).
        stdout: Where messages go (default: ``sys.stdout``).

    Raises:
        MigrationError: ``bind`` is not a database of the app, or a ``MODELS``
            module could not be imported.
    """

    def __init__(
        self,
        app: Kettle,
        directory: str | os.PathLike[str] | None = None,
        *,
        bind: str | None = None,
        stdout: TextIO | None = None,
    ) -> None:
        self.app = app
        self.database = _database(app)
        import_models(app)
        if bind is not None:
            if bind not in self.database.urls:
                known = ", ".join(repr(k) for k in self.database.urls if k) or "none"
                raise MigrationError(
                    f"no database named {bind!r} in DATABASE_BINDS (known: {known})"
                )
            if not _BIND_NAME.fullmatch(bind) or bind == "versions":
                raise MigrationError(
                    f"the database name {bind!r} cannot name a folder of migrations"
                )
        self.bind = bind
        if directory is None:
            setting = app.config.get("MIGRATIONS_DIR")
            root = Path(app.root_path)
            directory = root / setting if setting else root / "migrations"
        self.directory = Path(directory)
        self.stdout = stdout if stdout is not None else sys.stdout
        self._applied: list[str] = []
        self._diffs: list[str] = []

    def __repr__(self) -> str:
        where = "main database" if self.bind is None else f"database {self.bind!r}"
        return f"<Migrations of the {where} in {self.directory}>"

    # -- what the migrations cover ---------------------------------------------------

    @property
    def metadata(self) -> MetaData:
        """The models' metadata: every database's tables; those of this one have
        :attr:`bind` as their ``info["bind_key"]``."""
        return self.database.metadata

    @property
    def url(self) -> URL:
        """The sync URL of the database."""
        return self.database.urls[self.bind][0]

    @property
    def versions_dir(self) -> Path:
        """The folder of this database's revision files."""
        if self.bind is None:
            return self.directory / "versions"
        return self.directory / self.bind / "versions"

    @property
    def version_table(self) -> str:
        """The table recording the database's revision."""
        return VERSION_TABLE if self.bind is None else f"{VERSION_TABLE}_{self.bind}"

    def include_object(
        self,
        obj: Any,
        name: str | None,
        type_: str,
        reflected: bool,
        compare_to: Any,
    ) -> bool:
        """Alembic's ``include_object`` hook: this database's tables only."""
        if type_ != "table":
            return True
        if reflected and compare_to is None:  # in the database, not in the models
            key = f"{obj.schema}.{name}" if obj.schema else str(name)
            known = self.metadata.tables.get(key)
            if known is None:  # Kettle's own tables are not the models'
                return not str(name).startswith(VERSION_TABLE) and name != SESSION_TABLE
            return bool(known.info.get("bind_key") == self.bind)
        return bool(obj.info.get("bind_key") == self.bind)

    # -- Alembic ---------------------------------------------------------------------

    def config(self, *, quiet: bool = False) -> Config:
        """Alembic's configuration for this database (no ``alembic.ini``).

        Args:
            quiet: Silence Alembic's own messages.
        """
        cfg = Config(
            stdout=self.stdout,
            output_buffer=self.stdout,
            cmd_opts=argparse.Namespace(quiet=quiet),
        )
        cfg.set_main_option("script_location", str(self.directory))
        cfg.set_main_option("version_locations", str(self.versions_dir))
        cfg.set_main_option("path_separator", "os")
        cfg.set_main_option("file_template", FILE_TEMPLATE)
        cfg.attributes["kettle_migrations"] = self
        return cfg

    def _script(self, *, quiet: bool = False) -> tuple[Config, ScriptDirectory]:
        if not (self.directory / "env.py").is_file():
            raise MigrationError(
                f"there are no migrations in {self.directory}: run `kettle db init` "
                "first"
            )
        if not self.versions_dir.is_dir():
            if self.bind is not None:
                raise MigrationError(
                    f"there are no migrations for the database {self.bind!r} in "
                    f"{self.directory}: run `kettle db init --bind {self.bind}` "
                    "first"
                )
            # NOTE: git keeps no empty folder: a fresh clone may lack it.
            self.versions_dir.mkdir()
        cfg = self.config(quiet=quiet)
        return cfg, ScriptDirectory.from_config(cfg)

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except MigrationError:
            raise
        except CommandError as exc:
            message = str(exc)
            if "not up to date" in message:
                message = (
                    "the database is not at the latest migration: run "
                    f"`kettle db migrate{self._bind_flag()}` first"
                )
            raise MigrationError(message) from exc
        except SQLAlchemyError as exc:
            raise MigrationError(
                f"database error on {_show_url(self.url)}: {_error_text(exc)}"
            ) from exc

    def _bind_flag(self) -> str:
        return "" if self.bind is None else f" --bind {self.bind}"

    def run_env(self, **options: Any) -> None:
        """What ``env.py`` does: configure Alembic's context for this database and
        run the migrations (the commands below call this through ``env.py``).

        Args:
            options: More keyword arguments for ``context.configure()``;
                ``include_object`` is combined with Kettle's (a table must pass
                both), others replace Kettle's.
        """
        from alembic import context

        user_include = options.pop("include_object", None)

        def include_object(*args: Any) -> bool:
            if not self.include_object(*args):
                return False
            return user_include is None or bool(user_include(*args))

        opts: dict[str, Any] = {
            "target_metadata": self.metadata,
            "include_object": include_object,
            "version_table": self.version_table,
            "compare_type": True,
            "compare_server_default": _server_defaults_differ,
            "on_version_apply": self._on_version_apply,
        }
        if context.is_offline_mode():
            opts["render_as_batch"] = self.url.get_backend_name() == "sqlite"
            opts.update(options)
            context.configure(
                url=self.url,
                literal_binds=True,
                dialect_opts={"paramstyle": "named"},
                **opts,
            )
            with context.begin_transaction():
                context.run_migrations()
            return
        engine = create_engine(self.url, poolclass=NullPool)
        try:
            try:
                connection = engine.connect()
            except SQLAlchemyError as exc:
                raise MigrationError(
                    f"cannot connect to the database {_show_url(self.url)}: "
                    f"{_error_text(exc)}"
                ) from exc
            with connection:
                opts["render_as_batch"] = connection.dialect.name == "sqlite"
                opts.update(options)
                context.configure(connection=connection, **opts)
                with context.begin_transaction():
                    context.run_migrations()
        finally:
            engine.dispose()

    def _on_version_apply(
        self, ctx: MigrationContext, step: MigrationInfo, **kwargs: Any
    ) -> None:
        if step.is_stamp or ctx.as_sql:  # --sql: the output is SQL only
            return
        revision = step.up_revision
        doc = getattr(revision, "doc", "")
        doc = f" {doc}" if doc else ""
        verb = "applied" if step.is_upgrade else "reverted"
        line = f"{verb} {step.up_revision_id}{doc}"
        self._applied.append(line)
        self.stdout.write(line + "\n")

    # -- commands --------------------------------------------------------------------

    def init(self) -> Path:
        """Create the migrations folder (or, with a bind, the bind's folder in it).

        Returns:
            The folder the revision files will go in.

        Raises:
            MigrationError: The folder exists already.
        """
        target = self.directory if self.bind is None else self.directory / self.bind
        if target.exists():
            raise MigrationError(
                f"{target} already exists: `kettle db init{self._bind_flag()}` makes "
                "a new migrations folder and leaves an existing one alone"
            )
        if not self.directory.exists():
            self.directory.mkdir(parents=True)
            (self.directory / "env.py").write_text(ENV_PY, encoding="utf-8")
            (self.directory / "script.py.mako").write_text(SCRIPT_MAKO, "utf-8")
        self.versions_dir.mkdir(parents=True, exist_ok=True)
        return self.versions_dir

    def make_migrations(
        self, message: str | None = None, *, empty: bool = False
    ) -> Path | None:
        """Write a revision: the models' differences from the database (which
        must be at the latest revision), or an empty one to fill in by hand.

        Args:
            message: What the revision does (in its file name and docstring).
            empty: Write an empty revision, without comparing.

        Returns:
            The new file, or None when the models and the database agree (nothing
            is written then).
        """
        cfg, _ = self._script(quiet=True)
        self._diffs = []

        def skip_empty(ctx: Any, revision: Any, scripts: list[MigrationScript]) -> None:
            self._diffs = [
                describe_diff(diff)
                for script in scripts
                for ops in script.upgrade_ops_list
                for diff in ops.as_diffs()
            ]
            if all(ops.is_empty() for s in scripts for ops in s.upgrade_ops_list):
                scripts[:] = []
            for script in scripts:
                for downgrade in script.downgrade_ops_list:
                    _drop_enum_types(downgrade, self.metadata)

        with self._errors():
            made = command.revision(
                cfg,
                message=message,
                autogenerate=not empty,
                process_revision_directives=skip_empty,
            )
        scripts = made if isinstance(made, list) else [made]
        paths = [Path(s.path) for s in scripts if s is not None]
        return paths[0] if paths else None

    @property
    def changes(self) -> list[str]:
        """The differences the last :meth:`make_migrations` wrote, one line each."""
        return list(self._diffs)

    def upgrade(self, revision: str = "head", *, sql: bool = False) -> list[str]:
        """Migrate the database up to ``revision`` (default: the latest).

        Args:
            revision: A revision, ``head``, or ``+N`` for N steps.
            sql: Write the SQL to :attr:`stdout` instead of running it.

        Returns:
            One line per revision applied.
        """
        cfg, _ = self._script()
        self._applied = []
        with self._errors():
            command.upgrade(cfg, revision, sql=sql)
        return list(self._applied)

    def downgrade(self, revision: str = "-1", *, sql: bool = False) -> list[str]:
        """Migrate the database down to ``revision`` (default: one step, ``-1``;
        ``base`` undoes every revision).

        Returns:
            One line per revision reverted.
        """
        cfg, _ = self._script()
        self._applied = []
        with self._errors():
            command.downgrade(cfg, revision, sql=sql)
        return list(self._applied)

    def history(
        self,
        rev_range: str | None = None,
        *,
        verbose: bool = False,
        indicate_current: bool = False,
    ) -> None:
        """Write the revisions, newest first, to :attr:`stdout`.

        Args:
            rev_range: ``start:end`` to show part of the history.
            verbose: Show each revision's details.
            indicate_current: Mark the database's revision (connects to it).
        """
        cfg, _ = self._script()
        with self._errors():
            command.history(
                cfg, rev_range, verbose=verbose, indicate_current=indicate_current
            )

    def current(self) -> tuple[str, ...]:
        """The revisions the database is at (empty: none applied yet)."""
        return self._inspect(lambda ctx: None)[0]

    def heads(self) -> tuple[str, ...]:
        """The latest revisions of the migrations."""
        _, script = self._script()
        with self._errors():
            return tuple(script.get_heads())

    def revision(self, rev_id: str) -> Script | None:
        """The revision file ``rev_id`` (None if there is none)."""
        _, script = self._script()
        with self._errors():
            found: Script | None = script.get_revision(rev_id)
        return found

    def check(self) -> CheckResult:
        """Compare the models with the database, which should be at the latest
        revision: what a migration made now would contain.

        The models agree with the migrations when the result is
        :attr:`~CheckResult.ok`; when the database is behind, the models are not
        compared (run :meth:`upgrade` first).
        """
        from alembic.autogenerate import compare_metadata

        heads = self.heads()

        def compare(ctx: MigrationContext) -> list[str]:
            if set(ctx.get_current_heads()) != set(heads):
                return []
            return [describe_diff(d) for d in compare_metadata(ctx, self.metadata)]

        current, differences = self._inspect(compare)
        return CheckResult(current, heads, differences)

    def _inspect(
        self, fn: Callable[[MigrationContext], list[str] | None]
    ) -> tuple[tuple[str, ...], list[str]]:
        """Run ``fn`` against the database through ``env.py``, changing nothing."""
        cfg, script = self._script()
        found: list[tuple[tuple[str, ...], list[str]]] = []

        def run(rev: Any, ctx: MigrationContext) -> list[Any]:
            found.append((tuple(ctx.get_current_heads()), fn(ctx) or []))
            return []

        with (
            self._errors(),
            EnvironmentContext(cfg, script, fn=run, dont_mutate=True),
        ):
            script.run_env()
        return found[0] if found else ((), [])


class DropEnumTypeOp(MigrateOperation):
    """Drop a named enum type (PostgreSQL's ``CREATE TYPE ... AS ENUM``) if it
    exists; nothing on databases without such types. Rendered into downgrades
    after a dropped table whose columns made it: Alembic leaves the type behind,
    and upgrading again then fails with "type ... already exists"."""

    def __init__(self, name: str, schema: str | None = None) -> None:
        self.name = name
        self.schema = schema

    def reverse(self) -> MigrateOperation:
        raise NotImplementedError("a dropped enum type is made again with its table")


@renderers.dispatch_for(DropEnumTypeOp)
def _render_drop_enum(context: Any, op: DropEnumTypeOp) -> str:
    schema = f", schema={op.schema!r}" if op.schema else ""
    return f"sa.Enum(name={op.name!r}{schema}).drop(op.get_bind(), checkfirst=True)"


def _enum_types(table: Any) -> list[tuple[str, str | None]]:
    """The named enum types a table's columns make with it."""
    found = []
    for column in table.columns:
        kind = column.type
        if (
            isinstance(kind, sa_types.Enum)
            and kind.native_enum
            and kind.name
            and getattr(kind, "create_type", True)
        ):
            found.append((kind.name, kind.schema or table.schema))
    return found


def _drop_enum_types(downgrade: Any, metadata: MetaData) -> None:
    """After each table the downgrade drops, drop the enum types it made, unless a
    table the downgrade keeps uses them too."""
    dropped = {
        (op.table_name, op.schema)
        for op in downgrade.ops
        if isinstance(op, alembic_ops.DropTableOp)
    }
    kept = {
        enum_type
        for table in metadata.tables.values()
        if (table.name, table.schema) not in dropped
        for enum_type in _enum_types(table)
    }
    result: list[Any] = []
    for op in downgrade.ops:
        result.append(op)
        if isinstance(op, alembic_ops.DropTableOp):
            for name, schema in _enum_types(op.to_table()):
                if (name, schema) not in kept:
                    kept.add((name, schema))  # once per type
                    result.append(DropEnumTypeOp(name, schema))
    downgrade.ops = result


def run_migrations(**options: Any) -> None:
    """Configure Alembic's context from the app and run the migrations: the body
    of the ``env.py`` that ``kettle db init`` writes.

    Args:
        options: More keyword arguments for Alembic's ``context.configure()``
            (see :meth:`Migrations.run_env`).

    Raises:
        RuntimeError: ``env.py`` was not run by ``kettle db`` (or
            :class:`Migrations`): Alembic's own command line is not supported.
    """
    from alembic import context

    migrations = context.config.attributes.get("kettle_migrations")
    if not isinstance(migrations, Migrations):
        raise RuntimeError(
            "this env.py is Kettle's: run it through `kettle db ...` (or "
            "kettle.db.migrations.Migrations), which supplies the app's database "
            "and models; Alembic's own command line is not supported"
        )
    migrations.run_env(**options)


# -- differences, for people ---------------------------------------------------------


def _qualified(schema: str | None, name: Any) -> str:
    return f"{schema}.{name}" if schema else str(name)


def _sql_type(type_: Any) -> str:
    try:
        return str(type_)
    except Exception:  # a dialect-specific type the generic compiler lacks
        return repr(type_)


def _default(value: Any) -> str:
    if value is None:
        return "none"
    arg = getattr(value, "arg", value)
    text = getattr(arg, "text", arg)
    return repr(text) if isinstance(text, str) else str(text)


def _columns(obj: Any) -> str:
    names = [getattr(c, "name", str(c)) for c in getattr(obj, "columns", ())]
    if not names:
        names = [getattr(c, "name", str(c)) for c in getattr(obj, "expressions", ())]
    return ", ".join(str(n) for n in names)


def _describe_column_change(diff: Sequence[Any]) -> str:
    kind, schema, table, column = diff[:4]
    old, new = diff[-2], diff[-1]
    where = f"~ column {_qualified(schema, table)}.{column}"
    if kind == "modify_type":
        return f"{where}: type {_sql_type(old)} -> {_sql_type(new)}"
    if kind == "modify_nullable":
        return (
            f"{where}: {'NULL' if old else 'NOT NULL'} -> "
            f"{'NULL' if new else 'NOT NULL'}"
        )
    if kind == "modify_default":
        return f"{where}: server default {_default(old)} -> {_default(new)}"
    if kind == "modify_comment":
        return f"{where}: comment {old!r} -> {new!r}"
    return f"{where}: {kind}"


def describe_diff(diff: Any) -> str:
    """One line for a difference Alembic's autogenerate found: ``+`` for
    something the models add, ``-`` for something they drop, ``~`` for a change.
    """
    if isinstance(diff, list):  # the changes of one column
        return "; ".join(describe_diff(d) for d in diff)
    kind = diff[0]
    sign = "+" if kind.startswith("add_") else "-"
    if kind in ("add_table", "remove_table"):
        table = diff[1]
        return f"{sign} table {_qualified(table.schema, table.name)}"
    if kind in ("add_column", "remove_column"):
        _, schema, table, column = diff
        null = "NULL" if column.nullable else "NOT NULL"
        return (
            f"{sign} column {_qualified(schema, table)}.{column.name} "
            f"({_sql_type(column.type)} {null})"
        )
    if kind.startswith("modify_"):
        return _describe_column_change(diff)
    if kind in ("add_index", "remove_index"):
        index = diff[1]
        table = index.table
        unique = "unique " if index.unique else ""
        return (
            f"{sign} {unique}index {index.name} on "
            f"{_qualified(table.schema, table.name)} ({_columns(index)})"
        )
    if kind in ("add_fk", "remove_fk"):
        fk = diff[1]
        table = fk.parent
        target = fk.elements[0].column.table if fk.elements else None
        refs = ", ".join(e.column.name for e in fk.elements)
        into = "" if target is None else f" -> {target.name} ({refs})"
        return (
            f"{sign} foreign key {fk.name} on "
            f"{_qualified(table.schema, table.name)} ({_columns(fk)}){into}"
        )
    if kind in ("add_constraint", "remove_constraint"):
        constraint = diff[1]
        what = type(constraint).__name__.replace("Constraint", "").lower()
        table = constraint.table
        return (
            f"{sign} {what} constraint {constraint.name} on "
            f"{_qualified(table.schema, table.name)} ({_columns(constraint)})"
        )
    if kind in ("add_table_comment", "remove_table_comment"):
        table = diff[1]
        return f"~ table {_qualified(table.schema, table.name)}: comment"
    return repr(diff)
