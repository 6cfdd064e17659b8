"""Operations: the access log and request IDs, health endpoints, Prometheus metrics,
OpenTelemetry tracing and the per-process settings warning, in-process through ASGI
and WSGI (the real-server tests are in test_operations_served.py)."""

from __future__ import annotations

import json
import logging
import re
import shutil
import sys
import tempfile
from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import dbservers
from dbfixtures import DatabaseURL
from kettle import Kettle
from kettle import cli as kettle_cli
from kettle import request
from kettle.cli import cli
from kettle.exceptions import ImproperlyConfigured
from kettle.health import add_health_check
from kettle.logs import JSONFormatter
from kettle.logs import KeyValueFormatter
from kettle.logs import RequestIDFilter
from kettle.logs import logging_config
from kettle.metrics import PrometheusMiddleware
from kettle.middleware import AccessLogMiddleware
from kettle.middleware import ProxyHeadersMiddleware
from kettle.middleware import RequestIDMiddleware
from kettle.operations import per_process_settings
from kettle.security import check_app
from kettle.testing import TestClient
from kettle.tracing import TracingMiddleware

MakeClient = Callable[..., TestClient]


class Records(logging.Handler):
    """Keep the records that reach it (with the request ID filter on)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.addFilter(RequestIDFilter())

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def named(self, name: str) -> list[logging.LogRecord]:
        return [r for r in self.records if r.name == name]


@pytest.fixture
def records() -> Iterator[Records]:
    """Records of ``kettle.access`` (INFO) and ``app`` (the app's own logger)."""
    handler = Records()
    loggers = [logging.getLogger("kettle.access"), logging.getLogger("app")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
        lg.setLevel(logging.INFO)
    yield handler
    for lg, level in zip(loggers, levels, strict=True):
        lg.removeHandler(handler)
        lg.setLevel(level)


def make_app(**config: Any) -> Kettle:
    app = Kettle(env_file=None, **config)

    @app.get("/items/{item_id:int}")
    def item(item_id: int) -> dict[str, int]:
        logging.getLogger("app").warning("looking at %s", item_id)
        return {"item": item_id}

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("kaboom")

    return app


# -- access log -----------------------------------------------------------------------


def test_access_log_record_has_every_field(
    make_client: MakeClient, records: Records
) -> None:
    client = make_client(make_app(access_log=True))
    response = client.get(
        "/items/7?secret=1",
        headers={"x-request-id": "req-42", "user-agent": "probe/1.0"},
    )
    assert response.status_code == 200
    (record,) = records.named("kettle.access")
    assert record.levelno == logging.INFO
    assert record.getMessage() == "GET /items/7 200"
    fields = {k: getattr(record, k) for k in ("request_id", "method", "path")}
    assert fields == {"request_id": "req-42", "method": "GET", "path": "/items/7"}
    assert record.route == "/items/{item_id:int}"  # type: ignore[attr-defined]
    assert record.status == 200  # type: ignore[attr-defined]
    assert record.size == len(response.content)  # type: ignore[attr-defined]
    assert record.user_agent == "probe/1.0"  # type: ignore[attr-defined]
    assert record.client == "testclient"  # type: ignore[attr-defined]
    assert 0 < record.duration_ms < 5000  # type: ignore[attr-defined]


def test_access_log_generates_an_id_and_logs_errors(
    make_client: MakeClient, records: Records
) -> None:
    client = make_client(make_app(access_log=True), raise_server_exceptions=False)
    assert client.get("/boom").status_code == 500
    assert client.get("/nowhere").status_code == 404
    boom, missing = records.named("kettle.access")
    assert boom.status == 500  # type: ignore[attr-defined]
    assert missing.status == 404  # type: ignore[attr-defined]
    assert missing.route is None  # type: ignore[attr-defined]
    ids = {boom.request_id, missing.request_id}  # type: ignore[attr-defined]
    assert len(ids) == 2
    assert all(re.fullmatch(r"[0-9a-f]{32}", str(i)) for i in ids)


def test_an_invalid_incoming_id_is_replaced(
    make_client: MakeClient, records: Records
) -> None:
    client = make_client(make_app(access_log=True))
    client.get("/items/1", headers={"x-request-id": "x" * 300})
    (record,) = records.named("kettle.access")
    assert re.fullmatch(r"[0-9a-f]{32}", record.request_id)  # type: ignore[attr-defined]


def test_application_records_carry_the_request_id(
    make_client: MakeClient, records: Records
) -> None:
    client = make_client(make_app(access_log=True))
    client.get("/items/3", headers={"x-request-id": "abc"})
    client.get("/items/4", headers={"x-request-id": "def"})
    app_records = records.named("app")
    assert [r.getMessage() for r in app_records] == ["looking at 3", "looking at 4"]
    assert [r.request_id for r in app_records] == ["abc", "def"]  # type: ignore[attr-defined]
    # Outside a request there is none.
    logging.getLogger("app").warning("idle")
    assert records.named("app")[-1].request_id is None  # type: ignore[attr-defined]


def test_the_id_is_request_id_middlewares_when_installed(
    make_client: MakeClient, records: Records
) -> None:
    app = make_app(access_log=True)
    app.add_middleware(
        RequestIDMiddleware, header_name="X-Trace", generator=lambda: "made-here"
    )
    client = make_client(app)
    response = client.get("/items/1", headers={"x-request-id": "ignored"})
    assert response.headers["x-trace"] == "made-here"
    assert records.named("kettle.access")[0].request_id == "made-here"  # type: ignore[attr-defined]
    response = client.get("/items/1", headers={"x-trace": "theirs"})
    assert response.headers["x-trace"] == "theirs"
    assert records.named("kettle.access")[1].request_id == "theirs"  # type: ignore[attr-defined]
    assert [r.request_id for r in records.named("app")] == ["made-here", "theirs"]  # type: ignore[attr-defined]


def test_the_client_address_is_the_proxys_forwarded_one(
    make_client: MakeClient, records: Records
) -> None:
    app = make_app(access_log=True)
    app.add_middleware(ProxyHeadersMiddleware, trusted_hosts="*")
    client = make_client(app)
    client.get("/items/1", headers={"x-forwarded-for": "203.0.113.9"})
    assert records.named("kettle.access")[0].client == "203.0.113.9"  # type: ignore[attr-defined]


def test_status_and_size_are_what_was_sent_for_files_and_head(
    make_client: MakeClient, records: Records, tmp_path: Path
) -> None:
    from kettle.files import FileResponse

    data = tmp_path / "data.bin"
    data.write_bytes(bytes(range(256)) * 40)  # 10,240 bytes
    app = make_app(access_log=True, metrics_url="/metrics")

    @app.get("/file")
    def file() -> FileResponse:
        return FileResponse(data)

    @app.get("/gone")
    def gone() -> FileResponse:
        return FileResponse(tmp_path / "missing.bin")

    client = make_client(app)
    whole = client.get("/file")
    assert whole.status_code == 200
    etag = whole.headers["etag"]
    assert client.get("/file", headers={"if-none-match": etag}).status_code == 304
    assert client.get("/file", headers={"range": "bytes=0-99"}).status_code == 206
    assert client.get("/file", headers={"range": "bytes=99999-"}).status_code == 416
    assert client.head("/file").status_code == 200
    assert client.get("/gone").status_code == 404
    assert client.head("/items/1").status_code == 200
    logged = [(r.status, r.size) for r in records.named("kettle.access")]  # type: ignore[attr-defined]
    assert logged[:5] == [(200, 10240), (304, 0), (206, 100), (416, 0), (200, 0)]
    assert logged[5][0] == 404 and logged[5][1] > 0
    assert logged[6] == (200, 0)  # HEAD: headers only
    counts = samples(client.get("/metrics").text, "kettle_http_requests_total")
    for status in ("304", "206", "416"):
        assert counts[f'method="GET",route="/file",status="{status}"'] == 1.0
    assert counts['method="GET",route="/gone",status="404"'] == 1.0


@pytest.mark.parametrize("failing", ["request_started", "request_finished"])
@pytest.mark.parametrize("kind", ["def", "async def"])
def test_a_failing_request_signal_receiver_goes_through_the_middleware(
    make_client: MakeClient, records: Records, failing: str, kind: str
) -> None:
    from kettle import signals

    signal = getattr(signals, failing)

    def receiver(sender: Any, **extra: Any) -> None:
        raise RuntimeError("receiver failed")

    async def areceiver(sender: Any, **extra: Any) -> None:
        raise RuntimeError("receiver failed")

    app = make_app(access_log=True)
    chosen = receiver if kind == "def" else areceiver
    signal.connect(chosen, sender=app)
    try:
        client = make_client(app, raise_server_exceptions=False)
        response = client.get("/items/1", headers={"x-request-id": "sig-1"})
    finally:
        signal.disconnect(chosen, sender=app)
    assert response.status_code == 500
    (record,) = records.named("kettle.access")
    assert record.status == 500  # type: ignore[attr-defined]
    assert record.request_id == "sig-1"  # type: ignore[attr-defined]
    assert record.size == len(response.content)  # type: ignore[attr-defined]


def test_access_log_off_by_default_and_added_by_hand(
    make_client: MakeClient, records: Records
) -> None:
    make_client(make_app()).get("/items/1")
    assert records.named("kettle.access") == []
    app = make_app(access_log="0")  # an environment string
    make_client(app).get("/items/1")
    assert records.named("kettle.access") == []
    app = make_app()
    app.add_middleware(AccessLogMiddleware, logger="app")
    make_client(app).get("/items/1")
    assert [r.getMessage() for r in records.named("app")][-1] == "GET /items/1 200"


def test_access_log_setting_must_be_a_boolean() -> None:
    with pytest.raises(ImproperlyConfigured, match="ACCESS_LOG must be True or False"):
        make_app(access_log="sometimes").setup()


def test_json_and_logfmt_formatters() -> None:
    record = logging.LogRecord(
        "kettle.access", logging.INFO, "", 0, "GET / %s", (200,), None
    )
    record.request_id = "r1"
    record.status = 200
    record.user_agent = 'say "hi"'
    record.size = None
    line = JSONFormatter().format(record)
    data = json.loads(line)
    assert data["message"] == "GET / 200"
    assert data["level"] == "INFO"
    assert data["logger"] == "kettle.access"
    assert data["request_id"] == "r1"
    assert data["status"] == 200
    assert data["size"] is None
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", data["time"])
    text = KeyValueFormatter().format(record)
    assert "msg" not in text
    assert 'message="GET / 200"' in text
    assert "request_id=r1 " in text
    assert 'user_agent="say \\"hi\\""' in text
    assert "size=-" in text
    try:
        raise ValueError("bad")
    except ValueError as exc:
        failing = logging.LogRecord(
            "app", logging.ERROR, "", 0, "x", None, (ValueError, exc, exc.__traceback__)
        )
    assert "ValueError: bad" in json.loads(JSONFormatter().format(failing))["exception"]


def test_logging_config_is_a_valid_dict_config(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import logging.config

    root = logging.getLogger()
    saved = root.handlers[:], root.level
    access = logging.getLogger("kettle.access")
    saved_access = access.handlers[:], access.level, access.propagate
    try:
        logging.config.dictConfig(logging_config("logfmt", stream="ext://sys.stdout"))
        access.info("hello", extra={"status": 201})
        logging.getLogger("app").info("not shown: below WARNING")
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])
        access.handlers[:] = saved_access[0]
        access.setLevel(saved_access[1])
        access.propagate = saved_access[2]
    out = capsys.readouterr().out
    assert "logger=kettle.access message=hello status=201" in out
    assert "not shown" not in out
    with pytest.raises(ValueError, match="json"):
        logging_config("xml")  # type: ignore[arg-type]


# -- health -------------------------------------------------------------------------


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
def test_health_checks_each_database(
    make_client: MakeClient, database_url: DatabaseURL, tmp_path: Path
) -> None:
    missing = tmp_path / "no-such-folder" / "db.sqlite3"
    app = make_app(
        database_url=database_url.url_sync,
        database_binds={"reports": f"sqlite:///{missing}"},
    )
    client = make_client(app)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {
        "status": "error",
        "checks": {"database": "ok", "database:reports": "error"},
    }
    assert response.headers["cache-control"] == "no-store"
    missing.parent.mkdir()
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "database:reports": "ok"},
    }


