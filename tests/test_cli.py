"""Tests for the ``kettle`` command (kettle.cli): app loading, routes, shell, and
real servers (granian and uvicorn) started in subprocesses."""

from __future__ import annotations

import importlib
import os
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

import kettle
from kettle import cli as kettle_cli
from kettle.cli import cli
from kettle.cli import load_app
from kettle.cli import route_table
from kettle.logs import logging_config

# -- helpers --------------------------------------------------------------------------


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty project folder as the current directory; modules imported from it
    and its sys.path entry are dropped afterwards."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    for key in [k for k in os.environ if k.startswith("KETTLE_")]:
        monkeypatch.delenv(key)
    before = set(sys.modules)
    importlib.invalidate_caches()
    yield tmp_path
    for name in set(sys.modules) - before:
        del sys.modules[name]


def write(folder: Path, name: str, source: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    importlib.invalidate_caches()
    return path


def invoke(*args: str, input: str | None = None) -> Any:
    return CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)


SIMPLE_APP = """
    from kettle import Kettle

    app = Kettle()

    @app.get("/")
    def index():
        return "hi"
"""

ROUTES_APP = """
    from kettle import Blueprint, Kettle, View

    app = Kettle()

    @app.get("/")
    def index():
        return "hi"

    @app.route("/explicit-head", methods=["GET", "HEAD"])
    def explicit_head():
        return "hi"

    @app.post("/items")
    async def create_item():
        return {}

    @app.route("/items/{item_id:int}")
    class ItemView(View):
        def get(self, item_id: int):
            return {}

        def delete(self, item_id: int):
            return {}

    @app.websocket("/ws")
    async def socket(ws):
        pass

    bp = Blueprint("admin", url_prefix="/admin")

    @bp.get("/users", name="users")
    def list_users():
        return []

    app.register_blueprint(bp)

    async def raw_asgi(scope, receive, send):
        pass

    app.mount("/static", raw_asgi, name="static")
"""


# -- loading the app ------------------------------------------------------------------


def test_default_is_app_py_in_current_folder(project: Path) -> None:
    write(project, "app.py", SIMPLE_APP)
    app, import_string = load_app(None)
    assert isinstance(app, kettle.Kettle)
    assert import_string == "app:app"
    assert str(project) in sys.path


def test_module_alone_means_attribute_app(project: Path) -> None:
    write(project, "web.py", SIMPLE_APP)
    app, import_string = load_app("web")
    assert import_string == "web:app"
    assert app is sys.modules["web"].app


def test_module_and_attribute_in_a_package(project: Path) -> None:
    write(project, "pkg/__init__.py", "")
    write(project, "pkg/main.py", SIMPLE_APP.replace("app = ", "application = "))
    src = (project / "pkg/main.py").read_text()
    (project / "pkg/main.py").write_text(src.replace("@app.", "@application."))
    app, import_string = load_app("pkg.main:application")
    assert import_string == "pkg.main:application"
    assert app is sys.modules["pkg.main"].application


def test_file_name_is_accepted_as_module(project: Path) -> None:
    write(project, "app.py", SIMPLE_APP)
    assert load_app("app.py")[1] == "app:app"


def test_no_argument_and_no_app_py(project: Path) -> None:
    result = invoke("routes")
    assert result.exit_code == 2
    assert "no app given and there is no app.py" in result.output
    assert "MODULE:APP" in result.output


def test_app_py_without_app(project: Path) -> None:
    write(project, "app.py", "from kettle import Kettle\n\nweb = Kettle()\n")
    result = invoke("routes")
    assert result.exit_code == 2
    assert "app.py does not define 'app' (it defines: web)" in result.output


def test_missing_module(project: Path) -> None:
    result = invoke("routes", "does_not_exist:app")
    assert result.exit_code == 2
    assert "could not import 'does_not_exist': there is no such module" in result.output


def test_missing_attribute(project: Path) -> None:
    write(project, "web.py", SIMPLE_APP)
    result = invoke("routes", "web:nope")
    assert result.exit_code == 2
    assert "module 'web' does not define 'nope' (it defines: app)" in result.output


