"""The tutorial (docs/tutorial/), run as a reader follows it.

`kettle new blog --full` makes the project in a temporary folder; then each step,
in order:

1. copies the step's files (docs/tutorial/code/<step>/) over the project;
2. runs every command of the step's page (each ``$`` line of its ```console
   blocks) in a shell, in the project, with the virtual environment's
   ``kettle``, ``python`` and ``pytest``, and checks that the output holds the
   lines the page shows (``...`` stands for any text, or any lines; revision
   ids, dates and durations may differ). `kettle run` and `kettle serve` are
   started in the background on a free port (8000 in the pages) and stopped at
   the end of the step;
3. drives the step's pages with the test client as a browser would (with CSRF
   checks), in another process: this file, run as a script in the project's
   folder, so the project's package and models never enter pytest's process.

The steps share one project, as the reader's: a step run alone first replays the
steps before it.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
TUTORIAL = ROOT / "docs" / "tutorial"
CODE = TUTORIAL / "code"
BIN = Path(sys.executable).parent  # the virtual environment's kettle, pytest...

#: Each step: its folder of files under docs/tutorial/code, and its page.
STEPS = {
    "01-start": "start.md",
    "02-models": "models.md",
    "03-templates": "templates.md",
    "04-forms": "forms.md",
    "05-auth": "auth.md",
    "06-admin": "admin.md",
    "07-tests": "tests.md",
    "08-deployment": "deployment.md",
}
#: The password typed for `kettle createuser admin` (the page does not show it).
ADMIN_PASSWORD = "a kettle of green tea"
#: What is typed at the prompts of a command.
STDIN = {"kettle createuser admin --superuser": f"{ADMIN_PASSWORD}\n" * 2}
#: The port the pages use; each server runs on a free one instead.
PAGE_PORT = "8000"
SERVER = re.compile(r"^kettle (run|serve)\b")
CSRF_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


# -- the pages' console blocks ---------------------------------------------------------


@dataclass
class Command:
    line: str
    output: list[str] = field(default_factory=list)


def console_commands(page: str) -> list[Command]:
    """Every ``$`` command of the page's console blocks, with the lines shown
    after it."""
    text = (TUTORIAL / page).read_text("utf-8")
    commands: list[Command] = []
    for block in re.findall(r"^```console\n(.*?)^```", text, re.M | re.S):
        for line in block.splitlines():
            if line.startswith("$ "):
                commands.append(Command(line[2:].strip()))
            elif line.strip():
                assert commands, f"{page}: output before any command: {line!r}"
                commands[-1].output.append(line)
    return commands


def _normalized(line: str) -> str:
    line = re.sub(r"(?<![0-9a-f])[0-9a-f]{12}(?![0-9a-f])", "<rev>", line)  # Alembic
    line = re.sub(r"\d{8}_\d{6}", "<date>", line)  # in revision files' names
    line = re.sub(r"\b\d+\.\d+s\b", "<t>s", line)  # pytest's duration
    return " ".join(line.split())


def _matches(shown: str, actual: str) -> bool:
    parts = [re.escape(part) for part in _normalized(shown).split("...")]
    return re.fullmatch(".*".join(parts), _normalized(actual)) is not None


def check_output(command: str, shown: list[str], output: str) -> None:
    """Each line shown is in the output, in the order shown; a line ``...``
    stands for any number of lines, and ``...`` in a line for any text."""
    actual = [line for line in output.splitlines() if line.strip()]
    at = 0
    for line in shown:
        if line.strip() == "...":
            continue
        for index in range(at, len(actual)):
            if _matches(line, actual[index]):
                at = index + 1
                break
        else:
            pytest.fail(
                f"`{command}`: the page shows {line!r}, not in the output "
                f"(after line {at}):\n{output}"
            )


# -- the shell ------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    command: str
    process: subprocess.Popen[bytes]
    log: Path
    shown: list[str]


class Shell:
    """Runs the pages' commands as a reader's shell would: ``cd`` and
    ``export`` last, the virtual environment's commands first on the PATH, and
    HOME a temporary folder."""

    def __init__(self, cwd: Path, home: Path) -> None:
        self.cwd = cwd
        self.home = home
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("KETTLE_", "PYTEST_", "COV_CORE_"))
        }
        env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
        env.update(HOME=str(home), PYTHONUNBUFFERED="1", PYTHONDONTWRITEBYTECODE="1")
        self.env = env
        self.port = str(free_port())
        self.servers: list[Server] = []

    def run(self, command: Command) -> None:
        line = command.line.replace(PAGE_PORT, self.port)
        shown = [text.replace(PAGE_PORT, self.port) for text in command.output]
        if line.startswith("cd "):
            self.cwd = (self.cwd / line[3:].strip()).resolve()
        elif line.startswith("export "):
            self._export(line)
        elif SERVER.match(line):
            self._start(line, shown)
        else:
            done = subprocess.run(
                ["bash", "-c", line],
                cwd=self.cwd,
                env=self.env,
                input=STDIN.get(command.line, ""),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,  # as a terminal shows them: interleaved
                text=True,
                timeout=180,
                start_new_session=True,  # no terminal: prompts read standard input
            )
            output = done.stdout
            assert done.returncode == 0, f"`{line}` failed:\n{output}"
            check_output(line, shown, output)

    def _export(self, line: str) -> None:
        done = subprocess.run(
            ["bash", "-c", f"{line}\nenv -0"],
            cwd=self.cwd,
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        pairs = (item.split("=", 1) for item in done.stdout.split("\0") if "=" in item)
        for name, value in pairs:
            if name not in {"_", "PWD", "OLDPWD", "SHLVL"}:
                self.env[name] = value

    def _start(self, line: str, shown: list[str]) -> None:
        if "--port" not in line:
            line = f"{line} --port {self.port}"
        log = self.home / f"server-{len(self.servers)}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(  # its own process group, stopped below
                ["bash", "-c", f"exec {line}"],
                cwd=self.cwd,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        server = Server(line, process, log, shown)
        self.servers.append(server)
        self._wait_until_up(server)

    def _wait_until_up(self, server: Server) -> None:
        import httpx

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                pytest.fail(f"`{server.command}` exited:\n{server.log.read_text()}")
            try:
                answer = httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=2)
            except httpx.HTTPError:
                time.sleep(0.2)
                continue
            if answer.status_code == 200:
                return
            time.sleep(0.2)
        pytest.fail(f"`{server.command}` did not answer:\n{server.log.read_text()}")

    def stop_servers(self) -> None:
        """Stop the servers this shell started (SIGTERM to each one's process
        group), and check what they printed."""
        servers, self.servers = self.servers, []
        for server in servers:
            if server.process.poll() is None:
                os.killpg(server.process.pid, signal.SIGTERM)
                try:
                    server.process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(server.process.pid, signal.SIGKILL)
                    server.process.wait()
        for server in servers:
            check_output(server.command, server.shown, server.log.read_text())
        self.port = str(free_port())


# -- the tutorial ---------------------------------------------------------------------


class Tutorial:
    """The reader's project, taken through the steps in order."""

    def __init__(self, root: Path) -> None:
        (root / "work").mkdir()
        (root / "home").mkdir()
        self.shell = Shell(root / "work", root / "home")
        self.done: list[str] = []

    @property
    def project(self) -> Path:
        return self.shell.cwd

    def advance_to(self, step: str) -> None:
        for name in STEPS:
            if name in self.done:
                continue
            self._run(name)
            self.done.append(name)
            if name == step:
                return

    def _run(self, step: str) -> None:
        if step != "01-start":  # the first step's files are what `kettle new` wrote
            shutil.copytree(CODE / step, self.project, dirs_exist_ok=True)
        try:
            for command in console_commands(STEPS[step]):
                self.shell.run(command)
        finally:
            self.shell.stop_servers()
        if step == "01-start":
            for path in sorted((CODE / step).rglob("*")):
                if path.is_file():
                    made = self.project / path.relative_to(CODE / step)
                    assert made.read_text("utf-8") == path.read_text("utf-8"), (
                        f"{path.relative_to(ROOT)} is not what `kettle new` writes"
                    )

    def drive(self, step: str) -> None:
        """Run this file as a script in the project's folder: drive(step) there."""
        done = subprocess.run(
            [sys.executable, __file__, step],
            cwd=self.project,
            env=self.shell.env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture(scope="module")
def tutorial(tmp_path_factory: pytest.TempPathFactory) -> Tutorial:
    return Tutorial(tmp_path_factory.mktemp("tutorial"))


@pytest.mark.parametrize("step", list(STEPS))
def test_step(tutorial: Tutorial, step: str) -> None:
    tutorial.advance_to(step)
    if step in DRIVERS:
        tutorial.drive(step)


def test_every_file_of_a_step_is_shown_on_its_page() -> None:
    for step, page in STEPS.items():
        text = (TUTORIAL / page).read_text("utf-8")
        for path in (CODE / step).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts:
                name = f"code/{step}/{path.relative_to(CODE / step).as_posix()}"
                assert f"{{literalinclude}} {name}\n" in text, f"{page} omits {name}"


def test_every_page_is_a_step() -> None:
    pages = {path.name for path in TUTORIAL.glob("*.md")}
    assert pages == {"index.md", *STEPS.values()}
    index = (TUTORIAL / "index.md").read_text("utf-8")
    listed = re.search(r"```\{toctree\}\n:maxdepth: 1\n\n(.*?)```", index, re.S)
    assert listed is not None
    assert listed.group(1).split() == [page[:-3] for page in STEPS.values()]


# -- driving the project's pages (run in the project's folder) ------------------------


class Browser:
    """A test client that sends each page's CSRF token back, as a browser does
    (the client checks CSRF as a browser's requests are checked)."""

    def __init__(self, app: Any, **options: Any) -> None:
        self.client = app.test_client(enforce_csrf_checks=True, **options)
        self.token = ""

    def __enter__(self) -> Browser:
        self.client.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.__exit__(*exc)

    def _keep_token(self, page: Any) -> Any:
        found = CSRF_TOKEN.search(page.text)
        if found:
            self.token = found.group(1)
        return page

    def get(self, path: str, **options: Any) -> Any:
        return self._keep_token(self.client.get(path, **options))

    def post(
        self, path: str, data: dict[str, str] | None = None, **options: Any
    ) -> Any:
        data = {**(data or {}), "csrf_token": self.token}
        return self._keep_token(self.client.post(path, data=data, **options))

    def submit(self, path: str, data: dict[str, str] | None = None) -> Any:
        """Open the page of a form, then post it."""
        self.get(path)
        return self.post(path, data)


def titles(page: Any) -> list[str]:
    """The posts listed on a page (as written in the HTML)."""
    return re.findall(r'<h2><a href="/\d+">([^<]*)</a></h2>', page.text)


def the_app(**overrides: Any) -> Any:
    from blog import create_app

    return create_app(**overrides)


def drive_start() -> None:
    with Browser(the_app()) as browser:
        assert "No notes yet" in browser.get("/").text
        saved = browser.submit("/notes/new", {"title": "Tea", "body": "Two minutes."})
        assert "Note saved." in saved.text


def drive_models() -> None:
    from sqlalchemy import inspect

    from kettle.db import get_database

    app = the_app()
    tables = inspect(get_database(app).engine()).get_table_names()
    assert "post" in tables and "note" not in tables
    with Browser(app) as browser:
        assert browser.get("/").status_code == 404  # no pages yet


def drive_templates() -> None:
    with Browser(the_app()) as browser:
        page = browser.get("/")
        assert titles(page) == ["Why a kettle?", "Hello, world"]  # newest first
        css = re.search(r'href="(/static/style\.[0-9a-f]+\.css)"', page.text)
        assert css is not None
        assert "immutable" in browser.get(css.group(1)).headers["cache-control"]
        assert "<h1>Hello, world</h1>" in browser.get("/1").text
        assert browser.get("/99").status_code == 404


def drive_forms() -> None:
    with Browser(the_app()) as browser:
        refused = browser.submit("/new", {"title": "", "body": "No title."})
        assert "This field is required." in refused.text
        for n in range(1, 5):
            page = browser.submit("/new", {"title": f"Post <{n}>", "body": "Text."})
            assert "Post published." in page.text
            assert f"<h1>Post &lt;{n}&gt;</h1>" in page.text  # escaped
        first = browser.get("/")
        assert titles(first)[:2] == ["Post &lt;4&gt;", "Post &lt;3&gt;"]
        assert len(titles(first)) == 5 and "Older" in first.text
        assert titles(browser.get("/?page=2")) == ["Hello, world"]
        assert 'value="Post &lt;1&gt;"' in browser.get("/3/edit").text
        edited = browser.post("/3/edit", {"title": "Post one", "body": "Text."})
        assert "Post saved." in edited.text and "<h1>Post one</h1>" in edited.text
        deleted = browser.post("/3/delete")
        assert "Post deleted." in deleted.text and "Post one" not in deleted.text
        forged = browser.client.post("/4/delete", data={"csrf_token": "forged"})
        assert forged.status_code == 403


def drive_auth() -> None:
    strong = "green tea leaves"
    with Browser(the_app()) as browser:
        anonymous = browser.client.get(
            "/new", headers={"accept": "text/html"}, follow_redirects=False
        )
        assert anonymous.headers["location"] == "/auth/login?next=%2Fnew"
        weak = browser.submit(
            "/register", {"username": "ann", "password": "ann", "confirm": "ann"}
        )
        assert "This password is too short" in weak.text
        welcome = browser.submit(
            "/register", {"username": "ann", "password": strong, "confirm": strong}
        )
        assert "Welcome, ann!" in welcome.text and "<span>ann</span>" in welcome.text
        post = browser.submit("/new", {"title": "Ann writes", "body": "Hello."})
        assert "by ann" in post.text
        found = re.search(r'href="/(\d+)/edit"', post.text)
        assert found is not None
        post_id = found.group(1)
        assert "by ann" in browser.get("/").text  # the authors, joined
        assert "Log in" in browser.post("/auth/logout").text
        browser.submit(
            "/register", {"username": "bob", "password": strong, "confirm": strong}
        )
        assert f'href="/{post_id}/edit"' not in browser.get(f"/{post_id}").text
        assert browser.get(f"/{post_id}/edit").status_code == 403
        assert browser.post(f"/{post_id}/delete").status_code == 403
        browser.post("/auth/logout")
        taken = browser.submit(
            "/register", {"username": "ann", "password": strong, "confirm": strong}
        )
        assert "The name ann is taken." in taken.text
        browser.submit("/auth/login", {"username": "ann", "password": strong})
        assert browser.get(f"/{post_id}/edit").status_code == 200


def drive_admin() -> None:
    with Browser(the_app()) as browser:
        browser.get("/auth/login?next=/admin/")
        dashboard = browser.post(
            "/auth/login?next=/admin/",
            {"username": "admin", "password": ADMIN_PASSWORD},
        )
        assert 'href="/admin/post/"' in dashboard.text
        assert 'href="/admin/auth_user/"' in dashboard.text
        found = browser.get("/admin/post/?q=kettle")
        assert "Why a kettle?" in found.text and "Hello, world" not in found.text
        assert ">ann<" in browser.get("/admin/post/").text  # the author column
        browser.post("/auth/logout")
        browser.submit(
            "/auth/login", {"username": "ann", "password": "green tea leaves"}
        )
        assert browser.get("/admin/").status_code == 403  # not staff


def drive_deployment() -> None:
    """With the settings the page exported: Production, its database..."""
    app = the_app()
    assert app.config["DEBUG"] is False
    with Browser(app, base_url="https://blog.example.com") as browser:
        assert "<title>Posts · Blog</title>" in browser.get("/").text
        strong = "a strong production password"
        browser.get("/register")
        registered = browser.client.post(
            "/register",
            data={
                "username": "cho",
                "password": strong,
                "confirm": strong,
                "csrf_token": browser.token,
            },
            follow_redirects=False,
        )
        assert registered.status_code == 303
        assert "; secure" in registered.headers["set-cookie"].lower()
        assert browser.get("/", headers={"host": "evil.example"}).status_code == 400
    with app.test_client(base_url="http://blog.example.com") as plain:
        moved = plain.get("/", follow_redirects=False)
        assert moved.headers["location"] == "https://blog.example.com/"


DRIVERS = {
    "01-start": drive_start,
    "02-models": drive_models,
    "03-templates": drive_templates,
    "04-forms": drive_forms,
    "05-auth": drive_auth,
    "06-admin": drive_admin,
    "08-deployment": drive_deployment,
}

if __name__ == "__main__":  # in the project's folder: drive one step's pages
    sys.path[0] = os.getcwd()  # the project's package, not tests/
    DRIVERS[sys.argv[1]]()