def test_health_fails_when_postgresql_is_unreachable(make_client: MakeClient) -> None:
    port = dbservers.free_port()  # nothing listens there
    app = make_app(database_url=f"postgresql+psycopg://u:p@127.0.0.1:{port}/db")
    response = make_client(app).get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "error"}


def test_health_answers_in_time_when_a_database_hangs(make_client: MakeClient) -> None:
    """A server that accepts connections and never answers (a hung database):
    the probe answers 503 within HEALTH_TIMEOUT, and the next probe does not
    start a second connection attempt while the first is stuck."""
    import socket
    import time

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # connections queue up; nothing ever reads them
    port = silent.getsockname()[1]
    attempts: list[socket.socket] = []
    try:
        app = make_app(
            database_url=f"postgresql+psycopg://u:p@127.0.0.1:{port}/db",
            health_timeout=0.5,
        )
        client = make_client(app)
        started = time.monotonic()
        first = client.get("/healthz")
        second = client.get("/healthz")
        took = time.monotonic() - started
        assert first.status_code == second.status_code == 503
        assert second.json()["checks"] == {"database": "error"}
        assert took < 10  # not stuck until the connection gives up
        from kettle.health import get_health

        running = get_health(app)._running["database"]
        assert not running.done()  # still the first attempt
        silent.setblocking(False)
        attempts = []
        while True:
            try:
                attempts.append(silent.accept()[0])
            except BlockingIOError:
                break
        assert len(attempts) == 1  # one connection: the second probe waited on it
    finally:
        for connection in attempts:
            connection.close()
        silent.close()
    running.exception(timeout=30)  # the stuck check ends with the server gone