def test_attribute_that_is_not_a_kettle_app(project: Path) -> None:
    write(project, "web.py", "app = 42\n")
    result = invoke("routes", "web")
    assert result.exit_code == 2
    assert "web:app is a int, not a Kettle app" in result.output


@pytest.mark.parametrize("target", ["a b", "web:", ":app", "web:1x", "we-b"])
def test_malformed_target(project: Path, target: str) -> None:
    result = invoke("routes", target)
    assert result.exit_code == 2
    if target == "web:":  # an empty attribute means "app"
        assert "could not import 'web'" in result.output
    else:
        assert "is not MODULE or MODULE:APP" in result.output


def test_error_raised_while_importing(project: Path) -> None:
    write(project, "web.py", "import os\n\nvalue = undefined_name\n")
    result = invoke("routes", "web")
    assert result.exit_code == 1
    assert "while importing 'web': NameError: name 'undefined_name'" in result.output
    assert f"({project / 'web.py'}, line 3)" in result.output
    assert "Traceback" not in result.output


def test_syntax_error_in_app_module(project: Path) -> None:
    write(project, "web.py", "x = 1\ndef (:\n")
    result = invoke("routes", "web")
    assert result.exit_code == 1
    assert "while importing 'web': SyntaxError: " in result.output
    assert f"({project / 'web.py'}, line 2)" in result.output
    assert "Traceback" not in result.output


def test_missing_dependency_of_app_module(project: Path) -> None:
    write(project, "web.py", "import not_installed_dependency_xyz\n")
    result = invoke("routes", "web")
    assert result.exit_code == 1
    assert "while importing 'web': ModuleNotFoundError: " in result.output
    assert "not_installed_dependency_xyz" in result.output


def test_version() -> None:
    result = invoke("--version")
    assert result.exit_code == 0
    assert result.output.startswith(f"kettle {kettle.__version__} (Python ")


def test_importing_cli_does_not_import_servers() -> None:
    code = (
        "import sys, kettle.cli; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('granian', 'uvicorn', 'watchfiles')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


# -- routes ---------------------------------------------------------------------------


def test_route_table_rows(project: Path) -> None:
    write(project, "app.py", ROUTES_APP)
    app, _ = load_app(None)
    assert route_table(app) == [
        ("/", "GET", "index", "app.index"),
        ("/explicit-head", "GET,HEAD", "explicit_head", "app.explicit_head"),
        ("/items", "POST", "create_item", "app.create_item"),
        ("/items/{item_id:int}", "DELETE,GET", "ItemView", "app.ItemView"),
        ("/ws", "WEBSOCKET", "socket", "app.socket"),
        ("/admin/users", "GET", "admin.users", "app.list_users"),
        ("/static", "(mount)", "static", "app.raw_asgi"),
    ]


def test_routes_command_prints_a_table(project: Path) -> None:
    write(project, "app.py", ROUTES_APP)
    result = invoke("routes")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["Path", "Methods", "Name", "Endpoint"]
    assert set(lines[1].replace(" ", "")) == {"-"}
    assert lines[2].split() == ["/", "GET", "index", "app.index"]
    assert lines[5].split() == [
        "/items/{item_id:int}",
        "DELETE,GET",
        "ItemView",
        "app.ItemView",
    ]
    assert lines[-1].split() == ["/static", "(mount)", "static", "app.raw_asgi"]
    assert len(lines) == 2 + 7
    # Columns line up: each column starts at the same offset on every line.
    offset = lines[0].index("Methods")
    assert all(line[offset - 2 : offset] == "  " for line in lines)


def test_routes_of_an_empty_app(project: Path) -> None:
    write(project, "app.py", "from kettle import Kettle\n\napp = Kettle()\n")
    result = invoke("routes")
    assert result.exit_code == 0
    assert result.output == "No routes.\n"


# -- shell ----------------------------------------------------------------------------


def test_shell_has_app_and_kettle_in_the_app_context(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "IPython", None)  # force code.interact
    monkeypatch.delenv("PYTHONSTARTUP", raising=False)
    write(project, "app.py", SIMPLE_APP)
    result = invoke(
        "shell",
        input="print(app)\nprint(kettle.current_app.config is app.config, kettle.__name__)\n",
    )
    assert result.exit_code == 0, result.output
    assert "<Kettle routes=1>" in result.output
    assert "True kettle" in result.output
    assert "names: app, kettle" in result.output


def test_shell_runs_pythonstartup(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "IPython", None)
    startup = write(project, "startup.py", "greeting = 'hello from startup'\n")
    monkeypatch.setenv("PYTHONSTARTUP", str(startup))
    write(project, "app.py", SIMPLE_APP)
    result = invoke("shell", input="print(greeting)\n")
    assert result.exit_code == 0, result.output
    assert "hello from startup" in result.output


def test_shell_in_a_real_process(project: Path) -> None:
    write(project, "app.py", SIMPLE_APP)
    env = {k: v for k, v in os.environ.items() if not k.startswith("KETTLE_")}
    env.pop("PYTHONSTARTUP", None)
    out = subprocess.run(
        [sys.executable, "-m", "kettle", "shell"],
        input="print(app)\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
        check=True,
    )
    assert "<Kettle routes=1>" in out.stdout


# -- run/serve option handling (servers stubbed out) ------------------------------------


SYNC_ONLY_APP = SIMPLE_APP
ASYNC_APP = """
    from kettle import Kettle

    app = Kettle()

    @app.get("/")
    async def index():
        return "hi"
"""


@pytest.fixture
def stub_servers(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Any, Any]]:
    """Replace the server starters with recorders."""
    calls: list[tuple[str, Any, Any]] = []

    def granian(*args: Any, **kwargs: Any) -> None:
        calls.append(("granian", args, kwargs))

    def uvicorn(*args: Any, **kwargs: Any) -> None:
        calls.append(("uvicorn", args, kwargs))

    monkeypatch.setattr(kettle_cli, "_serve_granian", granian)
    monkeypatch.setattr(kettle_cli, "_serve_uvicorn", uvicorn)
    # The commands set KETTLE_DEBUG; have monkeypatch restore it.
    monkeypatch.setenv("KETTLE_DEBUG", "")
    return calls


