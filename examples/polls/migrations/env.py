"""Alembic's environment for ``kettle db``: Kettle supplies the database URL, the
models' metadata and the options (see kettle.db.migrations). Keyword arguments to
run_migrations() are passed on to Alembic's context.configure()."""

from kettle.db.migrations import run_migrations

run_migrations()
