"""examples/bookshop: the typed JSON API through ASGI and WSGI, its OpenAPI document,
and a bounded schemathesis fuzz of every operation."""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck
from hypothesis import settings
from openapi_spec_validator import validate
from schemathesis.checks import content_type_conformance
from schemathesis.checks import not_a_server_error
from schemathesis.checks import response_schema_conformance
from schemathesis.checks import status_code_conformance

from kettle.testing import TestClient
from test_examples import load

KEY = {"x-api-key": "letmein"}
AUSTEN = {"name": "Jane Austen", "born": 1775}
EMMA = {
    "title": "Emma",
    "author_id": 1,
    "year": 1815,
    "genre": "fiction",
    "isbn": "9780141439587",
    "tags": ["classic", "romance"],
}


def fresh_bookshop() -> ModuleType:
    """A new copy of the example (an empty store), with the default key whatever
    the environment (KETTLE_API_KEY) says."""
    module = load("bookshop")
    module.app.config["API_KEY"] = KEY["x-api-key"]
    return module


@pytest.fixture
def bookshop() -> ModuleType:
    return fresh_bookshop()


@pytest.fixture
def client(bookshop: ModuleType, make_client: Callable[..., TestClient]) -> TestClient:
    return make_client(bookshop.app)


def seed(c: TestClient, authors: bool = True) -> None:
    """Two authors and three books (ids 1, 2, 3 in an empty store)."""
    for author in (AUSTEN, {"name": "Herodotus"}) if authors else ():
        assert c.post("/authors", json=author, headers=KEY).status_code == 201
    books = (
        EMMA,
        {"title": "Persuasion", "author_id": 1, "year": 1817, "genre": "fiction"},
        {"title": "Histories", "author_id": 2, "year": 1474, "genre": "history"},
    )
    for book in books:
        assert c.post("/books", json=book, headers=KEY).status_code == 201


def titles(r: Any) -> list[str]:
    assert r.status_code == 200, r.text
    return [book["title"] for book in r.json()["items"]]


# -- the API -----------------------------------------------------------------------


def test_create_get_list(client: TestClient) -> None:
    assert client.get("/authors").json() == []
    r = client.post("/authors", json=AUSTEN, headers=KEY)
    assert (r.status_code, r.json()) == (201, {**AUSTEN, "id": 1})
    assert client.get("/authors/1").json() == {**AUSTEN, "id": 1}
    assert client.get("/authors").json() == [{**AUSTEN, "id": 1}]

    r = client.post("/books", json=EMMA, headers=KEY)
    assert (r.status_code, r.json()) == (201, {**EMMA, "id": 1})
    assert r.headers["content-type"] == "application/json"
    r = client.post(
        "/books",
        json={"title": "Sanditon", "author_id": 1, "year": 1817, "genre": "fiction"},
        headers=KEY,
    )
    assert r.json() == {
        "title": "Sanditon",
        "author_id": 1,
        "year": 1817,
        "genre": "fiction",
        "isbn": None,  # the defaults are filled in
        "tags": [],
        "id": 2,
    }
    assert client.get("/books/1").json() == {**EMMA, "id": 1}
    r = client.get("/books")
    assert r.json() == {
        "items": [client.get("/books/2").json(), {**EMMA, "id": 1}],  # newest first
        "total": 2,
        "limit": 20,
        "offset": 0,
    }


def test_list_filters_and_pages(client: TestClient) -> None:
    seed(client)
    assert titles(client.get("/books")) == ["Histories", "Persuasion", "Emma"]
    assert titles(client.get("/books?genre=history")) == ["Histories"]
    assert titles(client.get("/books?q=SUAS")) == ["Persuasion"]  # case-insensitive
    assert titles(client.get("/books?author_id=1")) == ["Persuasion", "Emma"]
    assert titles(client.get("/books?tag=classic")) == ["Emma"]
    assert titles(client.get("/books?tag=classic&tag=romance")) == ["Emma"]
    assert titles(client.get("/books?tag=classic&tag=gothic")) == []
    r = client.get("/books?limit=1&offset=1")
    assert titles(r) == ["Persuasion"]
    assert (r.json()["total"], r.json()["limit"], r.json()["offset"]) == (3, 1, 1)
    r = client.get("/books?offset=10&genre=fiction")
    assert (titles(r), r.json()["total"]) == ([], 2)