def test_health_pings_each_redis_and_sees_it_stop(make_client: MakeClient) -> None:
    base = Path(tempfile.mkdtemp(prefix="kettle-health-"))
    server = dbservers.start_redis(base)
    try:
        url = f"redis://127.0.0.1:{server.port}/0"
        app = make_app(
            redis_url=url,
            cache_backend="redis",
            ratelimit_backend="redis",
            ratelimit_redis_url=f"redis://127.0.0.1:{dbservers.free_port()}/0",
            health_timeout=1,
            secret_key="k" * 50,  # the cache signs what it stores in Redis
        )
        client = make_client(app)
        response = client.get("/healthz")
        assert response.status_code == 503  # the rate limits' Redis is not there
        assert response.json()["checks"] == {
            "redis:cache": "ok",
            "redis:ratelimit": "error",
        }
        server.stop()
        response = client.get("/healthz")
        assert response.status_code == 503
        assert response.json()["checks"]["redis:cache"] == "error"
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)


def test_health_ok_with_a_running_redis(
    make_client: MakeClient, redis_url: str
) -> None:
    app = make_app(redis_url=redis_url)
    response = make_client(app).get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"redis": "ok"}}


def test_custom_checks_and_liveness(make_client: MakeClient) -> None:
    app = make_app(liveness_url="/livez")
    state = {"up": True}

    def payments() -> bool:
        return state["up"]

    def queue() -> None:
        if not state["up"]:
            raise ConnectionError("queue down")

    add_health_check(app, "payments", payments)
    add_health_check(app, "queue", queue)
    client = make_client(app)
    assert client.get("/healthz").json() == {
        "status": "ok",
        "checks": {"payments": "ok", "queue": "ok"},
    }
    state["up"] = False
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"] == {"payments": "error", "queue": "error"}
    assert "queue down" not in response.text  # the reason is logged, not shown
    live = client.get("/livez")  # no dependency checks
    assert (live.status_code, live.json()) == (200, {"status": "ok"})
    assert live.headers["cache-control"] == "no-store"
    with pytest.raises(ImproperlyConfigured, match="callable"):
        add_health_check(app, "bad", "not a function")  # type: ignore[arg-type]


