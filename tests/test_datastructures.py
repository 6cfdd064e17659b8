"""Multi-dicts, headers, URLs and state."""

from __future__ import annotations

import pytest

from kettle.datastructures import URL
from kettle.datastructures import Headers
from kettle.datastructures import MutableHeaders
from kettle.datastructures import QueryParams
from kettle.datastructures import State
from kettle.exceptions import BadRequestKeyError


def test_query_params_multi_values_and_missing_key():
    q = QueryParams(b"a=1&a=2&b=&c=%20x")
    assert q["a"] == "2"
    assert q.getlist("a") == ["1", "2"]
    assert q["b"] == ""
    assert q["c"] == " x"
    assert q.get("zz") is None and q.get("zz", "d") == "d"
    assert "a" in q and "zz" not in q
    assert q.multi_items() == [("a", "1"), ("a", "2"), ("b", ""), ("c", " x")]
    with pytest.raises(BadRequestKeyError) as info:
        q["zz"]
    assert info.value.status_code == 400 and isinstance(info.value, KeyError)
    assert str(QueryParams({"x": "a b"})) == "x=a+b"


def test_headers_case_insensitive_multi_valued():
    h = Headers(raw=[(b"x-a", b"1"), (b"content-type", b"text/plain"), (b"x-a", b"2")])
    assert h["X-A"] == "1"
    assert h.getlist("x-a") == ["1", "2"]
    assert h.get("missing", "d") == "d"
    assert "Content-Type" in h and 3 not in h
    assert len(h) == 2
    assert h.items() == [("x-a", "1"), ("content-type", "text/plain"), ("x-a", "2")]


def test_query_params_fast_and_escaped_forms_agree():
    plain = QueryParams("a=1&b=&&c&a=2")
    assert plain.multi_items() == [("a", "1"), ("b", ""), ("c", ""), ("a", "2")]
    assert plain["a"] == "2" and plain["c"] == ""
    escaped = QueryParams("a=1+2&b%5B%5D=%C3%A9")
    assert escaped.multi_items() == [("a", "1 2"), ("b[]", "é")]


def test_headers_over_a_wsgi_environ_are_a_view():
    environ = {
        "REQUEST_METHOD": "GET",
        "HTTP_HOST": "example.com",
        "HTTP_X_EMPTY": "",
        "CONTENT_TYPE": "",
        "CONTENT_LENGTH": "12",
        "wsgi.url_scheme": "http",
    }
    h = Headers.from_environ(environ)
    assert h["Host"] == "example.com" and h.get("HOST") == "example.com"
    assert h.get("x-empty") == "" and "X-Empty" in h  # an empty header is present
    assert h.get("content-type") is None and "content-type" not in h  # CGI: absent
    assert h["content-length"] == "12" and h.getlist("Content-Length") == ["12"]
    assert h.getlist("missing") == [] and "request-method" not in h
    with pytest.raises(KeyError):
        h["missing"]
    assert sorted(h) == ["content-length", "host", "x-empty"] and len(h) == 3
    assert sorted(h.raw) == [
        (b"content-length", b"12"),
        (b"host", b"example.com"),
        (b"x-empty", b""),
    ]
    assert sorted(h.items()) == [
        ("content-length", "12"),
        ("host", "example.com"),
        ("x-empty", ""),
    ]


def test_mutable_headers_share_the_raw_list():
    raw: list[tuple[bytes, bytes]] = [(b"x-a", b"1")]
    h = MutableHeaders(raw=raw)
    h["X-B"] = "2"
    h.append("x-a", "3")
    assert raw == [(b"x-a", b"1"), (b"x-b", b"2"), (b"x-a", b"3")]
    h["x-a"] = "only"
    assert h.getlist("x-a") == ["only"]
    del h["x-b"]
    assert "x-b" not in h
    assert h.setdefault("x-c", "new") == "new" and h.setdefault("x-c", "other") == "new"
    assert h.pop("x-c") == "new" and "x-c" not in h


def test_add_vary_merges_tokens():
    h = MutableHeaders(raw=[])
    h.add_vary("Origin")
    h.add_vary("origin")
    h.add_vary("Accept-Encoding")
    assert h["vary"] == "Origin, Accept-Encoding"
    star = MutableHeaders(raw=[(b"vary", b"*")])
    star.add_vary("Origin")
    assert star.getlist("vary") == ["*"]
    fresh = MutableHeaders(raw=[(b"x-a", b"1")])
    fresh.add_vary("Cookie")
    assert fresh.raw == [(b"x-a", b"1"), (b"vary", b"Cookie")]
    with pytest.raises(ValueError):
        fresh.add_vary("Bad\r\nName")


def test_url_parts_and_build():
    url = URL.build("https", "example.com:8443", "/a b/c", "x=1")
    assert str(url) == "https://example.com:8443/a%20b/c?x=1"
    assert (url.scheme, url.hostname, url.port, url.path, url.query) == (
        "https",
        "example.com",
        8443,
        "/a%20b/c",
        "x=1",
    )
    assert str(url.replace_query("y=2")) == "https://example.com:8443/a%20b/c?y=2"
    assert url == "https://example.com:8443/a%20b/c?x=1"


def test_state():
    state = State()
    state.user = "ann"
    assert state.user == "ann" and "user" in state
    del state.user
    with pytest.raises(AttributeError, match="no attribute 'user'"):
        state.user