def test_serve_auto_interface_is_wsgi_for_a_sync_app(
    project: Path, stub_servers: list[Any]
) -> None:
    write(project, "app.py", SYNC_ONLY_APP)
    result = invoke("serve", "--workers", "3", "--threads", "8", "--port", "9001")
    assert result.exit_code == 0, result.output
    assert stub_servers == [
        (
            "granian",
            ("app:app", "wsgi"),
            {
                "host": "127.0.0.1",
                "port": 9001,
                "workers": 3,
                "threads": 8,
                "graceful_timeout": 30,
                "log_config": logging_config("json"),
            },
        )
    ]
    assert (
        "kettle: serving app:app with granian (wsgi, 3 workers, 8 threads) "
        "at http://127.0.0.1:9001" in result.output
    )
    assert sys.modules["app"].app.debug is False


def test_serve_auto_interface_is_asgi_for_an_async_app(
    project: Path, stub_servers: list[Any]
) -> None:
    write(project, "app.py", ASYNC_APP)
    result = invoke("serve")
    assert result.exit_code == 0, result.output
    assert stub_servers[0][1] == ("app:app", "asgi")
    assert "(asgi, 1 worker)" in result.output


def test_serve_with_uvicorn(project: Path, stub_servers: list[Any]) -> None:
    write(project, "app.py", SYNC_ONLY_APP)  # auto picks ASGI for uvicorn
    result = invoke("serve", "--server", "uvicorn", "--host", "::1", "-w", "2")
    assert result.exit_code == 0, result.output
    assert stub_servers == [
        (
            "uvicorn",
            ("app:app",),
            {
                "host": "::1",
                "port": 8000,
                "workers": 2,
                "graceful_timeout": 30,
                "log_config": logging_config("json"),
            },
        )
    ]
    assert "with uvicorn (asgi, 2 workers) at http://[::1]:8000" in result.output


