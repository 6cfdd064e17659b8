"""Scale-out: two ``kettle serve`` instances behind Debian's nginx, sharing
PostgreSQL and Redis, with a separate ``kettle worker``.

nginx runs the site configuration of the deployment guide (docs/deploy/nginx.conf)
with the test's ports. The app (tests/scaleout/app.py) reads every setting from
the environment, as a deployed app does. What is shown:

- a user who logs in through nginx stays logged in whichever instance answers,
  and a CSRF token issued by one instance is accepted by the other;
- a cache entry invalidated through one instance is a miss on the other;
- a task enqueued by a web request runs in the ``kettle worker`` process;
- a message published through one instance reaches a WebSocket client connected
  to the other;
- a rolling restart (SIGTERM to one instance, then it again) loses no request
  the instance read, and fails none after it stopped;
- killing one instance in the middle of a write load loses no acknowledged write.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from dbservers import Server
from served import free_port

HERE = Path(__file__).resolve().parent
APP_FOLDER = HERE / "scaleout"
SITE_CONF = HERE.parent / "docs" / "deploy" / "nginx.conf"
SECRET = "scale-out test secret key, long enough to pass the deploy checks!"


def nginx_binary() -> str:
    found = shutil.which("nginx") or "/usr/sbin/nginx"
    if not os.access(found, os.X_OK):
        pytest.fail(
            "nginx is not installed (Debian package nginx; scripts/test installs it)"
        )
    return found


@dataclasses.dataclass
class Cluster:
    """The running pieces: nginx's URL, each instance's URL and process."""

    url: str
    instances: dict[str, str]
    processes: dict[str, subprocess.Popen[bytes]]
    commands: dict[str, tuple[list[str], dict[str, str]]]
    database_url: str
    logs: Path

    def restart(self, name: str) -> None:
        """Start a stopped instance again, on its port, and wait for it."""
        args, env = self.commands[name]
        self.processes[name] = _start(f"{name}-again", args, env, self.logs)
        _wait_for(f"{self.instances[name]}/whoami", self.processes[name], self.logs)

    def log_text(self) -> str:
        parts = []
        for path in sorted(self.logs.glob("*.log")):
            parts.append(f"--- {path.name}\n{path.read_text(errors='replace')[-4000:]}")
        return "\n".join(parts)


def _start(
    name: str, args: list[str], env: dict[str, str], logs: Path
) -> subprocess.Popen[bytes]:
    with open(logs / f"{name}.log", "wb") as out:
        return subprocess.Popen(
            args,
            cwd=APP_FOLDER,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: granian's workers too
        )


def _stop(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _wait_for(url: str, process: subprocess.Popen[bytes], logs: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            log = "\n".join(p.read_text(errors="replace") for p in logs.glob("*.log"))
            pytest.fail(f"{url} did not come up:\n{log}")
        time.sleep(0.2)


def _nginx_conf(folder: Path, port: int, upstreams: list[int]) -> Path:
    site = SITE_CONF.read_text()
    for placeholder, real in zip(("8001", "8002"), upstreams, strict=True):
        assert f"127.0.0.1:{placeholder}" in site
        site = site.replace(f"127.0.0.1:{placeholder}", f"127.0.0.1:{real}")
    assert "listen 80;" in site
    site = site.replace("listen 80;", f"listen 127.0.0.1:{port};")
    (folder / "site.conf").write_text(site)
    user = "user root;" if os.geteuid() == 0 else ""
    temp = {
        name: folder / name for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi")
    }
    for path in temp.values():
        path.mkdir()
    main = f"""