def test_patch_and_delete(client: TestClient, bookshop: ModuleType) -> None:
    seed(client)
    r = client.patch("/books/2", json={"year": 1818, "tags": ["late"]}, headers=KEY)
    assert r.status_code == 200
    assert (r.json()["title"], r.json()["year"], r.json()["tags"]) == (
        "Persuasion",
        1818,
        ["late"],
    )
    # null, like a key left out, keeps the value
    r = client.patch("/books/2", json={"title": None, "genre": None}, headers=KEY)
    assert (r.json()["title"], r.json()["genre"]) == ("Persuasion", "fiction")
    assert client.patch("/books/2", json={}, headers=KEY).json() == r.json()
    r = client.patch("/books/2", json={"author_id": 2}, headers=KEY)
    assert r.json()["author_id"] == 2
    assert client.get("/books/2").json() == r.json()

    r = client.delete("/books/2", headers=KEY)
    assert (r.status_code, r.content) == (204, b"")
    assert "content-type" not in r.headers
    assert titles(client.get("/books")) == ["Histories", "Emma"]
    assert not bookshop.STORE.lock.locked()  # the unit of work let go


def test_not_found(client: TestClient, bookshop: ModuleType) -> None:
    seed(client)
    for method, path, detail in (
        ("GET", "/books/99", "Book 99 does not exist."),
        ("PATCH", "/books/99", "Book 99 does not exist."),
        ("DELETE", "/books/99", "Book 99 does not exist."),
        ("GET", "/authors/99", "Author 99 does not exist."),
    ):
        r = client.request(method, path, json={}, headers=KEY)
        assert (r.status_code, r.json()) == (404, {"detail": detail}), path
    # Not an int: no route matches.
    r = client.get("/books/emma")
    assert (r.status_code, r.json()) == (404, {"detail": "Not Found"})
    assert not bookshop.STORE.lock.locked()


def test_writes_need_the_api_key(client: TestClient, interface: str) -> None:
    seed(client)
    wrong: list[dict[str, Any]] = [
        {},
        {"x-api-key": "guess"},
        {"x-api-key": ""},
        {"X-Api-Key": "LETMEIN"},
    ]
    if interface == "asgi":  # httpx's WSGI transport sends ASCII only
        wrong.append({"x-api-key": "cl\xe9".encode("latin-1")})  # still a plain 401
    for headers in wrong:
        for method, path, body in (
            ("POST", "/authors", AUSTEN),
            ("POST", "/books", EMMA),
            ("PATCH", "/books/1", {"year": 1816}),
            ("DELETE", "/books/1", None),
        ):
            r = client.request(method, path, json=body, headers=headers)
            assert (r.status_code, r.json()) == (
                401,
                {"detail": "A valid X-API-Key header is required."},
            ), (method, path, headers)
    # The key is checked before the body is read: no 422 for a stranger.
    r = client.post("/books", json={"title": ""})
    assert r.status_code == 401
    assert client.get("/books/1").json()["year"] == 1815  # nothing changed
    assert client.get("/authors").json()[-1]["id"] == 2
    # The header name is case-insensitive.
    assert (
        client.delete("/books/1", headers={"X-API-KEY": "letmein"}).status_code == 204
    )


def test_the_key_comes_from_the_settings(bookshop: ModuleType) -> None:
    bookshop.app.config["API_KEY"] = "s3cret"
    with bookshop.app.test_client() as c:
        assert c.post("/authors", json=AUSTEN, headers=KEY).status_code == 401
        r = c.post("/authors", json=AUSTEN, headers={"x-api-key": "s3cret"})
        assert r.status_code == 201


