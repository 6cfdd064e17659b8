"""``kettle new``: both layouts are made in a temporary folder, their own tests
pass, and they are served by ``kettle run`` and ``kettle serve``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from kettle.cli import cli
from kettle.project import ProjectError
from kettle.project import create_project
from served import serve


def clean_env() -> dict[str, str]:
    """The environment without KETTLE_* settings (the project's own .env counts)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("KETTLE_")}


def check_style(folder: Path) -> None:
    """The generated code is formatted and lint-clean (ruff's defaults)."""
    for args in (
        ["check", "--isolated", "--select", "E,F,W,B", "--exclude", "migrations"],
        ["format", "--isolated", "--check", "--exclude", "migrations"],
        # Alembic writes the migrations' bodies: long lines, but nothing else.
        ["check", "--isolated", "--select", "E,F,W,I", "--ignore", "E501"],
    ):
        done = subprocess.run(  # in the project: its own package is first-party
            [sys.executable, "-m", "ruff", *args, "."],
            cwd=folder,
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stdout + done.stderr


def run_generated_tests(folder: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=folder,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_new_one_file_app(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["new", "tea", "--directory", str(tmp_path)])
    assert result.exit_code == 0, result.output
    folder = tmp_path / "tea"
    assert "cd " in result.output and "kettle run" in result.output
    names = sorted(p.name for p in folder.iterdir())
    assert names == [".env", ".gitignore", "README.md", "app.py", "test_app.py"]
    env_file = (folder / ".env").read_text()
    assert "KETTLE_SECRET_KEY=" in env_file and "__secret__" not in env_file
    check_style(folder)
    assert "2 passed" in run_generated_tests(folder)
    for command in (("run", "--no-reload"), ("serve",)):
        with serve(folder, "app:app", tmp_path / "log", clean_env(), command) as url:
            page = httpx.get(url + "/")
            assert page.status_code == 200
            assert "<h1>tea</h1>" in page.text
            assert httpx.get(url + "/api/notes/1").json()["text"] == "Kettle is on."


def test_new_full_project(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["new", "teashop", "--full", "--directory", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    root = tmp_path / "teashop"
    for path in (
        "app.py",
        "pyproject.toml",
        "teashop/__init__.py",
        "teashop/settings.py",
        "teashop/models.py",
        "teashop/blueprints/pages.py",
        "teashop/blueprints/api.py",
        "teashop/templates/base.html",
        "teashop/static/style.css",
        "tests/conftest.py",
        "dev.sqlite3",  # migrated: `kettle run` serves at once
    ):
        assert (root / path).is_file(), path
    (migration,) = (root / "teashop/migrations/versions").glob("*.py")
    assert "create_table('note'" in migration.read_text()
    assert "__project__" not in (root / "teashop/settings.py").read_text()
    check_style(root)
    assert "5 passed" in run_generated_tests(root)
    env = clean_env()
    with serve(root, "app:app", tmp_path / "run.log", env, ("run", "--no-reload")) as url:
        with httpx.Client(base_url=url) as client:
            assert "No notes yet" in client.get("/").text
            made = client.post("/api/notes", json={"title": "Oolong"})
            assert made.status_code == 201
            assert "Oolong" in client.get("/").text
            assert client.get("/static/style.css").status_code == 200
    production = {
        **env,
        "KETTLE_SETTINGS": "teashop.settings:Production",
        "KETTLE_SECRET_KEY": "a-production-secret-" + "y" * 40,
    }
    with serve(root, "app:app", tmp_path / "serve.log", production) as url:
        page = httpx.get(url + f"/notes/{made.json()['id']}")
        assert page.status_code == 200
        assert "Oolong" in page.text
        missing = httpx.get(url + "/notes/999")
        assert missing.status_code == 404
        assert "Traceback" not in missing.text  # not the debug page


@pytest.mark.parametrize(
    ("name", "full", "message"),
    [
        ("my-site", False, "not a valid project name"),
        ("class", False, "not a valid project name"),
        ("9lives", True, "not a valid project name"),
        ("json", True, "existing Python module"),
        ("tests", True, "taken by the project's own files"),
    ],
)
def test_bad_names_are_refused(
    tmp_path: Path, name: str, full: bool, message: str
) -> None:
    with pytest.raises(ProjectError, match=message):
        create_project(name, tmp_path, full=full)
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_an_existing_folder_is_not_overwritten(tmp_path: Path) -> None:
    (tmp_path / "tea").mkdir()
    (tmp_path / "tea" / "app.py").write_text("mine")
    result = CliRunner().invoke(cli, ["new", "tea", "--directory", str(tmp_path)])
    assert result.exit_code == 1
    assert "already exists and is not an empty folder" in result.output
    assert (tmp_path / "tea" / "app.py").read_text() == "mine"