def test_health_skips_the_host_check_and_https_redirect(
    make_client: MakeClient,
) -> None:
    app = make_app(allowed_hosts=["example.com"], https_redirect=True)
    client = make_client(app, base_url="http://10.0.0.5")
    assert client.get("/items/1").status_code == 400  # by IP: refused
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    other = make_client(app, base_url="http://example.com")
    redirected = other.get("/items/1", follow_redirects=False)
    assert redirected.status_code == 301  # plain HTTP
    assert other.get("/healthz", follow_redirects=False).status_code == 200


def test_only_the_probe_itself_skips_the_host_check(make_client: MakeClient) -> None:
    """Other methods on the health path reach the app's routes, and those are
    Host-checked; the app's hooks never see a probe (they might build a URL
    from its unchecked Host)."""
    app = make_app(allowed_hosts=["example.com"], https_redirect=True)
    hooked: list[str] = []

    @app.route("/{slug}", methods=["POST", "DELETE"])
    def anything(slug: str) -> str:
        return slug

    @app.before_request
    def note() -> None:
        hooked.append(request.path)

    client = make_client(app, base_url="http://10.0.0.5")
    assert client.post("/healthz").status_code == 400
    assert client.delete("/healthz").status_code == 400
    assert client.get("/healthz").status_code == 200
    assert client.head("/healthz").status_code == 200
    assert hooked == []
    ok = make_client(app, base_url="https://example.com")
    assert ok.post("/healthz").text == "healthz"
    assert hooked == ["/healthz"]


