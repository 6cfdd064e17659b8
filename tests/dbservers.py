"""Real PostgreSQL and MariaDB servers for the test suite.

Each server is a private instance: its data directory, socket and log live under a
directory the caller gives, it listens on 127.0.0.1 only, on a free port, and it is
tuned for speed rather than durability (no fsync). ``Server.stop()`` ends it by the
process id this module started, never by name.

The binaries come from Debian's ``postgresql`` and ``mariadb-server`` packages, which
``scripts/test`` installs. Only the standard library is used here: set-up SQL and the
readiness query run through the servers' own command-line clients.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path

#: The throw-away database and role every server gets.
DATABASE = "kettle_test"
USER = "kettle"
PASSWORD = "kettle"

#: How long a server may take to accept a real query before start-up fails.
START_TIMEOUT = 60.0
#: How long ``stop()`` waits after the polite signal before it kills.
STOP_TIMEOUT = 30.0
#: Seconds allowed for one set-up command (initdb, mariadb-install-db, a client).
COMMAND_TIMEOUT = 120.0

_LOG_TAIL_LINES = 40
# sockaddr_un.sun_path holds 108 bytes, the terminating NUL included.
_MAX_SOCKET_PATH = 107
_PR_SET_PDEATHSIG = 1

_SYNC_DRIVER = {"postgresql": "postgresql+psycopg", "mariadb": "mariadb+pymysql"}
_ASYNC_DRIVER = {"postgresql": "postgresql+asyncpg", "mariadb": "mariadb+asyncmy"}
_DEFAULT_PORT = {"postgresql": 5432, "mariadb": 3306}

_Launch = Callable[[int], subprocess.Popen[bytes]]
_Ready = Callable[[int], bool]


@dataclasses.dataclass
class Server:
    """A database server the tests can use, started here or given by a URL.

    ``url_sync`` and ``url_async`` are SQLAlchemy URLs of the ``kettle_test``
    database; ``admin_url`` is a sync URL of the server's maintenance database (the
    ``postgres`` database, or no database on MariaDB) for creating and dropping
    databases. ``pid`` is None for a server this module did not start.
    """

    name: str
    host: str
    port: int
    user: str
    password: str
    database: str
    admin_database: str
    pid: int | None = None
    log_path: Path | None = None
    _process: subprocess.Popen[bytes] | None = dataclasses.field(
        default=None, repr=False
    )
    _stop_signal: signal.Signals = dataclasses.field(default=signal.SIGTERM, repr=False)

    @property
    def url_sync(self) -> str:
        return self.url_for(self.database)[0]

    @property
    def url_async(self) -> str:
        return self.url_for(self.database)[1]

    @property
    def admin_url(self) -> str:
        return self.url_for(self.admin_database)[0]

    def url_for(self, database: str) -> tuple[str, str]:
        """The sync and async SQLAlchemy URLs of another database on this server."""
        user = urllib.parse.quote(self.user, safe="")
        password = urllib.parse.quote(self.password, safe="")
        auth = f"{user}:{password}@" if password else f"{user}@"
        rest = f"{auth}{self.host}:{self.port}/{urllib.parse.quote(database)}"
        return (
            f"{_SYNC_DRIVER[self.name]}://{rest}",
            f"{_ASYNC_DRIVER[self.name]}://{rest}",
        )

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Stop the server this module started (a no-op for a given one).

        Sends the polite shutdown signal (SIGINT, PostgreSQL's fast shutdown, which
        disconnects clients; SIGTERM for MariaDB), waits up to ``timeout`` seconds,
        then SIGKILLs. Safe to call twice.
        """
        proc = self._process
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(self._stop_signal)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            proc.wait(10)


def server_from_url(name: str, url: str) -> Server:
    """A Server for an existing database server given as a URL (any driver suffix),
    e.g. ``postgresql://kettle:secret@127.0.0.1:5432/kettle_test``. The user must be
    allowed to create and drop databases."""
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.split("+", 1)[0]
    if scheme == "mysql":
        scheme = "mariadb"
    if scheme != name:
        raise RuntimeError(f"{url!r} is not a {name} URL")
    database = urllib.parse.unquote(parts.path.lstrip("/"))
    return Server(
        name=name,
        host=parts.hostname or "127.0.0.1",
        port=parts.port or _DEFAULT_PORT[name],
        user=urllib.parse.unquote(parts.username or ""),
        password=urllib.parse.unquote(parts.password or ""),
        database=database or DATABASE,
        # On PostgreSQL every connection needs a database: the given one will do.
        admin_database=(database or "postgres") if name == "postgresql" else "",
    )


# -- PostgreSQL ------------------------------------------------------------------------


