"""sqlmap (from PyPI) against the example blog's search and login, served by
``kettle serve`` on loopback: it must find nothing injectable.

sqlmap runs with ``--batch`` at its default level 1 and risk 1 (level 2 for
the search, which also tries its cookies and headers). So that a run that
reached nothing cannot pass, the same command first finds the injection in a
deliberately vulnerable app (``VULNERABLE``, built by string formatting).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from served import serve

BLOG = Path(__file__).resolve().parent.parent / "examples" / "blog"
SQLMAP = shutil.which("sqlmap") or str(Path(sys.executable).with_name("sqlmap"))
INJECTABLE = "sqlmap identified the following injection point"
CLEAN = "all tested parameters do not appear to be injectable"

VULNERABLE = """
import sqlite3

from kettle import Kettle

app = Kettle()
db = sqlite3.connect(":memory:", check_same_thread=False)
db.execute("CREATE TABLE post (id INTEGER PRIMARY KEY, title TEXT)")
db.executemany("INSERT INTO post (title) VALUES (?)", [("one",), ("two",)])


@app.get("/search")
def search(q: str = ""):
    # WRONG on purpose: the query string is pasted into the SQL
    rows = db.execute(f"SELECT title FROM post WHERE title = '{q}'").fetchall()
    return {"titles": [r[0] for r in rows]}
"""


def sqlmap(tmp_path: Path, url: str, *options: str, timeout: int = 600) -> str:
    done = subprocess.run(
        [
            SQLMAP, "--batch", "-u", url, "--flush-session",
            "--output-dir", str(tmp_path / "sqlmap"), *options,
        ],  # fmt: skip
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return done.stdout + done.stderr


@pytest.fixture(scope="module")
def blog(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sqlmap-blog")
    env = {
        "BLOG_INSTANCE": str(folder),
        "KETTLE_SECRET_KEY": "sqlmap-test-key-0123456789abcdefghij",
    }
    with serve(BLOG, "app:app", folder / "server.log", env) as url:
        yield url


def test_sqlmap_finds_an_injection_where_there_is_one(tmp_path):
    (tmp_path / "vulnerable.py").write_text(textwrap.dedent(VULNERABLE))
    with serve(tmp_path, "vulnerable:app", tmp_path / "server.log") as url:
        output = sqlmap(tmp_path, f"{url}/search?q=one", "--level", "1")
    assert INJECTABLE in output, output[-3000:]


def test_the_blog_search_is_not_injectable(blog, tmp_path):
    output = sqlmap(tmp_path, f"{blog}/search?q=kettle", "--level", "2")
    assert CLEAN in output, output[-3000:]
    assert INJECTABLE not in output


def test_the_blog_login_is_not_injectable(blog, tmp_path):
    traffic = tmp_path / "traffic.txt"
    output = sqlmap(
        tmp_path,
        f"{blog}/auth/login",
        "--data", "username=ann&password=secret&csrf_token=x",
        "--csrf-token", "csrf_token",
        "--csrf-url", f"{blog}/auth/login",
        "--level", "1",
        "-t", str(traffic),
    )  # fmt: skip
    assert CLEAN in output, output[-3000:]
    assert INJECTABLE not in output
    # The payloads reached the login (with a valid CSRF token), not a 403.
    text = traffic.read_text(errors="replace")
    assert text.count("Incorrect username or password.") > 50
    assert "403 Forbidden" not in text