def test_422_lists_every_problem(client: TestClient) -> None:
    seed(client)
    r = client.post(
        "/books",
        json={"title": "", "year": 1400, "genre": "cookery", "isbn": "12-34"},
        headers=KEY,
    )
    assert r.status_code == 422
    errors = r.json()["detail"]
    assert [(e["loc"], e["type"]) for e in errors] == [
        (["body", "title"], "string_too_short"),
        (["body", "author_id"], "missing"),
        (["body", "year"], "greater_than_equal"),
        (["body", "genre"], "enum"),
        (["body", "isbn"], "string_pattern_mismatch"),
    ]
    assert errors[2] == {
        "loc": ["body", "year"],
        "msg": "Input should be greater than or equal to 1450",
        "type": "greater_than_equal",
        "input": 1400,
        "ctx": {"ge": 1450},
    }

    r = client.get(f"/books?limit=0&offset=-1&genre=cookery&q={'x' * 101}")
    assert r.status_code == 422
    assert [(e["loc"], e["type"]) for e in r.json()["detail"]] == [
        (["query", "limit"], "greater_than_equal"),
        (["query", "offset"], "greater_than_equal"),
        (["query", "genre"], "enum"),
        (["query", "q"], "string_too_long"),
    ]
    r = client.get("/books?limit=lots")
    assert r.json()["detail"][0]["type"] == "int_parsing"

    r = client.patch("/books/3", json={"tags": ["x"] * 11, "year": "soon"}, headers=KEY)
    assert [(e["loc"], e["type"]) for e in r.json()["detail"]] == [
        (["body", "year"], "int_parsing"),
        (["body", "tags"], "too_long"),
    ]

    # A misspelt key is refused rather than ignored.
    r = client.patch("/books/3", json={"titel": "Histories I"}, headers=KEY)
    assert [(e["loc"], e["type"]) for e in r.json()["detail"]] == [
        (["body", "titel"], "extra_forbidden")
    ]

    # An unknown author: a 422 of the same shape, from the handler.
    for r in (
        client.post("/books", json={**EMMA, "author_id": 99}, headers=KEY),
        client.patch("/books/3", json={"author_id": 99}, headers=KEY),
    ):
        assert (r.status_code, r.json()) == (
            422,
            {
                "detail": [
                    {
                        "loc": ["body", "author_id"],
                        "msg": "Author 99 does not exist.",
                        "type": "unknown_author",
                    }
                ]
            },
        )

    for body, kind in (
        (b"", "missing"),
        (b"{nope", "json_invalid"),
        (b"[]", "model_type"),
    ):
        r = client.post(
            "/books", content=body, headers={**KEY, "content-type": "application/json"}
        )
        assert (r.status_code, r.json()["detail"][0]["type"]) == (422, kind), body


def test_415_and_413(client: TestClient, bookshop: ModuleType) -> None:
    r = client.post("/authors", data={"name": "form"}, headers=KEY)
    assert r.status_code == 415
    assert r.json()["detail"].startswith("Expected a JSON body")
    r = client.post(
        "/authors",
        content=b'{"name": "' + b"x" * (1024 * 1024) + b'"}',
        headers={**KEY, "content-type": "application/json"},
    )
    assert r.status_code == 413
    assert isinstance(r.json()["detail"], str)
    assert client.get("/authors").json() == []
    assert not bookshop.STORE.lock.locked()


def test_422_for_a_huge_integer(client: TestClient) -> None:
    seed(client)
    r = client.post("/books", json={**EMMA, "year": 10**20}, headers=KEY)
    assert r.status_code == 422
    assert r.json()["detail"][0]["type"] == "less_than_equal"


# -- the OpenAPI document ----------------------------------------------------------