def test_serve_uvicorn_refuses_wsgi(project: Path, stub_servers: list[Any]) -> None:
    write(project, "app.py", SIMPLE_APP)
    result = invoke("serve", "--server", "uvicorn", "--interface", "wsgi")
    assert result.exit_code == 2
    assert "uvicorn serves ASGI only" in result.output
    assert stub_servers == []


def test_serve_threads_need_wsgi(project: Path, stub_servers: list[Any]) -> None:
    write(project, "app.py", SIMPLE_APP)
    result = invoke("serve", "--interface", "asgi", "--threads", "4")
    assert result.exit_code == 2
    assert "--threads applies to the WSGI interface only" in result.output
    assert stub_servers == []


def test_serve_warns_when_debug_is_set_in_code(
    project: Path, stub_servers: list[Any]
) -> None:
    write(project, "app.py", "from kettle import Kettle\n\napp = Kettle(debug=True)\n")
    result = invoke("serve")
    assert result.exit_code == 0
    assert "warning: debug is on" in result.output


def test_serve_turns_debug_off(project: Path, stub_servers: list[Any]) -> None:
    write(project, "app.py", SIMPLE_APP)
    write(project, ".env", "KETTLE_DEBUG=1\n")
    invoke("serve")
    assert sys.modules["app"].app.debug is False


def test_run_turns_debug_on_and_reloads(project: Path, stub_servers: list[Any]) -> None:
    write(project, "app.py", SIMPLE_APP)
    result = invoke("run", "--port", "9002")
    assert result.exit_code == 0, result.output
    assert stub_servers == [
        (
            "granian",
            ("app:app", "asgi"),
            {"host": "127.0.0.1", "port": 9002, "reload": True, "log_access": True},
        )
    ]
    assert "(asgi, debug, reload)" in result.output
    assert sys.modules["app"].app.debug is True


def test_run_with_uvicorn_no_reload(project: Path, stub_servers: list[Any]) -> None:
    write(project, "app.py", SIMPLE_APP)
    result = invoke("run", "app", "--server", "uvicorn", "--no-reload")
    assert result.exit_code == 0, result.output
    assert stub_servers == [
        ("uvicorn", ("app:app",), {"host": "127.0.0.1", "port": 8000, "reload": False})
    ]


def test_bad_port_is_a_usage_error(project: Path) -> None:
    result = invoke("serve", "--port", "70000")
    assert result.exit_code == 2


# -- real servers ---------------------------------------------------------------------


SERVER_APP = """
    import os
    from pathlib import Path

    from kettle import Kettle, Request, current_app

    app = Kettle()
    LOG = Path(__file__).with_name("hooks.log")

    @app.on_startup
    def started():
        with LOG.open("a") as f:
            f.write(f"start {os.getpid()}\\n")

    @app.on_shutdown
    def stopped():
        with LOG.open("a") as f:
            f.write(f"stop {os.getpid()}\\n")

    @app.get("/sync")
    def sync_view():
        return {"kind": "sync", "pid": os.getpid(), "debug": current_app.debug}

    @app.get("/async")
    async def async_view():
        return {"kind": "async"}

    @app.post("/echo")
    async def echo(request: Request):
        return {"echo": await request.json()}

    @app.get("/hello")
    def hello(name: str = "world"):
        return {"hello": name}
"""