def postgres_bindir() -> Path:
    """The bin directory of the highest PostgreSQL version Debian installed."""
    found: list[tuple[tuple[int, ...], Path]] = []
    for candidate in Path("/usr/lib/postgresql").glob("*/bin"):
        version = candidate.parent.name
        if re.fullmatch(r"\d+(\.\d+)*", version) and (candidate / "postgres").exists():
            found.append((tuple(int(p) for p in version.split(".")), candidate))
    if not found:
        raise RuntimeError(
            "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/postgres): the "
            "Debian package 'postgresql' is missing; scripts/test installs it."
        )
    return max(found)[1]


def start_postgres(base: Path) -> Server:
    """Initialise and start a PostgreSQL server with its files in ``base``/postgres.

    As root the server runs as the ``postgres`` OS user (PostgreSQL refuses root),
    so ``base`` and its parents must be searchable by that user.
    """
    bindir = postgres_bindir()
    home = base / "postgres"
    home.mkdir(parents=True, exist_ok=True)
    data = home / "data"
    log_path = home / "postgres.log"
    as_user = _postgres_os_user()
    if as_user is not None:
        _check_reachable(home, as_user)
        os.chown(home, as_user.pw_uid, as_user.pw_gid)
    _check_socket_path(home / ".s.PGSQL.65535")
    _run(
        [
            str(bindir / "initdb"),
            "--pgdata",
            str(data),
            "--username=postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        ],
        cwd=home,
        as_user=as_user,
        what="initdb",
    )
    # Trust, but only over the Unix socket in `home` and from 127.0.0.1.
    (data / "pg_hba.conf").write_text(
        "local all all trust\nhost all all 127.0.0.1/32 trust\n"
    )
    psql = str(bindir / "psql")

    def launch(port: int) -> subprocess.Popen[bytes]:
        settings = {
            "listen_addresses": "127.0.0.1",
            "port": str(port),
            "unix_socket_directories": str(home),
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_connections": "200",
            "logging_collector": "off",
        }
        args = [str(bindir / "postgres"), "-D", str(data)]
        for key, value in settings.items():
            args += ["-c", f"{key}={value}"]
        return _popen(args, log_path, cwd=home, as_user=as_user)

    def ready(port: int) -> bool:
        return _client_ok(
            [psql, "-X", "-q", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres"]
            + ["-d", "postgres", "-c", "SELECT 1"]
        )

    proc, port = _launch_until_ready("PostgreSQL", launch, ready, log_path)
    try:
        _run(
            [psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1"]
            + ["-p", str(port), "-U", "postgres", "-d", "postgres"]
            + ["-c", f"CREATE ROLE {USER} LOGIN SUPERUSER PASSWORD '{PASSWORD}'"]
            + ["-c", f"CREATE DATABASE {DATABASE} OWNER {USER}"],
            what="PostgreSQL set-up",
        )
    except BaseException:
        _terminate(proc, signal.SIGINT)
        raise
    return Server(
        name="postgresql",
        host="127.0.0.1",
        port=port,
        user=USER,
        password=PASSWORD,
        database=DATABASE,
        admin_database="postgres",
        pid=proc.pid,
        log_path=log_path,
        _process=proc,
        _stop_signal=signal.SIGINT,
    )


def _postgres_os_user() -> pwd.struct_passwd | None:
    """The OS user to run PostgreSQL as: ``postgres`` when we are root, else us."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        raise RuntimeError(
            "running as root, but there is no 'postgres' OS user to run PostgreSQL "
            "as: the Debian package 'postgresql' is missing; scripts/test installs it."
        ) from None


def _check_reachable(path: Path, user: pwd.struct_passwd) -> None:
    """Fail clearly when ``user`` could not get to ``path`` (a 0700 parent)."""
    for parent in path.resolve().parents:
        st = parent.stat()
        if st.st_uid == user.pw_uid:
            continue
        if not st.st_mode & 0o001 and not (
            st.st_gid == user.pw_gid and st.st_mode & 0o010
        ):
            raise RuntimeError(
                f"the {user.pw_name!r} OS user cannot reach {path}: {parent} is not "
                "searchable by it (start PostgreSQL in a directory it can reach, "
                "e.g. one from tempfile.mkdtemp() made mode 0o711)"
            )


# -- MariaDB ---------------------------------------------------------------------------


def mariadb_binaries() -> tuple[str, str, str]:
    """The paths of mariadbd, mariadb-install-db and the mariadb client."""
    found = []
    for name, fallback in [
        ("mariadbd", "/usr/sbin/mariadbd"),
        ("mariadb-install-db", "/usr/bin/mariadb-install-db"),
        ("mariadb", "/usr/bin/mariadb"),
    ]:
        path = shutil.which(name) or (
            fallback if os.access(fallback, os.X_OK) else None
        )
        if path is None:
            raise RuntimeError(
                f"MariaDB's {name!r} is not installed: the Debian package "
                "'mariadb-server' is missing; scripts/test installs it."
            )
        found.append(path)
    return found[0], found[1], found[2]


def start_mariadb(base: Path) -> Server:
    """Initialise and start a MariaDB server with its files in ``base``/mariadb."""
    mariadbd, install_db, client = mariadb_binaries()
    home = base / "mariadb"
    home.mkdir(parents=True, exist_ok=True)
    data = home / "data"
    tmp = home / "tmp"
    tmp.mkdir(exist_ok=True)
    sock = home / "mysql.sock"
    _check_socket_path(sock)
    log_path = home / "mariadb.log"
    user_opts = ["--user=root"] if os.geteuid() == 0 else []
    # Server options shared by the bootstrap and the server: fast, not durable.
    common = [
        f"--datadir={data}",
        f"--tmpdir={tmp}",
        "--innodb-flush-log-at-trx-commit=2",
        "--innodb-doublewrite=0",
        "--innodb-buffer-pool-size=64M",
        "--innodb-log-file-size=32M",
        "--skip-log-bin",
        "--character-set-server=utf8mb4",
        "--collation-server=utf8mb4_unicode_ci",
    ]
    _run(
        [install_db, "--no-defaults", *user_opts, "--skip-test-db"]
        + ["--skip-name-resolve", "--auth-root-authentication-method=normal"]
        + common,
        cwd=home,
        what="mariadb-install-db",
    )
    base_client = [client, "--no-defaults", "--connect-timeout=5"]
    root_client = [*base_client, f"--socket={sock}", "--user=root"]

    def launch(port: int) -> subprocess.Popen[bytes]:
        args = [mariadbd, "--no-defaults", *user_opts, *common]
        args += [
            "--bind-address=127.0.0.1",
            f"--port={port}",
            f"--socket={sock}",
            f"--pid-file={home / 'mariadb.pid'}",
            "--skip-networking=0",
            "--skip-name-resolve",
            "--max-connections=200",
            "--innodb-fast-shutdown=1",
        ]
        return _popen(args, log_path, cwd=home)

    def ready(port: int) -> bool:
        return _client_ok([*root_client, "--batch", "-e", "SELECT 1"])

    proc, port = _launch_until_ready("MariaDB", launch, ready, log_path)
    account = f"'{USER}'@'127.0.0.1'"
    try:
        _run(
            [*root_client, "-e"]
            + [
                f"CREATE DATABASE {DATABASE} CHARACTER SET utf8mb4; "
                f"CREATE USER {account} IDENTIFIED BY '{PASSWORD}'; "
                f"GRANT ALL ON *.* TO {account} WITH GRANT OPTION;"
            ],
            what="MariaDB set-up",
        )
        # A real query over TCP, as the tests will connect.
        _run(
            [*base_client, "--protocol=TCP", "--host=127.0.0.1", f"--port={port}"]
            + [f"--user={USER}", f"--password={PASSWORD}", DATABASE]
            + ["--batch", "-e", "SELECT 1"],
            what="MariaDB TCP check",
        )
    except BaseException:
        _terminate(proc, signal.SIGTERM)
        raise
    return Server(
        name="mariadb",
        host="127.0.0.1",
        port=port,
        user=USER,
        password=PASSWORD,
        database=DATABASE,
        admin_database="",
        pid=proc.pid,
        log_path=log_path,
        _process=proc,
        _stop_signal=signal.SIGTERM,
    )


def redis_binary() -> str:
    found = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not os.path.exists(found):
        raise RuntimeError(
            "redis-server is not installed (Debian package redis-server; "
            "scripts/test installs it)"
        )
    return found


def start_redis(base: Path) -> Server:
    """Start a Redis server on loopback with its files in ``base``/redis: no
    persistence, no protected-mode surprises."""
    home = base / "redis"
    home.mkdir(parents=True, exist_ok=True)
    log_path = home / "redis.log"
    binary = redis_binary()

    def launch(port: int) -> subprocess.Popen[bytes]:
        args = [binary, "--bind", "127.0.0.1", "--port", str(port)]
        args += ["--save", "", "--appendonly", "no", "--dir", str(home)]
        args += ["--logfile", str(log_path), "--daemonize", "no"]
        return _popen(args, log_path, cwd=home)

    def ready(port: int) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    proc, port = _launch_until_ready("Redis", launch, ready, log_path)
    return Server(
        name="redis",
        host="127.0.0.1",
        port=port,
        user="",
        password="",
        database="0",
        admin_database="0",
        pid=proc.pid,
        log_path=log_path,
        _process=proc,
        _stop_signal=signal.SIGTERM,
    )


# -- shared helpers --------------------------------------------------------------------


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _child_env() -> dict[str, str]:
    """Our environment without the variables that would steer the clients elsewhere."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PG", "MYSQL", "MARIADB"))
    }
    env["LC_ALL"] = "C"
    return env