daemon off;
worker_processes 1;
{user}
pid {folder}/nginx.pid;
error_log {folder}/error.log warn;
events {{ worker_connections 512; }}
http {{
    access_log {folder}/access.log;
    client_body_temp_path {temp["body"]};
    proxy_temp_path {temp["proxy"]};
    fastcgi_temp_path {temp["fastcgi"]};
    uwsgi_temp_path {temp["uwsgi"]};
    scgi_temp_path {temp["scgi"]};
    include {folder}/site.conf;
}}
"""
    path = folder / "nginx.conf"
    path.write_text(main)
    return path


@pytest.fixture(scope="module")
def cluster(
    postgres_server: Server,
    redis_server: Server,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Cluster]:
    from dbfixtures import _fresh_postgres_database

    nginx = nginx_binary()
    logs = tmp_path_factory.mktemp("scaleout")
    redis_url = f"redis://{redis_server.host}:{redis_server.port}/3"
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    with _fresh_postgres_database(postgres_server) as name:
        database_url = postgres_server.url_for(name)[0]
        env = {
            **os.environ,
            "KETTLE_DATABASE_URL": database_url,
            "KETTLE_REDIS_URL": redis_url,
            "KETTLE_SECRET_KEY": SECRET,
            "KETTLE_SESSION_BACKEND": "redis",
            "KETTLE_CACHE_BACKEND": "redis",
            "KETTLE_TASKS_BACKEND": "dramatiq",
            "KETTLE_CHANNELS_BACKEND": "redis",
            "KETTLE_RATELIMIT_BACKEND": "redis",
            "PYTHONPATH": str(APP_FOLDER),
        }
        env.pop("KETTLE_SETTINGS", None)
        subprocess.run(
            [sys.executable, "-c", "import app; app.create_tables_and_user()"],
            cwd=APP_FOLDER,
            env=env,
            check=True,
            timeout=60,
        )
        ports = {"a": free_port(), "b": free_port()}
        processes: dict[str, subprocess.Popen[bytes]] = {}
        commands: dict[str, tuple[list[str], dict[str, str]]] = {}
        try:
            for instance, port in ports.items():
                commands[instance] = (
                    [sys.executable, "-m", "kettle", "serve", "app:app"]
                    + ["--host", "127.0.0.1", "--port", str(port)],
                    {**env, "SCALEOUT_INSTANCE": instance},
                )
                processes[instance] = _start(instance, *commands[instance], logs)
            processes["worker"] = _start(
                "worker",
                [sys.executable, "-m", "kettle", "worker", "app:app"],
                {**env, "SCALEOUT_INSTANCE": "worker"},
                logs,
            )
            nginx_port = free_port()
            conf = _nginx_conf(logs, nginx_port, [ports["a"], ports["b"]])
            processes["nginx"] = _start(
                "nginx",
                [nginx, "-e", str(logs / "error.log"), "-c", str(conf)],
                env,
                logs,
            )
            instances = {i: f"http://127.0.0.1:{p}" for i, p in ports.items()}
            for instance, url in instances.items():
                _wait_for(f"{url}/whoami", processes[instance], logs)
            url = f"http://127.0.0.1:{nginx_port}"
            _wait_for(f"{url}/whoami", processes["nginx"], logs)
            yield Cluster(url, instances, processes, commands, database_url, logs)
        finally:
            for process in processes.values():
                _stop(process)


def _csrf_token(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


def _answered_by(response: httpx.Response) -> str:
    return response.headers["x-instance"]


def test_a_login_sticks_whichever_instance_answers(cluster: Cluster) -> None:
    with httpx.Client(base_url=cluster.url, timeout=10) as client:
        # The login form comes from one instance, the POST goes to the next: the
        # CSRF secret lives in the Redis session both read.
        page = client.get("/auth/login")
        assert page.status_code == 200
        token = _csrf_token(page.text)
        answered = client.post(
            "/auth/login",
            data={"username": "alice", "password": "scale out!", "csrf_token": token},
        )
        assert answered.status_code == 303, answered.text
        assert _answered_by(answered) != _answered_by(page)
        seen = set()
        for _ in range(6):
            me = client.get("/whoami")
            assert me.json() == {"instance": _answered_by(me), "user": "alice"}
            seen.add(_answered_by(me))
        assert seen == {"a", "b"}
        # Logging out through one instance ends the session on both.
        logout = client.get("/auth/logout")
        token = _csrf_token(logout.text)
        assert (
            client.post("/auth/logout", data={"csrf_token": token}).status_code == 303
        )
        for _ in range(2):
            assert client.get("/whoami").json()["user"] is None


def test_a_cache_invalidation_on_one_instance_is_seen_by_the_other(
    cluster: Cluster,
) -> None:
    import psycopg

    a, b = cluster.instances["a"], cluster.instances["b"]
    first = httpx.get(b + "/note", timeout=10).json()
    assert first == {"text": "first", "cached": False, "instance": "b"}
    # a reads b's entry: one cache for both.
    assert httpx.get(a + "/note", timeout=10).json()["cached"] is True
    # The row changes behind the cache's back: both still answer from the cache.
    with psycopg.connect(_libpq(cluster.database_url)) as conn:
        conn.execute("UPDATE scaleout_note SET text = 'second' WHERE id = 1")
    for url in (a, b):
        assert httpx.get(url + "/note", timeout=10).json()["text"] == "first"
    # Invalidated through a, b misses and reads the new text.
    assert httpx.post(a + "/note/invalidate", timeout=10).json() == {"instance": "a"}
    assert httpx.get(b + "/note", timeout=10).json() == {
        "text": "second",
        "cached": False,
        "instance": "b",
    }


def test_a_task_enqueued_by_a_request_runs_in_the_worker(cluster: Cluster) -> None:
    import psycopg

    token = uuid.uuid4().hex
    started = httpx.post(cluster.url + "/jobs", data={"token": token}, timeout=10)
    assert started.status_code == 200, started.text
    job = started.json()["job"]
    other = "b" if _answered_by(started) == "a" else "a"
    deadline = time.monotonic() + 30
    while True:
        # Its status and result are read through the other instance.
        status = httpx.get(f"{cluster.instances[other]}/jobs/{job}", timeout=10).json()
        if status["status"] in ("succeeded", "failed"):
            break
        assert time.monotonic() < deadline, f"{status}\n{cluster.log_text()}"
        time.sleep(0.2)
    assert status["status"] == "succeeded", cluster.log_text()
    with psycopg.connect(_libpq(cluster.database_url)) as conn:
        row = conn.execute(
            "SELECT pid, instance FROM scaleout_job WHERE token = %s", (token,)
        ).fetchone()
    assert row is not None
    pid, instance = row
    assert instance == "worker" and status["result"] == pid
    # The worker's process (or one it started), not a web instance's.
    assert os.getpgid(pid) == cluster.processes["worker"].pid


def _libpq(url: str) -> str:
    """A SQLAlchemy PostgreSQL URL as psycopg takes it."""
    return url.replace("postgresql+psycopg://", "postgresql://")


def _logged_in(cluster: Cluster) -> httpx.Client:
    client = httpx.Client(base_url=cluster.url, timeout=10)
    token = _csrf_token(client.get("/auth/login").text)
    answered = client.post(
        "/auth/login",
        data={"username": "alice", "password": "scale out!", "csrf_token": token},
    )
    assert answered.status_code == 303, answered.text
    return client


def test_a_message_published_on_one_instance_reaches_a_socket_on_the_other(
    cluster: Cluster,
) -> None:
    """A logged-in user's WebSocket through nginx (the instance holding it reads
    the Redis session), and a message published through the other instance."""
    from websockets.sync.client import connect

    with contextlib.closing(_logged_in(cluster)) as client:
        cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
        ws_url = cluster.url.replace("http", "ws") + "/ws/lobby"
        with connect(
            ws_url, additional_headers={"Cookie": cookie}, open_timeout=10
        ) as socket:
            hello = json.loads(socket.recv(timeout=10))
            assert hello["user"] == "alice"
            other = "b" if hello["instance"] == "a" else "a"
            said = httpx.post(
                cluster.instances[other] + "/say/lobby",
                data={"text": "across"},
                timeout=10,
            )
            assert said.json() == {"instance": other}
            message = json.loads(socket.recv(timeout=10))
            assert message == {"text": "across", "via": other}
        # Without the session cookie the socket is refused.
        with pytest.raises(Exception, match="1008|policy|rejected"):
            with connect(ws_url, open_timeout=10) as socket:
                socket.recv(timeout=10)


def test_login_throttling_counts_across_instances(cluster: Cluster) -> None:
    """The account's login rate ("5/5m": five at once) is kept in Redis: five
    wrong passwords spread over both instances use it up, and the sixth attempt
    is refused whichever instance gets it."""
    answered_by = []
    with httpx.Client(base_url=cluster.url, timeout=10) as client:
        token = _csrf_token(client.get("/auth/login").text)
        for attempt in range(6):
            response = client.post(
                "/auth/login",
                data={"username": "mallory", "password": "guess", "csrf_token": token},
            )
            answered_by.append(_answered_by(response))
            expected = 429 if attempt == 5 else 200
            assert response.status_code == expected, (attempt, response.text)
    assert set(answered_by[:5]) == {"a", "b"}


@dataclasses.dataclass
class Load:
    """What writers posting through nginx saw: (token, instance, when) of each
    acknowledged write, and (token, why, when) of each failure."""

    acknowledged: list[tuple[str, str, float]]
    failed: list[tuple[str, str, float]]


@contextlib.contextmanager
def _write_load(cluster: Cluster, writers: int = 6) -> Iterator[Load]:
    """Writers post unique tokens through nginx until the block ends."""
    load = Load([], [])
    lock = threading.Lock()
    stop = threading.Event()

    def writer() -> None:
        with httpx.Client(base_url=cluster.url, timeout=15) as client:
            while not stop.is_set():
                token = uuid.uuid4().hex
                try:
                    response = client.post("/writes", data={"token": token})
                except httpx.HTTPError as exc:
                    with lock:
                        load.failed.append((token, repr(exc), time.monotonic()))
                    continue
                with lock:
                    if response.status_code == 201:
                        load.acknowledged.append(
                            (token, _answered_by(response), time.monotonic())
                        )
                    else:
                        load.failed.append(
                            (token, str(response.status_code), time.monotonic())
                        )

    threads = [threading.Thread(target=writer) for _ in range(writers)]
    for thread in threads:
        thread.start()
    try:
        yield load
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)


def _stored_tokens(cluster: Cluster) -> set[str]:
    import psycopg

    with psycopg.connect(_libpq(cluster.database_url)) as conn:
        return {row[0] for row in conn.execute("SELECT token FROM scaleout_write")}


def test_a_rolling_restart_loses_no_request_an_instance_read(cluster: Cluster) -> None:
    """SIGTERM to instance a under load (what systemctl restart sends), then a
    fresh a on the same port: a finishes what it holds, nginx sends the rest to
    b, and nothing fails after the stop.

    The one failure HTTP/1.1 allows: a POST nginx sends on a kept-alive
    connection at the instant a closes it (idle) is answered 502, since nginx
    does not resend a POST. a never read it, so it wrote nothing."""
    with _write_load(cluster) as load:
        time.sleep(1.0)
        term_at = time.monotonic()
        _stop(cluster.processes["a"], signal.SIGTERM)
        assert cluster.processes["a"].returncode == 0, cluster.log_text()
        stopped_at = time.monotonic()
        time.sleep(1.0)
        cluster.restart("a")
        back_at = time.monotonic()
        # nginx sets a aside for fail_timeout (2 s) after it refused a
        # connection: b answers alone meanwhile.
        time.sleep(4.0)
    assert load.acknowledged
    stored = _stored_tokens(cluster)
    assert all(token in stored for token, _, _ in load.acknowledged)
    # Failures, if any, are 502s from the moment a closed its connections, for
    # writes a never made; none once a was gone, nor while it came back.
    unexpected = [
        failure
        for failure in load.failed
        if failure[1] != "502"
        or failure[0] in stored
        or not term_at <= failure[2] <= stopped_at + 1.0
    ]
    assert not unexpected, f"{unexpected[:5]}\n{cluster.log_text()}"
    answered = {a[1] for a in load.acknowledged if a[2] > stopped_at + 0.5}
    assert "b" in answered
    # a is back: nginx sends it requests again.
    assert any(a[1] == "a" for a in load.acknowledged if a[2] > back_at)
    print(
        f"\nrolling restart: {len(load.acknowledged)} writes acknowledged, "
        f"{len(load.failed)} answered 502 (sent as a closed an idle connection)"
    )


def test_killing_an_instance_mid_load_loses_no_acknowledged_write(
    cluster: Cluster,
) -> None:
    """Writers post through nginx while instance b is killed (SIGKILL, no
    goodbye). Every write answered 201 is in the database; after the kill the
    other instance takes every request."""
    with _write_load(cluster) as load:
        time.sleep(2.0)
        _stop(cluster.processes["b"], signal.SIGKILL)
        killed_at = time.monotonic()
        time.sleep(3.0)
    acknowledged, failed = load.acknowledged, load.failed
    by_b = [a for a in acknowledged if a[1] == "b" and a[2] < killed_at]
    after = [a for a in acknowledged if a[2] > killed_at + 1]
    assert by_b, "instance b answered nothing before it was killed"
    assert after, "nothing was written after the kill:\n" + cluster.log_text()
    assert all(a[1] == "a" for a in after)
    stored = _stored_tokens(cluster)
    lost = [token for token, _, _ in acknowledged if token not in stored]
    assert not lost, f"{len(lost)} acknowledged writes are missing"
    # Writes that failed (a 502 for a request b held when it died) may or may
    # not have landed: b may have committed before it could answer.
    landed = sum(1 for token, _, _ in failed if token in stored)
    print(
        f"\nscale-out: {len(acknowledged)} writes acknowledged ({len(by_b)} by b), "
        f"{len(failed)} failed around the kill ({landed} of them committed)"
    )