def test_the_apps_own_route_wins_and_health_can_be_off(make_client: MakeClient) -> None:
    app = make_app(allowed_hosts=["example.com"])

    @app.get("/healthz")
    def mine() -> str:
        return "mine"

    client = make_client(app, base_url="http://example.com")
    assert client.get("/healthz").text == "mine"
    # Not exempt from the Host check: it is not Kettle's endpoint.
    assert (
        make_client(app, base_url="http://10.0.0.5").get("/healthz").status_code == 400
    )
    off = make_client(make_app(health_url=None))
    assert off.get("/healthz").status_code == 404


def test_health_is_not_in_the_openapi_document(make_client: MakeClient) -> None:
    app = make_app(liveness_url="/livez", metrics_url="/metrics")
    paths = make_client(app).get("/openapi.json").json()["paths"]
    assert set(paths) == {"/items/{item_id}", "/boom"}


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("health_url", "healthz", "HEALTH_URL must be a path"),
        ("liveness_url", 5, "LIVENESS_URL must be a path"),
        ("health_timeout", "soon", "HEALTH_TIMEOUT must be a positive number"),
        ("health_timeout", 0, "HEALTH_TIMEOUT must be a positive number"),
        ("metrics_url", "metrics", "METRICS_URL must be a path"),
        ("metrics_token", 12, "METRICS_TOKEN must be"),
    ],
)
def test_bad_settings_fail_at_start_up(setting: str, value: Any, message: str) -> None:
    config = {setting: value}
    if setting == "metrics_token":
        config["metrics_url"] = "/metrics"
    with pytest.raises(ImproperlyConfigured, match=message):
        make_app(**config).setup()


# -- metrics ---------------------------------------------------------------------------


def samples(text: str, name: str) -> dict[str, float]:
    """``{labels: value}`` of the metric ``name`` in an exposition."""
    found = {}
    for line in text.splitlines():
        match = re.fullmatch(rf"{name}\{{(.*)\}} (\S+)", line)
        if match:
            found[match.group(1)] = float(match.group(2))
    return found