def _pdeathsig_hook() -> Callable[[], None] | None:
    """A preexec_fn that makes the child die with SIGTERM when pytest dies, so a
    killed test run leaves no server behind (Linux only). Everything it needs is
    loaded here, in the parent: after the switch to the ``postgres`` user the
    child may not be able to read Python's own files."""
    if sys.platform != "linux":
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    sigterm = int(signal.SIGTERM)

    def hook() -> None:
        prctl(_PR_SET_PDEATHSIG, sigterm, 0, 0, 0)

    return hook


def _ids(as_user: pwd.struct_passwd | None) -> tuple[int | None, int | None]:
    """The uid and gid for subprocess's ``user``/``group`` (None: stay as we are)."""
    return (None, None) if as_user is None else (as_user.pw_uid, as_user.pw_gid)


def _popen(
    args: list[str],
    log_path: Path,
    *,
    cwd: Path,
    as_user: pwd.struct_passwd | None = None,
) -> subprocess.Popen[bytes]:
    uid, gid = _ids(as_user)
    with log_path.open("ab") as log:
        return subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env=_child_env(),
            # Its own session: a Ctrl-C meant for pytest does not reach the server,
            # which the fixtures stop themselves.
            start_new_session=True,
            preexec_fn=_pdeathsig_hook(),
            user=uid,
            group=gid,
            extra_groups=None if uid is None else [],
        )