START_TIMEOUT = 20.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Server:
    """A ``python -m kettle ...`` subprocess, its output going to a file."""

    def __init__(self, folder: Path, args: list[str]) -> None:
        self.port = free_port()
        self.log_path = folder / "server-output.txt"
        env = {k: v for k, v in os.environ.items() if not k.startswith("KETTLE_")}
        env["PYTHONUNBUFFERED"] = "1"
        self.command = [sys.executable, "-m", "kettle", *args, "--port", str(self.port)]
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                self.command, cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT
            )

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_until_listening(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(
                    f"{self.command} exited with {self.proc.returncode}:\n{self.output()}"
                )
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.1)
        pytest.fail(
            f"{self.command} did not listen within {START_TIMEOUT}s:\n{self.output()}"
        )

    def client(self) -> httpx.Client:
        return httpx.Client(
            base_url=f"http://127.0.0.1:{self.port}", timeout=10, trust_env=False
        )

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def check_server_app(server: Server, debug: bool = False) -> set[int]:
    """Exercise SERVER_APP's routes over TCP; return the worker PIDs seen."""
    pids = set()
    with server.client() as client:
        response = client.get("/sync")
        assert response.status_code == 200, server.output()
        assert response.json()["kind"] == "sync"
        assert response.json()["debug"] is debug
        pids.add(response.json()["pid"])

        response = client.get("/async")
        assert response.status_code == 200
        assert response.json() == {"kind": "async"}

        response = client.post("/echo", json={"a": [1, 2], "b": "é"})
        assert response.status_code == 200
        assert response.json() == {"echo": {"a": [1, 2], "b": "é"}}

        response = client.get("/hello", params={"name": "kettle & co"})
        assert response.status_code == 200
        assert response.json() == {"hello": "kettle & co"}
        assert client.get("/hello").json() == {"hello": "world"}

        assert client.get("/missing").status_code == 404
        assert client.get("/echo").status_code == 405
        for _ in range(10):
            pids.add(client.get("/sync", headers={"connection": "close"}).json()["pid"])
    return pids


def hook_lines(folder: Path) -> list[str]:
    path = folder / "hooks.log"
    return path.read_text().split() if path.exists() else []


@pytest.mark.parametrize(
    ("server_name", "interface"),
    [("granian", "asgi"), ("granian", "wsgi"), ("uvicorn", "asgi")],
)
def test_serve_real_server(tmp_path: Path, server_name: str, interface: str) -> None:
    write(tmp_path, "app.py", SERVER_APP)
    server = Server(
        tmp_path,
        ["serve", "app:app", "--host", "127.0.0.1", "--interface", interface]
        + ["--server", server_name],
    )
    try:
        server.wait_until_listening()
        pids = check_server_app(server)
    finally:
        server.stop()
    output = server.output()
    assert (
        f"kettle: serving app:app with {server_name} ({interface}, 1 worker) "
        f"at http://127.0.0.1:{server.port}" in output
    )
    assert len(pids) == 1
    # Start-up and shutdown hooks ran in the worker (WSGI too).
    (pid,) = pids
    assert hook_lines(tmp_path) == ["start", str(pid), "stop", str(pid)], output


def test_serve_two_workers(tmp_path: Path) -> None:
    write(tmp_path, "app.py", SERVER_APP)
    server = Server(
        tmp_path, ["serve", "--workers", "2", "--interface", "wsgi", "--threads", "2"]
    )
    try:
        server.wait_until_listening()
        check_server_app(server)
        # NOTE: the port opens with the first worker; on a loaded machine the second
        # may still be starting. Stop once both ran their start-up hooks.
        deadline = time.monotonic() + 20
        while hook_lines(tmp_path).count("start") < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        server.stop()
    output = server.output()
    assert "(wsgi, 2 workers, 2 threads)" in output
    lines = hook_lines(tmp_path)
    started = {lines[i + 1] for i in range(0, len(lines), 2) if lines[i] == "start"}
    stopped = {lines[i + 1] for i in range(0, len(lines), 2) if lines[i] == "stop"}
    assert len(started) == 2, output
    assert stopped == started, output


@pytest.mark.parametrize("server_name", ["granian", "uvicorn"])
def test_run_real_server(tmp_path: Path, server_name: str) -> None:
    write(tmp_path, "app.py", SERVER_APP)
    server = Server(tmp_path, ["run", "--no-reload", "--server", server_name])
    try:
        server.wait_until_listening()
        check_server_app(server, debug=True)
    finally:
        server.stop()
    assert f"with {server_name} (asgi, debug, no reload)" in server.output()


def test_serve_import_error_is_reported_before_starting(tmp_path: Path) -> None:
    write(tmp_path, "app.py", "raise RuntimeError('broken app')\n")
    out = subprocess.run(
        [sys.executable, "-m", "kettle", "serve", "--port", str(free_port())],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 1
    assert "Error: while importing 'app': RuntimeError: broken app" in out.stderr
    assert "Traceback" not in out.stderr