def test_metrics_by_route_template(make_client: MakeClient) -> None:
    app = make_app(metrics_url="/metrics")
    client = make_client(app, raise_server_exceptions=False)
    for item in (1, 2, 3):
        client.get(f"/items/{item}")
    client.get("/boom")
    client.get("/nowhere/1")
    client.get("/nowhere/2")
    client.request("BREW", "/items/1")
    text = client.get("/metrics").text
    counts = samples(text, "kettle_http_requests_total")
    assert counts == {
        'method="GET",route="/items/{item_id:int}",status="200"': 3.0,
        'method="GET",route="/boom",status="500"': 1.0,
        'method="GET",route="<unmatched>",status="404"': 2.0,
        'method="OTHER",route="<unmatched>",status="405"': 1.0,
    }
    durations = samples(text, "kettle_http_request_duration_seconds_count")
    assert durations['method="GET",route="/items/{item_id:int}"'] == 3.0
    # The scrape itself is in progress.
    in_progress = samples(text, "kettle_http_requests_in_progress")
    assert in_progress == {'method="GET"': 1.0, 'method="OTHER"': 0.0}
    # The default registry's metrics (the process') are there too.
    assert "python_info" in text


def test_metrics_token(make_client: MakeClient) -> None:
    client = make_client(make_app(metrics_url="/metrics", metrics_token="s3cret"))
    refused = client.get("/metrics")
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == "Bearer"
    assert (
        client.get("/metrics", headers={"authorization": "Bearer nope"}).status_code
        == 401
    )
    ok = client.get("/metrics", headers={"authorization": "Bearer s3cret"})
    assert ok.status_code == 200
    assert ok.headers["content-type"].startswith("text/plain; version=")
    assert "kettle_http_requests_total" in ok.text


def test_metrics_url_taken_fails_loudly() -> None:
    app = make_app(metrics_url="/items/{item_id:int}")
    with pytest.raises(ImproperlyConfigured, match="already a route"):
        app.setup()


def test_a_private_registry_per_app() -> None:
    from prometheus_client import CollectorRegistry

    registry = CollectorRegistry()
    app = make_app()
    app.add_middleware(PrometheusMiddleware, registry=registry, prefix="shop_")
    with app.test_client() as client:
        client.get("/items/1")
    value = registry.get_sample_value(
        "shop_http_requests_total",
        {"method": "GET", "route": "/items/{item_id:int}", "status": "200"},
    )
    assert value == 1.0
    assert (
        registry.get_sample_value("shop_http_requests_in_progress", {"method": "GET"})
        == 0.0
    )


# -- tracing ---------------------------------------------------------------------------


@pytest.fixture
def spans() -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


def traced_app(provider: TracerProvider) -> Kettle:
    app = make_app()
    tracer = provider.get_tracer("shop")

    @app.get("/orders/{order_id:int}")
    async def order(order_id: int) -> dict[str, int]:
        with tracer.start_as_current_span("load order"):
            return {"order": order_id}

    app.add_middleware(TracingMiddleware, tracer_provider=provider)
    return app


def test_a_server_span_per_request(
    make_client: MakeClient, spans: tuple[TracerProvider, InMemorySpanExporter]
) -> None:
    provider, exporter = spans
    client = make_client(traced_app(provider), headers={"user-agent": "probe"})
    assert client.get("/orders/5").status_code == 200
    child, server = exporter.get_finished_spans()
    assert server.name == "GET /orders/{order_id:int}"
    assert server.kind is trace.SpanKind.SERVER
    assert dict(server.attributes or {}) == {
        "http.request.method": "GET",
        "url.path": "/orders/5",
        "url.scheme": "http",
        "client.address": "testclient",
        "user_agent.original": "probe",
        "http.route": "/orders/{order_id:int}",
        "http.response.status_code": 200,
    }
    assert server.parent is None
    assert server.status.status_code is trace.StatusCode.UNSET
    # The handler's span is the server span's child.
    assert child.name == "load order"
    assert child.parent is not None
    assert child.parent.span_id == server.context.span_id
    assert child.context.trace_id == server.context.trace_id


def test_an_incoming_traceparent_is_the_parent(
    make_client: MakeClient, spans: tuple[TracerProvider, InMemorySpanExporter]
) -> None:
    provider, exporter = spans
    client = make_client(traced_app(provider))
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    parent_id = "00f067aa0ba902b7"
    client.get("/items/1", headers={"traceparent": f"00-{trace_id}-{parent_id}-01"})
    (server,) = exporter.get_finished_spans()
    assert format(server.context.trace_id, "032x") == trace_id
    assert server.parent is not None
    assert server.parent.is_remote
    assert format(server.parent.span_id, "016x") == parent_id