def _run(
    args: list[str],
    *,
    what: str,
    cwd: Path | None = None,
    as_user: pwd.struct_passwd | None = None,
) -> None:
    uid, gid = _ids(as_user)
    try:
        result = subprocess.run(
            args,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            cwd=cwd,
            env=_child_env(),
            timeout=COMMAND_TIMEOUT,
            check=False,
            user=uid,
            group=gid,
            extra_groups=None if uid is None else [],
        )
    except subprocess.TimeoutExpired as exc:
        raise RuntimeError(f"{what} took over {COMMAND_TIMEOUT:.0f} s") from exc
    if result.returncode != 0:
        output = (result.stdout + result.stderr).decode(errors="replace")
        raise RuntimeError(
            f"{what} failed (exit {result.returncode}): {' '.join(args)}\n"
            + _tail(output)
        )


def _client_ok(args: list[str]) -> bool:
    try:
        result = subprocess.run(
            args,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            env=_child_env(),
            timeout=10,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return False
    return result.returncode == 0


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def _launch_until_ready(
    what: str,
    launch: _Launch,
    ready: _Ready,
    log_path: Path,
    timeout: float = START_TIMEOUT,
) -> tuple[subprocess.Popen[bytes], int]:
    """Start the server on a free port and poll (TCP connect, then a real query)
    until it answers. A port taken between picking and binding gets a new one;
    any other failure, or no answer within ``timeout``, raises with the log's tail.
    """
    deadline = time.monotonic() + timeout
    for _attempt in range(3):
        port = free_port()
        offset = log_path.stat().st_size if log_path.exists() else 0
        proc = launch(port)
        while True:
            if proc.poll() is not None:
                log = _read_from(log_path, offset)
                if "already in use" in log and time.monotonic() < deadline:
                    break  # someone took the port: try another
                raise RuntimeError(
                    f"{what} exited with code {proc.returncode} while starting; "
                    f"{log_path}:\n{_tail(log)}"
                )
            if _port_open(port) and ready(port):
                return proc, port
            if time.monotonic() > deadline:
                _terminate(proc, signal.SIGKILL)
                raise RuntimeError(
                    f"{what} did not answer a query on 127.0.0.1:{port} within "
                    f"{timeout:.0f} s; {log_path}:\n"
                    + _tail(_read_from(log_path, offset))
                )
            time.sleep(0.05)
    raise RuntimeError(f"{what} found no free port to listen on; see {log_path}")


def _terminate(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(sig)
    try:
        proc.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


def _check_socket_path(path: Path) -> None:
    if len(os.fsencode(path)) > _MAX_SOCKET_PATH:
        raise RuntimeError(
            f"Unix socket path {path} is too long (over {_MAX_SOCKET_PATH} bytes): "
            "start the server in a shorter directory"
        )


def _read_from(path: Path, offset: int) -> str:
    try:
        with path.open("rb") as f:
            f.seek(offset)
            return f.read().decode(errors="replace")
    except OSError:
        return ""


def _tail(text: str) -> str:
    lines = text.rstrip().splitlines()[-_LOG_TAIL_LINES:]
    return "\n".join(lines) if lines else "(no output)"
