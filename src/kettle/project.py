"""``kettle new``: a new project, from the templates in ``project_templates``.

Two layouts: a one-file app (``app.py``, its tests, ``.env``) and, with
``full=True``, a package (app factory, settings per environment, blueprints,
models, forms, templates, static files, migrations and tests). Template files
end in ``-tpl``; ``__project__`` in their paths and text becomes the project's
name, and ``__secret__`` a new secret key.
"""

from __future__ import annotations

import importlib.util
import keyword
import os
import secrets
import subprocess
import sys
from pathlib import Path

__all__ = ("ProjectError", "create_project")

_TEMPLATES = Path(__file__).resolve().parent / "project_templates"
_SUFFIX = "-tpl"
#: Template names that are dot-files once written (a dot-file in the package
#: would be left out of some tools' listings).
_RENAMED = {"env": ".env", "gitignore": ".gitignore"}


class ProjectError(Exception):
    """The project cannot be made there (a bad name, a folder in the way...)."""


def _check_name(name: str, full: bool) -> None:
    if not name.isidentifier() or keyword.iskeyword(name) or not name.isascii():
        raise ProjectError(
            f"{name!r} is not a valid project name: use a Python identifier "
            "(letters, digits and underscores, not starting with a digit), "
            "such as 'mysite'"
        )
    if full and name in {"app", "tests", "kettle"}:
        raise ProjectError(f"{name!r} is taken by the project's own files")
    if full and importlib.util.find_spec(name) is not None:
        raise ProjectError(
            f"{name!r} is the name of an existing Python module; the project's "
            "package would hide it (or it the package). Choose another name."
        )


def _target_path(relative: Path, name: str) -> Path:
    parts = [
        name if part == "pkg" and index == 0 else part
        for index, part in enumerate(relative.parts)
    ]
    last = parts[-1].removesuffix(_SUFFIX)
    parts[-1] = _RENAMED.get(last, last)
    return Path(*parts)


def create_project(
    name: str, directory: str | os.PathLike[str] = ".", *, full: bool = False
) -> Path:
    """Write a new project in ``directory/name`` and return that folder.

    With ``full``, the first migration is written and applied to the
    development database (``dev.sqlite3``), so that ``kettle run`` serves the
    app at once.

    Raises:
        ProjectError: ``name`` is not a valid name, or the folder exists and is
            not empty, or writing the first migration failed.
    """
    _check_name(name, full)
    root = Path(directory) / name
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise ProjectError(f"{root} already exists and is not an empty folder")
    source = _TEMPLATES / ("full" if full else "single")
    secret = secrets.token_urlsafe(48)
    templates = sorted(p for p in source.rglob(f"*{_SUFFIX}") if p.is_file())
    root.mkdir(parents=True, exist_ok=True)
    for template in templates:
        target = root / _target_path(template.relative_to(source), name)
        target.parent.mkdir(parents=True, exist_ok=True)
        text = template.read_text("utf-8")
        text = text.replace("__project__", name).replace("__secret__", secret)
        target.write_text(text, "utf-8")
    if full:
        _first_migration(root)
    return root


def _first_migration(root: Path) -> None:
    """``kettle db init``, ``makemigrations -m initial`` and ``migrate``, in
    the new project's folder (another process: the project's modules are not
    imported into this one)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KETTLE_")}
    for args in (
        ["db", "init"],
        ["db", "makemigrations", "-m", "initial"],
        ["db", "migrate"],
    ):
        done = subprocess.run(  # noqa: S603 - this interpreter, fixed arguments
            [sys.executable, "-m", "kettle", *args],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise ProjectError(
                f"`kettle {' '.join(args)}` failed in {root}:\n"
                f"{done.stdout}{done.stderr}".rstrip()
            )