def test_exceptions_are_recorded(
    make_client: MakeClient, spans: tuple[TracerProvider, InMemorySpanExporter]
) -> None:
    provider, exporter = spans
    client = make_client(traced_app(provider), raise_server_exceptions=False)
    assert client.get("/boom").status_code == 500
    assert client.get("/nowhere").status_code == 404
    boom, missing = exporter.get_finished_spans()
    assert boom.status.status_code is trace.StatusCode.ERROR
    assert boom.attributes is not None
    assert boom.attributes["error.type"] == "RuntimeError"
    assert boom.attributes["http.response.status_code"] == 500
    (event,) = boom.events
    assert event.name == "exception"
    assert event.attributes is not None
    assert event.attributes["exception.message"] == "kaboom"
    assert missing.name == "GET"  # no route
    assert missing.status.status_code is trace.StatusCode.UNSET
    # Nothing of the request's context is left behind.
    assert trace.get_current_span() is trace.INVALID_SPAN


@pytest.mark.parametrize("proxy_first", [True, False])
def test_span_has_the_proxys_scheme_and_client(
    make_client: MakeClient,
    spans: tuple[TracerProvider, InMemorySpanExporter],
    proxy_first: bool,
) -> None:
    provider, exporter = spans
    app = make_app()
    if proxy_first:
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts="*")
    app.add_middleware(TracingMiddleware, tracer_provider=provider)
    if not proxy_first:
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts="*")
    client = make_client(app)
    client.get(
        "/items/1",
        headers={"x-forwarded-for": "203.0.113.9", "x-forwarded-proto": "https"},
    )
    (server,) = exporter.get_finished_spans()
    assert server.attributes is not None
    assert server.attributes["client.address"] == "203.0.113.9"
    assert server.attributes["url.scheme"] == "https"


def test_tracing_setting_adds_the_middleware() -> None:
    app = make_app(tracing=True)
    app.setup()
    assert any(isinstance(m, TracingMiddleware) for m in app._http_middleware)
    plain = make_app()
    plain.setup()
    assert not any(isinstance(m, TracingMiddleware) for m in plain._http_middleware)


# -- per-process settings ------------------------------------------------------------


PROJECT_APP = """
from kettle import Kettle

app = Kettle(**CONFIG)

@app.get("/")
def index():
    return "hi"
"""


@pytest.fixture
def project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., Any]]:
    """Write app.py with the given settings, cwd there; servers stubbed out."""
    calls: list[tuple[Any, ...]] = []
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(kettle_cli, "_serve_granian", lambda *a, **k: calls.append(a))
    monkeypatch.setattr(kettle_cli, "_serve_uvicorn", lambda *a, **k: calls.append(a))
    monkeypatch.setenv("KETTLE_DEBUG", "")
    monkeypatch.delenv("WEB_CONCURRENCY", raising=False)

    def write(**config: Any) -> Any:
        sys.modules.pop("app", None)
        text = PROJECT_APP.replace("**CONFIG", f"**{config!r}")
        (tmp_path / "app.py").write_text(text)
        return calls

    sys.modules.pop("app", None)
    yield write
    sys.modules.pop("app", None)


def test_serve_with_workers_warns_of_per_process_state(
    project: Callable[..., Any],
) -> None:
    project(env_file=None)
    result = CliRunner().invoke(cli, ["serve", "--workers", "3"])
    assert result.exit_code == 0, result.output
    warning = result.output.split("kettle: serving")[0]
    assert "with 3 workers, these settings keep state in each worker process" in warning
    for setting in (
        "CACHE_BACKEND",
        "RATELIMIT_BACKEND",
        "TASKS_BACKEND",
        "CHANNELS_BACKEND",
    ):
        assert setting in warning
    assert "CACHE_BACKEND = 'redis'" in warning
    # One worker: nothing to say.
    result = CliRunner().invoke(cli, ["serve"])
    assert "keep state" not in result.output