ERROR = {"$ref": "#/components/schemas/ErrorOut"}
OPERATIONS = {
    ("/authors", "get"): {"200"},
    ("/authors", "post"): {"201", "401", "413", "415", "422"},
    ("/authors/{author_id}", "get"): {"200", "404"},
    ("/books", "get"): {"200", "422"},
    ("/books", "post"): {"201", "401", "413", "415", "422"},
    ("/books/{book_id}", "get"): {"200", "404"},
    ("/books/{book_id}", "patch"): {"200", "401", "404", "413", "415", "422"},
    ("/books/{book_id}", "delete"): {"204", "401", "404", "422"},
}


def test_openapi_document(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    validate(doc)  # OpenAPI 3.1
    assert doc["info"]["title"] == "Bookshop"
    assert [t["name"] for t in doc["tags"]] == ["authors", "books"]
    found = {
        (path, method): set(op["responses"])
        for path, item in doc["paths"].items()
        for method, op in item.items()
    }
    assert found == OPERATIONS
    for path, item in doc["paths"].items():
        for op in item.values():
            for status, response in op["responses"].items():
                if status in ("401", "404", "413", "415"):
                    assert response["content"]["application/json"]["schema"] == ERROR

    books = doc["paths"]["/books"]
    assert books["post"]["summary"] == "Add a book by a known author."
    assert books["post"]["responses"]["201"]["content"]["application/json"] == {
        "schema": {"$ref": "#/components/schemas/BookOut"}
    }
    params = {p["name"]: p for p in books["get"]["parameters"]}
    assert list(params) == ["limit", "offset", "genre", "q", "tag", "author_id"]
    assert params["limit"]["schema"] == {
        "type": "integer",
        "maximum": 100,
        "minimum": 1,
        "default": 20,
    }
    assert params["tag"]["schema"]["type"] == "array"
    key = doc["paths"]["/books/{book_id}"]["delete"]["parameters"][-1]
    assert (key["name"], key["in"], key["required"]) == ("x-api-key", "header", False)
    schemas = doc["components"]["schemas"]
    assert schemas["BookIn"]["properties"]["isbn"]["anyOf"][0]["pattern"]
    assert schemas["Genre"]["enum"] == ["fiction", "history", "poetry", "science"]
    assert schemas["BookPatch"]["additionalProperties"] is False
    assert "required" not in schemas["BookPatch"]
    assert client.get("/docs").status_code == 200


# -- fuzzing -----------------------------------------------------------------------


# One app for the whole fuzz, its store changing as the cases run. (The schema is
# loaded with the module: schemathesis' lazy from_fixture fails on pytest 9.)
FUZZED = fresh_bookshop()
schema = schemathesis.openapi.from_asgi("/openapi.json", FUZZED.app)


@pytest.fixture(scope="module")
def fuzz_client() -> Iterator[TestClient]:
    with FUZZED.app.test_client() as c:
        seed(c)
        yield c


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def steer(case: Any, c: TestClient) -> None:
    """Point most generated ids at existing items, so that the cases reach the
    handlers past their 404s (and keep a few books in stock for them)."""
    store = FUZZED.STORE
    if len(store.books) < 3:
        seed(c, authors=False)
    tables = {"book_id": sorted(store.books), "author_id": sorted(store.authors)}

    def pick(value: Any, ids: list[int]) -> Any:
        if isinstance(value, str) and value.isascii() and value.isdigit():
            value = int(value)  # a path parameter of the coverage phase
        if not is_int(value) or value % 7 == 3:
            return value  # most likely unknown: a 404 (or a 422 in a body)
        return ids[value % len(ids)]

    for name, ids in tables.items():
        if case.path_parameters and name in case.path_parameters:
            case.path_parameters[name] = pick(case.path_parameters[name], ids)
        if isinstance(case.body, dict) and name in case.body:
            case.body[name] = pick(case.body[name], ids)


@schema.parametrize()
@settings(
    max_examples=50,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_fuzz(case: Any, fuzz_client: TestClient) -> None:
    steer(case, fuzz_client)
    case.call_and_validate(
        headers=KEY,
        checks=[
            not_a_server_error,
            response_schema_conformance,
            status_code_conformance,
            content_type_conformance,
        ],
    )
