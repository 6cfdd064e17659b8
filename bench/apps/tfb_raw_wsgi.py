"""The TechEmpower database tests as a raw WSGI callable on psycopg 3: no framework,
no ORM, one autocommit connection per server thread; the ceiling for the WSGI
targets. The database comes from ``DATABASE_URL``."""

import os
import random
import threading
from urllib.parse import parse_qs

import orjson
import psycopg
from jinja2 import Environment
from jinja2 import FileSystemLoader

from .tfb_common import ADDITIONAL
from .tfb_common import count
from .tfb_common import random_ids

_fortunes = Environment(
    loader=FileSystemLoader(os.path.join(os.path.dirname(__file__), "templates")),
    autoescape=True,
).get_template("fortunes.html")
_WORLD = "SELECT id, randomnumber FROM world WHERE id = %s"
_local = threading.local()


def _conn() -> psycopg.Connection:
    conn = getattr(_local, "conn", None)
    if conn is None:
        conn = _local.conn = psycopg.connect(
            os.environ["DATABASE_URL"], autocommit=True
        )
    return conn


def _queries(environ) -> int:
    values = parse_qs(environ.get("QUERY_STRING", "")).get("queries", ["1"])
    return count(values[0])


def app(environ, start_response):
    path = environ["PATH_INFO"]
    conn = _conn()
    content_type = "application/json"
    if path == "/db":
        row = conn.execute(_WORLD, (random.randint(1, 10000),)).fetchone()
        body = orjson.dumps({"id": row[0], "randomNumber": row[1]})
    elif path == "/queries":
        out = []
        for i in random_ids(_queries(environ)):
            row = conn.execute(_WORLD, (i,)).fetchone()
            out.append({"id": row[0], "randomNumber": row[1]})
        body = orjson.dumps(out)
    elif path == "/fortunes":
        cur = conn.execute("SELECT id, message FROM fortune")
        rows = [{"id": i, "message": m} for i, m in cur]
        rows.append({"id": 0, "message": ADDITIONAL})
        rows.sort(key=lambda r: r["message"])
        body = _fortunes.render(fortunes=rows).encode()
        content_type = "text/html; charset=utf-8"
    elif path == "/updates":
        out = []
        for i in random_ids(_queries(environ)):
            row = conn.execute(_WORLD, (i,)).fetchone()
            out.append({"id": row[0], "randomNumber": random.randint(1, 10000)})
        with conn.transaction(), conn.cursor() as cur:
            cur.executemany(
                "UPDATE world SET randomnumber = %s WHERE id = %s",
                [(w["randomNumber"], w["id"]) for w in out],
            )
        body = orjson.dumps(out)
    else:
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"Not Found"]
    start_response(
        "200 OK", [("Content-Type", content_type), ("Content-Length", str(len(body)))]
    )
    return [body]