def test_serve_names_only_the_per_process_settings(project: Callable[..., Any]) -> None:
    project(
        env_file=None,
        cache_backend="redis",
        tasks_backend="dramatiq",
        channels_backend="redis",
        ratelimit_backend="redis",
    )
    # (An explicit interface: the app is not set up, so needs no Redis URLs.)
    result = CliRunner().invoke(cli, ["serve", "-w", "2", "--interface", "asgi"])
    assert result.exit_code == 0, result.output
    assert "keep state" not in result.output
    project(env_file=None, cache_backend="redis", ratelimit_enabled=False)
    result = CliRunner().invoke(cli, ["serve", "-w", "2", "--interface", "asgi"])
    assert result.exit_code == 0, result.output
    output = result.output
    assert "TASKS_BACKEND = 'in-process'" in output
    assert "CHANNELS_BACKEND = 'memory'" in output
    assert "CACHE_BACKEND" not in output
    assert "RATELIMIT_BACKEND" not in output


def test_check_deploy_reports_per_process_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = make_app(channels_backend="redis", metrics_url="/metrics")
    monkeypatch.delenv("WEB_CONCURRENCY", raising=False)
    ids = {issue.id: issue for issue in check_app(app, deploy=True)}
    assert "operations.W001" not in ids  # one worker
    assert "operations.W005" in ids  # metrics without a token
    monkeypatch.setenv("WEB_CONCURRENCY", "4")
    ids = {issue.id: issue for issue in check_app(app, deploy=True)}
    assert {"operations.W001", "operations.W002", "operations.W003"} <= set(ids)
    assert "operations.W004" not in ids  # channels in Redis
    assert "CACHE_BACKEND is 'memory'" in ids["operations.W001"].message
    assert "operations.W005" in ids  # metrics without a token
    quiet = make_app(
        cache_backend="redis",
        ratelimit_backend="redis",
        tasks_backend="dramatiq",
        channels_backend="redis",
    )
    assert not [
        i for i in check_app(quiet, deploy=True) if i.id.startswith("operations.")
    ]
    assert [s.setting for s in per_process_settings(quiet.config)] == []


def test_serve_turns_the_access_log_on_for_the_workers(
    project: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    seen: list[str | None] = []
    monkeypatch.setattr(
        kettle_cli,
        "_serve_granian",
        lambda *a, **k: seen.append(os.environ.get("KETTLE_ACCESS_LOG")),
    )
    monkeypatch.delenv("KETTLE_ACCESS_LOG", raising=False)
    project(env_file=None)
    CliRunner().invoke(cli, ["serve"])
    CliRunner().invoke(cli, ["serve", "--no-access-log"])
    project(env_file=None, access_log=False)
    CliRunner().invoke(cli, ["serve"])
    CliRunner().invoke(cli, ["serve", "--access-log"])
    assert seen == ["1", "0", "0", "1"]
    assert "KETTLE_ACCESS_LOG" not in os.environ  # restored


def test_check_deploy_with_workers_option(project: Callable[..., Any]) -> None:
    project(env_file=None)
    result = CliRunner().invoke(cli, ["check", "--deploy"])
    assert "operations.W00" not in result.output
    result = CliRunner().invoke(cli, ["check", "--deploy", "--workers", "2"])
    assert result.exit_code == 1
    for check_id in ("W001", "W002", "W003", "W004"):
        assert f"operations.{check_id}: " in result.output
    assert "TASKS_BACKEND is 'in-process'" in result.output


def test_defaults_import_no_metrics_or_tracing_library() -> None:
    import subprocess

    code = (
        "import sys\n"
        "from kettle import Kettle\n"
        "app = Kettle(env_file=None)\n"
        "app.setup()\n"
        "heavy = ('prometheus_client', 'opentelemetry', 'kettle.metrics', "
        "'kettle.tracing', 'redis')\n"
        "print(sorted(m for m in sys.modules if m.startswith(heavy)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


def test_operations_routes_keep_a_sync_app_on_wsgi() -> None:
    app = make_app(liveness_url="/livez", metrics_url="/metrics", access_log=True)
    assert app.preferred_interface() == "wsgi"
